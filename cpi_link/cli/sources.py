"""`cpi-link sources`: the configured NBS series, and the portal's catalogue for finding new ones."""

from __future__ import annotations

from typing import Optional

import typer

from cpi_link.cli.common import EncodingOption, FORMAT_HELP, Format, emit_csv, emit_json, handle_errors, heading, state, stdout_console
from cpi_link.cli.lang import LangTyper
from cpi_link.core.i18n import _

sources_app = LangTyper(
    help=_("NBS data sources: show the configured series (config/sources.toml) or browse the portal's catalogue."),
    no_args_is_help=True,
)

SHOW_COLUMNS = ["source", "scope", "indicator", "from", "until", "dataset", "cid_or_code", "indicator_id", "name"]
TREE_COLUMNS = ["name", "_id", "isLeaf", "sdate", "edate"]
INDICATOR_COLUMNS = ["name", "_id", "unit", "from", "until"]


def register(app: typer.Typer) -> None:
    app.add_typer(sources_app, name="sources")


def _table(title: str, rows: list[dict], columns: list[str]) -> None:
    from rich.table import Table

    t = Table(title=title)
    for c in columns:
        t.add_column(heading(c))
        t.columns[-1].whole = c == "_id"  # copied into --pid, --cid or sources.toml: never split (keep_numbers_whole)
    for r in rows:
        t.add_row(*["" if r.get(c) is None else (_("yes") if r[c] else _("no")) if isinstance(r[c], bool) else str(r[c]) for c in columns])
    stdout_console().print(t)


@sources_app.command("show")
@handle_errors
def show(
    ctx: typer.Context,
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    encoding: EncodingOption = None,
):
    """Print the configured NBS series by date range.

    Shows which catalogue leaf and indicator (portal) or code (legacy) each month is fetched from,
    and the effective URLs (environment overrides applied).
    """
    from cpi_link.sources.nbs import series_table

    import os
    import re

    def no_password(url: str | None) -> str | None:
        return re.sub(r"//[^@/]*@", "//***@", url) if url else None  # a proxy URL may carry user:password

    sources, rows = series_table(state(ctx).config_dir)
    h = sources.http
    network = {
        "transport": h.transport,
        "trust_store": h.trust_store,
        "deadline_seconds": h.timeout_seconds,
        "tries": h.tries,
        "max_body_bytes": h.max_body_bytes,
        "raw_max_bytes": h.raw_max_bytes,
        "warm_up": h.warm_up,
        "on_challenge": h.on_challenge,
        "range_tokens": h.range_tokens,
        # what requests takes from the environment (shown so an officer can see the proxy in force)
        "https_proxy": no_password(os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")),
        "no_proxy": os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or None,
        "requests_ca_bundle": os.environ.get("REQUESTS_CA_BUNDLE") or None,
    }
    if fmt is Format.json:
        emit_json(
            {
                "sources_file": str(sources.path),
                "portal_url": sources.portal_url,
                "legacy_url": sources.legacy_url,
                "fallback": sources.fallback,
                "default_regions": sources.default_regions,
                "indicators": sources.indicators,
                "page_url": sources.page_url,
                "network": network,
                "series": rows,
            }
        )
    elif fmt is Format.csv:
        emit_csv(rows, SHOW_COLUMNS)
    else:
        _table(_("NBS series ({path})").format(path=sources.path), rows, SHOW_COLUMNS)
        stdout_console().print(
            _("portal: {url}").format(url=sources.portal_url) + "\n" + _("legacy fallback: ")
            + (sources.legacy_url if sources.fallback == "legacy" and sources.legacy_url else _("none"))
            + "\n" + _("default regions: {regions}").format(regions=', '.join(sources.default_regions))
            + "\n" + _("network: {settings}").format(settings=', '.join(f'{k}={str(v).lower() if isinstance(v, bool) else v}' for k, v in network.items() if v is not None))
        )


@sources_app.command("discover")
@handle_errors
def discover(
    ctx: typer.Context,
    dataset: int = typer.Option(
        1, "--dataset", help=_("Portal dataset code: 1 = 月度数据 (national monthly), 4 = 分省月度数据 (provincial monthly).")
    ),
    pid: str = typer.Option(
        "", "--pid", help=_("Catalogue node _id whose children to list; empty lists the dataset's root node.")
    ),
    cid: Optional[str] = typer.Option(
        None, "--cid", help=_("A leaf's _id (isLeaf true): list its indicators (the indicator_id for sources.toml) instead.")
    ),
    fmt: Format = typer.Option(Format.table, "--format", help=FORMAT_HELP),
    encoding: EncodingOption = None,
):
    """List the NBS portal's catalogue one level at a time (name, _id, isLeaf, sdate/edate).

    For finding the cid and indicator_id of a series (e.g. a province's food index) to put in
    config/sources.toml. Start with no --pid, then pass a child's _id as --pid; on a leaf
    (isLeaf true), pass its _id as --cid to list its indicators.
    """
    from cpi_link.sources.nbs import discover as nbs_discover

    if dataset < 1:
        from cpi_link.core.errors import UsageError

        raise UsageError(_("--dataset must be a positive dataset code (1 national monthly, 4 provincial monthly)"))
    st = state(ctx)
    rows = nbs_discover(st.config_dir, st.home.ensure(), dataset=dataset, pid=pid, cid=cid)
    columns = INDICATOR_COLUMNS if cid else TREE_COLUMNS
    if fmt is Format.json:
        emit_json(rows)
    elif fmt is Format.csv:
        emit_csv(rows, columns)
    else:
        title = _("Indicators of leaf {cid}").format(cid=cid) if cid else _("Catalogue dataset {dataset}, children of {pid}").format(dataset=dataset, pid=pid or _("(root)"))
        _table(f"{title} ({len(rows)})", rows, columns)
