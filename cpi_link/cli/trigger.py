"""`cpi-link trigger` and `cpi-link scheme list|show`: formatting only; decisions live in
cpi_link.trigger and the scheme format in cpi_link.schemes."""

from __future__ import annotations

from typing import Optional

import typer

from cpi_link.cli.common import EncodingOption, FORMAT_HELP, Format, emit_csv, emit_json, handle_errors, state, stdout_console, warn
from cpi_link.core.i18n import _, pgettext
from cpi_link.core.regions import region_label

SCHEME_HELP = _(
    "Scheme name (a file in CONFIG/schemes, e.g. shanxi, national) or the path of a scheme TOML file. "
    "Default: default_scheme in CONFIG/sources.toml, else shanxi."
)

TRIGGER_COLUMNS = [
    "month",
    "scheme",
    "version",
    "overlays",
    "region_code",
    "cpi_yoy_pct",
    "cpi_threshold",
    "food_yoy_pct",
    "food_threshold",
    "scpi_yoy_pct",
    "scpi_threshold",
    "triggered",
    "indicator",
    "rate_pct",
    "multiplier",
    "verified",
    "reason",
    "next_figures_expected",
    "payment_deadline",
]

scheme_app = typer.Typer(
    help=_("Inspect policy schemes: the dated versions and temporary overlays in config/schemes."),
    no_args_is_help=True,
)


# labels of a scheme's rules in `scheme show` (called when printed, in the chosen language)
_RULE_LABELS = {
    "rate": lambda: _("rate"),
    "method": lambda: _("method"),
    "per_point": lambda: _("per point"),
    "rounding": lambda: _("rounding"),
    "minimum": lambda: _("minimum"),
    "multiplier": lambda: _("multiplier"),
    "payment_timing": lambda: _("payment timing"),
    "source": lambda: _("source"),
    "note": lambda: _("note"),
}


def register(app: typer.Typer) -> None:
    app.command("trigger")(trigger)
    scheme_app.command("list")(scheme_list)
    scheme_app.command("show")(scheme_show)
    scheme_app.command("check")(scheme_check)
    app.add_typer(scheme_app, name="scheme")


def _warn_unverified(ids_docs: dict[str, str], months: dict[str, list[str]] | None = None) -> None:
    for ident, doc in ids_docs.items():
        span = ""
        if months and months.get(ident):
            ms = months[ident]
            span = _(" (in force for {months})").format(months=ms[0] + (f"..{ms[-1]}" if len(ms) > 1 else ""))
        warn(
            _("{ident} ({doc}){span} is unverified: its values have not been checked against the "
              "document text. Check them and set verified = true in the scheme file.").format(ident=ident, doc=doc, span=span)
        )


