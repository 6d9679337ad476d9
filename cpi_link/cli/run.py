"""`cpi-link run`: the monthly job for cron."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from cpi_link.cli.common import (REMARK_CHECK_HELP, ROSTER_HELP, SCHEME_HELP, SHEET_HELP, STANDARDS_HELP, STANDARDS_MAX_HELP, STANDARDS_SHEET_HELP, EncodingOption,
                                 FORMAT_HELP, Format, default_scheme, emit_csv, emit_json, handle_errors, load_standards_option,
                                 state, stdout_console, warn, warn_roster)
from cpi_link.core.i18n import _

ANCHOR_HELP = _("A file kept outside the home (another disk, a USB stick) where each ledger entry's hash is copied: a "
                "journal cut, rewritten or restored from an older backup no longer matches it (exit 2).")


def register(app: typer.Typer) -> None:
    app.command("run")(run)


@handle_errors
def run(
    ctx: typer.Context,
    roster: List[Path] = typer.Option(..., "--roster", help=ROSTER_HELP),
    standards: Optional[Path] = typer.Option(None, "--standards", help=STANDARDS_HELP),
    scheme: Optional[str] = typer.Option(None, "--scheme", help=SCHEME_HELP),
    since: Optional[str] = typer.Option(None, "--since", help=_("First index month to compute, YYYY-MM. Default: the month after the "
                                        "latest completed month in the ledger (empty ledger: the latest month with figures).")),
    offline: bool = typer.Option(False, "--offline", help=_("Do not fetch: use the figures already in the store (bundled ones included).")),
    redo: Optional[str] = typer.Option(None, "--redo", help=_("Supersede a completed month on purpose (YYYY-MM); the old run is kept. Needs --reason.")),
    reason: Optional[str] = typer.Option(None, "--reason", help=_("Why the month is redone (kept in the ledger).")),
    topup: bool = typer.Option(False, "--topup", help=_("Pay completed months' positive differences under the --standards given "
                               "(back-dated standards, 补发), once, as topup runs; decreases are listed, never clawed back.")),
    supplement: bool = typer.Option(False, "--supplement", help=_("Pay, once, the roster's people not yet paid for the "
                                    "completed months compared (roster_changed: --since onward, by default the latest "
                                    "completed month), as supplement runs (补充发放); people already paid are never paid again.")),
    quiet: bool = typer.Option(False, "--quiet", "-q", help=_("For cron: print nothing on success (errors still go to stderr).")),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    encoding: EncodingOption = None,
    sheet: Optional[str] = typer.Option(None, "--sheet", help=SHEET_HELP),
    standards_sheet: Optional[str] = typer.Option(None, "--standards-sheet", help=STANDARDS_SHEET_HELP),
    standards_max: Optional[str] = typer.Option(None, "--standards-max", help=STANDARDS_MAX_HELP),
    anchor: Optional[Path] = typer.Option(None, "--anchor", envvar="CPI_LINK_ANCHOR", help=ANCHOR_HELP),
    no_remark_check: bool = typer.Option(False, "--no-remark-check", help=REMARK_CHECK_HELP),
):
    """Fetch, then compute every due index month in order; months already completed are skipped.

    Completed months whose figures were revised or whose standards changed since payment are
    reported (revised_after_payment, standards_changed) and paid only by --redo or --topup."""
    from cpi_link.core.errors import InputError
    from cpi_link.jobs.ledger import RunLock
    from cpi_link.jobs.monthly import RunStopped, run_months, setup_log
    from cpi_link.core.months import parse_month
    from cpi_link.rules.schemes import load_scheme
    from cpi_link.store.series import SeriesStore

    st = state(ctx)
    home = st.home
    since_m = parse_month(since, "--since") if since else None
    redo_m = parse_month(redo, "--redo") if redo else None
    for p in roster:
        if not p.exists():
            raise InputError(_("{path}: no such file").format(path=p))
    sch = load_scheme(scheme or default_scheme(st.config_dir), st.config_dir)
    from cpi_link.calc.handle import open_roster

    # opened once the lock is held: its hash and first pass run while the standards load and the figures are fetched
    with RunLock(home), open_roster(roster, home.runs_dir, sheet=sheet,
                                                 remark_check=not no_remark_check) as handle:
        logfile = setup_log(home, quiet)
        import logging

        log = logging.getLogger("cpi_link.run")
        log.info("run started: scheme=%s since=%s offline=%s redo=%s", sch.name, since_m, offline, redo_m)
        std = load_standards_option(standards, standards_sheet, standards_max)
        store = SeriesStore(home)
        fetch_report = None
        if not offline:
            from cpi_link.core.errors import SourceUnavailable
            from cpi_link.sources import nbs

            try:
                outcome = nbs.fetch(st.config_dir, home, regions=None, since=None, until=None)
                fetch_report = store.upsert(outcome.observations).as_dict() | outcome.report()
                log.info("fetched: %s", {k: v for k, v in fetch_report.items() if k in ("added", "revised", "unchanged")})
                store = SeriesStore(home)
            except SourceUnavailable as exc:  # SPEC 4.5: a warning; the stored figures decide (exit 3 only if they lack a due month)
                log.warning("fetch failed: %s; going on with the stored figures", exc.message)
                warn(_("{stamp} fetch failed: {message}; going on with the stored figures").format(stamp=_stamp(), message=exc.message))
        stopped = None
        try:
            report = run_months(home, sch, store, handle, std, since_m, redo=redo_m, reason=reason, topup=topup,
                                supplement=supplement, anchor=anchor)
        except RunStopped as exc:  # months done before the stop are said, then the error (its exit code)
            stopped, report = exc.cause, exc.report
            log.error("run stopped: %s", exc.message)
        except BaseException as exc:
            log.error("run stopped: %s", getattr(exc, "message", None) or ("interrupted" if isinstance(exc, KeyboardInterrupt)
                                                                          else type(exc).__name__))
            raise
        log.info("run finished")
    _say(report, sch, home, fmt, quiet, logfile)
    if stopped is not None:
        raise stopped


def _say(report, sch, home, fmt, quiet, logfile) -> None:
    """What the run did: warnings on stderr (each once), then every month in the table, JSON or CSV."""
    from cpi_link.jobs.monthly import month_reason_text

    stamp = _stamp()
    for w in report.warnings:
        warn(f"{stamp} {month_reason_text(w)}")
    for o in report.months:
        if o.status in ("revised_after_payment", "standards_changed", "roster_changed"):
            warn(f"{stamp} {month_reason_text(o.reason)}")
    warn_roster(report.roster or {})
    if report.unverified:
        warn(_("the rules some months were paid under ({rules}) are marked verified = false: their values have not been "
               "checked against the document text. Check them (cpi-link scheme show).").format(
                   rules="; ".join(f"{label}: {', '.join(ms)}" for label, ms in report.unverified.items())))
    rows = [m.to_json() | {"stale_figures": report.stale_figures} for m in report.months]
    if not rows and report.stale_figures:
        from cpi_link.core.months import add_months

        rows = [{"month": add_months(report.latest_published, 1), "status": "missing_figures", "run_id": None, "run_dir": None,
                 "paid_rows": 0, "persons": 0, "total_amount": "0.00", "reason": report.warnings[0], "stale_figures": True}]
    if fmt is Format.json:
        emit_json(rows)
    elif fmt is Format.csv:
        emit_csv(rows, ["month", "status", "run_id", "run_dir", "paid_rows", "persons", "total_amount", "reason", "stale_figures",
                        "exit_code"])
    elif not quiet:
        from rich.table import Table

        from cpi_link.jobs.monthly import status_text

        con = stdout_console()
        if not rows:
            con.print(_("nothing due: every month with published figures is done"))
        else:
            t = Table(title="cpi-link run")
            for c, j in ((_("month"), "left"), (_("status"), "left"), (_("rows"), "right"), (_("persons"), "right"),
                         (_("yuan"), "right"), (_("run"), "left")):
                t.add_column(c, justify=j, no_wrap=True)
            for r in rows:
                style = {"paid": "green", "topup_paid": "green", "already_done": "dim",
                         "revised_after_payment": "yellow", "standards_changed": "yellow", "roster_changed": "yellow",
                         "missing_figures": "red", None: "red"}.get(r["status"], "")
                t.add_row(r["month"], status_text(r["status"], r.get("kind"), r.get("exit_code")), f"{r['paid_rows']:,}", f"{r['persons']:,}", r["total_amount"],
                          Path(r["run_dir"]).name if r["run_dir"] else "", style=style)
            con.print(t)
            if report.roster:
                from cpi_link.cli.common import print_roster_entry

                print_roster_entry(con, report.roster)
            con.print(_("run folders: {path}/MONTH/RUN").format(path=home.runs_dir))
        if report.next_expected:
            con.print(_("latest month with figures: {month}; {expected}; {deadline}").format(month=report.latest_published, expected=report.next_expected, deadline=_deadline_note(sch, report.latest_published, report.release_dates)))
        con.print(_("log: {path}").format(path=logfile))



def _deadline_note(sch, latest: str | None, on_file: dict | None = None) -> str:
    """The payment deadline for the next index month under the version in force (cpi_link.calendar)."""
    from cpi_link.rules.calendar import deadline_sentence
    from cpi_link.core.months import add_months

    if latest is None:
        return ""
    nxt = add_months(latest, 1)
    try:
        rules = sch.rules_for(nxt)
    except Exception:
        return ""
    return deadline_sentence(nxt, rules.label, rules.payment_timing, show_overdue=False, region=rules.index_region,
                             on_file=on_file) + _(" if it triggers")


def _stamp() -> str:
    """A timestamp for the warnings cron mails: when each was said, in Beijing time as people read it."""
    from datetime import datetime, timezone

    from cpi_link.core.times import beijing

    return beijing(datetime.now(timezone.utc))
