"""The monthly job (`cpi-link run`): fetch, then every due index month in order, exactly once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from cpi_link.core.errors import MissingFigures, UsageError
from cpi_link.calc.firstpass import RosterInput
from cpi_link.jobs.ledger import RunLock
from cpi_link.jobs.pipeline import calculate_month
from cpi_link.core.months import month_range

log = logging.getLogger("cpi_link.run")


@dataclass
class MonthOutcome:
    month: str
    status: str  # paid | not_triggered | already_done
    run_dir: str | None
    paid_rows: int = 0
    persons: int = 0
    total_fen: int = 0
    reason: str = ""

    def to_json(self) -> dict:
        from cpi_link.core.money import fen_to_yuan_str

        return {"month": self.month, "status": self.status, "run_dir": self.run_dir, "paid_rows": self.paid_rows,
                "persons": self.persons, "total_amount": fen_to_yuan_str(self.total_fen), "reason": self.reason}


@dataclass
class RunReport:
    months: list[MonthOutcome] = field(default_factory=list)
    latest_published: str | None = None
    next_expected: str | None = None
    gap: str | None = None
    fetch: dict | None = None


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


def next_release_note(latest: str | None) -> str | None:
    if latest is None:
        return None
    from cpi_link.rules.calendar import next_figures_sentence

    return next_figures_sentence(latest)


def run_months(home, scheme, store, roster: Path, standards, since: str | None, redo: str | None = None,
               reason: str | None = None, progress=None) -> RunReport:
    """Compute every due month from `since` to the latest month with complete figures. Caller holds the lock."""
    from cpi_link.jobs.ledger import Ledger

    ledger = Ledger(home)
    report = RunReport()
    latest = latest_complete_month(scheme, store)
    report.latest_published = latest
    report.next_expected = next_release_note(latest)
    if redo:
        if reason is None or not reason.strip():
            raise UsageError("--redo needs --reason TEXT: why the completed month is superseded")
        months = [redo]
    else:
        if latest is None:
            raise MissingFigures(f"no month has every figure that scheme {scheme.name} needs; fetch or import them first")
        start = since or latest
        if start > latest:
            log.info("nothing due: %s is after the latest published month %s", start, latest)
            return report
        months = month_range(start, latest)
    due = any(redo or ledger.record(m) is None for m in months)
    with RosterInput(roster, home.runs_dir, first_pass=due) as opened:  # hashed once for every month
        for m in months:
            _run_month(m, opened, ledger, report, home, scheme, store, standards, latest, redo, reason, progress)
    return report


def _run_month(m, roster, ledger, report, home, scheme, store, standards, latest, redo, reason, progress) -> None:
    """One due month: skipped when completed, else computed and committed to the ledger."""
    if not redo and ledger.record(m) is not None:
        rec = ledger.record(m)
        report.months.append(MonthOutcome(m, "already_done", rec["run_dir"], rec["paid_rows"], rec["persons"], rec["total_fen"],
                                          "completed earlier; nobody is paid twice"))
        log.info("%s already_done run=%s", m, rec["run_id"])
        return
    if not figures_complete(scheme, store, m):
        missing = missing_for(scheme, store, m)
        report.gap = m
        raise MissingFigures(
            f"{m}: no figure {', '.join(missing)}, though a later month ({latest}) is published; "
            "import it (cpi-link fetch --source file) and run again. Months before it are done."
        )
    res = calculate_month(m, roster, scheme, store, standards, home, progress=progress)
    ledger.commit(res, res.roster_sha256, redo_reason=reason if redo else None)
    status = "paid" if res.triggered else "not_triggered"
    d = res.decision if isinstance(res.decision, dict) else {"reason": "decided per prefecture"}
    report.months.append(MonthOutcome(m, status, str(res.run_dir), res.paid_rows, res.persons, res.total_fen, d["reason"]))
    log.info("%s %s run=%s paid_rows=%d persons=%d total_fen=%d", m, status, res.run_id, res.paid_rows, res.persons, res.total_fen)


def setup_log(home, quiet: bool) -> Path:
    """One log file per run under HOME/logs. Nothing logged carries a resident ID."""
    from datetime import datetime, timezone

    from cpi_link.core.paths import private_dir

    private_dir(home.logs_dir)
    path = home.logs_dir / f"run-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{__import__('os').getpid()}.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("cpi_link")
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    path.chmod(0o600)
    return path


def supplement(ledger, month: str, roster: Path, scheme, store, standards, out_dir=None):
    """Pay, for a completed month, only the people of an extra roster not yet paid for it."""
    with RunLock(ledger.home):
        rec = ledger.record(month)
        if rec is None:
            raise UsageError(f"{month} has no completed run yet: run it first (cpi-link run or calc), then supplement")
        paid = ledger.paid_ids(month)

        def exclude(df):
            return df["person_id"].isin(paid).to_numpy()

        res = calculate_month(month, roster, scheme, store, standards, ledger.home, out_dir=out_dir,
                              exclude_paid=exclude, extra_manifest={"supplement_to": rec["run_id"]},
                              run_tag=f"supplement-{len(rec['supplements']) + 1}")
        ledger.add_supplement(month, res, res.roster_sha256)
    return res
