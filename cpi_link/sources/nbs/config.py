"""Where and how to ask NBS: config/sources.toml (portal series by date range, legacy codes,
HTTP settings), with environment overrides."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from cpi_link.core.errors import ConfigError, UsageError
from cpi_link.core.paths import bundled_config_dir

ENV_PORTAL_URL = "CPI_LINK_NBS_URL"
ENV_LEGACY_URL = "CPI_LINK_NBS_LEGACY_URL"
ENV_FALLBACK = "CPI_LINK_NBS_FALLBACK"
ENV_HTTP = {
    "timeout_seconds": "CPI_LINK_NBS_TIMEOUT",
    "fetch_deadline_seconds": "CPI_LINK_NBS_FETCH_DEADLINE",
    "tries": "CPI_LINK_NBS_TRIES",
    "backoff_seconds": "CPI_LINK_NBS_BACKOFF",
    "min_gap_seconds": "CPI_LINK_NBS_MIN_GAP",
    "max_body_bytes": "CPI_LINK_NBS_MAX_BODY",
    "warm_up": "CPI_LINK_NBS_WARM_UP",
    "on_challenge": "CPI_LINK_NBS_ON_CHALLENGE",
    "challenge_wait_seconds": "CPI_LINK_NBS_CHALLENGE_WAIT",
    "transport": "CPI_LINK_NBS_TRANSPORT",
    "allow_http": "CPI_LINK_NBS_ALLOW_HTTP",
}
# Keys whose value is one of a few words.
_CHOICES = {
    "on_challenge": ("stop", "wait"),
    "transport": ("requests", "impersonate"),
    "trust_store": ("default", "system"),
}

NATIONAL = "000000"
EMPTY_VALUES = ("", "无", "-", "--")
# An index 上年同月=100 outside this band is not a CPI figure: the wrong indicator answered.
PLAUSIBLE_MIN, PLAUSIBLE_MAX = Decimal(50), Decimal(200)



# ------------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class HttpSettings:
    timeout_seconds: float = 20.0  # deadline on one whole request: connect, headers and body
    fetch_deadline_seconds: float = 300.0  # deadline on a whole fetch (all its requests and waits)
    tries: int = 3
    backoff_seconds: float = 2.0
    backoff_max_seconds: float = 60.0
    backoff_jitter: float = 0.25  # each wait is stretched by a random 0..25 %
    retry_after_max_seconds: float = 120.0  # a longer Retry-After stops the fetch with "try again after"
    min_gap_seconds: float = 1.0
    max_periods_per_request: int = 36
    range_tokens: bool = True  # ask consecutive months as one "202401MM-202412MM" token
    max_months_per_range: int = 240
    max_body_bytes: int = 4 * 1024 * 1024  # cap on the decoded body
    raw_max_bytes: int = 64 * 1024 * 1024  # cap on HOME/raw; oldest archives rotated out
    warm_up: bool = True  # one GET of the portal page per session before the first data request
    on_challenge: str = "stop"  # the firewall's challenge page: 'stop' at once, or 'wait' and retry
    challenge_wait_seconds: float = 1800.0
    transport: str = "requests"  # or 'impersonate' (curl-cffi, a browser's TLS fingerprint)
    impersonate: str = "chrome"
    trust_store: str = "default"  # or 'system' (the truststore package)
    user_agent: str = "cpi-link"
    accept_language: str = "zh-CN,zh;q=0.9,en;q=0.8"
    referer: str = ""
    origin: str = ""
    allow_http: bool = False  # a plain-http (not https) portal or legacy address: only when set (a local mirror, tests)


@dataclass(frozen=True)
class PortalSeries:
    scope: str  # 'national' | 'province'
    indicator: str
    start: str  # YYYY-MM
    end: str | None
    cid: str | None = None
    indicator_id: str | None = None
    resolve_group: str | None = None
    resolve_leaf: str | None = None
    resolve_indicator: str | None = None
    name: str = ""

    @property
    def resolved_at_runtime(self) -> bool:
        return not self.cid


@dataclass(frozen=True)
class LegacySeries:
    scope: str
    indicator: str
    start: str
    end: str | None
    dbcode: str
    code: str


@dataclass(frozen=True)
class Dataset:
    code: int
    root_id: str
    route: str = ""  # the portal page's route for this dataset (e.g. monthData), sent in the Referer


@dataclass
class Sources:
    path: Path
    portal_url: str
    page_url: str  # the portal page a browser opens (warm-up GET, Referer)
    legacy_url: str | None
    fallback: str  # 'legacy' | 'none'
    default_regions: list[str]
    indicators: list[str]
    http: HttpSettings
    datasets: dict[str, Dataset]
    portal_series: list[PortalSeries]
    legacy_series: list[LegacySeries]
    regions: dict[str, str]

    def region_name(self, code: str) -> str:
        return self.regions.get(code, code)

    def scope_of(self, region: str) -> str:
        from cpi_link.core.i18n import _

        if region == NATIONAL:
            return "national"
        if not (len(region) == 6 and region.isdigit()):
            raise UsageError(_("--region {value!r} is not a 6-digit region code").format(value=region))
        if not region.endswith("0000") or region not in self.regions:
            raise UsageError(_("--region {region}: NBS publishes monthly CPI for the country (000000) and the provinces "
                               "(XX0000) only; {region} is not a province listed in {path}").format(region=region, path=self.path))
        return "province"


def refuse_plain_http(sources: "Sources") -> None:
    """An address the fetch would use that is plain http (its answers could be changed on the way)
    needs [http] allow_http = true (or CPI_LINK_NBS_ALLOW_HTTP=1): ConfigError naming it, before any request."""
    from urllib.parse import urlsplit

    from cpi_link.core.i18n import _

    if sources.http.allow_http:
        return
    urls = [sources.portal_url, sources.page_url] + ([sources.legacy_url] if sources.fallback == "legacy" else [])
    for url in urls:
        if url and urlsplit(url).scheme.lower() == "http":
            raise ConfigError(_("{url} is a plain-http (not https) NBS address: its answers could be changed on the way; "
                                "to use it anyway set allow_http = true under [http] in {path} (or "
                                "CPI_LINK_NBS_ALLOW_HTTP=1)").format(url=url, path=sources.path))


_TOP_KEYS = {"nbs", "http", "portal", "legacy", "regions", "web"}  # web: cpi-link serve (cpi_link.web.server)
_PORTAL_SERIES_KEYS = {
    "scope", "indicator", "from", "until", "cid", "indicator_id", "resolve_group", "resolve_leaf",
    "resolve_indicator", "name",
}
_LEGACY_SERIES_KEYS = {"scope", "indicator", "from", "until", "dbcode", "code"}
_MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def sources_path(config_dir: Path | None) -> Path:
    """config_dir/sources.toml, else the bundled one (a --config folder may hold only schemes)."""
    if config_dir is not None:
        p = Path(config_dir) / "sources.toml"
        if p.exists():
            return p
    return bundled_config_dir() / "sources.toml"


def load_sources(config_dir: Path | None, env: dict[str, str] | None = None) -> Sources:
    """Read and check sources.toml; env overrides URLs and HTTP pacing. Bad config: ConfigError."""
    env = dict(os.environ) if env is None else env
    path = sources_path(config_dir)
    try:
        with open(path, "rb") as fh:
            raw = tomllib.loads(fh.read().decode("utf-8-sig"))  # Notepad saves with a BOM
    except FileNotFoundError:
        raise ConfigError(f"{path}: sources config not found") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except RecursionError:  # deeply nested arrays: Python's TOML reader gives up
        raise ConfigError(f"{path}: not valid TOML (nested too deeply)") from None

    def bad(where: str, msg: str) -> ConfigError:
        return ConfigError(f"{path}: {where}: {msg}")

    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise bad(sorted(unknown)[0], "unknown key")
    nbs = raw.get("nbs", {})
    http_raw = dict(raw.get("http", {}))
    portal = raw.get("portal", {})
    legacy = raw.get("legacy", {})

    fields_ = {f: getattr(HttpSettings, f) for f in HttpSettings.__dataclass_fields__}
    for k in http_raw:
        if k not in fields_:
            raise bad(f"http.{k}", "unknown key")
    for k, var in ENV_HTTP.items():
        if env.get(var, "").strip():
            http_raw[k] = env[var].strip()
    kwargs: dict[str, Any] = {}
    for k, default in fields_.items():
        if k not in http_raw:
            continue
        v = http_raw[k]
        try:
            if isinstance(default, bool):
                if isinstance(v, str) and v.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                    v = v.strip().lower() in ("1", "true", "yes", "on")
                if not isinstance(v, bool):
                    raise bad(f"http.{k}", f"{v!r}: use true or false")
                kwargs[k] = v
                continue
            if isinstance(default, str):
                kwargs[k] = str(v).strip()
                if k in _CHOICES and kwargs[k] not in _CHOICES[k]:
                    raise bad(f"http.{k}", f"{v!r}: use {' or '.join(repr(c) for c in _CHOICES[k])}")
            elif isinstance(default, int) and not isinstance(default, bool):
                kwargs[k] = int(v)
            else:
                kwargs[k] = float(v)
        except (TypeError, ValueError):
            raise bad(f"http.{k}", f"{v!r} is not a number") from None
        if not isinstance(default, str) and kwargs[k] < 0:
            raise bad(f"http.{k}", "must not be negative")
    http = HttpSettings(**kwargs)
    if http.tries < 1 or http.max_periods_per_request < 1 or http.max_months_per_range < 1:
        raise bad("http.tries", "tries, max_periods_per_request and max_months_per_range must be at least 1")
    if http.timeout_seconds <= 0 or http.fetch_deadline_seconds <= 0 or http.max_body_bytes < 1024:
        raise bad("http.timeout_seconds", "timeout_seconds and fetch_deadline_seconds must be positive, max_body_bytes at least 1024")

    portal_url = (env.get(ENV_PORTAL_URL) or portal.get("base_url") or "").strip().rstrip("/")
    if not portal_url.startswith(("http://", "https://")):
        raise bad("portal.base_url", f"{portal_url!r} is not an http(s) URL")
    page_url = (portal.get("page_url") or "").strip()
    if not page_url and "/publicrelease/" in portal_url:
        # the API lives under <site>/dg/website/publicrelease/...; the page is <site>/dg/website/page.html
        page_url = portal_url.split("/publicrelease/")[0] + "/page.html"
    legacy_url = (env.get(ENV_LEGACY_URL) or legacy.get("url") or "").strip() or None
    fallback = (env.get(ENV_FALLBACK) or nbs.get("fallback") or "none").strip().lower()
    if fallback not in ("legacy", "none"):
        raise bad("nbs.fallback", f"{fallback!r}: use 'legacy' or 'none'")

    datasets: dict[str, Dataset] = {}
    for scope, d in portal.get("datasets", {}).items():
        try:
            datasets[scope] = Dataset(int(d["code"]), str(d["root_id"]), str(d.get("route", "")))
        except (KeyError, TypeError, ValueError):
            raise bad(f"portal.datasets.{scope}", "needs code (int) and root_id") from None

    def month_field(entry: dict, key: str, where: str, required: bool) -> str | None:
        v = entry.get(key)
        if v is None:
            if required:
                raise bad(where, f"missing '{key}' (YYYY-MM)")
            return None
        if not isinstance(v, str) or not _MONTH_RE.match(v):
            raise bad(where, f"{key} = {v!r} is not YYYY-MM")
        return v

    def common(entry: dict, where: str, allowed: set[str]) -> tuple[str, str, str, str | None]:
        extra = set(entry) - allowed
        if extra:
            raise bad(f"{where}.{sorted(extra)[0]}", "unknown key")
        scope = entry.get("scope")
        if scope not in ("national", "province"):
            raise bad(where, f"scope = {scope!r}: use 'national' or 'province'")
        ind = entry.get("indicator")
        if ind not in ("cpi", "food", "scpi"):
            raise bad(where, f"indicator = {ind!r}: use cpi, food or scpi")
        start = month_field(entry, "from", where, True)
        end = month_field(entry, "until", where, False)
        if end and end < start:
            raise bad(where, f"until {end} is before from {start}")
        return scope, ind, start, end

    portal_series: list[PortalSeries] = []
    for i, e in enumerate(portal.get("series", []), start=1):
        where = f"portal.series #{i}"
        scope, ind, start, end = common(e, where, _PORTAL_SERIES_KEYS)
        if scope not in datasets:
            raise bad(where, f"no [portal.datasets.{scope}] for scope {scope!r}")
        has_ids = bool(e.get("cid")) and bool(e.get("indicator_id"))
        has_resolve = all(e.get(k) for k in ("resolve_group", "resolve_leaf", "resolve_indicator"))
        if not (has_ids or has_resolve):
            raise bad(where, "give cid + indicator_id, or resolve_group + resolve_leaf + resolve_indicator")
        portal_series.append(
            PortalSeries(
                scope, ind, start, end, e.get("cid"), e.get("indicator_id"), e.get("resolve_group"),
                e.get("resolve_leaf"), e.get("resolve_indicator"), e.get("name", ""),
            )
        )
    legacy_series: list[LegacySeries] = []
    for i, e in enumerate(legacy.get("series", []), start=1):
        where = f"legacy.series #{i}"
        scope, ind, start, end = common(e, where, _LEGACY_SERIES_KEYS)
        if not e.get("dbcode") or not e.get("code"):
            raise bad(where, "needs dbcode and code")
        legacy_series.append(LegacySeries(scope, ind, start, end, str(e["dbcode"]), str(e["code"])))

    regions = {str(k): str(v) for k, v in raw.get("regions", {}).items()}
    regions.setdefault(NATIONAL, "全国")
    default_regions = [str(r) for r in nbs.get("default_regions", [NATIONAL])]
    indicators = [str(i) for i in nbs.get("indicators", ["cpi", "food"])]
    return Sources(
        path, portal_url, page_url, legacy_url, fallback, default_regions, indicators, http, datasets,
        portal_series, legacy_series, regions,
    )