@handle_errors
def trigger(
    ctx: typer.Context,
    month: Optional[str] = typer.Option(None, "--month", help=_("Index month to decide, YYYY-MM (the month the figures describe). Default: the latest month with every deciding figure.")),
    since: Optional[str] = typer.Option(None, "--since", help=_("First index month of a range, YYYY-MM (to --until, else to the latest month with figures).")),
    until: Optional[str] = typer.Option(None, "--until", help=_("Last index month of a range, YYYY-MM (with --since).")),
    scheme: Optional[str] = typer.Option(None, "--scheme", help=SCHEME_HELP),
    region: Optional[str] = typer.Option(
        None, "--region", help=_("Only for schemes decided per prefecture city: the 6-digit prefecture (or county) code.")
    ),
    provenance: bool = typer.Option(
        False, "--provenance", help=_("JSON: add each figure's index value, source, source reference and fetched_at.")
    ),
    stored_months: bool = typer.Option(
        False, "--stored-months", help=_("With --since: only the months for which the store holds some figure of the deciding region.")
    ),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    encoding: EncodingOption = None,
):
    """Decide, month by month, whether the mechanism starts: the rules in force, each index's YoY
    against its threshold, the rate and a one-line reason. Exit 3 if a needed figure is missing."""
    from cpi_link.core.errors import MissingFigures, UsageError
    from cpi_link.core.months import month_range, parse_month
    from cpi_link.rules.schemes import default_scheme, load_scheme
    from cpi_link.store.series import SeriesStore
    from cpi_link.rules.trigger import decide, missing_figures

    st = state(ctx)
    if month and (since or until):
        raise UsageError(_("give either --month or --since/--until, not both"))
    if until and not since:
        raise UsageError(_("--until needs --since (or use --month for one month)"))
    sch = load_scheme(scheme or default_scheme(st.config_dir), st.config_dir)
    store = SeriesStore(st.home)
    if month:
        months = [parse_month(month, "--month")]
    elif since:
        # --since alone runs up to the latest month whose deciding figures are all stored
        last = parse_month(until, "--until") if until else _latest(sch, store)
        months = month_range(parse_month(since, "--since"), last)
    else:
        months = [_latest(sch, store)]  # no month given: the latest month that can be decided
    if stored_months:
        from cpi_link.rules.schemes import INDICATORS
        from cpi_link.rules.trigger import deciding_region

        def held(m: str) -> bool:
            try:
                where = deciding_region(sch.rules_for(m), region)
            except Exception:
                return True  # let the loop below report the month's problem
            return any(store.get(where, i, m) is not None for i in INDICATORS)

        months = [m for m in months if held(m)]
        if not months:
            raise MissingFigures(_("no month of the range has any figure of the deciding region"))
    decisions = []
    missing: list[str] = []
    for m in months:
        try:
            decisions.append(decide(sch, m, store, region=region))
        except MissingFigures:
            if len(months) == 1:
                raise
            rules = sch.rules_for(m)
            lacking = _(" and ").join(missing_figures(sch, m, store, region))
            missing.append(_("{month}: {lacking} (needed by {version})").format(month=m, lacking=lacking, version=rules.version))

    unverified: dict[str, str] = {}
    spans: dict[str, list[str]] = {}
    for d in decisions:
        docs = {d.rules.version: d.rules.document}
        for o in sch.overlays:
            docs[o.id] = o.document or _("no document cited")
        for ident in d.rules.unverified:
            unverified.setdefault(ident, docs.get(ident, ""))
            spans.setdefault(ident, []).append(d.month)
    _warn_unverified(unverified, spans)

    if missing:
        if fmt is Format.table and decisions:
            _print_table(decisions, sch)
        shown = missing if len(missing) <= 12 else missing[:12] + [_("... and {n} more months").format(n=len(missing) - 12)]
        raise MissingFigures(
            _("{n} of {total} months cannot be decided for lack of figures "
              "(import them with cpi-link fetch --source file):").format(n=len(missing), total=len(months)) + "\n  " + "\n  ".join(shown)
        )

    if fmt is Format.json:
        emit_json([_with_calendar(d, d.to_json(provenance=provenance)) for d in decisions])
    elif fmt is Format.csv:
        emit_csv([_csv_row(d) for d in decisions], TRIGGER_COLUMNS)
    else:
        _print_table(decisions, sch)


def _with_calendar(d, j: dict) -> dict:
    """Add when the figures are published, when the next are expected, and the payment deadline
    under the rules in force (cpi_link.calendar); payment_deadline is null when not triggered."""
    from cpi_link.rules.calendar import calendar_json

    cal = calendar_json(d.month, d.rules.payment_timing)
    if not d.triggered:
        cal["payment_deadline"] = None
        cal["payment_deadline_note"] = "not triggered: nothing to pay"
        cal["overdue"] = False
    j.update(cal)
    return j


