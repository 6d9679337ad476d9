"""The publication calendar: when an index month's figures are expected, and the payment deadline.

NBS publishes month M's CPI around the 9th-12th of month M+1 (the exact day is on the NBS release
calendar; it moves with weekends and holidays). The nominal publication day used here is the 10th.

Payment deadlines come from the rules in force (`payment_timing` in the scheme file, free text):

- "within 20 working days after the index is published" (national 2016 rules): publication day
  + 20 working days. Only weekends are skipped: public holidays (Spring Festival, National Day...)
  are NOT counted, so in a holiday month the true deadline is later than the date shown.
- "paid in the month the index is published" (2021 rules): the last day of month M+1.
- anything else: no date is computed; the text is shown as written.
"""

from __future__ import annotations

import calendar as _cal
import re
from dataclasses import dataclass
from datetime import date, timedelta

from cpi_link.core.i18n import _
from cpi_link.core.months import add_months

PUBLICATION_DAYS = (9, 12)  # NBS usually publishes on the 9th-12th of the following month
NOMINAL_DAY = 10
HOLIDAY_NOTE = "weekends skipped; public holidays not counted, so the true deadline may be later"


@dataclass(frozen=True)
class Deadline:
    index_month: str
    rule: str  # working_days | publication_month | unspecified
    text: str | None  # the scheme's payment_timing, as written
    deadline: date | None
    note: str

    def to_json(self) -> dict:
        return {
            "index_month": self.index_month,
            "rule": self.rule,
            "payment_timing": self.text,
            "payment_deadline": self.deadline.isoformat() if self.deadline else None,
            "note": self.note,
        }


def _first_day(month: str) -> date:
    y, m = month.split("-")
    return date(int(y), int(m), 1)


def publication_window(index_month: str) -> tuple[date, date]:
    """The days (first, last) on which NBS usually publishes the index month's figures."""
    pub = _first_day(add_months(index_month, 1))
    return pub.replace(day=PUBLICATION_DAYS[0]), pub.replace(day=PUBLICATION_DAYS[1])


def expected_publication(index_month: str) -> date:
    """The nominal publication day (the 10th of the following month)."""
    return _first_day(add_months(index_month, 1)).replace(day=NOMINAL_DAY)


def add_working_days(start: date, n: int) -> date:
    """start + n working days, skipping Saturdays and Sundays only (holidays are not known here)."""
    d = start
    left = n
    while left > 0:
        d += timedelta(days=1)
        if d.weekday() < 5:
            left -= 1
    return d


_WORKING_DAYS = re.compile(r"(\d+)\s*(?:working days|work days|business days|个?工作日)", re.I)
_PUB_MONTH = re.compile(r"month (?:the|in which the) index is published|published month|publication month|公布当月|当月", re.I)


def classify(payment_timing: str | None) -> tuple[str, int | None]:
    """The rule a payment_timing text states: ('working_days', n), ('publication_month', None) or
    ('unspecified', None)."""
    if not payment_timing:
        return "unspecified", None
    m = _WORKING_DAYS.search(payment_timing)
    if m:
        return "working_days", int(m.group(1))
    if _PUB_MONTH.search(payment_timing):
        return "publication_month", None
    return "unspecified", None


def payment_deadline(index_month: str, payment_timing: str | None) -> Deadline:
    """The payment deadline for an index month under the rules' payment_timing."""
    rule, n = classify(payment_timing)
    pub = expected_publication(index_month)
    if rule == "working_days":
        d = add_working_days(pub, n or 0)
        note = f"{n} working days after publication (taken as {pub.isoformat()}); {HOLIDAY_NOTE}"
    elif rule == "publication_month":
        last = _cal.monthrange(pub.year, pub.month)[1]
        d = pub.replace(day=last)
        note = f"in the month of publication ({pub.strftime('%Y-%m')})"
    else:
        d = None
        note = "the scheme does not state a payment timing" if not payment_timing else "no date computed from the scheme's wording"
    return Deadline(index_month, rule, payment_timing, d, note)


def calendar_json(index_month: str, payment_timing: str | None) -> dict:
    """Extra keys for trigger's JSON: when this month's and the next month's figures are expected,
    and the payment deadline under the rules in force."""
    a, b = publication_window(index_month)
    na, nb = publication_window(add_months(index_month, 1))
    dl = payment_deadline(index_month, payment_timing)
    return {
        "figures_published_expected": f"{a.isoformat()}..{b.isoformat()}",
        "next_figures_expected": f"{na.isoformat()}..{nb.isoformat()}",
        "payment_timing": payment_timing,
        "payment_deadline": dl.deadline.isoformat() if dl.deadline else None,
        "payment_deadline_note": dl.note,
    }


def next_figures_sentence(latest: str) -> str:
    """'figures for 2024-04 are expected from NBS around 2024-05-09..12' for the month after `latest`."""
    nxt = add_months(latest, 1)
    a, b = publication_window(nxt)
    return _("figures for {month} are expected from NBS around {start}..{end} "
             "(CPI is usually published on the 9th-12th of the following month)").format(month=nxt, start=a.isoformat(), end=f"{b.day:02d}")


def deadline_sentence(index_month: str, version: str, payment_timing: str | None) -> str:
    dl = payment_deadline(index_month, payment_timing)
    if dl.deadline is None:
        return _("payment deadline for {month} under {version}: not computed ({note})").format(month=index_month, version=version, note=_note(dl))
    return _("payment deadline for {month} under {version}: {deadline} ({note})").format(month=index_month, version=version, deadline=dl.deadline.isoformat(), note=_note(dl))


def _note(dl: Deadline) -> str:
    """The deadline's note for people (Deadline.note stays English: it is in the JSON)."""
    pub = expected_publication(dl.index_month)
    if dl.rule == "working_days":
        n = classify(dl.text)[1] or 0
        return _("{n} working days after publication (taken as {date}); {holidays}").format(
            n=n, date=pub.isoformat(), holidays=_("weekends skipped; public holidays not counted, so the true deadline may be later"))
    if dl.rule == "publication_month":
        return _("in the month of publication ({month})").format(month=pub.strftime('%Y-%m'))
    return _("the scheme does not state a payment timing") if not dl.text else _("no date computed from the scheme's wording")
