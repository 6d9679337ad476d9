"""`cpi-link calc` and `cpi-link validate`."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import List, Optional

import typer

# the helpers of calc's neighbours (run, oneoff, report, estimate) live in cli/common.py
from cpi_link.cli.common import (REMARK_CHECK_HELP, ROSTER_HELP, SCHEME_HELP, SHEET_HELP, STANDARDS_HELP, STANDARDS_MAX_HELP, STANDARDS_SHEET_HELP,  # noqa: F401
                                 EncodingOption, FORMAT_HELP, Format, default_scheme, emit_csv, emit_json, emit_result,
                                 handle_errors, header_cells_text, load_standards_option, print_result, print_roster_entry,
                                 print_roster_read,
                                 print_tables,
                                 progress_for, progress_ticker, result_json, roster_read_text, state, stdout_console, warn,
                                 warn_roster, warn_unverified, warning_text, roster_entry)
from cpi_link.core.i18n import _


def register(app: typer.Typer) -> None:
    app.command("calc")(calc)
    app.command("validate")(validate)


@handle_errors
def calc(
    ctx: typer.Context,
    month: str = typer.Option(..., "--month", help=_("Index month YYYY-MM (the month the price figures describe).")),
    roster: List[Path] = typer.Option(..., "--roster", help=ROSTER_HELP),
    standards: Optional[Path] = typer.Option(None, "--standards", help=STANDARDS_HELP),
    scheme: Optional[str] = typer.Option(None, "--scheme", help=SCHEME_HELP),
    out: Optional[Path] = typer.Option(None, "--out", help=_("New or empty folder for the outputs. Default: a trial folder under HOME/trials/MONTH/ (paid = false: "
                                   "only cpi-link run, or --supplement, pays and writes under HOME/runs/).")),
    supplement: bool = typer.Option(False, "--supplement", help=_("A supplementary roster for a month already paid: pays only people not yet paid for MONTH (others rejected as already_paid).")),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    encoding: EncodingOption = None,
    sheet: Optional[str] = typer.Option(None, "--sheet", help=SHEET_HELP),
    standards_sheet: Optional[str] = typer.Option(None, "--standards-sheet", help=STANDARDS_SHEET_HELP),
    standards_max: Optional[str] = typer.Option(None, "--standards-max", help=STANDARDS_MAX_HELP),
    no_remark_check: bool = typer.Option(False, "--no-remark-check", help=REMARK_CHECK_HELP),
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
        files = all(p.is_file() for p in roster)
        handle = stack.enter_context(open_roster(roster, (home.runs_dir if supplement else home.trials_dir) / m, sheet=sheet,
                                                 remark_check=not no_remark_check)) if files else None
        from cpi_link.rules.schemes import load_scheme
        from cpi_link.store.series import SeriesStore

        sch = load_scheme(scheme or default_scheme(st.config_dir), st.config_dir)
        rules = sch.rules_for(m)
        std = load_standards_option(standards, standards_sheet, standards_max)
        store = SeriesStore(home)
        if handle is None:
            from cpi_link.core.errors import InputError

            for p in roster:
                if not p.exists():
                    raise InputError(_("{path}: no such file").format(path=p))
            handle = stack.enter_context(open_roster(roster, home.runs_dir / m, sheet=sheet,
                                                     remark_check=not no_remark_check))  # refused: not a file
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
    warn_roster(roster_entry(res))


@handle_errors
def validate(
    ctx: typer.Context,
    roster: Optional[List[Path]] = typer.Option(None, "--roster", help=ROSTER_HELP),
    columns: bool = typer.Option(False, "--columns", help=_("Print the accepted header names of every roster column (the synonym table) and stop.")),
    month: Optional[str] = typer.Option(None, "--month", help=_("Also run the month's checks (categories, standards, duplicates at their amounts) exactly as calc would.")),
    standards: Optional[Path] = typer.Option(None, "--standards", help=STANDARDS_HELP + " " + _("Used with --month.")),
    scheme: Optional[str] = typer.Option(None, "--scheme", help=SCHEME_HELP),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    encoding: EncodingOption = None,
    show: int = typer.Option(5, "--show", help=_("How many example rows to list per reason.")),
    sheet: Optional[str] = typer.Option(None, "--sheet", help=SHEET_HELP),
    standards_sheet: Optional[str] = typer.Option(None, "--standards-sheet", help=STANDARDS_SHEET_HELP),
    standards_max: Optional[str] = typer.Option(None, "--standards-max", help=STANDARDS_MAX_HELP),
    no_remark_check: bool = typer.Option(False, "--no-remark-check", help=REMARK_CHECK_HELP),
):
    """Check a roster without paying: the rows calc would reject, by reason, with the first rows of each."""
    from cpi_link.calc.validate import validate_roster

    if columns:
        print_synonyms(fmt)
        return
    if not roster:
        from cpi_link.core.errors import UsageError

        raise UsageError(_("validate needs --roster PATH (or --columns for the accepted header names)"))
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
        std = load_standards_option(standards, standards_sheet, standards_max)
        store = SeriesStore(home)
    elif scheme:  # without a month, the scheme named says only whether the remark check is on
        from cpi_link.rules.schemes import load_scheme

        sch = load_scheme(scheme, st.config_dir)
    remark_check = not no_remark_check and (sch is None or sch.remark_check)
    rep = validate_roster(list(roster), month=m, scheme=sch, store=store, standards=std, examples=show,
                          work_dir=home.runs_dir if m else None, sheet=sheet, remark_check=remark_check)
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

        from cpi_link.calc.handle import place_text
        from cpi_link.roster.reasons import detail_text, reason_text

        read = None if rep.get("sources") else roster_read_text(
            {"sheet": rep["sheet"], "header_row": rep["header_row"], "header_end": rep.get("header_end"),
             "format": "csv" if rep["sheet"] is None else "sheet"})
        if rep.get("sources"):  # several files or sheets read as one roster
            con.print(_("[bold]{n} rosters read as one[/]: {rows:,} data rows, {ok:,} without problems").format(
                n=len(rep["sources"]), rows=rep["rows"], ok=rep["ok_rows"]))
            print_roster_entry(con, {"sources": rep["sources"], "skipped_sheets": rep.get("skipped_sheets")})
        else:
            con.print(_("[bold]{path}[/]: {rows:,} data rows, {ok:,} without problems").format(
                path=escape(str(roster[0])) + (" (" + escape(read) + ")" if read else ""), rows=rep["rows"], ok=rep["ok_rows"]))
            print_roster_entry(con, {"skipped_sheets": rep.get("skipped_sheets")})
        if rep.get("header_cells"):
            con.print(_("columns read: {cells}").format(cells=escape(header_cells_text(rep["header_cells"]))))
        if rep.get("remark_check") is False:
            con.print(_("remark check off: rows whose 备注 says 停保, 死亡… were not rejected for it"))
        if rep["problems"]:
            t = Table(title=_("Problems by reason"))
            t.add_column(_("reason"))
            t.add_column(_("rows"), justify="right")
            t.add_column(_("first rows (row in the file / data row: detail)"))
            for k, v in rep["problems"].items():
                places = v.get("example_places") or [None] * len(v["example_rows"])
                t.add_row(reason_text(k), f"{v['rows']:,}", "\n".join(
                    (escape(place_text(p)) + ": " if p else "") + f"{f} / {r}: {escape(detail_text(d))}"
                    for f, r, d, p in zip(v["example_file_rows"], v["example_rows"], v["example_details"], places)))
            con.print(t)
        else:
            con.print(_("[green]no problems found[/]"))
        if rep["warnings"]:
            t = Table(title=_("Warnings (rows are paid as given)"))
            t.add_column(_("warning"))
            t.add_column(_("rows"), justify="right")
            t.add_column(_("first rows (data row: detail)"))
            for k, v in rep["warnings"].items():
                places = v.get("example_places") or [None] * len(v["example_rows"])
                t.add_row(warning_text(k), f"{v['rows']:,}", "\n".join((escape(place_text(p)) + ": " if p else "") + f"{r}: {escape(detail_text(d))}"
                                                          for r, d, p in zip(v["example_rows"], v["example_details"], places)))
            con.print(t)


def print_synonyms(fmt) -> None:
    """`validate --columns`: each roster column, the header names it is read from, the units it takes
    and the words that make a cell a look-alike (exit 2), and the columns known and not read."""
    from cpi_link.roster.schema import HEADER_ALIASES, HEADER_HINTS, HEADER_UNITS, OTHER_COLUMNS, REQUIRED_COLUMNS

    rows = [{"column": k, "required": k in REQUIRED_COLUMNS, "names": list(v), "units": list(HEADER_UNITS.get(k, ())),
             "lookalike_words": list(HEADER_HINTS.get(k, ()))} for k, v in HEADER_ALIASES.items()]
    if fmt is Format.json:
        emit_json({"columns": rows, "not_used": list(OTHER_COLUMNS)})
        return
    if fmt is Format.csv:
        emit_csv([r | {k: " / ".join(r[k]) for k in ("names", "units", "lookalike_words")} for r in rows],
                 ["column", "required", "names", "units", "lookalike_words"])
        return
    from rich.table import Table

    t = Table(title=_("Roster columns and the header names they are read from"))
    for c in (_("column"), _("required"), _("header names"), _("unit in brackets"), _("look-alike words (exit 2)")):
        t.add_column(c)
    for r in rows:
        t.add_row(r["column"], _("yes") if r["required"] else _("no"), " / ".join(r["names"]), " / ".join(r["units"]),
                  " / ".join(r["lookalike_words"]))
    con = stdout_console()
    con.print(t)
    con.print(_("Known columns that are not read (shown as \"not used\"): {names}").format(names=" / ".join(OTHER_COLUMNS)))
    con.print(_("Header cells are compared ignoring spaces, line breaks and full-width forms; any other cell is \"not used\"."))