def _csv_row(d) -> dict:
    from cpi_link.core.decimals import fmt_pct

    j = d.to_json()
    row = {k: j.get(k) for k in TRIGGER_COLUMNS}
    row["overlays"] = ";".join(d.overlays)
    row["triggered"] = "true" if d.triggered else "false"
    row["verified"] = "true" if d.rules.verified else "false"
    row["scpi_yoy_pct"] = fmt_pct(d.yoy.get("scpi"))
    for ind in ("cpi", "food", "scpi"):
        row[f"{ind}_threshold"] = fmt_pct(d.thresholds.get(ind))
    cal = _with_calendar(d, {})
    row["next_figures_expected"] = cal["next_figures_expected"]
    row["payment_deadline"] = cal["payment_deadline"]
    return row


def _rate_cell(d) -> str:
    from cpi_link.core.decimals import fmt_pct
    from cpi_link.rules.trigger import indicator_label

    cal = _with_calendar(d, {})
    late = " " + _("[bold red]OVERDUE[/]") if cal.get("overdue") else ""
    return _("{rate}% ({indicator})\nby {deadline}").format(rate=fmt_pct(d.rate_pct), indicator=indicator_label(d.indicator),
                                                            deadline=cal['payment_deadline'] or '?') + late


def _print_table(decisions, sch) -> None:
    from rich.markup import escape
    from rich.table import Table

    from cpi_link.core.decimals import fmt_pct
    from cpi_link.rules.trigger import decision_reason

    show_scpi = any("scpi" in d.yoy for d in decisions)
    n = sum(d.triggered for d in decisions)
    t = Table(title=_("{name}: {title} — {n} of {total} months triggered").format(name=sch.name, title=sch.title, n=n, total=len(decisions)), title_justify="left")
    t.add_column(_("month"), no_wrap=True)
    t.add_column(_("version (+ overlays)"), max_width=28)
    t.add_column(_("region"), no_wrap=True)
    t.add_column(_("CPI %\nYoY / thr"), justify="right", no_wrap=True)
    t.add_column(_("food %\nYoY / thr"), justify="right", no_wrap=True)
    if show_scpi:
        t.add_column(_("SCPI %\nYoY / thr"), justify="right", no_wrap=True)
    t.add_column(_("start"), no_wrap=True)
    t.add_column(_("rate"), justify="right", no_wrap=True)
    t.add_column(_("reason"), min_width=30, ratio=1)

    def cell(d, ind):
        if ind not in d.yoy:
            return "—"
        thr = d.thresholds.get(ind)
        return f"{fmt_pct(d.yoy[ind])} / {fmt_pct(thr)}" if thr is not None else f"{fmt_pct(d.yoy[ind])} / —"

    for d in decisions:
        label = "\n+ ".join(escape(x) for x in (d.rules.version, *d.overlays))
        label += "" if d.rules.verified else "\n" + _("[bold red](unverified)[/]")
        if d.rules.multiplier != 1:
            label += f" ×{format(d.rules.multiplier.normalize(), 'f')}"
        row = [d.month, label, region_label(d.region_code), cell(d, "cpi"), cell(d, "food")]
        if show_scpi:
            row.append(cell(d, "scpi"))
        row += [
            _("[bold]YES[/]") if d.triggered else _("no"),
            _rate_cell(d) if d.triggered else "—",
            escape(decision_reason(d)),
        ]
        t.add_row(*row, style="bold green" if d.triggered else None)
    con = stdout_console()
    con.print(t)
    from cpi_link.rules.calendar import deadline_sentence, next_figures_sentence

    last = decisions[-1]
    con.print(next_figures_sentence(last.month))
    shown = [d for d in decisions if d.triggered][-1:] or [last]
    con.print(escape(deadline_sentence(shown[0].month, shown[0].rules.label, shown[0].rules.payment_timing,
                                       show_overdue=shown[0].triggered)
                     + ("" if shown[0].triggered else _(" (if it had triggered)"))))


# -- scheme list / show ----------------------------------------------------------------------


