"""The publication calendar: when an index month's figures are expected, and the payment deadline.

Month M's index is published on a day of month M+1 that moves (the 9th-16th for NBS's national
CPI, weekends included). The day used is, in order: the date on file for the deciding region (the
bundled `data/release_dates.csv`, each with its source, or a `发布日期` the office imported with
its figures); for a province's own index without one, the national date plus a stated lag; else
the rule of thumb (expected on the 9th-12th, taken as the 10th for a deadline), and the note says
which.

Payment deadlines follow the coded `payment_timing` of the rules in force (SPEC 4.5):

- `working_days_after_release = N` (national 2016 rules: 20): the release day + N working days of
  China's official calendar: public holidays (Spring Festival, National Day...) are skipped and
  make-up working days (调休上班, often a Saturday or Sunday) count, from the `holidays` package's
  CN calendar. For a year whose arrangement it does not list yet (the State Council announces it
  each November), weekends only, and the note says so.
- `end_of_release_month` (2021 rules): the last day of the month of the release.
- none: no date is computed.
"""

from __future__ import annotations

import calendar as _cal
import re
from dataclasses import dataclass
from datetime import date, timedelta

from cpi_link.core.i18n import N_, _, is_zh, translate_template
from cpi_link.core.months import add_months

PUBLICATION_DAYS = (9, 12)  # NBS usually publishes on the 9th-12th of the following month
NOMINAL_DAY = 10
LATEST_DAY = 16  # the latest national release day on file (2022-01: 2022-02-16): stale only after it
NATIONAL = "000000"
# A province's own index (its NBS survey team) came out 3-15 days after the national one in every
# dated Shanxi case: a deadline counts from the shortest lag (never later than the true one), the
# stale-figures warning waits for the longest (never before the release).
REGION_LAG_DAYS = (3, 15)


@dataclass(frozen=True)
class Release:
    """The publication day of an index month's figures for the region whose index decides."""

    index_month: str
    region: str
    date: date
    basis: str  # on_file | national_plus_lag | rule_of_thumb
    source: str | None = None  # where the date on file comes from (the national one, plus a lag)
    lag_days: int = 0

    def to_json(self) -> dict:
        return {"published": self.date.isoformat(), "published_basis": self.basis,
                "published_region": self.region, "published_source": self.source}

    def note(self) -> str:
        if self.basis == "on_file":
            return N_("published {date}").format(date=self.date.isoformat())
        if self.basis == "national_plus_lag":
            return N_("{region}'s date not on file: the national release {national} plus {lag} days").format(
                region=self.region, national=(self.date - timedelta(days=self.lag_days)).isoformat(), lag=self.lag_days)
        return N_("no date on file: expected 9th-12th, taken as {date}").format(date=self.date.isoformat())


_DATES: dict = {}


def bundled_release_dates() -> dict[tuple[str, str], tuple[date, str]]:
    """(region, index month) -> (release day, source), from data/release_dates.csv (read once)."""
    if "bundled" not in _DATES:
        import csv

        from cpi_link.core.paths import bundled_data_dir

        out: dict[tuple[str, str], tuple[date, str]] = {}
        path = bundled_data_dir() / "release_dates.csv"
        if path.exists():
            with open(path, encoding="utf-8", newline="") as f:
                for r in csv.DictReader(f):
                    out[(r["region_code"], r["index_month"])] = (date.fromisoformat(r["published"]), r["source"])
        _DATES["bundled"] = out
    return _DATES["bundled"]


def release(index_month: str, region: str = NATIONAL, on_file: dict | None = None) -> Release:
    """The day index_month's figures for `region` were (or are taken to be) published. `on_file`:
    dates the office imported, (region, month) -> (date, source), over the bundled ones."""
    dates = {**bundled_release_dates(), **(on_file or {})}
    region = region if region and region.isdigit() else NATIONAL  # "prefecture": the national calendar
    if (region, index_month) in dates:
        d, src = dates[(region, index_month)]
        return Release(index_month, region, d, "on_file", src)
    nat = dates.get((NATIONAL, index_month))
    if region != NATIONAL:
        base = nat[0] if nat else expected_publication(index_month)
        lag = REGION_LAG_DAYS[0]
        return Release(index_month, region, base + timedelta(days=lag), "national_plus_lag", nat[1] if nat else None, lag)
    return Release(index_month, region, expected_publication(index_month), "rule_of_thumb")


def latest_expected_release(index_month: str, region: str = NATIONAL, on_file: dict | None = None) -> date:
    """The day by which index_month's figures should be out: the date on file, else the latest day
    the rule of thumb allows (the 16th, plus the longest lag for a province's own index)."""
    r = release(index_month, region, on_file)
    if r.basis == "on_file":
        return r.date
    nat = r.date - timedelta(days=r.lag_days)
    if r.basis == "rule_of_thumb" or not r.source:
        nat = _first_day(add_months(index_month, 1)).replace(day=LATEST_DAY)
    return nat + timedelta(days=REGION_LAG_DAYS[1] if r.region != NATIONAL else 0)


