"""The administrative-division code list (GB/T 2260, data/regions/divisions.csv): which codes are
valid in a month, their names, and what became of an abolished code.

A code is valid in the years its source lists it (from_year..until_year, open ends allowed).
000000 is the whole country (全国), used by national figures and standards, never a roster code.
"""

from __future__ import annotations

import csv
import unicodedata
from functools import lru_cache
from typing import NamedTuple

NATIONAL = "000000"
_OPEN_FROM, _OPEN_UNTIL = 0, 9999


class Span(NamedTuple):  # a tuple: 6,700 codes are read at every start, a frozen dataclass cost twice as much
    name: str
    from_year: int  # _OPEN_FROM: since the first list
    until_year: int  # _OPEN_UNTIL: still listed


def clean_code(text: object) -> str:
    """A code as typed, in ASCII: full-width digits and every space (ideographic too) removed, a
    spreadsheet's trailing '.0' dropped."""
    t = "".join(unicodedata.normalize("NFKC", "" if text is None else str(text)).split())
    return t[:-2] if t.endswith(".0") and t[:-2].isdigit() else t


@lru_cache(maxsize=1)
def _table() -> dict[str, tuple[Span, ...]]:
    from cpi_link.core.paths import bundled_data_dir

    out: dict[str, list[Span]] = {}
    with open(bundled_data_dir() / "regions" / "divisions.csv", encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh)
        if next(rows) != ["code", "name", "from_year", "until_year"]:
            raise ValueError("data/regions/divisions.csv: unexpected header")
        for code, name, from_year, until_year in rows:
            out.setdefault(code, []).append(Span(name, int(from_year or _OPEN_FROM), int(until_year or _OPEN_UNTIL)))
    return {k: tuple(sorted(v, key=lambda s: s.from_year)) for k, v in out.items()}


def _year(month: str | None) -> int | None:
    return None if month is None else int(month[:4])


def span_at(code: str, month: str | None = None) -> Span | None:
    """The code's name span in force in `month` (YYYY-MM; None: its latest one), or None."""
    spans = _table().get(code)
    if not spans:
        return None
    y = _year(month)
    if y is None:
        return spans[-1]
    return next((s for s in spans if s.from_year <= y <= s.until_year), None)


def is_valid(code: str, month: str | None = None) -> bool:
    """The code is on the list in the month's year (any year when month is None)."""
    return span_at(code, month) is not None


def region_name(code: str, month: str | None = None) -> str | None:
    """The name of a code (140105 -> 小店区, 140000 -> 山西省, 000000 -> 全国), as of `month` or its
    latest; None for a code not on the list."""
    if code == NATIONAL:
        return "全国"
    s = span_at(code, month) or span_at(code)
    return s.name if s else None


def with_name(code: str, month: str | None = None) -> str:
    """'140105 小店区' for reports; the code alone when it has no name."""
    name = region_name(code, month)
    return f"{code} {name}" if name else code


def _stem(name: str) -> str:
    for suffix in ("自治县", "自治州", "地区", "县", "市", "区", "盟", "旗"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def successor(code: str, year: int) -> str | None:
    """A code listed from `year` in the same province under the same name stem (屯留县 -> 屯留区), or None."""
    spans = _table().get(code)
    if not spans:
        return None
    stem = _stem(spans[-1].name)
    for other, ospans in _table().items():
        if other != code and other[:2] == code[:2] and any(
                s.from_year == year and _stem(s.name) == stem for s in ospans):
            return other
    return None


def problem(code: str, month: str) -> str | None:
    """Why a code is not valid in `month` (None when it is): not on the list, abolished (in which
    year, replaced by which code when the list shows it) or not yet created."""
    spans = _table().get(code)
    if not spans:
        return f"region_code {code} is not on the administrative-division list (GB/T 2260)"
    if span_at(code, month) is not None:
        return None
    y = _year(month)
    last = spans[-1]
    if y > last.until_year:
        gone = last.until_year + 1
        after = successor(code, gone)
        then = f", replaced by {with_name(after)}" if after else ""
        return f"region_code {code} ({last.name}) was abolished in {gone}{then}; not valid in {month}"
    first = spans[0]
    return f"region_code {code} ({first.name}) exists only from {first.from_year}; not valid in {month}"


def region_label(code: str | None, month: str | None = None) -> str:
    """'140000 山西省' for people (the code alone when its name is not known; "" for none)."""
    if code is None:
        return ""
    return with_name(str(code), month)
