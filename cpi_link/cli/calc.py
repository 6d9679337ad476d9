"""`cpi-link calc` and `cpi-link validate`."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Optional

import typer

from cpi_link.cli.common import EncodingOption, FORMAT_HELP, Format, emit_csv, emit_json, handle_errors, state, stderr_console, stdout_console, warn
from cpi_link.core.i18n import _
from cpi_link.core.regions import region_label

SCHEME_HELP = _("Scheme name in the config's schemes/ folder (e.g. shanxi, national) or a path to a scheme TOML file.")
STANDARDS_HELP = _("Standards file: CSV or a spreadsheet (XLSX, XLS, ODS) with region_code, effective_from, urban_monthly, "
                   "rural_monthly|rural_annual (Chinese headers too). Default: the bundled SAMPLE, with a warning.")
ROSTER_HELP = _("Roster file: CSV (UTF-8/BOM/GB18030), XLSX/XLSM, XLS, ODS or Parquet; English or Chinese headers, "
                "found among the first 10 rows.")
SHEET_HELP = _("Worksheet of a spreadsheet roster: its name or number from 1 (hidden sheets only this way). Default: the "
               "visible sheet that looks like a roster (several: an error listing them), else the active one.")
STANDARDS_SHEET_HELP = _("Worksheet of a spreadsheet standards file: name or number from 1 (default as for --sheet).")


def register(app: typer.Typer) -> None:
    app.command("calc")(calc)
    app.command("validate")(validate)


def load_standards_option(standards: Optional[Path], sheet: Optional[str] = None):
    from cpi_link.core.paths import bundled_data_dir
    from cpi_link.rules.standards import load_standards

    if standards is None:
        sample = bundled_data_dir() / "sample" / "standards.csv"
        warn(
            _("no --standards given: using the bundled SAMPLE standards {path}. "
              "Its amounts are invented for the demo; pass your region's official standards file.").format(path=sample)
        )
        return load_standards(sample, sample=True)
    return load_standards(standards, sheet=sheet)


def default_scheme(config_dir: Path) -> str:
    from cpi_link.rules.schemes import default_scheme as _default

    return _default(config_dir)


def warn_unverified(rules) -> None:
    if not rules.verified:
        warn(
            _("the rules in force ({rules}) are "
              "marked verified = false: their values have not been checked against the document text. "
              "Check them before paying (cpi-link scheme show).").format(rules=f"{rules.version}{' + ' + ', '.join(rules.overlays) if rules.overlays else ''}")
        )


def progress_for(roster: Path, fmt: Format, quiet: bool = False):
    """A rich progress bar on stderr for people, for rosters worth waiting for."""

    if quiet or fmt is not Format.table or roster.stat().st_size < 20_000_000:
        return contextlib.nullcontext(None)
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn(_("{task.completed:,} rows")),
                    TimeElapsedColumn(), console=stderr_console(), transient=True)


@contextlib.contextmanager
def progress_ticker(roster: Path, fmt: Format, label: str):
    """Yield a callable to advance a progress bar by n rows (or None when no bar is shown)."""
    with progress_for(roster, fmt) as bar:
        if bar is None:
            yield None
        else:
            task = bar.add_task(label, total=None)
            yield lambda n: bar.advance(task, n)


def emit_result(fmt: Format, j: dict, printer, res) -> None:
    """A run's result: JSON or one CSV row for scripts, tables for people."""
    if fmt is Format.json:
        emit_json(j)
    elif fmt is Format.csv:
        j = dict(j)
        j.pop("decision", None)
        emit_csv([j], list(j))
    else:
        printer(res)


def result_json(res) -> dict:
    from cpi_link.core.money import fen_to_yuan_str

    return {
        "month": res.month,
        "run_id": res.run_id,
        "run_dir": str(res.run_dir),
        "triggered": res.triggered,
        "decision": res.decision,
        "input_rows": res.input_rows,
        "paid_rows": res.paid_rows,
        "persons": res.persons,
        "total_amount": fen_to_yuan_str(res.total_fen),
        "rejected_rows": sum(res.rejected_by_reason.values()),
        "rejected_by_reason": res.rejected_by_reason,
    }


def print_result(res) -> None:
    from cpi_link.rules.trigger import decision_reason

    con = stdout_console()
    decisions = res.decision if isinstance(res.decision, list) else [res.decision]
    for d in decisions:
        mark = _("[bold green]TRIGGERED[/]") if d["triggered"] else _("[bold]not triggered[/]")
        con.print(f"[bold]{res.month}[/] {region_label(d['region_code'])} " + _("{mark}: {reason}").format(mark=mark, reason=decision_reason(d)))
    print_roster_read(con, res)
    print_tables(con, res, _("Payments for index month {month}").format(month=res.month))