@dataclass(frozen=True)
class _Calendar:
    holidays: object  # holidays.HolidayBase for CN (dates -> names), or None when not installed
    covered: frozenset  # years whose official arrangement (holidays and make-up days) is known


_CAL: dict = {}


def _calendar() -> _Calendar:
    """China's working-day calendar, built once per process."""
    if "cn" not in _CAL:
        try:
            import holidays

            # names in English whatever the locale (the package reads LANGUAGE, LC_ALL...): the
            # deadline's note is for scripts, and note_text() translates it for people
            cn = holidays.country_holidays("CN", years=range(2001, date.today().year + 3), language="en_US")
            # a year is covered when the library lists its make-up working days or substituted days
            # off: the arrangement announced for it, not only rule-derived festival dates
            covered = {d.year for d in getattr(cn, "weekend_workdays", ())}
            covered |= {d.year for d, name in cn.items() if "调休" in name or "substitut" in name.lower()}
            _CAL["cn"] = _Calendar(cn, frozenset(covered))
        except ImportError:  # pragma: no cover - a declared dependency
            _CAL["cn"] = _Calendar(None, frozenset())
    return _CAL["cn"]


def year_covered(year: int) -> bool:
    return year in _calendar().covered


def is_working_day(d: date) -> bool:
    """A working day of China's official calendar; weekends only for a year not covered."""
    cal = _calendar()
    if d.year in cal.covered:
        return cal.holidays.is_working_day(d)
    return d.weekday() < 5


