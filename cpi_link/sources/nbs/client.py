"""The NBS client: monthly CPI and food-price indices from the NBS data portal, legacy as fallback.

Which catalogue leaf and indicator to ask for depends on the month (NBS re-bases the CPI every five
years and publishes each base period as its own slice); all of that is data in
config/sources.toml, never literals here. `fetch()` asks the portal (POST stream/esData) for every
region x indicator x slice, stitches the slices by month and returns observations; if the portal
fails after its retries it tries the legacy easyquery.htm interface only where configured (off by
default). The firewall's challenge page and refused answers (over the size cap, conflicting or
impossible values) stop the fetch at once, fallback or not. It never touches the series store: the
caller upserts only after this returns, so a failure stores nothing.

Every raw response is kept under HOME/raw (0600, dir 0700) with its sha256 in the file name and a
sidecar describing the request.
"""

from __future__ import annotations

from pathlib import Path

from cpi_link.core.errors import SourceUnavailable
from cpi_link.core.i18n import N_, Message, _, message
from cpi_link.core.months import add_months, month_range
from cpi_link.core.paths import Home
from cpi_link.sources.nbs.config import Sources, load_sources, refuse_plain_http
from cpi_link.sources.nbs.legacy import Legacy
from cpi_link.sources.nbs.portal import Portal, current_month, refuse_conflicts
from cpi_link.sources.nbs.transport import Blocked, FetchOutcome, Refused, SourceFailure, Transport

# ------------------------------------------------------------------------------------------------
# Entry points


def _window(since: str | None, until: str | None) -> list[str]:
    end = until or current_month()
    start = since or add_months(end, -12)
    return month_range(start, end)


def _describe(f: SourceFailure) -> Message:
    """A failure in English (str) and in the reader's language (.shown), its reason as the transport gave it."""
    tries = message(N_("after {n} try") if f.tries == 1 else N_("after {n} tries"), n=f.tries)
    said = N_("unreachable at {url} {tries}: {reason}") if f.unreachable else N_("failed at {url} {tries}: {reason}")
    return message(said, url=f.url, tries=tries, reason=f.reason)


def fetch(config_dir: Path, home: Home, regions: list[str] | None, since: str | None, until: str | None) -> FetchOutcome:
    """Fetch index figures from NBS (portal first, legacy as configured fallback). Stores nothing."""
    sources = load_sources(config_dir)
    refuse_plain_http(sources)
    regions = list(dict.fromkeys(regions or sources.default_regions))
    for r in regions:
        sources.scope_of(r)  # bad region: UsageError before any request
    months = _window(since, until)
    transport = Transport(sources.http, home.raw_dir, page_url=sources.page_url)
    try:
        outcome = FetchOutcome(endpoint=sources.portal_url, source="nbs", sources_file=str(sources.path))
        try:
            Portal(sources, transport).fetch(regions, months, outcome)
            outcome.observations = refuse_conflicts(outcome.observations, sources.portal_url)
            outcome.requests = transport.requests
            outcome.raw_files = list(transport.raw_files)
            return outcome
        except (Blocked, Refused) as stop:
            raise SourceUnavailable(_("NBS portal {failure}. Nothing was stored.").format(failure=_describe(stop).shown)) from None
        except SourceFailure as pf:
            # English in the fetch report's portal_failed (for scripts), the reader's language in errors; made without
            # switching the process's language, which the page's request threads read while a fetch runs in a task
            portal = message(N_("NBS portal {failure}"), failure=_describe(pf))
            portal_msg, portal_en = portal.shown, str(portal)
        if sources.fallback != "legacy" or not sources.legacy_url:
            raise SourceUnavailable(_("{portal}; no legacy fallback configured. Nothing was stored.").format(portal=portal_msg))
        legacy_outcome = FetchOutcome(
            endpoint=sources.legacy_url, source="nbs-legacy", sources_file=str(sources.path), fallback_reason=portal_en
        )
        try:
            Legacy(sources, transport).fetch(regions, months, legacy_outcome)
            legacy_outcome.observations = refuse_conflicts(legacy_outcome.observations, sources.legacy_url)
        except SourceFailure as lf:
            raise SourceUnavailable(_("{portal}; legacy fallback {failure}. Nothing was stored.").format(
                portal=portal_msg, failure=_describe(lf).shown)) from None
        legacy_outcome.requests = transport.requests
        legacy_outcome.raw_files = list(transport.raw_files)
        return legacy_outcome
    finally:
        transport.close()


def discover(
    config_dir: Path | None, home: Home | None, dataset: int = 1, pid: str = "", cid: str | None = None
) -> list[dict]:
    """Catalogue children of `pid` (root when empty) in a dataset, or the indicators of leaf `cid`."""
    sources = load_sources(config_dir)
    refuse_plain_http(sources)
    transport = Transport(sources.http, home.raw_dir if home else None, page_url=sources.page_url)
    portal = Portal(sources, transport)
    try:
        if cid:
            return [
                {
                    "name": (i.get("i_showname") or i.get("_name") or "").strip(),
                    "_id": i.get("_id"),
                    "unit": i.get("du_name"),
                    "from": i.get("daterange_sdate"),
                    "until": i.get("daterange_edate"),
                }
                for i in portal.indicators(cid)
            ]
        return [
            {
                "name": (n.get("name") or n.get("_name") or "").strip(),
                "_id": n.get("_id"),
                "isLeaf": bool(n.get("isLeaf")),
                "sdate": n.get("sdate"),
                "edate": n.get("edate"),
            }
            for n in portal.tree(dataset, pid)
        ]
    except SourceFailure as f:
        raise SourceUnavailable(_("NBS portal {failure}").format(failure=_describe(f).shown)) from None
    finally:
        transport.close()


def series_table(config_dir: Path | None) -> tuple[Sources, list[dict]]:
    """The configured series, one row per (source, scope, indicator, date range)."""
    s = load_sources(config_dir)
    rows = []
    for e in s.portal_series:
        ds = s.datasets[e.scope]
        rows.append(
            {
                "source": "portal", "scope": e.scope, "indicator": e.indicator, "from": e.start, "until": e.end or "",
                "dataset": str(ds.code), "cid_or_code": e.cid or f"(looked up under {e.resolve_group})",
                "indicator_id": e.indicator_id or f"(by name: {e.resolve_indicator})", "name": e.name,
            }
        )
    for e in s.legacy_series:
        rows.append(
            {
                "source": "legacy", "scope": e.scope, "indicator": e.indicator, "from": e.start, "until": e.end or "",
                "dataset": e.dbcode, "cid_or_code": e.code, "indicator_id": e.code, "name": "",
            }
        )
    return s, rows