def roster_read_text(entry: dict) -> str | None:
    """'sheet '花名册', header on row 3' for a roster not read from its first line (None otherwise)."""
    parts = []
    if entry.get("sheet") is not None:
        parts.append(f"sheet {entry['sheet']!r}")
    if entry.get("header_row", 1) != 1 or parts:
        word = "line" if entry.get("format") == "csv" else "row"
        parts.append(f"header on {word} {entry.get('header_row', 1)}")
    if entry.get("hidden_rows"):
        parts.append(f"{entry['hidden_rows']:,} rows hidden in the sheet ({entry.get('hidden_paid_rows', 0):,} of them paid)")
    return ", ".join(parts) or None


def print_roster_read(con, res) -> None:
    from rich.markup import escape

    entry = next((i for i in (res.manifest or {}).get("inputs", []) if i.get("role") == "roster"), {})
    text = roster_read_text(entry)
    if text:
        con.print(_("roster: {text}").format(text=escape(text)))


def print_tables(con, res, title: str) -> None:
    """The tables every run prints: payments by category, rejected rows by reason, where outputs are."""
    from rich.markup import escape
    from rich.table import Table

    from cpi_link.core.categories import CATEGORY_LABELS
    from cpi_link.core.money import fen_to_yuan_str

    if res.paid_rows:
        t = Table(title=title)
        for c, j in ((_("category"), "left"), ("类别", "left"), (_("rows"), "right"), (_("persons"), "right"), (_("yuan"), "right")):
            t.add_column(c, justify=j)
        for r in sorted(res.by_category, key=lambda r: r["category"]):
            t.add_row(r["category"], CATEGORY_LABELS.get(r["category"], ""), f"{r['rows']:,}", f"{r['persons']:,}",
                      fen_to_yuan_str(r["amount_fen"]))
        t.add_row(_("[bold]total[/]"), "", f"{res.paid_rows:,}", f"{res.persons:,}", f"[bold]{fen_to_yuan_str(res.total_fen)}[/]")
        con.print(t)
    if res.rejected_by_reason:
        from cpi_link.roster.reasons import reason_text

        t = Table(title=_("Rejected rows (see rejected.parquet)"))
        t.add_column(_("reason"))
        t.add_column(_("rows"), justify="right")
        for k, v in res.rejected_by_reason.items():
            t.add_row(reason_text(k), f"{v:,}")
        con.print(t)
    con.print(_("input rows {input:,}; paid {paid:,}; rejected {rejected:,}").format(input=res.input_rows, paid=res.paid_rows, rejected=sum(res.rejected_by_reason.values())))
    con.print(_("outputs: [bold]{path}[/]").format(path=escape(str(res.run_dir))), soft_wrap=True)  # a path to copy: never wrapped


@handle_errors
def calc(
    ctx: typer.Context,
    month: str = typer.Option(..., "--month", help=_("Index month YYYY-MM (the month the price figures describe).")),
    roster: Path = typer.Option(..., "--roster", help=ROSTER_HELP),
    standards: Optional[Path] = typer.Option(None, "--standards", help=STANDARDS_HELP),
    scheme: Optional[str] = typer.Option(None, "--scheme", help=SCHEME_HELP),
    out: Optional[Path] = typer.Option(None, "--out", help=_("New or empty folder for the outputs. Default: a new run folder under HOME/runs/MONTH/.")),
    supplement: bool = typer.Option(False, "--supplement", help=_("A supplementary roster for a month already paid: pays only people not yet paid for MONTH (others rejected as already_paid).")),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    encoding: EncodingOption = None,
    sheet: Optional[str] = typer.Option(None, "--sheet", help=SHEET_HELP),
    standards_sheet: Optional[str] = typer.Option(None, "--standards-sheet", help=STANDARDS_SHEET_HELP),
):
    """Compute one index month's subsidies for a roster and write the audited run folder."""
    from cpi_link.core.months import parse_month

    st = state(ctx)
    m = parse_month(month, "--month")
    home = st.home
    from cpi_link.calc.handle import open_roster

    with contextlib.ExitStack() as stack:
        # opened first: the roster's hash and first pass run while the scheme, figures and standards
        # load (a spreadsheet's sheet is parsed then); their temp files go under home, never beside --out
        handle = stack.enter_context(open_roster(roster, home.runs_dir / m, sheet=sheet)) if roster.is_file() else None
        from cpi_link.rules.schemes import load_scheme
        from cpi_link.store.series import SeriesStore

        sch = load_scheme(scheme or default_scheme(st.config_dir), st.config_dir)
        rules = sch.rules_for(m)
        std = load_standards_option(standards, standards_sheet)
        store = SeriesStore(home)
        if handle is None:
            from cpi_link.core.errors import InputError

            if not roster.exists():
                raise InputError(_("{path}: no such file").format(path=roster))
            handle = stack.enter_context(open_roster(roster, home.runs_dir / m, sheet=sheet))  # refused: not a file
        warn_unverified(rules)
        home.ensure()
        with progress_ticker(roster, fmt, f"calc {m}") as tick:
            if supplement:
                from cpi_link.jobs import monthly
                from cpi_link.jobs.ledger import Ledger

                res = monthly.supplement(Ledger(home), m, handle, sch, store, std, out_dir=out, progress=tick)
            else:
                from cpi_link.jobs.pipeline import calculate_month

                res = calculate_month(m, handle, sch, store, std, home, out_dir=out, progress=tick)
    emit_result(fmt, result_json(res), print_result, res)