@handle_errors
def scheme_list(
    ctx: typer.Context,
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    encoding: EncodingOption = None,
):
    """List the scheme files in CONFIG/schemes: name, title, versions, whether an example, whether unverified."""
    from cpi_link.rules.schemes import list_schemes

    st = state(ctx)
    rows = []
    for s in list_schemes(st.config_dir):
        rows.append(
            {
                "name": s.name,
                "title": s.title,
                "versions": len(s.versions),
                "overlays": len(s.overlays),
                "first_month": s.versions[0].start,
                "example": s.example,
                "unverified": s.unverified_ids,
                "path": str(s.path),
            }
        )
    if fmt is Format.json:
        emit_json(rows)
    elif fmt is Format.csv:
        emit_csv(
            [{**r, "unverified": ";".join(r["unverified"]), "example": str(r["example"]).lower()} for r in rows],
            ["name", "title", "versions", "overlays", "first_month", "example", "unverified", "path"],
        )
    else:
        from rich.markup import escape
        from rich.table import Table

        t = Table(title=_("Schemes in {folder}").format(folder=escape(str(st.config_dir / 'schemes'))), title_justify="left")
        for c in (pgettext("scheme", "name"), _("title"), _("versions"), _("overlays"), _("from"), _("kind"), _("unverified")):
            t.add_column(c)
        for r in rows:
            t.add_row(
                r["name"],
                escape(r["title"]),
                str(r["versions"]),
                str(r["overlays"]),
                r["first_month"],
                _("[yellow]example — not for payments[/]") if r["example"] else _("policy"),
                _("[bold red]{n} of {total}[/]").format(n=len(r['unverified']), total=r['versions'] + r['overlays']) if r["unverified"] else _("none"),
            )
        stdout_console().print(t)


def _rules_dict(rules: dict) -> dict:
    from cpi_link.core.decimals import fmt_pct

    out: dict = {}
    for k, v in rules.items():
        if k == "trigger":
            out[k] = {i: fmt_pct(x) for i, x in v.items()}
        elif k == "tiers":
            if v:
                out[k] = [{"from": fmt_pct(a), "fraction": f"{f.numerator}/{f.denominator}"} for a, f in v]
        elif k == "funding":
            if v:
                out[k] = {f: format(x.normalize(), "f") for f, x in v.items()}
        elif k == "amounts":
            if v:
                out[k] = dict(v)
        elif k in ("minimum", "multiplier", "per_point"):
            if v is not None:
                out[k] = format(v.normalize(), "f") if v != 0 else "0"
        elif v is not None:
            out[k] = v
    return out


def _scheme_dict(s) -> dict:
    return {
        "scheme": s.name,
        "name": s.title,
        "path": str(s.path),
        "sha256": s.sha256,
        "example": s.example,
        "note": s.note,
        "versions": [
            {
                "id": v.id,
                "from": v.start,
                "document": v.document,
                "related_documents": list(v.related_documents),
                "verified": v.verified,
                "source": v.source,
                "note": v.note,
                **({"sources": v.sources} if v.sources else {}),
                **_rules_dict(v.rules),
            }
            for v in s.versions
        ],
        "overlays": [
            {
                "id": o.id,
                "from": o.start,
                "until": o.until,
                "document": o.document,
                "related_documents": list(o.related_documents),
                "verified": o.verified,
                "source": o.source,
                "note": o.note,
                **({"sources": o.sources} if o.sources else {}),
                **_rules_dict(o.changes),
                **({"add_categories": o.add_categories} if o.add_categories else {}),
                **({"remove_categories": list(o.remove_categories)} if o.remove_categories else {}),
            }
            for o in s.overlays
        ],
    }


