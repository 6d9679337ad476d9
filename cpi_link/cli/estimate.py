"""`cpi-link estimate` (资金测算): a month's cost from headcounts; formatting only (jobs.estimate)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cpi_link.cli.common import SCHEME_HELP, STANDARDS_HELP, STANDARDS_MAX_HELP, STANDARDS_SHEET_HELP
from cpi_link.cli.common import EncodingOption, FORMAT_HELP, Format, emit_csv, emit_json, handle_errors, state, stdout_console, warn
from cpi_link.core.i18n import _, shown
from cpi_link.core.regions import region_label
from cpi_link.roster.reasons import detail_text, reason_text


def register(app: typer.Typer) -> None:
    app.command("estimate")(estimate)


@handle_errors
def estimate(
    ctx: typer.Context,
    counts: Path = typer.Option(..., "--counts", help=_("Headcounts CSV/XLSX: region_code,category,area,persons (行政区划代码,类别,城乡,人数); area only for by_area categories.")),
    month: str = typer.Option(..., "--month", help=_("Index month YYYY-MM whose rules (and decision) apply.")),
    scheme: Optional[str] = typer.Option(None, "--scheme", help=SCHEME_HELP),
    standards: Optional[Path] = typer.Option(None, "--standards", help=STANDARDS_HELP + " " + _("Not needed by fixed amounts.")),
    rate: Optional[str] = typer.Option(None, "--rate", help=_("Assume this rate in percent (e.g. 6.1) instead of the month's decision.")),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    encoding: EncodingOption = None,
    sheet: Optional[str] = typer.Option(None, "--sheet", help=_("Worksheet of a spreadsheet headcounts file: its name or number from 1 (hidden sheets only this way).")),
    standards_sheet: Optional[str] = typer.Option(None, "--standards-sheet", help=STANDARDS_SHEET_HELP),
    standards_max: Optional[str] = typer.Option(None, "--standards-max", help=STANDARDS_MAX_HELP),
):
    """资金测算: what a month costs from headcounts by region and category, before a roster exists;
    totals by category, region and funder (when the scheme names funding shares)."""
    from cpi_link.cli.common import load_standards_option, warn_unverified
    from cpi_link.core.months import parse_month
    from cpi_link.jobs.estimate import estimate as run_estimate, parse_rate, read_counts
    from cpi_link.rules.schemes import default_scheme, load_scheme
    from cpi_link.store.series import SeriesStore

    st = state(ctx)
    m = parse_month(month, "--month")
    sch = load_scheme(scheme or default_scheme(st.config_dir), st.config_dir)
    rules = sch.rules_for(m)
    assumed = parse_rate(rate) if rate is not None else None
    rows = read_counts(counts, sheet)
    std = None if rules.method == "fixed" and standards is None else load_standards_option(standards, standards_sheet, standards_max)
    warn_unverified(rules)
    res = run_estimate(m, rows, sch, SeriesStore(st.home), std, assumed)
    for r in res["rejected"][:20]:  # the first rows; --format json lists every one
        warn(_("{file}: row {row} ({persons} persons of {category} in {region}) not costed: {reason}: {detail}").format(
            file=counts, row=r["file_row"], persons=f"{r['persons']:,}", category=r["category"], region=r["region_code"],
            reason=reason_text(r["reason"]), detail=detail_text(r["detail"])))
    if len(res["rejected"]) > 20:
        warn(_("... and {n} more rows not costed (--format json lists every one)").format(n=f"{len(res['rejected']) - 20:,}"))
    if fmt is Format.json:
        emit_json(res)
        return
    if fmt is Format.csv:
        out = [{"kind": "category", "key": c["category"], "persons": c["persons"], "amount": c["amount"]} for c in res["by_category"]]
        out += [{"kind": "funder", "key": f["funder"], "share": f["share"], "amount": f["amount"]} for f in res.get("by_funder", [])]
        out.append({"kind": "total", "key": "", "persons": res["persons"], "amount": res["total_amount"]})
        emit_csv([{"month": res["month"], "triggered": res["triggered"], "rate_pct": res["rate_pct"], **o} for o in out],
                 ["month", "triggered", "rate_pct", "kind", "key", "persons", "share", "amount"])
        return
    from rich.markup import escape
    from rich.table import Table

    con = stdout_console()
    for d in res["decisions"]:
        mark = _("[bold green]TRIGGERED[/]") if d["triggered"] else _("[bold]not triggered[/]")
        con.print(f"[bold]{m}[/] {region_label(d['region_code'])} " + _("{mark}: {reason}").format(mark=mark, reason=escape(shown(d["reason"]))))
    t = Table(title=_("资金测算 {month}: {scheme} {label} ({method})").format(month=m, scheme=res["scheme"], label=escape(rules.label),
                                                                      method=res["method"]), title_justify="left")
    for c, j in ((_("category"), "left"), ("类别", "left"), (_("persons"), "right"), (_("yuan"), "right")):
        t.add_column(c, justify=j)
    for c in res["by_category"]:
        t.add_row(c["category"], c["label"], f"{c['persons']:,}", c["amount"])
    t.add_row(_("[bold]total[/]"), "", f"{res['persons']:,}", f"[bold]{res['total_amount']}[/]")
    con.print(t)
    if res.get("by_funder"):
        f = Table(title=_("by funder"), title_justify="left")
        for c, j in ((_("funder"), "left"), (_("share"), "right"), (_("yuan"), "right")):
            f.add_column(c, justify=j)
        for x in res["by_funder"]:
            f.add_row(escape(x["funder"]), x["share"], x["amount"])
        con.print(f)
