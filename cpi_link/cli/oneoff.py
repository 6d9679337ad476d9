"""`cpi-link oneoff` (a one-off or festival subsidy on a roster) and `cpi-link programme list|show`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cpi_link.cli.common import result_json as calc_result_json
from cpi_link.cli.common import ROSTER_HELP, SHEET_HELP, REMARK_CHECK_HELP, STANDARDS_HELP, STANDARDS_MAX_HELP, STANDARDS_SHEET_HELP, emit_result, load_standards_option, print_tables, progress_ticker, roster_entry, warn_roster
from cpi_link.cli.common import EncodingOption, FORMAT_HELP, Format, emit_csv, emit_json, handle_errors, heading, state, stdout_console, warn
from cpi_link.cli.lang import LangTyper
from cpi_link.core.i18n import N_, _, is_zh, translate_template

PROGRAMME_HELP = _("Programme id in the config's programmes/ folder (e.g. shanxi-2021-spring-festival) or a path to a programme TOML file.")

programme_app = LangTyper(
    help=_("Inspect one-off programmes (节日补助 / 临时生活补助) in config/programmes."),
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.command("oneoff")(oneoff)
    programme_app.command("list")(programme_list)
    programme_app.command("show")(programme_show)
    app.add_typer(programme_app, name="programme")


def warn_programme(p) -> None:
    if p.example:
        warn(_("programme {id} is an EXAMPLE ({path}): its amounts illustrate the format; edit them before paying.").format(id=p.id, path=p.path))
    if not p.verified:
        warn(_("programme {id} is marked verified = false: its values have not been checked against {document}. "
               "Check them before paying (cpi-link programme show).").format(id=p.id, document=p.document))


# the programme's reason as jobs.oneoff writes it (English in the manifest), shown in Chinese
REASON_TEMPLATES = (
    N_("one-off programme {id}: fixed yuan per person by category ({amounts})"),
    N_("one-off programme {id}: standard x {indicator} YoY {pct}% ({region}, {month}) / 100"),
    N_("prices did not rise, so the amount before the floor is 0"),
)


def programme_reason(reason: str) -> str:
    if not is_zh():
        return reason
    return "；".join(translate_template(p, REASON_TEMPLATES) or p for p in reason.split("; "))


def result_json(res) -> dict:
    """calc's result for scripts, with the programme in place of the month's decision keys."""
    m = res.manifest
    common = calc_result_json(res)
    common.pop("triggered")
    return {
        "programme": m["programme"]["id"],
        "payment_month": common.pop("month"),
        "run_id": common.pop("run_id"),
        "run_dir": common.pop("run_dir"),
        "supplement_to": m.get("supplement_to"),
        "verified": m["programme"]["verified"],
        **common,
    }


def print_result(res) -> None:
    from rich.markup import escape

    con = stdout_console()
    p = res.manifest["programme"]
    sup = _(" (supplement to {run})").format(run=res.manifest['supplement_to']) if res.manifest.get("supplement_to") else ""
    con.print(f"[bold]{escape(p['id'])}[/] {escape(p['name'])}, " + _("paid {month}").format(month=res.month) + sup)
    con.print(escape(programme_reason(res.decision["reason"])))
    print_tables(con, res, _("Payments under {programme}").format(programme=p['id']))


@handle_errors
def oneoff(
    ctx: typer.Context,
    programme: str = typer.Option(..., "--programme", help=PROGRAMME_HELP),
    roster: Path = typer.Option(..., "--roster", help=ROSTER_HELP),
    standards: Optional[Path] = typer.Option(None, "--standards", help=STANDARDS_HELP + " " + _("Only for proportional_index programmes.")),
    out: Optional[Path] = typer.Option(None, "--out", help=_("New or empty folder for the outputs. Default: HOME/runs/programme-ID/RUN_ID/.")),
    supplement: bool = typer.Option(False, "--supplement", help=_("Pay only people this programme has not paid yet (others rejected as already_paid).")),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    encoding: EncodingOption = None,
    sheet: Optional[str] = typer.Option(None, "--sheet", help=SHEET_HELP),
    standards_sheet: Optional[str] = typer.Option(None, "--standards-sheet", help=STANDARDS_SHEET_HELP),
    standards_max: Optional[str] = typer.Option(None, "--standards-max", help=STANDARDS_MAX_HELP),
    no_remark_check: bool = typer.Option(False, "--no-remark-check", help=REMARK_CHECK_HELP),
):
    """Pay a one-off or festival subsidy (节日补助 / 临时生活补助) on a roster, once per person per programme.

    Same roster checks, outputs and ledger as monthly runs; a second run of the same programme is
    refused (use --supplement for people added since).
    """
    from cpi_link.core.errors import InputError
    from cpi_link.jobs.oneoff import index_figure, pay_programme
    from cpi_link.rules.programmes import load_programme
    from cpi_link.store.series import SeriesStore

    st = state(ctx)
    prog = load_programme(programme, st.config_dir)
    home = st.home
    store = SeriesStore(home)
    if prog.method == "proportional_index":
        index_figure(prog, store)  # exit 3 before any other message
        std = load_standards_option(standards, standards_sheet, standards_max)
    else:
        if standards is not None:
            warn(_("--standards is not used: programme {id} pays fixed amounts per category.").format(id=prog.id))
        std = None
    if not roster.exists():
        raise InputError(_("{path}: no such file").format(path=roster))
    warn_programme(prog)
    home.ensure()
    from cpi_link.calc.handle import open_roster

    with open_roster(roster, home.runs_dir / prog.ledger_key, sheet=sheet, remark_check=not no_remark_check) as handle, \
            progress_ticker(roster, fmt, f"oneoff {prog.id}") as tick:
        res = pay_programme(prog, handle, store, std, home, out_dir=out, supplement=supplement, progress=tick)
    emit_result(fmt, result_json(res), print_result, res)
    warn_roster(roster_entry(res))


@handle_errors
def programme_list(
    ctx: typer.Context,
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    encoding: EncodingOption = None,
):
    """List the programme files in CONFIG/programmes: id, name, payment month, method, example, verified."""
    from cpi_link.rules.programmes import list_programmes

    st = state(ctx)
    rows = [
        {"programme": p.id, "name": p.name, "document": p.document, "payment_month": p.payment_month, "method": p.method,
         "example": p.example, "verified": p.verified, "path": str(p.path)}
        for p in list_programmes(st.config_dir)
    ]
    if fmt is Format.json:
        emit_json(rows)
    elif fmt is Format.csv:
        emit_csv(rows, ["programme", "name", "document", "payment_month", "method", "example", "verified", "path"])
    else:
        from rich.markup import escape
        from rich.table import Table

        t = Table(title=_("Programmes in {folder}").format(folder=escape(str(st.config_dir / 'programmes'))), title_justify="left")
        for c in (_("programme"), _("name"), _("document"), _("paid"), _("method"), _("kind"), _("verified")):
            t.add_column(c)
        for r in rows:
            t.add_row(escape(r["programme"]), escape(r["name"]), escape(r["document"]), r["payment_month"], r["method"],
                      _("[yellow]example — edit before paying[/]") if r["example"] else _("programme"),
                      _("yes") if r["verified"] else _("[bold red]NO[/]"))
        stdout_console().print(t)


@handle_errors
def programme_show(
    ctx: typer.Context,
    programme: str = typer.Argument(..., help=PROGRAMME_HELP),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    encoding: EncodingOption = None,
):
    """Show what a programme file says: document, payment month, categories and the amount rule."""
    from cpi_link.rules.programmes import load_programme

    st = state(ctx)
    p = load_programme(programme, st.config_dir)
    warn_programme(p)
    data = p.to_json()
    if fmt is Format.json:
        emit_json(data)
        return
    if fmt is Format.csv:
        emit_csv([data], list(data))
        return
    from rich.markup import escape
    from rich.table import Table

    from cpi_link.core.categories import CATEGORY_LABELS

    con = stdout_console()
    for k in ("programme", "name", "document", "related_documents", "verified", "example", "payment_month", "region",
              "method", "index", "rounding", "minimum", "multiplier", "source", "note", "path", "sha256"):
        v = data.get(k)
        if v not in (None, [], ""):
            v = (_("yes") if v else _("no")) if isinstance(v, bool) else "; ".join(map(str, v)) if isinstance(v, list) else str(v)
            con.print(f"[bold]{heading(k)}[/]: {escape(v)}")
    t = Table(title=_("Categories"))
    for c in (_("category"), "类别", _("standard"), *([_("yuan per person")] if p.method == "fixed" else [])):
        t.add_column(c)
    for code, basis in p.categories.items():
        t.add_row(code, CATEGORY_LABELS.get(code, ""), basis, *([data["amounts"][code]] if p.method == "fixed" else []))
    con.print(t)