@handle_errors
def scheme_show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=_("Scheme name (a file in CONFIG/schemes) or the path of a scheme TOML file.")),
    fmt: Format = typer.Option(Format.table, "--format", help=_("'table' for people, 'json' for scripts.")),
    encoding: EncodingOption = None,
):
    """Show a scheme's versions (from, documents, thresholds, rate, method, categories) and overlays,
    with a loud warning on every unverified one."""
    from cpi_link.rules.schemes import load_scheme

    st = state(ctx)
    s = load_scheme(name, st.config_dir)
    data = _scheme_dict(s)
    for item in data["versions"] + data["overlays"]:
        if not item["verified"]:
            kind = _("version") if item in data["versions"] else _("overlay")
            warn(_("UNVERIFIED {kind} {id} ({document}): values not checked against the document text").format(
                kind=kind, id=item['id'], document=item['document'] or _("no document cited")))
    if fmt is Format.json:
        emit_json(data)
        return
    if fmt is Format.csv:
        rows = [
            {"kind": "version", "until": "", **_flat(v)} for v in data["versions"]
        ] + [{"kind": "overlay", **_flat(o)} for o in data["overlays"]]
        emit_csv(rows, ["kind", "id", "from", "until", "document", "verified", "index_region", "trigger", "rate", "method", "rounding", "minimum", "multiplier", "amounts", "funding", "categories", "add_categories", "remove_categories"])
        return
    _print_scheme(s, data)


@handle_errors
def scheme_check(
    ctx: typer.Context,
    names: Optional[list[str]] = typer.Argument(None, help=_("Scheme names or paths. Default: every scheme in CONFIG/schemes.")),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
):
    """Run the scheme file's [[example]] worked cases through the trigger and the amount chain, as
    calc would. Exit 0 when every example holds, 2 naming each one that does not."""
    from cpi_link.core.errors import ConfigError
    from cpi_link.rules.examples import check_scheme
    from cpi_link.rules.schemes import list_schemes, load_scheme

    st = state(ctx)
    schemes = [load_scheme(n, st.config_dir) for n in names] if names else list_schemes(st.config_dir)
    rows, failed = [], []
    for s in schemes:
        if not s.examples:
            warn(_("{scheme}: no [[example]] worked cases in {path}").format(scheme=s.name, path=s.path))
        for o in check_scheme(s):
            rows.append({"scheme": s.name, **o.to_json()})
            if not o.ok:
                exp = _("not triggered") if not o.example.triggered else f"{o.example.amount}"
                failed.append(_("{scheme} ({path}) {example}: expected {expected}, the rules give {got}").format(
                    scheme=s.name, path=s.path, example=o.example.label, expected=exp, got=o.got))
    if fmt is Format.json:
        emit_json(rows)
    elif fmt is Format.csv:
        emit_csv(rows, ["scheme", "example", "month", "category", "area", "persons", "expected", "got", "ok", "rules", "note"])
    else:
        from rich.markup import escape
        from rich.table import Table

        t = Table(title=_("worked examples: {holding} of {total} hold").format(holding=len(rows) - len(failed), total=len(rows)),
                  title_justify="left")
        for c in (_("scheme"), "#", _("month"), _("category"), _("expected"), _("got"), "", _("note")):
            t.add_column(c)
        for r in rows:
            t.add_row(r["scheme"], str(r["example"]), r["month"], r["category"] + (f" ({r['area']})" if r["area"] else ""),
                      r["expected"], escape(r["got"]), _("ok") if r["ok"] else _("[bold red]FAILS[/]"), escape(r["note"] or ""))
        stdout_console().print(t)
    if failed:
        raise ConfigError(_("{count} worked example(s) do not hold:").format(count=len(failed)) + "\n  " + "\n  ".join(failed))


def _flat(d: dict) -> dict:
    return {k: ("true" if v is True else "false" if v is False else v) for k, v in d.items()}