@handle_errors
def validate(
    ctx: typer.Context,
    roster: Path = typer.Option(..., "--roster", help=ROSTER_HELP),
    month: Optional[str] = typer.Option(None, "--month", help=_("Also run the month's checks (categories, standards, duplicates at their amounts) exactly as calc would.")),
    standards: Optional[Path] = typer.Option(None, "--standards", help=STANDARDS_HELP + " " + _("Used with --month.")),
    scheme: Optional[str] = typer.Option(None, "--scheme", help=SCHEME_HELP),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    encoding: EncodingOption = None,
    show: int = typer.Option(5, "--show", help=_("How many example rows to list per reason.")),
    sheet: Optional[str] = typer.Option(None, "--sheet", help=SHEET_HELP),
    standards_sheet: Optional[str] = typer.Option(None, "--standards-sheet", help=STANDARDS_SHEET_HELP),
):
    """Check a roster without paying: the rows calc would reject, by reason, with the first rows of each."""
    from cpi_link.calc.validate import validate_roster

    st = state(ctx)
    sch = std = store = None
    m = None
    home = st.home
    if month:
        from cpi_link.core.months import parse_month
        from cpi_link.rules.schemes import load_scheme
        from cpi_link.store.series import SeriesStore

        m = parse_month(month, "--month")
        sch = load_scheme(scheme or default_scheme(st.config_dir), st.config_dir)
        sch.rules_for(m)
        std = load_standards_option(standards, standards_sheet)
        store = SeriesStore(home)
    rep = validate_roster(roster, month=m, scheme=sch, store=store, standards=std, examples=show,
                          work_dir=home.runs_dir if m else None, sheet=sheet)
    if rep.get("figures_missing_for"):
        warn(_("no figures yet for {month} ({missing}): the month's checks assume the mechanism starts; which row of a "
               "person listed twice is kept may change once the figures are in").format(
                   month=m, missing=", ".join(rep["figures_missing_for"])))
    if fmt is Format.json:
        emit_json(rep)
    elif fmt is Format.csv:
        rows = [{"reason": k, "rows": v["rows"], "examples": " ".join(str(x) for x in v["example_rows"]),
                 "file_rows": " ".join(str(x) for x in v["example_file_rows"])} for k, v in rep["problems"].items()]
        rows += [{"reason": f"warning: {k}", "rows": v["rows"], "examples": " ".join(str(x) for x in v["example_rows"]),
                  "file_rows": " ".join(str(x) for x in v["example_file_rows"])} for k, v in rep["warnings"].items()]
        emit_csv(rows, ["reason", "rows", "examples", "file_rows"])
    else:
        from rich.table import Table

        con = stdout_console()
        from rich.markup import escape

        from cpi_link.roster.reasons import detail_text, reason_text

        read = roster_read_text({"sheet": rep["sheet"], "header_row": rep["header_row"],
                                 "format": "csv" if rep["sheet"] is None else "sheet"})
        con.print(_("[bold]{path}[/]: {rows:,} data rows, {ok:,} without problems").format(
            path=escape(str(roster)) + (" (" + escape(read) + ")" if read else ""), rows=rep["rows"], ok=rep["ok_rows"]))
        if rep["problems"]:
            t = Table(title=_("Problems by reason"))
            t.add_column(_("reason"))
            t.add_column(_("rows"), justify="right")
            t.add_column(_("first rows (row in the file / data row: detail)"))
            for k, v in rep["problems"].items():
                t.add_row(reason_text(k), f"{v['rows']:,}", "\n".join(f"{f} / {r}: {escape(detail_text(d))}" for f, r, d in
                                                                     zip(v["example_file_rows"], v["example_rows"], v["example_details"])))
            con.print(t)
        else:
            con.print(_("[green]no problems found[/]"))
        if rep["warnings"]:
            t = Table(title=_("Warnings (rows are paid as given)"))
            t.add_column(_("warning"))
            t.add_column(_("rows"), justify="right")
            t.add_column(_("first rows (data row: detail)"))
            for k, v in rep["warnings"].items():
                t.add_row(k, f"{v['rows']:,}", "\n".join(f"{r}: {escape(d)}" for r, d in zip(v["example_rows"], v["example_details"])))
            con.print(t)
