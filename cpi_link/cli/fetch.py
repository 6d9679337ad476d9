"""`cpi-link fetch` and `cpi-link series`."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from cpi_link.cli.common import EncodingOption, FORMAT_HELP, Format, emit_csv, emit_json, handle_errors, state, stdout_console
from cpi_link.cli.lang import LangTyper
from cpi_link.core.i18n import N_, _, translate
from cpi_link.core.regions import region_label


class Source(str, Enum):
    nbs = "nbs"
    file = "file"


SERIES_COLUMNS = ["region_code", "month", "indicator", "value", "yoy_pct", "source", "fetched_at"]


def register(app: typer.Typer) -> None:
    # a group so that `fetch template` is its subcommand; plain `fetch [options]` runs the callback
    fetch_app = LangTyper(invoke_without_command=True, no_args_is_help=False)
    fetch_app.callback(invoke_without_command=True)(fetch)
    fetch_app.command("template")(template)
    app.add_typer(fetch_app, name="fetch")
    app.command("series")(series)


@handle_errors
def template(
    ctx: typer.Context,
    region: List[str] = typer.Option(..., "--region", help=_("Region code (repeatable), e.g. 140000 (Shanxi), 000000 (national).")),
    since: str = typer.Option(..., "--since", help=_("First index month, YYYY-MM.")),
    until: str = typer.Option(..., "--until", help=_("Last index month, YYYY-MM.")),
    out: Path = typer.Option(..., "--out", help=_("The form to write: PATH.xlsx or PATH.csv.")),
    indicator: Optional[List[str]] = typer.Option(None, "--indicator", help=_("cpi, food or scpi (repeatable; default cpi and food).")),
):
    """Write the file-import form: Chinese headers, one row per month and indicator with the index
    left blank, and where the official figures are published; fill it in, then import it with
    fetch --source file."""
    from cpi_link.core.errors import UsageError
    from cpi_link.core.months import month_range, parse_month
    from cpi_link.sources.file import normalise_indicator
    from cpi_link.sources.template import publisher, write_template

    codes = []
    for r in region:
        if not (len(r.strip()) == 6 and r.strip().isdigit()):
            raise UsageError(_("--region {value!r} is not a 6-digit region code").format(value=r))
        codes.append(r.strip())
    inds = []
    for i in indicator or ["cpi", "food"]:
        n = normalise_indicator(i)
        if n is None:
            raise UsageError(_("--indicator {value!r}: use cpi, food or scpi").format(value=i))
        inds.append(n)
    months = month_range(parse_month(since, "--since"), parse_month(until, "--until"))
    if out.exists():
        raise UsageError(_("--out {path}: already exists; the form is never written over a file").format(path=out))
    n = write_template(out, codes, months, inds)
    stdout_console().print(_("wrote {path}: {rows} rows ({months} months x {indicators} indicators x {regions} regions), "
                             "index left blank. Figures are published by: {publishers}").format(
        path=out, rows=n, months=len(months), indicators=len(inds), regions=len(codes),
        publishers="; ".join(f"{c} {publisher(c)}" for c in codes)))
    stdout_console().print(_("fill in 指数 (上年同月=100), then: cpi-link fetch --source file --file {path}").format(path=out))


@handle_errors
def fetch(
    ctx: typer.Context,
    source: Source = typer.Option(Source.nbs, "--source", help=_("'nbs': the NBS data portal; 'file': an officer's file of official figures.")),
    file: Optional[Path] = typer.Option(None, "--file", help=_("With --source file: CSV (UTF-8/BOM/GB18030) or XLSX, columns region_code,month,indicator,value (or 地区代码,月份,指标,指数).")),
    sheet: Optional[str] = typer.Option(None, "--sheet", help=_("With --source file: the worksheet of a spreadsheet (name or number from 1; hidden sheets only this way).")),
    region: Optional[List[str]] = typer.Option(None, "--region", help=_("Region code to fetch (repeatable; default from config/sources.toml).")),
    since: Optional[str] = typer.Option(None, "--since", help=_("First index month, YYYY-MM.")),
    until: Optional[str] = typer.Option(None, "--until", help=_("Last index month, YYYY-MM.")),
    offline: bool = typer.Option(False, "--offline", help=_("Touch no network: report what the store (bundled figures included) holds.")),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    encoding: EncodingOption = None,
):
    """Bring monthly CPI and food-price figures into the series store, keeping provenance and
    revisions. `fetch template` writes the form for typing official figures in."""
    if ctx.invoked_subcommand:
        return
    from cpi_link.core.errors import UsageError
    from cpi_link.core.months import parse_month
    from cpi_link.store.series import SeriesStore

    st = state(ctx)
    since_m = parse_month(since, "--since") if since else None
    until_m = parse_month(until, "--until") if until else None
    home = st.home.ensure()
    store = SeriesStore(home)
    report: dict = {"source": source.value, "offline": offline}
    if source is Source.file:
        if file is None:
            raise UsageError(_("--source file needs --file PATH"))
        from cpi_link.sources.file import read_figures_file

        blank: list[int] = []
        releases: list[dict] = []
        obs = read_figures_file(file, regions=region, since=since_m, until=until_m, skipped=blank, sheet=sheet,
                                releases=releases)
        dated = store.upsert_releases(releases)  # first: a date without its figure misleads nobody
        result = store.upsert(obs)
        report.update(file=str(file), rows=len(obs), **result.as_dict())
        if releases:
            report["release_dates"] = len(releases)
            report["release_dates_changed"] = dated
        if blank:
            report["blank_rows_skipped"] = len(blank)
    elif offline:
        report.update(rows=0, added=0, revised=0, unchanged=0, note=N_("offline: no network touched"))
    else:
        from cpi_link.sources import nbs

        outcome = nbs.fetch(st.config_dir, home, regions=region, since=since_m, until=until_m)
        result = store.upsert(outcome.observations)
        report.update(rows=len(outcome.observations), **result.as_dict(), **outcome.report())
    held = store.observations()
    report["store_observations"] = len(held)
    report["store_latest"] = {
        r: max(o.month for o in held if o.region_code == r) for r in sorted({o.region_code for o in held})
    }
    if fmt is Format.json:
        emit_json(report)
    elif fmt is Format.csv:
        emit_csv([report], list(report))
    else:
        lines = [_("[bold]fetch[/] from {source}").format(source=source.value) + (_(" (offline)") if offline else "")]
        if "rows" in report:
            lines.append(
                "  " + _("rows read {rows}: added {added}, "
                         "revised {revised}, unchanged {unchanged}").format(rows=report['rows'], added=report.get('added', 0), revised=report.get('revised', 0), unchanged=report.get('unchanged', 0))
            )
        for k, label in (("not_yet_published", _("not yet published")), ("note", _("note")),
                         ("blank_rows_skipped", _("blank rows skipped")), ("release_dates", _("release dates read"))):
            if report.get(k):
                lines.append(f"  {label}: {translate(report[k]) if k == 'note' else report[k]}")
        lines.append("  " + _("store holds {n} observations; latest month per region:").format(n=report['store_observations']))
        for r, m in report["store_latest"].items():
            lines.append(f"    {region_label(r)}: {m}")
        stdout_console().print("\n".join(lines))


@handle_errors
def series(
    ctx: typer.Context,
    region: Optional[List[str]] = typer.Option(None, "--region", help=_("Region code(s), e.g. 140000 (Shanxi), 000000 (national).")),
    indicator: Optional[List[str]] = typer.Option(None, "--indicator", help=_("cpi, food or scpi (repeatable).")),
    since: Optional[str] = typer.Option(None, "--since", help=_("First month, YYYY-MM.")),
    until: Optional[str] = typer.Option(None, "--until", help=_("Last month, YYYY-MM.")),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    encoding: EncodingOption = None,
):
    """Print stored observations (bundled figures included) with their source."""
    from cpi_link.core.decimals import fmt_pct
    from cpi_link.core.errors import UsageError
    from cpi_link.sources.file import normalise_indicator
    from cpi_link.core.months import parse_month
    from cpi_link.store.series import SeriesStore

    st = state(ctx)
    inds = []
    for i in indicator or []:
        n = normalise_indicator(i)
        if n is None:
            raise UsageError(_("--indicator {value}: use cpi, food or scpi").format(value=repr(i)))
        inds.append(n)
    store = SeriesStore(st.home)
    obs = store.observations(
        region=region,
        indicator=inds,
        since=parse_month(since, "--since") if since else None,
        until=parse_month(until, "--until") if until else None,
    )
    rows = [
        {
            "region_code": o.region_code,
            "month": o.month,
            "indicator": o.indicator,
            "value": fmt_pct(o.value),
            "yoy_pct": fmt_pct(o.yoy_pct),
            "source": o.source,
            "source_ref": o.source_ref,
            "fetched_at": o.fetched_at,
        }
        for o in obs
    ]
    if fmt is Format.json:
        emit_json(rows)
    elif fmt is Format.csv:
        emit_csv(rows, SERIES_COLUMNS + ["source_ref"])
    else:
        from rich.table import Table

        from cpi_link.core.times import beijing

        t = Table(title=_("Stored observations ({n})").format(n=len(rows)))
        for c, j in ((_("region"), "left"), (_("month"), "left"), (_("indicator"), "left"), (_("index"), "right"), (_("YoY %"), "right"), (_("source"), "left"), (_("fetched at"), "left")):
            t.add_column(c, justify=j, overflow="fold")  # a narrow terminal wraps a cell, never crops it
        for r in rows:
            t.add_row(region_label(r["region_code"]), r["month"], r["indicator"], r["value"], r["yoy_pct"], r["source"], beijing(r["fetched_at"]))
        stdout_console().print(t)
