"""Index months as 'YYYY-MM' strings: parsing, ordering and ranges."""

from __future__ import annotations

import re

from cpi_link.core.errors import UsageError
from cpi_link.core.i18n import _

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str, what: str = "month") -> str:
    """Return a canonical 'YYYY-MM' or raise UsageError. Accepts 'YYYY-MM', 'YYYYMM', 'YYYY/MM', 'YYYY年M月'."""
    s = str(text).strip()
    m = re.match(r"^(\d{4})\s*(?:[-/.年])?\s*(\d{1,2})\s*月?$", s)
    if not m:
        raise UsageError(_("{what} {value} is not a month: write YYYY-MM, e.g. 2024-03").format(what=what, value=repr(s)))
    year, month = int(m.group(1)), int(m.group(2))
    if not (1 <= month <= 12) or not (1980 <= year <= 2100):
        raise UsageError(_("{what} {value} is not a real month").format(what=what, value=repr(s)))
    return f"{year:04d}-{month:02d}"


class NumberCell(str):
    """A spreadsheet cell's text that was a number in the sheet (103.5, 2019.1), not typed text."""

    __slots__ = ()


_AMBIGUOUS = re.compile(r"^\s*\d{4}\.1\s*$")


def number_month(cell: object) -> bool:
    """True for a month cell holding the number 2019.1: typed 2019.10 (October) or 2019.1
    (January), the sheet kept the same float, so the month cannot be told."""
    return isinstance(cell, NumberCell) and bool(_AMBIGUOUS.match(cell))


def number_month_message(where: str, cell: object) -> str:
    return _("{where}: {value} is a number, which cannot tell October ({year}.10) from January ({year}.1); type the "
             "month as text ({year}-10 or {year}-01) or as a date").format(where=where, value=str(cell).strip(),
                                                                          year=str(cell).strip()[:4])


def month_index(month: str) -> int:
    y, m = month.split("-")
    return int(y) * 12 + int(m) - 1


def from_index(i: int) -> str:
    return f"{i // 12:04d}-{i % 12 + 1:02d}"


def add_months(month: str, n: int) -> str:
    return from_index(month_index(month) + n)


def month_range(since: str, until: str) -> list[str]:
    a, b = month_index(since), month_index(until)
    if b < a:
        raise UsageError(_("--until {until} is before --since {since}").format(until=until, since=since))
    return [from_index(i) for i in range(a, b + 1)]


def now_utc() -> str:
    """Now as ISO UTC to the second ('2026-01-05T08:00:00Z'): every created_at, completed_at and fetched_at."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
