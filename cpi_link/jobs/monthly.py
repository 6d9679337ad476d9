"""The monthly job (`cpi-link run`): fetch, then every due index month in order, exactly once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from cpi_link.core.errors import MissingFigures, UsageError
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


def figures_complete(scheme, store, month: str) -> bool:
    try:
        rules = scheme.rules_for(month)
    except Exception:
        return False
    if rules.index_region == "prefecture":
        return False  # decided per recipient's prefecture: needs the roster; handled in calc
    return all(store.get(rules.index_region, ind, month) is not None for ind in rules.indicators_needed())


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
               reason: str | None = None, progress=None, sheet=None) -> RunReport:
    """Compute every due month from `since` to the latest month with complete figures. Caller holds the lock."""
    from cpi_link.core.atomic import sha256_file
    from cpi_link.jobs.pipeline import calculate_month
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
    from cpi_link.roster.read import check_path

    check_path(roster)  # a folder or unreadable file is exit 2, before hashing
    roster_sha = sha256_file(roster)
    for m in months:
        if not redo and ledger.record(m) is not None:
            rec = ledger.record(m)
            report.months.append(MonthOutcome(m, "already_done", rec["run_dir"], rec["paid_rows"], rec["persons"], rec["total_fen"],
                                              "completed earlier; nobody is paid twice"))
            log.info("%s already_done run=%s", m, rec["run_id"])
            continue
        if not figures_complete(scheme, store, m):
            rules = scheme.rules_for(m)
            missing = [i for i in rules.indicators_needed() if store.get(rules.index_region, i, m) is None]
            report.gap = m
            raise MissingFigures(
                f"{m}: no {', '.join(missing)} figure for {rules.index_region}, though a later month ({latest}) is published; "
                "import it (cpi-link fetch --source file) and run again. Months before it are done."
            )
        res = calculate_month(m, roster, scheme, store, standards, home, progress=progress, sheet=sheet)
        ledger.commit(res, roster_sha, redo_reason=reason if redo else None)
        status = "paid" if res.triggered else "not_triggered"
        d = res.decision if isinstance(res.decision, dict) else {"reason": "decided per prefecture"}
        report.months.append(MonthOutcome(m, status, str(res.run_dir), res.paid_rows, res.persons, res.total_fen, d["reason"]))
        log.info("%s %s run=%s paid_rows=%d persons=%d total_fen=%d", m, status, res.run_id, res.paid_rows, res.persons, res.total_fen)
    return report


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


def supplement(ledger, month: str, roster: Path, scheme, store, standards, out_dir=None, sheet=None):
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
                              run_tag=f"supplement-{len(rec['supplements']) + 1}", sheet=sheet)
        ledger.add_supplement(month, res, res.roster_sha256)
    return res