def _print_scheme(s, data: dict) -> None:
    from rich.markup import escape

    con = stdout_console()
    head = f"[bold]{escape(s.name)}[/]: {escape(s.title)}\n  " + _("file {path}").format(path=escape(str(s.path))) + f"\n  sha256 {s.sha256}"
    if s.example:
        head += "\n  " + _("[bold yellow]EXAMPLE scheme: illustrates the format; not a checked copy of any notice, not for payments[/]")
    if s.note:
        head += f"\n  {escape(s.note)}"
    con.print(head)

    from cpi_link.rules.trigger import indicator_label

    def fmt_rules(d: dict, indent: str = "    ") -> list[str]:
        lines = []
        if "index_region" in d:
            lines.append(_("index region: {region}").format(region=region_label(d['index_region'])))
        if "trigger" in d:
            lines.append(_("trigger (reaches = >=, any one starts): ") + ", ".join(f"{indicator_label(k)} {v}%" for k, v in d["trigger"].items()))
        for k in ("rate", "method", "per_point", "rounding", "minimum", "multiplier", "payment_timing"):
            if k in d:
                lines.append(f"{_RULE_LABELS[k]()}: {d[k]}")
        if "tiers" in d:
            lines.append(_("tiers: ") + ", ".join(_(">= {pct}% -> {fraction} of the standard").format(pct=t['from'], fraction=t['fraction']) for t in d["tiers"]))
        if d.get("amounts"):
            lines.append(_("amounts (yuan per person per month): ") + ", ".join(
                f"{k} {v}" if isinstance(v, str) else f"{k} " + "/".join(f"{a} {x}" for a, x in v.items())
                for k, v in d["amounts"].items()))
        if d.get("funding"):
            lines.append(_("funding shares: ") + ", ".join(f"{k} {v}" for k, v in d["funding"].items()))
        if "categories" in d:
            lines.append(_("categories: ") + ", ".join(f"{k} ({v})" for k, v in d["categories"].items()))
        if d.get("add_categories"):
            lines.append(_("adds categories: ") + ", ".join(f"{k} ({v})" for k, v in d["add_categories"].items()))
        if d.get("remove_categories"):
            lines.append(_("removes categories: ") + ", ".join(d["remove_categories"]))
        return [indent + escape(x) for x in lines]

    for i, v in enumerate(data["versions"]):
        end = data["versions"][i + 1]["from"] if i + 1 < len(data["versions"]) else None
        span = _("from {month}").format(month=v['from']) + (_(" (until the next version, {month})").format(month=end) if end else _(" (in force onwards)"))
        con.print("\n" + _("[bold]version {id}[/] {span}").format(id=escape(v['id']), span=span))
        if not v["verified"]:
            con.print("  " + _("[bold white on red] UNVERIFIED [/][bold red] values not checked against the document text: check before paying[/]"))
        docs = [v["document"], *v["related_documents"]]
        con.print("    " + _("documents: ") + escape("; ".join(docs)))
        for line in fmt_rules(v):
            con.print(line)
        for k in ("source", "note"):
            if v.get(k):
                con.print(f"    {_RULE_LABELS[k]()}: {escape(v[k])}")
        for k, text in (v.get("sources") or {}).items():
            con.print("    " + _("source of {key}: {text}").format(key=escape(k), text=escape(text)))
    for o in data["overlays"]:
        con.print("\n" + _("[bold]overlay {id}[/] {start}..{until} (on top of the version in force)").format(id=escape(o['id']), start=o['from'], until=o['until']))
        if not o["verified"]:
            con.print("  " + _("[bold white on red] UNVERIFIED [/][bold red] values not checked against the document text: check before paying[/]"))
        con.print("    " + _("documents: ") + escape("; ".join([o["document"] or _("no document cited"), *o["related_documents"]])))
        for line in fmt_rules(o):
            con.print(line)
        for k in ("source", "note"):
            if o.get(k):
                con.print(f"    {_RULE_LABELS[k]()}: {escape(o[k])}")
        for k, text in (o.get("sources") or {}).items():
            con.print("    " + _("source of {key}: {text}").format(key=escape(k), text=escape(text)))


def _latest(scheme, store) -> str:
    from cpi_link.core.errors import MissingFigures
    from cpi_link.jobs.monthly import latest_complete_month

    m = latest_complete_month(scheme, store)
    if m is None:
        raise MissingFigures(_("no month has every figure that scheme {name} needs; give --month, or fetch the figures").format(name=scheme.name))
    return m
