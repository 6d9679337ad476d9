"""`cpi-link report`, `plot`, `simulate` and `diff`: reports for people, built on run outputs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from cpi_link.cli.common import REMARK_CHECK_HELP, ROSTER_HELP, SCHEME_HELP, SHEET_HELP, STANDARDS_HELP, STANDARDS_MAX_HELP, STANDARDS_SHEET_HELP
from cpi_link.cli.common import EncodingOption, FORMAT_HELP, Format, emit_csv, emit_csv_batches, emit_json, handle_errors, heading, info, state, stderr_console, stdout_console, warn
from cpi_link.core.i18n import _, translate
from cpi_link.core.regions import region_label, region_name

RUN_DIR_HELP = _("A run folder (HOME/runs/MONTH/RUN_ID, or calc's --out): it holds manifest.json and the Parquet outputs.")


def register(app: typer.Typer) -> None:
    for name in ("report", "plot", "simulate", "diff"):
        if name in globals():
            app.command(name)(globals()[name])


# -- report ----------------------------------------------------------------------------------


@handle_errors
def report(
    ctx: typer.Context,
    run_dir: Path = typer.Argument(..., help=RUN_DIR_HELP),
    xlsx: Optional[Path] = typer.Option(None, "--xlsx", help=_("Also write the disbursement workbook (发放花名册) to this .xlsx file (owner-only, 0600).")),
    mask_ids: bool = typer.Option(False, "--mask-ids", help=_("In the workbook, mask resident IDs as 140105********123X (for copies that leave the finance office).")),
    bank: Optional[str] = typer.Option(None, "--bank", help=_("A bank batch-payment template: a name in CONFIG/banks (bundled: generic-csv, generic-txt, generic-xlsx) or a path to a template TOML (SPEC 6.1). Needs --bank-out.")),
    bank_out: Optional[Path] = typer.Option(None, "--bank-out", help=_("The bank batch-payment file to write (owner-only, 0600).")),
    public: Optional[Path] = typer.Option(None, "--public", help=_("Write the 公示 list (masked names and IDs, category, amount) to this file: .xlsx (print-ready) or .csv (utf-8-sig unless --encoding).")),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    encoding: EncodingOption = None,
):
    """Summarise a run by prefecture, county and category (rows, persons, yuan) with the decision and
    the scheme's citation; optionally write the disbursement workbook, a bank batch-payment file
    and the public list. The run folder is first checked against its manifest (exit 2 if changed)."""
    from cpi_link.core.errors import UsageError
    from cpi_link.outputs.report import load_run, report_json

    if (bank is None) != (bank_out is None):
        raise UsageError(_("--bank TEMPLATE and --bank-out PATH go together"))
    tpl = None
    if bank is not None:
        from cpi_link.outputs.bank import find_template, load_template

        tpl = load_template(find_template(bank, state(ctx).config_dir))
    run = load_run(run_dir)
    from cpi_link.jobs.ledger import check_paid_folder

    check_paid_folder(state(ctx).home, run.path, run.manifest)  # a paid folder is read only as the ledger recorded it
    rep = report_json(run)
    if not run.verified:
        warn(_("run {run} used rules marked verified = false ({citation}): check them before paying").format(run=run.run_id, citation=rep['citation']))
    if run.sample_standards:
        warn(_("this run used the bundled SAMPLE standards: its amounts are not official"))
    for p in rep["consistency_problems"]:
        warn(_("totals disagree in {path}: {problem}").format(path=run.path, problem=p))
    if mask_ids and xlsx is None:
        warn(_("--mask-ids only affects the workbook: add --xlsx PATH"))
    if xlsx is not None:
        from cpi_link.outputs.workbook import write_workbook

        out = write_workbook(run, xlsx, mask_ids=mask_ids)
        info(_("workbook: {path}").format(path=out) + (_(" (IDs masked)") if mask_ids else _(" (full IDs: keep it inside the finance office)")))
    if tpl is not None:
        _bank_file(run, tpl, bank_out)
    if public is not None:
        from cpi_link.outputs.bank import load_office, write_public_list

        st = state(ctx)
        office = load_office(st.home.root, st.config_dir)
        res = write_public_list(run, public, encoding.value if encoding else None, office=office)
        if not (office.phone and office.posting_from):
            info(_("the 公示 list leaves the posting dates and the phone blank to write by hand: set posting_from and phone in {path}").format(
                path=st.home.root / "office.toml"))
        info(_("public list: {path} ({rows:,} rows, total {total} yuan = the run's total; names and IDs masked)").format(
            path=res.path, rows=res.rows, total=_yuan(res.total_fen)))
    if fmt is Format.json:
        emit_json(rep)
    elif fmt is Format.csv:
        rows = [{"level": "prefecture", "code": r["prefecture"], **r} for r in rep["by_prefecture"]]
        rows += [{"level": "county", "code": r["region_code"], **r} for r in rep["by_county"]]
        rows += [{"level": "category", "code": r["category"], **r} for r in rep["by_category"]]
        rows += [{"level": "county_category", "code": r["region_code"], **r} for r in rep["by_county_category"]]
        rows += [{"level": "township", "code": r["region_code"], **r} for r in rep.get("by_township", [])]
        rows += [{"level": "village", "code": r["region_code"], **r} for r in rep.get("by_village", [])]
        rows.append({"level": "total", "code": "", **rep["totals"]})
        for r in rows:  # the name beside every code: a region's, a category's
            r["name"] = r.get("category_zh") if r["level"] == "category" else (region_name(str(r["code"]), rep["month"]) or "") if r["code"] else ""
        emit_csv(rows, ["level", "code", "category", "rows", "persons", "amount", "name", "township", "village"])
    else:
        _print_report(rep, run.rules)


def _yuan(fen: int) -> str:
    from cpi_link.core.money import fen_to_yuan_str

    return fen_to_yuan_str(int(fen))


def _bank_file(run, tpl, dest: Path) -> None:
    from rich.markup import escape

    from cpi_link.outputs.bank import write_bank_file

    res = write_bank_file(run, tpl, dest)
    if res.left_out:
        warn(_("{rows} paid rows have no bank account and are left out of the bank file ({yuan} yuan, to pay another way):").format(
            rows=f"{len(res.left_out):,}", yuan=_yuan(res.left_out_fen)))
        err = stderr_console()
        for r in res.left_out:
            err.print(_("  row {row}: {name} {person_id} {yuan}").format(
                row=r["source_row"], name=escape(str(r["name"])), person_id=r["person_id"], yuan=_yuan(r["amount_fen"])))
    if len(res.parts) > 1:
        info(_("the rows are split into {n} files of at most {limit} rows (the template's row_limit), each with its own count and sum:").format(
            n=len(res.parts), limit=f"{tpl.row_limit:,}"))
        for path, rows, fen in res.parts:
            info(_("  {path}: {rows} rows, {total} yuan").format(path=path, rows=f"{rows:,}", total=_yuan(fen)))
        info(_("list of the files: {path}").format(path=res.manifest))
    if tpl.document:
        info(_("the template follows: {document}").format(document=escape(tpl.document)))
    info(_("bank file ({template}, {format}, {encoding}): {path}; {rows} rows, total {total} yuan; checked: + {left_out} left out = "
           "the run's total {run_total} to the fen").format(
        template=escape(tpl.name), format=tpl.format, encoding=tpl.encoding if tpl.format != "xlsx" else "xlsx", path=res.path,
        rows=f"{res.rows:,}", total=_yuan(res.total_fen), left_out=_yuan(res.left_out_fen), run_total=_yuan(run.total_fen)))


def _print_report(rep: dict, rules: dict | None = None) -> None:
    from rich.markup import escape
    from rich.table import Table

    con = stdout_console()
    from cpi_link.rules.trigger import decision_reason

    con.print(_("[bold]run {run}[/] (index month {month})  {path}").format(run=rep['run_id'], month=rep['month'], path=escape(rep['run_dir'])))
    decisions = rep["decision"] if isinstance(rep["decision"], list) else [rep["decision"]]
    for d in decisions:
        if d:
            mark = _("[bold green]TRIGGERED[/]") if d.get("triggered") else _("[bold]not triggered[/]")
            con.print(f"{region_label(d.get('region_code', ''))} " + _("{mark}: {reason}").format(mark=mark, reason=escape(decision_reason(d, rules) if 'thresholds' in d else d.get('reason', ''))))
    con.print(_("scheme: {citation}").format(citation=escape(rep['citation'])))
    if not rep["verified"]:
        con.print(_("[bold white on red] UNVERIFIED RULES [/] [bold red]values not checked against the document text[/]"))
    for title, rows, keys in (
        (_("By prefecture (设区市)"), rep["by_prefecture"], ["prefecture"]),
        (_("By county (县/区)"), rep["by_county"], ["prefecture", "region_code"]),
        (_("By category (类别)"), rep["by_category"], ["category", "category_zh"]),
    ):
        if not rows:
            continue
        t = Table(title=title, title_justify="left")
        for k in keys:
            t.add_column(heading(k))
        for c in (_("rows"), _("persons"), _("yuan")):
            t.add_column(c, justify="right")
        for r in rows:
            t.add_row(*[region_label(str(r[k])) if k in ("prefecture", "region_code") else str(r[k]) for k in keys], f"{r['rows']:,}", f"{r['persons']:,}", r["amount"])
        tot = rep["totals"]
        t.add_row(_("[bold]total[/]"), *[""] * (len(keys) - 1), f"{tot['rows']:,}", f"{tot['persons']:,}", f"[bold]{tot['amount']}[/]")
        con.print(t)
    tot = rep["totals"]
    con.print(_("paid rows {rows:,}; persons {persons:,}; total {amount} yuan; rejected rows {rejected:,}").format(rows=tot['rows'], persons=tot['persons'], amount=tot['amount'], rejected=tot['rejected_rows']))


# -- plot ------------------------------------------------------------------------------------


@handle_errors
def plot(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help=_("The PNG file to write (owner-only, 0600).")),
    since: str = typer.Option(..., "--since", help=_("First index month, YYYY-MM.")),
    until: str = typer.Option(..., "--until", help=_("Last index month, YYYY-MM.")),
    region: Optional[str] = typer.Option(None, "--region", help=_("Whose figures to draw (6-digit code, e.g. 000000, 140000). Default: the scheme's deciding region.")),
    scheme: Optional[str] = typer.Option(None, "--scheme", help=SCHEME_HELP),
    english: bool = typer.Option(False, "--english", help=_("English title and legend even when a CJK font is installed.")),
    fmt: Format = typer.Option(Format.table, "--format", help=_("'table': one line for people; 'json': the file, font and triggered spans for scripts; 'csv': the same as one row.")),
    encoding: EncodingOption = None,
):
    """Draw CPI and food YoY for a region against the scheme's thresholds (steps: versions and
    overlays change them), with triggered months shaded, to a PNG."""
    from cpi_link.cli.common import default_scheme
    from cpi_link.core.months import parse_month
    from cpi_link.outputs.plot import chart_data, render
    from cpi_link.rules.schemes import load_scheme
    from cpi_link.store.series import SeriesStore

    st = state(ctx)
    a, b = parse_month(since, "--since"), parse_month(until, "--until")
    sch = load_scheme(scheme or default_scheme(st.config_dir), st.config_dir)
    data = chart_data(sch, SeriesStore(st.home), region, a, b)
    if data.deciding_region and data.deciding_region != data.region:
        warn(_("the shading shows {scheme}'s decisions, taken on {deciding}'s figures, not on the drawn region {region}'s").format(scheme=sch.name, deciding=region_label(data.deciding_region), region=region_label(data.region)))
    undecided = data.spans(None)
    if undecided:
        warn(_("no decision for {months} (figures missing or no version in force): drawn hatched, not as 'not triggered'").format(
             months=", ".join(f"{x}..{y}" if x != y else x for x, y in undecided)))
    if not any(v is not None for v in data.cpi + data.food):
        from cpi_link.core.errors import MissingFigures

        raise MissingFigures(_("no CPI or food figures for region {region} in {since}..{until}").format(region=region_label(data.region), since=a, until=b))
    res = render(data, out, cjk_font=None if english else "auto")
    spans = [{"from": x, "until": y} for x, y in data.spans(True)]
    out = {**res, "region": data.region, "scheme": sch.name, "since": a, "until": b, "triggered_spans": spans,
           "undecided_spans": [{"from": x, "until": y} for x, y in undecided]}
    if fmt is Format.json:
        emit_json(out)
    elif fmt is Format.csv:
        emit_csv([{**out, **{k: ";".join(f"{s['from']}..{s['until']}" for s in out[k]) for k in ("triggered_spans", "undecided_spans")}}],
                 list(out))
    else:
        if res["cjk_font"] is None and not english:
            info(_("no CJK font found: title and legend are in English (install e.g. fonts-noto-cjk for Chinese)"))
        stdout_console().print(_("chart: {path} ({width}x{height}); triggered: ").format(path=res['path'], width=res['width_px'], height=res['height_px'])
                               + (", ".join(f"{s['from']}..{s['until']}" for s in spans) or _("none")))


# -- simulate --------------------------------------------------------------------------------

SIM_COLUMNS = [
    "month", "baseline_triggered", "baseline_rate_pct", "baseline_amount", "alternative_triggered",
    "alternative_rate_pct", "alternative_amount", "difference", "baseline_persons", "alternative_persons",
    "baseline_version", "alternative_version", "baseline_indicator", "alternative_indicator",
]


@handle_errors
def simulate(
    ctx: typer.Context,
    scheme: str = typer.Option(..., "--scheme", help=_("The alternative scheme to cost: a name in CONFIG/schemes or a path to a scheme TOML file (e.g. a copy with food = \"5.5\").")),
    baseline: Optional[str] = typer.Option(None, "--baseline", help=_("The scheme to compare with. Default: default_scheme in CONFIG/sources.toml, else shanxi.")),
    since: str = typer.Option(..., "--since", help=_("First index month, YYYY-MM.")),
    until: str = typer.Option(..., "--until", help=_("Last index month, YYYY-MM.")),
    roster: Path = typer.Option(..., "--roster", help=ROSTER_HELP + " " + _("Used for every month: a what-if on these recipients.")),
    standards: Optional[Path] = typer.Option(None, "--standards", help=STANDARDS_HELP),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    encoding: EncodingOption = None,
    sheet: Optional[str] = typer.Option(None, "--sheet", help=SHEET_HELP),
    standards_sheet: Optional[str] = typer.Option(None, "--standards-sheet", help=STANDARDS_SHEET_HELP),
    standards_max: Optional[str] = typer.Option(None, "--standards-max", help=STANDARDS_MAX_HELP),
    no_remark_check: bool = typer.Option(False, "--no-remark-check", help=REMARK_CHECK_HELP),
    totals: bool = typer.Option(False, "--totals", help=_("With --format csv: one row of totals instead of the months (the months' CSV has no total row).")),
):
    """Cost an alternative scheme month by month against a baseline: triggered or not, rate and
    total yuan under each, side by side with the difference, plus totals. Computed by the same
    engine as calc (nothing is kept on disk). Exit 3 naming the months whose figures are missing."""
    from cpi_link.calc.handle import open_roster
    from cpi_link.cli.common import default_scheme, load_standards_option
    from cpi_link.core.errors import InputError
    from cpi_link.core.months import month_range, parse_month
    from cpi_link.rules.schemes import load_scheme
    from cpi_link.jobs.simulate import simulate as run_sim
    from cpi_link.jobs.simulate import simulate_json
    from cpi_link.store.series import SeriesStore

    st = state(ctx)
    months = month_range(parse_month(since, "--since"), parse_month(until, "--until"))
    if not roster.exists():
        raise InputError(_("{path}: no such file").format(path=roster))
    # opened first, as calc opens it: its IDs are checked in a thread while the schemes and standards load
    # --no-remark-check: as calc opens it (a scheme's remark_check = false turns it off for that scheme's costs)
    handle = open_roster(roster, st.home.trials_dir / "simulate", sheet=sheet, remark_check=not no_remark_check)
    ctx.call_on_close(handle.close)  # whatever the exit: the first pass stopped, its temp files removed
    base = load_scheme(baseline or default_scheme(st.config_dir), st.config_dir)
    alt = load_scheme(scheme, st.config_dir)
    std = load_standards_option(standards, standards_sheet, standards_max)
    for label, sch in ((_("baseline"), base), (_("alternative"), alt)):
        bad = []
        for m in months:
            try:
                r = sch.rules_for(m)
            except Exception:
                continue
            bad += [x for x in r.unverified if x not in bad]
        if bad:
            warn(_("{label} {scheme}: {ids} marked verified = false (values not checked against the document text)").format(label=label, scheme=sch.name, ids=', '.join(bad)))
    results = run_sim(months, {"baseline": base, "alternative": alt}, handle, std, SeriesStore(st.home))
    handle.close()
    data = simulate_json(results, base, alt)
    off = [label for label, sch in (("baseline", base), ("alternative", alt)) if no_remark_check or not sch.remark_check]
    for label in off:  # that scheme's costs pay rows whose 备注 says the person stopped
        data[label]["remark_check"] = False
    if fmt is Format.json:
        emit_json(data)
    elif fmt is Format.csv:
        if totals:
            emit_csv([data["totals"]], list(data["totals"]))
        else:
            emit_csv(data["months"], SIM_COLUMNS)
    else:
        from rich.table import Table

        t = Table(title=_("simulate: alt = {alt}, base = {base}; roster {roster}").format(alt=alt.name, base=base.name, roster=roster.name), title_justify="left")
        for i, (c, j) in enumerate(((_("month"), "left"), (_("base\nstarts"), "left"), (_("base\nrate %"), "right"), (_("base\nyuan"), "right"),
                     (_("alt\nstarts"), "left"), (_("alt\nrate %"), "right"), (_("alt\nyuan"), "right"), (_("alt - base\nyuan"), "right"))):
            t.add_column(c, justify=j, no_wrap=True, min_width=7 if i == 0 else None)

        def yes(v, rate):
            return (_("[bold]YES[/]") if v else _("no")), (rate or "—")

        for r in data["months"]:
            bt, br = yes(r["baseline_triggered"], r["baseline_rate_pct"])
            at, ar = yes(r["alternative_triggered"], r["alternative_rate_pct"])
            differs = r["baseline_triggered"] != r["alternative_triggered"] or r["difference"] != "0.00"
            t.add_row(r["month"], bt, br, r["baseline_amount"], at, ar, r["alternative_amount"], r["difference"],
                      style="bold yellow" if differs else None)
        tot = data["totals"]
        t.add_row(_("[bold]total[/]"), _("{n} mo.").format(n=tot['baseline_triggered_months']), "", f"[bold]{tot['baseline_amount']}[/]",
                  _("{n} mo.").format(n=tot['alternative_triggered_months']), "", f"[bold]{tot['alternative_amount']}[/]",
                  f"[bold]{tot['difference']}[/]")
        con = stdout_console()
        con.print(t)
        con.print(_("the same roster and standards are used for every month; difference = alternative - baseline"))
        if no_remark_check:
            con.print(_("remark check off: rows whose 备注 says 停保, 死亡… were not rejected for it"))
        for label in off if not no_remark_check else ():
            con.print(_("remark check off under {scheme} (remark_check = false): rows whose 备注 says 停保, 死亡… are costed as paid")
                      .format(scheme=(base if label == "baseline" else alt).name))


# -- diff ------------------------------------------------------------------------------------


@handle_errors
def diff(
    ctx: typer.Context,
    run_a: Path = typer.Argument(..., help=_("The earlier run folder (e.g. last month's).")),
    run_b: Path = typer.Argument(..., help=_("The later run folder (e.g. this month's).")),
    full_ids: bool = typer.Option(False, "--full-ids", help=_("Show full resident IDs (by default they are masked as 140105********123X).")),
    mask_ids: bool = typer.Option(False, "--mask-ids", hidden=True, help=_("Kept for old scripts: IDs are masked by default.")),
    show: int = typer.Option(50, "--show", help=_("Table only: at most this many people per list (json/csv list everyone).")),
    summary: bool = typer.Option(False, "--summary", help=_("Only the runs compared and the totals (no list of people): for cron mail.")),
    fmt: Format = typer.Option(Format.table, "--format", help=_("Output format: 'table' for people (rich), 'json' or 'csv' on stdout for scripts. csv: one row per person added, removed or changed, with both months, both amounts and the difference B - A on every row (they sum to the totals' difference).")),
    encoding: EncodingOption = None,
):
    """What changed between two runs: people added and removed, amounts changed and why (standard,
    rate, category, persons...), and the totals."""
    from cpi_link.outputs.diff import CHANGES, CSV_COLUMNS, REASON_TEXT, columns, detail_text, diff_runs, records, selected

    d = diff_runs(run_a, run_b)
    masked = not full_ids or mask_ids
    sa, sb = d.sides
    tot = d.totals
    if fmt is Format.json:
        import json

        def dump(x) -> str:
            return json.dumps(x, ensure_ascii=False, default=str)

        w = sys.stdout.write
        w("{\n" + f'  "a": {dump(sa)},\n  "b": {dump(sb)},\n  "totals": {dump(tot)}')
        if not summary:
            keys = {"added": ["person_id", "name", "category", "region_code", "persons", "amount"],
                    "removed": ["person_id", "name", "category", "region_code", "persons", "amount"],
                    "changed": ["person_id", "name", "category", "region_code", "persons", "amount_a", "amount_b",
                                "difference", "reasons", "detail"]}
            for change in CHANGES:
                w(f',\n  "{change}": [')
                for n, r in enumerate(records(d, change, mask_ids=masked)):
                    w(("," if n else "") + "\n    " + dump({k: r[k] for k in keys[change]}))
                w("\n  ]")
        w("\n}\n")
        return
    if fmt is Format.csv:
        if summary:
            emit_csv([{"side": k, **s} for k, s in (("A", sa), ("B", sb))] + [{"side": "B - A", "amount": tot["difference"]}],
                     ["side", "month", "run_id", "triggered", "rate_pct", "version", "rows", "persons", "amount"])
            return
        from cpi_link.core.threads import prefetch

        rows = selected(d)
        # the next batch's columns are made while this one is written
        emit_csv_batches(prefetch((columns(d, {k: v[s:s + 65_536] for k, v in rows.items()}, masked)
                                   for s in range(0, len(rows["ia"]), 65_536)), name="diff-rows"), CSV_COLUMNS)
        return
    from rich.markup import escape
    from rich.table import Table

    from cpi_link.rules.trigger import indicator_label

    con = stdout_console()
    t = Table(title=_("runs compared"), title_justify="left")
    for i, c in enumerate(("", _("month"), _("starts"), _("rate %"), _("version"), _("rows"), _("persons"), _("yuan"))):
        t.add_column(c, justify="right" if i >= 5 else "left", no_wrap=i >= 5 or i in (1, 3))
    for label, s in (("A", sa), ("B", sb)):
        t.add_row(label, s["month"], _("YES") if s["triggered"] else _("no"), f"{s['rate_pct'] or '—'} ({indicator_label(s['indicator']) or '—'})",
                  escape(s["version"]), f"{s['rows']:,}", f"{s['persons']:,}", s["amount"])
    t.add_row("B - A", "", "", "", "", "", "", f"[bold]{tot['difference']}[/]")
    con.print(t)
    con.print(_("added {added} ({added_amount} yuan); removed {removed} ({removed_amount} yuan); "
                "changed {changed} ({changed_amount} yuan); unchanged {unchanged}").format(**tot))
    for w, n in tot["changed_by_reason"].items():
        con.print("  " + _("{n} because {why}").format(n=n, why=translate(REASON_TEXT.get(w, w))))
    if summary:
        return
    for change, title, cols in (("added", _("added (in B, not in A)"), ["person_id", "name", "category", "region_code", "persons", "amount"]),
                                ("removed", _("removed (in A, not in B)"), ["person_id", "name", "category", "region_code", "persons", "amount"]),
                                ("changed", _("amount changed"), ["person_id", "name", "region_code", "amount_a", "amount_b", "difference", "detail"])):
        count = tot[change]
        if not count:
            continue
        t = Table(title=f"{title}: {count}" + (_(" (first {n})").format(n=show) if count > show else ""), title_justify="left")
        for c in cols:
            number = c.startswith("amount") or c in ("difference", "persons")
            t.add_column(heading("person_name" if c == "name" else c), justify="right" if number else "left",
                         no_wrap=c not in ("detail", "name"), min_width=20 if c == "detail" else None)
        for r in records(d, change, limit=show, mask_ids=masked):
            t.add_row(*[escape(region_label(str(r[c])) if c == "region_code" else detail_text(r[c]) if c == "detail" else str(r[c]))
                        for c in cols])
        con.print(t)
