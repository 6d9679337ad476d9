"""`cpi-link scheme list|show|check`: the scheme files as people and scripts read them (the format
itself lives in rules.schemes)."""

from __future__ import annotations

from typing import Optional

import typer

from cpi_link.cli.common import EncodingOption, FORMAT_HELP, Format, emit_csv, emit_json, handle_errors, state, stdout_console, warn
from cpi_link.cli.lang import LangTyper
from cpi_link.core.i18n import _, pgettext
from cpi_link.core.regions import region_label

scheme_app = LangTyper(
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
    scheme_app.command("list")(scheme_list)
    scheme_app.command("show")(scheme_show)
    scheme_app.command("check")(scheme_check)
    app.add_typer(scheme_app, name="scheme")


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
    encoding: EncodingOption = None,
):
    """Run the scheme file's [[example]] worked cases through the trigger and the amount chain, as
    calc would. Exit 0 when every example holds, 2 naming each one that does not."""
    from cpi_link.core.errors import ConfigError
    from cpi_link.rules.examples import check_scheme, got_text
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
                    scheme=s.name, path=s.path, example=o.example.label, expected=exp, got=got_text(o.got)))
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
                      got_text(r["expected"]), escape(got_text(r["got"])), _("ok") if r["ok"] else _("[bold red]FAILS[/]"), escape(r["note"] or ""))
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

    from cpi_link.rules.calendar import timing_words
    from cpi_link.rules.trigger import indicator_label

    def fmt_rules(d: dict, indent: str = "    ") -> list[str]:
        lines = []
        if "index_region" in d:
            lines.append(_("index region: {region}").format(region=region_label(d['index_region'])))
        if "trigger" in d:
            lines.append(_("trigger (reaches = >=, any one starts): ") + ", ".join(f"{indicator_label(k)} {v}%" for k, v in d["trigger"].items()))
        for k in ("rate", "method", "per_point", "rounding", "minimum", "multiplier", "payment_timing"):
            if k in d:
                lines.append(f"{_RULE_LABELS[k]()}: {timing_words(d[k]) if k == 'payment_timing' else d[k]}")
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