@dataclass(frozen=True)
class Deadline:
    index_month: str
    rule: str  # working_days | publication_month | unspecified
    text: str | None  # the scheme's coded payment_timing
    deadline: date | None
    note: str
    published: Release | None = None

    def to_json(self) -> dict:
        return {
            "index_month": self.index_month,
            "rule": self.rule,
            "payment_timing": self.text,
            "payment_deadline": self.deadline.isoformat() if self.deadline else None,
            "note": self.note,
            **(self.published.to_json() if self.published else {}),
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
    """start + n working days of China's calendar (public holidays skipped, make-up days counted)."""
    d = start
    left = n
    while left > 0:
        d += timedelta(days=1)
        if is_working_day(d):
            left -= 1
    return d


def working_days_reason(start: date, end: date) -> str:
    """Why the span start..end holds the days it does: holidays skipped, make-up days counted,
    years without a known arrangement."""
    cal = _calendar()
    runs: list[list] = []  # [first, last, name] of each run of weekday holidays
    makeup: list[date] = []
    d = start
    while d < end:
        d += timedelta(days=1)
        if d.year not in cal.covered:
            continue
        if d.weekday() >= 5:
            if cal.holidays.is_working_day(d):
                makeup.append(d)
            continue
        name = cal.holidays.get(d)
        if name:
            name = name.split(";")[0]
            named = [] if name.startswith("Day off") or "调休" in name else [name.replace(" (observed)", "")]
            if runs and (d - runs[-1][1]).days <= 3:  # the same holiday across a weekend
                runs[-1][1] = d
                runs[-1][2] += [x for x in named if x not in runs[-1][2]]
            else:
                runs.append([d, d, named])
    parts = []
    if runs:
        parts.append(N_("public holidays skipped: {days}").format(days=", ".join(
            f"{a.isoformat()}" + (f"..{b.isoformat()}" if b != a else "") + (f" ({' / '.join(n)})" if n else "") for a, b, n in runs)))
    if makeup:
        parts.append(N_("make-up working days counted: {days}").format(days=", ".join(x.isoformat() for x in makeup)))
    missing = sorted({y for y in range(start.year, end.year + 1) if y not in cal.covered})
    if missing:
        parts.append(N_("China's holiday arrangement for {years} is not known yet: weekends only there, "
                        "so the true deadline may be later").format(years=", ".join(map(str, missing))))
    return "; ".join(parts) if parts else N_("no public holiday in the span")


_WORKING_DAYS = re.compile(r"^working_days_after_release = (\d+)$")


def classify(payment_timing: str | None) -> tuple[str, int | None]:
    """The coded rule (rules.schemes.file._payment_timing): ('working_days', n),
    ('publication_month', None) or ('unspecified', None)."""
    if not payment_timing:
        return "unspecified", None
    m = _WORKING_DAYS.match(payment_timing)
    if m:
        return "working_days", int(m.group(1))
    if payment_timing == "end_of_release_month":
        return "publication_month", None
    return "unspecified", None


def timing_words(payment_timing) -> str:
    """A coded payment_timing in the reader's language (the raw TOML table is accepted too)."""
    if isinstance(payment_timing, dict):
        payment_timing = ("end_of_release_month" if payment_timing.get("end_of_release_month") else
                          f"working_days_after_release = {payment_timing.get('working_days_after_release')}")
    rule, n = classify(payment_timing)
    if rule == "working_days":
        return _("within {n} working days after the index is released ({code})").format(n=n, code=payment_timing)
    if rule == "publication_month":
        return _("in the month the index is released ({code})").format(code=payment_timing)
    return str(payment_timing)


def payment_deadline(index_month: str, payment_timing: str | None, region: str = NATIONAL,
                     on_file: dict | None = None) -> Deadline:
    """The payment deadline for an index month under the rules' coded payment_timing, counted from
    the release of the deciding region's figures (`release`)."""
    rule, n = classify(payment_timing)
    rel = release(index_month, region, on_file)
    pub = rel.date
    if rule == "working_days":
        d = add_working_days(pub, n or 0)
        note = N_("{n} working days after publication").format(n=n) + "; " + rel.note() + "; " + working_days_reason(pub, d)
    elif rule == "publication_month":
        last = _cal.monthrange(pub.year, pub.month)[1]
        d = pub.replace(day=last)
        note = N_("in the month of publication ({month})").format(month=pub.strftime("%Y-%m")) + "; " + rel.note()
    else:
        d = None
        note = N_("the scheme does not state a payment timing")
    return Deadline(index_month, rule, payment_timing, d, note, rel)


# the parts of a deadline's note (kept in English in JSON), for showing it in the reader's language
_NOTE_PARTS = ("{n} working days after publication", "published {date}",
               "{region}'s date not on file: the national release {national} plus {lag} days",
               "no date on file: expected 9th-12th, taken as {date}", "public holidays skipped: {days}",
               "make-up working days counted: {days}",
               "China's holiday arrangement for {years} is not known yet: weekends only there, so the true deadline may be later",
               "no public holiday in the span", "in the month of publication ({month})",
               "the scheme does not state a payment timing")


def _holiday_names_zh() -> dict[str, str]:
    """English holiday name -> Chinese, from the holidays package's own zh_CN names (built once)."""
    if "names_zh" not in _CAL:
        names: dict[str, str] = {}
        try:
            import holidays

            years = range(2001, date.today().year + 3)
            en = holidays.country_holidays("CN", years=years, language="en_US")
            zh = holidays.country_holidays("CN", years=years, language="zh_CN")
            for d, name in en.items():
                for e, z in zip(name.split(";"), zh.get(d, "").split(";")):
                    names.setdefault(e.strip().replace(" (observed)", ""), z.strip())
        except (ImportError, NotImplementedError, KeyError):  # pragma: no cover - names stay in English
            pass
        _CAL["names_zh"] = names
    return _CAL["names_zh"]


def note_text(note: str) -> str:
    """A deadline's note in the current language, part by part, holiday names included."""
    if not is_zh():
        return note
    out = "；".join(translate_template(p, _NOTE_PARTS) or p for p in note.split("; "))
    names = _holiday_names_zh()

    def zh(m: re.Match) -> str:  # "(New Year's Day / ...)" after a date -> "（元旦 / ...）"
        parts = m.group(1).split(" / ")
        return "（" + " / ".join(names.get(x, x) for x in parts) + "）" if any(x in names for x in parts) else m.group(0)

    return re.sub(r" ?\(((?:[^()]|\([^()]*\))*)\)", zh, out)  # a name may hold its own (...): Chinese New Year (Spring Festival)


def is_overdue(dl: Deadline, today: date | None = None) -> bool:
    return dl.deadline is not None and dl.deadline < (today or date.today())


def calendar_json(index_month: str, payment_timing: str | None, today: date | None = None,
                  region: str = NATIONAL, on_file: dict | None = None) -> dict:
    """Extra keys for trigger's JSON: the publication day used (and its basis and source), when the
    next month's figures are expected, and the payment deadline under the rules in force (overdue
    when it has passed)."""
    a, b = publication_window(index_month)
    na, nb = publication_window(add_months(index_month, 1))
    dl = payment_deadline(index_month, payment_timing, region, on_file)
    return {
        "figures_published_expected": f"{a.isoformat()}..{b.isoformat()}",
        **(dl.published.to_json() if dl.published else {}),
        "next_figures_expected": f"{na.isoformat()}..{nb.isoformat()}",
        "payment_timing": payment_timing,
        "payment_deadline": dl.deadline.isoformat() if dl.deadline else None,
        "payment_deadline_note": dl.note,
        "overdue": is_overdue(dl, today),
    }


def next_figures_sentence(latest: str) -> str:
    """'figures for 2024-04 are expected from NBS around 2024-05-09..12' for the month after `latest`."""
    nxt = add_months(latest, 1)
    a, b = publication_window(nxt)
    return _("figures for {month} are expected from NBS around {start}..{end} "
             "(CPI is usually published on the 9th-12th of the following month)").format(month=nxt, start=a.isoformat(), end=f"{b.day:02d}")


def deadline_sentence(index_month: str, version: str, payment_timing: str | None, today: date | None = None,
                      show_overdue: bool = True, region: str = NATIONAL, on_file: dict | None = None) -> str:
    dl = payment_deadline(index_month, payment_timing, region, on_file)
    if dl.deadline is None:
        return _("payment deadline for {month} under {version}: not computed ({note})").format(month=index_month, version=version, note=note_text(dl.note))
    late = _(" — OVERDUE: the deadline has passed") if show_overdue and is_overdue(dl, today) else ""
    return _("payment deadline for {month} under {version}: {deadline}{late} ({note})").format(
        month=index_month, version=version, deadline=dl.deadline.isoformat(), late=late, note=note_text(dl.note))
