"""The monthly job (`cpi-link run`): fetch, then every due index month in order, exactly once.

Besides the due months, every completed month is compared with what it was paid under: figures
revised since (`revised_after_payment`) and standards changed since (`standards_changed`) are
reported and never paid by themselves. `--redo MONTH --reason` pays a revised month's positive
differences as a supplementary run; `--topup` pays back-dated standards' positive differences
(补发) as a `topup` run. Decreases are listed, never clawed back.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from cpi_link.core.errors import CpiLinkError, ExitStatus, MissingFigures, UsageError
from cpi_link.core.i18n import N_, _
from cpi_link.core.money import fen_to_yuan_str
from cpi_link.core.months import add_months, month_range
from cpi_link.core.privacy import MaskingFormatter
from cpi_link.jobs.ledger import RunLock
from cpi_link.jobs.pipeline import calculate_month

if TYPE_CHECKING:
    from cpi_link.calc.handle import RosterHandle

log = logging.getLogger("cpi_link.run")


@dataclass
class MonthOutcome:
    month: str
    # paid | not_triggered | already_done | revised_after_payment | standards_changed | topup_paid | roster_changed |
    # missing_figures (SPEC 4.5); None for a month that stopped the job for another cause: no status word fits, its
    # exit_code (SPEC 7: 2, bad input, a damaged ledger or store, a full disk) and reason say why
    status: str | None
    run_dir: str | None
    paid_rows: int = 0
    persons: int = 0
    total_fen: int = 0
    reason: str = ""
    run_id: str | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"month": self.month, "status": self.status, "run_id": self.run_id, "run_dir": self.run_dir,
                "paid_rows": self.paid_rows, "persons": self.persons, "total_amount": fen_to_yuan_str(self.total_fen),
                "reason": self.reason} | self.extra


# a month outcome's reason, and the run's stale-figures warning: English in JSON, CSV and the log (for scripts),
# in the reader's language on stderr and the page (month_reason_text)
REVISED = N_("{month}: figures revised after payment: paid under rate {old_rate} (triggered {old_triggered}), the store now "
             "gives {new_rate} (triggered {new_triggered}); nothing paid: check, then cpi-link run --redo {month} --reason TEXT "
             "pays the differences")
# the same, when a side has no rate (not triggered, or a decision recorded without one): never "rate None"
REVISED_TO_NO_RATE = N_("{month}: figures revised after payment: paid under rate {old_rate} (triggered {old_triggered}), the "
                        "store now gives no rate (triggered {new_triggered}); nothing paid: check, then cpi-link run --redo "
                        "{month} --reason TEXT pays the differences")
REVISED_FROM_NO_RATE = N_("{month}: figures revised after payment: paid with no rate recorded (triggered {old_triggered}), the "
                          "store now gives {new_rate} (triggered {new_triggered}); nothing paid: check, then cpi-link run "
                          "--redo {month} --reason TEXT pays the differences")
REVISED_NO_RATE = N_("{month}: figures revised after payment: paid with no rate recorded (triggered {old_triggered}), the "
                     "store gives no rate either (triggered {new_triggered}); nothing paid: check, then cpi-link run --redo "
                     "{month} --reason TEXT pays the differences")
STANDARDS_CHANGED = N_("{month}: the standards given would change amounts already paid: +{up} yuan over {up_rows} rows, {down} "
                       "yuan over {down_rows} rows; nothing paid: cpi-link run --topup pays the increases (补发)")
SUPPLEMENT_PAID = N_("{month}: paid once to the {n} people of the roster not yet paid for it (补充发放); amounts of people "
                     "already paid are never changed here")
STALE_FIGURES = N_("stale figures: the latest month with figures is {latest}, but {next}'s figures were expected by {since} "
                   "and the publication calendar says figures up to {expected} should be out; fetch or import them")
ALREADY_DONE = N_("completed earlier; nobody is paid twice")
NOTHING_MORE = N_("recomputed: no positive differences to pay; decreases are listed, never clawed back")
DIFFERENCES_PAID = N_("differences for {month} paid once; decreases listed, never clawed back")
TOPUP_PAID = N_("differences for {month} paid once (补发); decreases listed, never clawed back")
PER_PREFECTURE = N_("decided per prefecture")  # a paid month's reason when each prefecture has its own decision
ROSTER_CHANGED = N_("{month}: the roster differs from the one the month was paid with: {new} people not yet paid ({amount} "
                    "yuan), {other} listed with a different amount, {gone} paid but no longer listed; nothing paid: "
                    "cpi-link run --supplement --since {month} with the same --roster pays the people not yet paid, once")


def month_reason_text(reason: str) -> str:
    """A month outcome's reason (English, as JSON gives it) in the reader's language."""
    from cpi_link.core.i18n import translate_template

    # the no-rate wordings before REVISED, whose {new_rate} would also take "no rate"
    return translate_template(reason, (REVISED_TO_NO_RATE, REVISED_FROM_NO_RATE, REVISED_NO_RATE, REVISED, STANDARDS_CHANGED,
                                        SUPPLEMENT_PAID, ROSTER_CHANGED, STALE_FIGURES, PER_PREFECTURE, ALREADY_DONE,
                                        NOTHING_MORE, DIFFERENCES_PAID, TOPUP_PAID)) or reason


def status_text(status: str | None, kind: str | None = None, exit_code: int | None = None) -> str:
    """A month's status for people: the word scripts read, with its meaning in Chinese (the CLI's and the page's);
    a month that stopped the job without a status word: "not done" with the exit code."""
    from cpi_link.core.i18n import is_zh

    if status is None:
        return _("not done (exit {code})").format(code=exit_code) if exit_code is not None else _("not done")

    words = {"paid": _("paid"), "not_triggered": _("not triggered"), "already_done": _("already done"),
             "revised_after_payment": _("figures revised after payment"), "standards_changed": _("standards changed after payment"),
             "topup_paid": _("top-up paid"), "missing_figures": _("figures missing"),
             "roster_changed": _("roster differs from the one paid")}.get(status)
    if status == "paid" and kind == "supplement":
        return _("supplement paid (补充发放)") + (" (paid)" if is_zh() else "")
    return f"{words} ({status})" if words and is_zh() else status


def kind_text(kind: str | None) -> str:
    """What a ledger entry paid, for people: a month, a supplement (补充发放) or a top-up (补发)."""
    return {"supplement": _("supplement (补充发放)"), "topup": _("top-up (补发)")}.get(kind or "month", _("monthly payment"))


@dataclass
class RunReport:
    months: list[MonthOutcome] = field(default_factory=list)
    latest_published: str | None = None
    next_expected: str | None = None
    gap: str | None = None
    fetch: dict | None = None
    stale_figures: bool = False
    expected_latest: str | None = None
    release_dates: dict = field(default_factory=dict)  # (region, month) -> (date, source) the office imported
    warnings: list[str] = field(default_factory=list)
    unverified: dict = field(default_factory=dict)  # rules label -> months paid under it (warned once per command)
    roster: dict | None = None  # how the roster was read (the manifest's roster entry), once a month was computed

    def note_rules(self, scheme, month: str) -> None:
        """Remember an unverified version or overlay a month was paid under."""
        rules = scheme.rules_for(month)
        if not rules.verified:
            self.unverified.setdefault(rules.label, []).append(month)

    def sort(self) -> None:
        order = {m: i for i, m in enumerate(sorted({o.month for o in self.months}))}
        self.months.sort(key=lambda o: order[o.month])


class RunStopped(CpiLinkError):
    """A month stopped the job after earlier months were done: the error, with what was done (report)."""

    def __init__(self, cause: CpiLinkError, report: RunReport):
        super().__init__(cause.message)
        self.exit_status = cause.exit_status
        self.cause = cause
        self.report = report


def prefectures(store) -> list[str]:
    """The prefecture cities (设区市, XXXX00) the store holds figures for: those a prefecture
    scheme decides on."""
    return sorted({k[0] for k in store.all() if k[0].endswith("00") and not k[0].endswith("0000")})


def missing_for(scheme, store, month: str) -> list[str]:
    """What the month lacks, as 'cpi for 140100' strings (every prefecture for prefecture schemes)."""
    rules = scheme.rules_for(month)
    if rules.index_region == "prefecture":
        regions = prefectures(store)
        if not regions:
            return ["any prefecture's figures (a prefecture scheme decides on each 设区市's own)"]
    else:
        regions = [rules.index_region]
    return [f"{ind} for {r}" for r in regions for ind in rules.indicators_needed() if store.get(r, ind, month) is None]


def figures_complete(scheme, store, month: str) -> bool:
    """Every figure the month's rules name is stored for the deciding region; for a prefecture
    scheme, for every prefecture the store holds figures for (rows of other prefectures are
    rejected unknown_region by calc)."""
    try:
        return not missing_for(scheme, store, month)
    except Exception:
        return False


def latest_complete_month(scheme, store) -> str | None:
    months = sorted({o.month for o in store.all().values()}, reverse=True)
    for m in months:
        if figures_complete(scheme, store, m):
            return m
    return None


def expected_latest_month(today: date | None = None, region: str = "000000", on_file: dict | None = None) -> str:
    """The latest index month whose figures should be out by `today`: its release date on file has
    passed, or, with none on file, the latest day the rule of thumb allows (rules.calendar)."""
    from cpi_link.rules.calendar import latest_expected_release

    today = today or date.today()
    m = f"{today.year:04d}-{today.month:02d}"
    while latest_expected_release(m, region, on_file) >= today:
        m = add_months(m, -1)
    return m


def _index_region(scheme, month: str | None) -> str:
    try:
        return scheme.rules_for(month).index_region if month else "000000"
    except Exception:  # a month outside every version: the national calendar
        return "000000"


def next_release_note(latest: str | None) -> str | None:
    if latest is None:
        return None
    from cpi_link.rules.calendar import next_figures_sentence

    return next_figures_sentence(latest)


def default_since(ledger, latest: str | None) -> str | None:
    """SPEC 4.5: the month after the latest completed month; with an empty ledger, the latest month with figures."""
    done = ledger.completed_months()
    return add_months(done[-1], 1) if done else latest


def _decision_key(d) -> tuple | None:
    if not isinstance(d, dict):
        return None
    return (bool(d.get("triggered")), d.get("indicator"), d.get("rate_pct"))


def _paid_under(rec: dict, key: str, what: str):
    """The decision (or standards sha256) a completed month was paid under: its record, else its run's manifest."""
    if what in rec and rec[what] is not None:
        return rec[what]
    try:
        import json

        man = json.loads((Path(rec["run_dir"]) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError):
        return None
    if what == "decision":
        return man.get("decision")
    return next((i.get("sha256") for i in man.get("inputs", []) if i.get("role") == "standards"), None)


def _short(d) -> dict | None:
    if not isinstance(d, dict):
        return None
    figs = d.get("figures") or {}
    return {"triggered": d.get("triggered"), "indicator": d.get("indicator"), "rate_pct": d.get("rate_pct"),
            "cpi_yoy_pct": d.get("cpi_yoy_pct"), "food_yoy_pct": d.get("food_yoy_pct"),
            "figures": {k: {x: v.get(x) for x in ("value", "source", "fetched_at") if x in v} for k, v in figs.items()
                        if isinstance(v, dict)}}


def run_months(home, scheme, store, roster: RosterHandle, standards, since: str | None, redo: str | None = None,
               reason: str | None = None, progress=None, topup: bool = False, today: date | None = None,
               supplement: bool = False, until: str | None = None, anchor=None) -> RunReport:
    """Compute every due month from `since` to the latest month with complete figures (or `until`, when
    earlier). Caller holds the lock. roster: the command's (calc.handle.open_roster), hashed once for every month.

    A month that stops the job (missing figures, bad input) raises RunStopped carrying the report
    of the months done before it and the stopping month, so the caller can say what was done."""
    from cpi_link.jobs.ledger import Ledger
    from cpi_link.rules.trigger import decide

    from cpi_link.outputs.runfolder import clean_leftovers

    ledger = Ledger(home, anchor=anchor)
    chain = ledger.check_or_refuse()  # a damaged ledger is never a reason to pay again (exit 2)
    clean_leftovers(home.root / "tmp")  # scratch folders of a killed --redo/--topup
    _set_aside_unrecorded(home, ledger, chain)
    report = RunReport()
    latest = latest_complete_month(scheme, store)
    report.latest_published = latest
    report.next_expected = next_release_note(latest)
    region = _index_region(scheme, latest)
    on_file = report.release_dates = store.release_dates()
    report.expected_latest = expected_latest_month(today, region, on_file)
    if latest is not None and latest < report.expected_latest:
        from cpi_link.rules.calendar import latest_expected_release

        report.stale_figures = True
        nxt = add_months(latest, 1)
        w = STALE_FIGURES.format(latest=latest, next=nxt, since=latest_expected_release(nxt, region, on_file).isoformat(),
                                 expected=report.expected_latest)
        report.warnings.append(w)
        log.warning(w)
    return _run_due(roster, roster.sha256, home, ledger, report, scheme, store, standards, since, latest, redo,
                    reason, progress, topup, decide, supplement, until)


def _run_due(roster, roster_sha, home, ledger, report, scheme, store, standards, since, latest, redo, reason, progress,
             topup, decide, supplement=False, until=None) -> RunReport:
    """The due months in order, and the completed ones checked against today's figures and standards.

    The roster is compared with the people paid for the completed months the run is asked about
    (from --since on; by default the latest completed month): roster_changed, paid by --supplement."""
    if redo:
        if reason is None or not reason.strip():
            raise UsageError(_("--redo needs --reason TEXT: why the completed month is redone"))
        if ledger.record(redo) is not None:
            report.months.append(_pay_differences(ledger, redo, roster, scheme, store, standards, roster_sha, "supplement",
                                                  reason=reason))
            return report
        months = [redo]
    else:
        if latest is None:
            raise MissingFigures(f"no month has every figure that scheme {scheme.name} needs; fetch or import them first")
        start = since or default_since(ledger, latest)
        last = min(latest, until) if until else latest
        months = month_range(start, last) if start <= last else []
        if not months:
            log.info("nothing due: %s is after the latest month with figures %s", start, latest)
    due = set(months)
    done = ledger.completed_months()
    # whose people the roster is compared with: the completed months asked about, by default the latest
    asked = {m for m in done if m >= since} if since else set(done[-1:])
    current = None
    try:
        # completed months outside the due range: were they paid under what the store and standards say now?
        for m in done:
            if m in due:
                continue
            current = m
            rec = ledger.record(m)
            out = _check_completed(ledger, m, rec, roster, scheme, store, standards, roster_sha, topup, decide,
                                   compare=m in asked, supplement=supplement, report=report)
            if out is not None:
                report.months.append(out)
        for m in months:
            current = m
            rec = ledger.record(m)
            if not redo and rec is not None:
                out = _check_completed(ledger, m, rec, roster, scheme, store, standards, roster_sha, topup, decide,
                                       compare=True, supplement=supplement, report=report)
                report.months.append(out or MonthOutcome(m, "already_done", rec["run_dir"], rec["paid_rows"],
                                                         rec["persons"], rec["total_fen"],
                                                         ALREADY_DONE, rec["run_id"]))
                log.info("%s already_done run=%s", m, rec["run_id"])
                continue
            if not figures_complete(scheme, store, m):
                missing = missing_for(scheme, store, m)
                report.gap = m
                raise MissingFigures(_(
                    "{month}: no figure {missing}, though a later month ({later}) is published; import it (cpi-link "
                    "fetch --source file) and run again").format(month=m, missing=", ".join(missing), later=latest))
            res = calculate_month(m, roster, scheme, store, standards, home, progress=progress,
                                  extra_manifest={"paid_by": "run"})
            ledger.commit(res, roster_sha, redo_reason=reason if redo else None, roster_sheet=roster.sheet,
                          roster_sources=roster.sources_json())
            report.roster = next((i for i in (res.manifest or {}).get("inputs", []) if i.get("role") == "roster"), None)
            status = "paid" if res.triggered else "not_triggered"
            if res.triggered:
                report.note_rules(scheme, m)
            d = res.decision if isinstance(res.decision, dict) else {"reason": PER_PREFECTURE}
            report.months.append(MonthOutcome(m, status, str(res.run_dir), res.paid_rows, res.persons, res.total_fen,
                                              d["reason"], res.run_id))
            log.info("%s %s run=%s paid_rows=%d persons=%d total=%s yuan", m, status, res.run_id, res.paid_rows,
                     res.persons, fen_to_yuan_str(res.total_fen))
    except CpiLinkError as exc:
        # the months done so far stay done; the stopping month is listed with its status and reason
        # SPEC 4.5's word when there is one (exit 3: figures missing, a failed fetch that leaves them missing);
        # otherwise no status word, the exit code of SPEC 7 and the reason
        code = int(exc.exit_status)
        status = "missing_figures" if code == ExitStatus.MISSING_FIGURES else None
        report.months.append(MonthOutcome(current or "", status, None, reason=exc.message, extra={"exit_code": code}))
        report.sort()
        log.error("%s %s: %s", current, status, exc.message)
        raise RunStopped(exc, report) from None
    report.sort()
    return report


def _set_aside_unrecorded(home, ledger, chain) -> None:
    """A run folder made by `run` that the ledger never recorded (killed between its rename and the
    record, or a full disk at the ledger step) is moved out of runs/MONTH/: it must not look paid."""
    from cpi_link.outputs.runfolder import move_aside, run_folders

    recorded = set(chain.run_ids)
    for k in ledger.keys():
        rec = ledger.record(k)
        recorded.add(rec["run_id"])
        recorded.update(s["run_id"] for s in rec.get("supplements", []))
    for d, man in list(run_folders(home.runs_dir)):
        if man.get("paid_by") == "run" and man.get("run_id") not in recorded and "ledger_seal" not in man:
            dest = move_aside(d, home.runs_dir, "a run folder the ledger never recorded (the run was stopped before its "
                              "ledger record); nothing in it was paid")
            log.warning("unrecorded run folder %s moved aside to %s", d, dest)


def revised_after_payment(m: str, rec: dict, scheme, store, decide=None) -> MonthOutcome | None:
    """A completed month whose stored figures now give another decision or rate than it was paid
    under (`revised_after_payment`, as `run` reports it), else None."""
    if decide is None:
        from cpi_link.rules.trigger import decide
    if rec.get("kind", "month") != "month":
        return None
    old = _paid_under(rec, m, "decision")
    if not (isinstance(old, dict) and figures_complete(scheme, store, m)):
        return None
    rules = scheme.rules_for(m)
    new = decide(rules, store, region=rules.index_region).to_json(provenance=True)
    if _decision_key(old) == _decision_key(new):
        return None
    old_rate, new_rate = old.get("rate_pct"), new.get("rate_pct")
    said = {(True, True): REVISED, (True, False): REVISED_TO_NO_RATE, (False, True): REVISED_FROM_NO_RATE,
            (False, False): REVISED_NO_RATE}[(old_rate is not None, new_rate is not None)]
    w = said.format(month=m, old_rate=old_rate, old_triggered=str(old.get("triggered")).lower(),
                    new_rate=new_rate, new_triggered=str(new.get("triggered")).lower())
    return MonthOutcome(m, "revised_after_payment", rec["run_dir"], 0, 0, 0, w, rec["run_id"],
                        {"old_decision": _short(old), "new_decision": _short(new)})


def _check_completed(ledger, m, rec, roster, scheme, store, standards, roster_sha, topup, decide, compare=False,
                     supplement=False, report=None) -> MonthOutcome | None:
    """revised_after_payment / standards_changed / topup_paid / roster_changed / paid (kind supplement)
    for a completed month, or None when nothing changed."""
    if rec.get("kind", "month") != "month":
        return None
    revised = revised_after_payment(m, rec, scheme, store, decide)
    if revised is not None:
        log.warning(revised.reason)
        return revised
    if rec.get("status") != "paid":
        return None
    old_std = _paid_under(rec, m, "standards_sha256")
    if old_std is not None and old_std != standards.sha256:
        out = _pay_differences(ledger, m, roster, scheme, store, standards, roster_sha, "topup", dry_run=not topup)
        if out is not None:
            return out
    if compare:
        return _compare_roster(ledger, m, roster, scheme, store, standards, roster_sha, supplement, report)
    return None


def paid_rosters(rec: dict) -> set[tuple]:
    """(sha256, sheet) of every roster a completed month's record paid people from (month and supplements)."""
    return {(r.get("roster_sha256"), r.get("roster_sheet")) for r in [rec] + list(rec.get("supplements", []))}


def _compare_roster(ledger, m, roster, scheme, store, standards, roster_sha, supplement, report) -> MonthOutcome | None:
    """A roster other than the ones a paid month was paid from: who is not yet paid, listed with
    another amount, or paid but no longer listed (roster_changed); with supplement, the people not
    yet paid are paid once (status paid, kind supplement). Amount differences are listed, never paid here."""
    import numpy as np
    import pyarrow.parquet as pq

    from cpi_link.core.money import fen_from_decimal128
    from cpi_link.core.paths import private_dir
    from cpi_link.outputs.runfolder import temp_name

    rec = ledger.record(m)
    if (roster_sha, roster.sheet) in paid_rosters(rec):
        return None
    home = ledger.home
    work = private_dir(home.root / "tmp") / temp_name(".work-", f"compare-{m}")
    try:
        full = calculate_month(m, roster, scheme, store, standards, home, out_dir=work / "full")
        t = pq.read_table(Path(full.run_dir) / "payments.parquet", columns=["person_id", "amount"])
        now = dict(zip(t.column("person_id").to_pylist(), fen_from_decimal128(t.column("amount")).astype(np.int64).tolist()))
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    paid = ledger.paid_fen(m)
    new = [p for p in now if p not in paid]
    other = [p for p in now if p in paid and now[p] != paid[p]]
    gone = [p for p in paid if p not in now]
    counts = {"not_yet_paid": len(new), "not_yet_paid_amount": fen_to_yuan_str(sum(now[p] for p in new)),
              "different_amount": len(other), "no_longer_listed": len(gone)}
    if not new and not other and not gone:
        return None
    if supplement and new:
        res = pay_supplement(ledger, m, roster, scheme, store, standards)
        if report is not None:
            report.note_rules(scheme, m)
        return MonthOutcome(m, "paid", str(res.run_dir), res.paid_rows, res.persons, res.total_fen,
                            SUPPLEMENT_PAID.format(month=m, n=res.paid_rows),
                            res.run_id, counts | {"kind": "supplement"})
    w = ROSTER_CHANGED.format(month=m, new=len(new), amount=counts["not_yet_paid_amount"], other=len(other), gone=len(gone))
    log.warning("%s roster_changed: not_yet_paid=%d different_amount=%d no_longer_listed=%d", m, len(new), len(other),
                len(gone))
    return MonthOutcome(m, "roster_changed", rec["run_dir"], 0, 0, 0, w, rec["run_id"],
                        counts | {"command": f"cpi-link run --supplement --since {m}"})


def _pay_differences(ledger, m, roster, scheme, store, standards, roster_sha, kind: str, reason: str | None = None,
                     dry_run: bool = False) -> MonthOutcome | None:
    """Recompute a completed month and pay each person's positive difference to what the ledger paid."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cpi_link.core.money import fen_from_decimal128
    from cpi_link.core.paths import private_dir
    from cpi_link.outputs.runfolder import temp_name

    home = ledger.home
    rec = ledger.record(m)
    work = private_dir(home.root / "tmp") / temp_name(".work-", f"{kind}-{m}")
    try:
        full = calculate_month(m, roster, scheme, store, standards, home, out_dir=work / "full")
        t = pq.read_table(Path(full.run_dir) / "payments.parquet")
        import numpy as np

        paid = ledger.paid_fen(m)
        pids = t.column("person_id").to_pylist()
        new_fen = fen_from_decimal128(t.column("amount")).astype(np.int64)
        before = np.array([paid.get(p, 0) for p in pids], dtype=np.int64)
        diff = new_fen - before
        up, down = diff > 0, diff < 0
        decreases = [{"source_row": int(r), "paid": fen_to_yuan_str(int(b)), "now": fen_to_yuan_str(int(n)),
                      "difference": fen_to_yuan_str(int(d))}
                     for r, b, n, d in zip(np.asarray(t.column("source_row"))[down], before[down], new_fen[down], diff[down])]
        total_up, total_down = int(diff[up].sum()), int(diff[down].sum())
        extra = {"kind": kind, "difference_total": fen_to_yuan_str(total_up), "difference_rows": int(up.sum()),
                 "decrease_total": fen_to_yuan_str(total_down), "decreases": decreases,
                 "paid_under_standards": _paid_under(rec, m, "standards_sha256"), "standards_now": standards.sha256}
        if kind == "supplement":
            extra |= {"old_decision": _short(_paid_under(rec, m, "decision")), "new_decision": _short(full.decision)}
        if dry_run:
            if not up.any() and not down.any():
                ledger.update(m, {"standards_sha256": standards.sha256})  # checked once: not recomputed by every run
                return None
            w = STANDARDS_CHANGED.format(month=m, up=fen_to_yuan_str(total_up), up_rows=int(up.sum()),
                                         down=fen_to_yuan_str(total_down), down_rows=int(down.sum()))
            log.warning(w)
            return MonthOutcome(m, "standards_changed", rec["run_dir"], 0, 0, 0, w, rec["run_id"], extra)
        if not up.any():
            ledger.update(m, {"decision": full.decision} if kind == "supplement" else {"standards_sha256": standards.sha256},
                          note={"kind": kind, "reason": reason, "at": full.manifest.get("created_at"),
                                "decrease_total": extra["decrease_total"]})
            log.info("%s recomputed (%s): no positive differences; decreases %s yuan listed, not clawed back", m, kind,
                     extra["decrease_total"])
            return MonthOutcome(m, "already_done", rec["run_dir"], 0, 0, 0, NOTHING_MORE, rec["run_id"], extra)
        res = _write_difference_run(ledger, m, rec, full, t.filter(pa.array(up)), diff[up], kind, reason, extra)
        update = {"standards_sha256": standards.sha256}
        if kind == "supplement":
            update["decision"] = full.decision  # the month is now paid under the revised figures
        ledger.add_supplement(m, res, roster_sha, kind=kind, extra={"reason": reason, "standards_sha256": standards.sha256,
                                                                    "roster_sources": roster.sources_json()},
                              update=update)
        status = "topup_paid" if kind == "topup" else "paid"
        log.info("%s %s run=%s rows=%d total=%s yuan (decreases listed, not clawed back: %s yuan)", m, status, res.run_id,
                 res.paid_rows, fen_to_yuan_str(res.total_fen), fen_to_yuan_str(total_down))
        return MonthOutcome(m, status, str(res.run_dir), res.paid_rows, res.persons, res.total_fen,
                            (TOPUP_PAID if kind == "topup" else DIFFERENCES_PAID).format(month=m),
                            res.run_id, extra)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_difference_run(ledger, m, rec, full, t, diff, kind, reason, extra):
    """The run folder of a difference payment: the recomputed rows with amount = the difference."""
    import numpy as np
    import pyarrow as pa

    from cpi_link.calc import encoding
    from cpi_link.calc.stream import Totals
    from cpi_link.core.money import decimal128_from_fen
    from cpi_link.jobs import runs

    n = len(rec.get("supplements", [])) + 1
    run_id = runs.run_id(f"{m}-{kind}{n}", [full.run_id + rec["run_id"] + str(n)])
    persons = np.asarray(t.column("persons"), dtype=np.int64)
    per = np.where(diff % np.maximum(persons, 1) == 0, diff // np.maximum(persons, 1), diff)
    money = t.schema.field("amount").type
    cols = {"amount": decimal128_from_fen(diff.astype(np.int64)).cast(money),
            "amount_per_person": decimal128_from_fen(per.astype(np.int64)).cast(t.schema.field("amount_per_person").type),
            "run_id": pa.array([run_id] * t.num_rows, pa.string())}
    for name, arr in cols.items():
        i = t.schema.get_field_index(name)
        t = t.set_column(i, t.schema.field(name), arr)
    meta = dict(t.schema.metadata or {})
    meta[b"run_id"] = run_id.encode()
    meta[b"kind"] = kind.encode()
    meta[b"paid"] = b"true"
    t = t.replace_schema_metadata(meta)
    file_meta = encoding.file_metadata(run_id, m, full.manifest["scheme"]["name"], full.manifest["scheme"]["version"],
                                       paid=True) | {"kind": kind}
    totals = Totals()  # calc's own per (region_code, category) sums
    totals.add(pa.table({"region_code": t.column("region_code"), "category": t.column("category"),
                         "persons": persons, "amount_fen": diff.astype(np.int64)}))
    total = int(diff.sum())
    label = f"补发 {m}" if kind == "topup" else f"补差 {m}"
    # the recomputed month's manifest with this run's id, kind, counts and differences
    manifest = dict(full.manifest, run_id=run_id, kind=kind, label=label, difference_for=m, basis_run=rec["run_id"],
                    reason=reason, paid_by="run", paid=True)
    manifest["counts"] = dict(manifest["counts"], paid_rows=t.num_rows, persons=int(persons.sum()), rejected_rows=0,
                              total_amount=fen_to_yuan_str(total), rejected_by_reason={})
    manifest["difference"] = {k: v for k, v in extra.items() if k != "decreases"} | {"decreases": len(extra["decreases"])}
    tables = {"payments.parquet": t,
              "rejected.parquet": encoding.with_run_columns(encoding.rejected_schema().empty_table(), file_meta),
              "summary.parquet": encoding.summary_table(totals.summary(), file_meta)}
    return runs.finish(ledger.home.runs_dir / m / run_id, tables, manifest, False, total, [], full.roster_sha256,
                       input_rows=t.num_rows)


class _QuietFileHandler(logging.FileHandler):
    """A log line that cannot be written (a full disk) is lost, never a traceback on stderr or a stop."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def setup_log(home, quiet: bool) -> Path:
    """One log file per run under HOME/logs. Nothing logged carries a resident ID."""
    from datetime import datetime, timezone

    from cpi_link.core.paths import private_dir

    private_dir(home.logs_dir)
    path = home.logs_dir / f"run-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{__import__('os').getpid()}.log"
    handler = _QuietFileHandler(path, encoding="utf-8")
    handler.setFormatter(MaskingFormatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("cpi_link")
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    path.chmod(0o600)
    return path


def pay_month(home, scheme, roster, standards, month: str, progress=None, sheet=None, supplement: bool = False,
              topup: bool = False, expect_sha256: str | None = None, expect_standards_sha256: str | None = None,
              remark_check: bool = True) -> RunReport:
    """One index month paid as `run --offline --since MONTH` pays it, stopping at that month (the
    officer's page): under the run lock, logged, the ledger deciding whether it is already done.
    roster: a path, or several read as one (calc.handle.open_roster), with sheet (a name or "all").

    For a completed month it reports what `run` reports (roster_changed, standards_changed), and pays
    them as `run --supplement` / `run --topup` do when asked. expect_sha256, expect_standards_sha256:
    the hashes of the roster and standards when they were checked; a file changed since is refused
    (exit 2), nothing paid."""
    from cpi_link.calc.handle import open_roster
    from cpi_link.store.series import SeriesStore

    with RunLock(home), open_roster(roster, home.runs_dir, sheet=sheet, remark_check=remark_check) as handle:
        if expect_sha256 is not None and handle.sha256 != expect_sha256:
            names = ", ".join(p.name for p in handle.paths)
            raise UsageError(_("{file}: the roster changed since it was checked; nothing paid: check it again").format(
                file=names))
        if expect_standards_sha256 is not None and standards.sha256 != expect_standards_sha256:
            raise UsageError(_("{file}: the standards changed since they were checked; nothing paid: check again").format(
                file=Path(standards.path).name))
        setup_log(home, True)
        log.info("pay started: scheme=%s month=%s supplement=%s topup=%s", scheme.name, month, supplement, topup)
        try:
            report = run_months(home, scheme, SeriesStore(home), handle, standards, month, progress=progress, until=month,
                                supplement=supplement, topup=topup)
        except BaseException as exc:
            log.error("pay stopped: %s", getattr(exc, "message", None) or type(exc).__name__)
            raise
        log.info("pay finished")
    return report


def supplement(ledger, month: str, roster: RosterHandle, scheme, store, standards, out_dir=None, progress=None):
    """`calc --supplement`: pay, for a completed month, only the people of a roster not yet paid for it."""
    with RunLock(ledger.home):
        ledger.check_or_refuse()
        return pay_supplement(ledger, month, roster, scheme, store, standards, out_dir=out_dir, progress=progress)


def pay_supplement(ledger, month: str, roster: RosterHandle, scheme, store, standards, out_dir=None, progress=None):
    """The supplement (补充发放) of a completed month: the roster's people not yet paid for it, paid
    once and recorded in the ledger (kind supplement); the others rejected as already_paid. Caller
    holds the lock."""
    rec = ledger.record(month)
    if rec is None:
        raise UsageError(f"{month} has no completed run yet: run it first (cpi-link run or calc), then supplement")
    paid = ledger.paid_ids(month)

    def exclude(df):
        return df["person_id"].isin(paid).to_numpy()

    res = calculate_month(month, roster, scheme, store, standards, ledger.home, out_dir=out_dir, progress=progress,
                          exclude_paid=exclude, extra_manifest={"supplement_to": rec["run_id"], "paid_by": "run",
                                                                "kind": "supplement", "label": "补充发放"},
                          run_tag=f"supplement-{len(rec['supplements']) + 1}")
    ledger.add_supplement(month, res, res.roster_sha256, extra={"roster_sheet": roster.sheet,
                                                                "roster_sources": roster.sources_json()})
    return res
