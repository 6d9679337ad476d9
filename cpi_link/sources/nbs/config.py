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


# web: cpi-link serve (cpi_link.web.server); default_scheme: the scheme without --scheme (rules.schemes.file)
_TOP_KEYS = {"nbs", "http", "portal", "legacy", "regions", "web", "default_scheme"}
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
    """Read and check sources.toml; env overrides URLs and HTTP pacing. Bad config: ConfigError, in the
    reader's language, naming the file and key (or the environment variable that set it)."""
    from cpi_link.core.i18n import _

    env = dict(os.environ) if env is None else env
    path = sources_path(config_dir)
    try:
        with open(path, "rb") as fh:
            raw = tomllib.loads(fh.read().decode("utf-8-sig"))  # Notepad saves with a BOM
    except FileNotFoundError:
        raise ConfigError(_("{path}: sources config not found").format(path=path)) from None
    except UnicodeDecodeError:
        raise ConfigError(_("{path}: not UTF-8 text; save it as UTF-8").format(path=path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_("{path}: not valid TOML ({error})").format(path=path, error=exc)) from None
    except RecursionError:  # deeply nested arrays: Python's TOML reader gives up
        raise ConfigError(_("{path}: not valid TOML ({error})").format(path=path, error=_("nested too deeply"))) from None

    from_env: dict[str, str] = {}  # key -> the environment variable its value came from

    def bad(key: str, problem: str) -> ConfigError:
        """The problem (already in the reader's language) at `key` of the file, or at the environment
        variable that set it."""
        if key in from_env:
            return ConfigError(_("environment variable {var} (it stands for {key} in {path}): {problem}").format(
                var=from_env[key], key=key, path=path, problem=problem))
        return ConfigError(_("{path}: {key}: {problem}").format(path=path, key=key, problem=problem))

    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise bad(sorted(unknown)[0], _("unknown key; the keys are {keys}").format(keys=", ".join(sorted(_TOP_KEYS))))
    nbs = raw.get("nbs", {})
    http_raw = dict(raw.get("http", {}))
    portal = raw.get("portal", {})
    legacy = raw.get("legacy", {})

    fields_ = {f: getattr(HttpSettings, f) for f in HttpSettings.__dataclass_fields__}
    for k in http_raw:
        if k not in fields_:
            raise bad(f"http.{k}", _("unknown key"))
    for k, var in ENV_HTTP.items():
        if env.get(var, "").strip():
            http_raw[k] = env[var].strip()
            from_env[f"http.{k}"] = var
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
                    raise bad(f"http.{k}", _("{value!r}: use true or false").format(value=v))
                kwargs[k] = v
                continue
            if isinstance(default, str):
                kwargs[k] = str(v).strip()
                if k in _CHOICES and kwargs[k] not in _CHOICES[k]:
                    raise bad(f"http.{k}", _("{value!r}: use {choices}").format(
                        value=v, choices=_(" or ").join(repr(c) for c in _CHOICES[k])))
            elif isinstance(default, int) and not isinstance(default, bool):
                kwargs[k] = int(v)
            else:
                kwargs[k] = float(v)
        except (TypeError, ValueError):
            raise bad(f"http.{k}", _("{value!r} is not a number").format(value=v)) from None
        if not isinstance(default, str) and kwargs[k] < 0:
            raise bad(f"http.{k}", _("{value!r}: must not be negative").format(value=v))
    http = HttpSettings(**kwargs)
    for k in ("tries", "max_periods_per_request", "max_months_per_range"):
        if getattr(http, k) < 1:
            raise bad(f"http.{k}", _("{value!r}: must be at least 1").format(value=getattr(http, k)))
    for k in ("timeout_seconds", "fetch_deadline_seconds"):
        if getattr(http, k) <= 0:
            raise bad(f"http.{k}", _("{value!r}: must be more than 0").format(value=http_raw[k]))
    if http.max_body_bytes < 1024:
        raise bad("http.max_body_bytes", _("{value!r}: must be at least 1024").format(value=http.max_body_bytes))

    if env.get(ENV_PORTAL_URL):
        from_env["portal.base_url"] = ENV_PORTAL_URL
    portal_url = (env.get(ENV_PORTAL_URL) or portal.get("base_url") or "").strip().rstrip("/")
    if not portal_url.startswith(("http://", "https://")):
        raise bad("portal.base_url", _("{value!r} is not an http(s) URL").format(value=portal_url))
    page_url = (portal.get("page_url") or "").strip()
    if not page_url and "/publicrelease/" in portal_url:
        # the API lives under <site>/dg/website/publicrelease/...; the page is <site>/dg/website/page.html
        page_url = portal_url.split("/publicrelease/")[0] + "/page.html"
    legacy_url = (env.get(ENV_LEGACY_URL) or legacy.get("url") or "").strip() or None
    if env.get(ENV_FALLBACK):
        from_env["nbs.fallback"] = ENV_FALLBACK
    fallback = (env.get(ENV_FALLBACK) or nbs.get("fallback") or "none").strip().lower()
    if fallback not in ("legacy", "none"):
        raise bad("nbs.fallback", _("{value!r}: use {choices}").format(value=fallback, choices=_(" or ").join(("'legacy'", "'none'"))))

    datasets: dict[str, Dataset] = {}
    for scope, d in portal.get("datasets", {}).items():
        try:
            datasets[scope] = Dataset(int(d["code"]), str(d["root_id"]), str(d.get("route", "")))
        except (KeyError, TypeError, ValueError):
            raise bad(f"portal.datasets.{scope}", _("needs code (a whole number) and root_id")) from None

    def month_field(entry: dict, key: str, where: str, required: bool) -> str | None:
        v = entry.get(key)
        if v is None:
            if required:
                raise bad(where, _("missing {key!r} (YYYY-MM)").format(key=key))
            return None
        if not isinstance(v, str) or not _MONTH_RE.match(v):
            raise bad(where, _("{key} = {value!r} is not YYYY-MM").format(key=key, value=v))
        return v

    def common(entry: dict, where: str, allowed: set[str]) -> tuple[str, str, str, str | None]:
        extra = set(entry) - allowed
        if extra:
            raise bad(f"{where}.{sorted(extra)[0]}", _("unknown key"))
        scope = entry.get("scope")
        if scope not in ("national", "province"):
            raise bad(where, _("{key} = {value!r}: use {choices}").format(
                key="scope", value=scope, choices=_(" or ").join(("'national'", "'province'"))))
        ind = entry.get("indicator")
        if ind not in ("cpi", "food", "scpi"):
            raise bad(where, _("{key} = {value!r}: use {choices}").format(
                key="indicator", value=ind, choices=_(" or ").join(("cpi", "food", "scpi"))))
        start = month_field(entry, "from", where, True)
        end = month_field(entry, "until", where, False)
        if end and end < start:
            raise bad(where, _("until {end} is before from {start}").format(end=end, start=start))
        return scope, ind, start, end

    portal_series: list[PortalSeries] = []
    for i, e in enumerate(portal.get("series", []), start=1):
        where = _("portal.series #{n}").format(n=i)
        scope, ind, start, end = common(e, where, _PORTAL_SERIES_KEYS)
        if scope not in datasets:
            raise bad(where, _("no [portal.datasets.{scope}] for scope {scope!r}").format(scope=scope))
        has_ids = bool(e.get("cid")) and bool(e.get("indicator_id"))
        has_resolve = all(e.get(k) for k in ("resolve_group", "resolve_leaf", "resolve_indicator"))
        if not (has_ids or has_resolve):
            raise bad(where, _("give cid + indicator_id, or resolve_group + resolve_leaf + resolve_indicator"))
        portal_series.append(
            PortalSeries(
                scope, ind, start, end, e.get("cid"), e.get("indicator_id"), e.get("resolve_group"),
                e.get("resolve_leaf"), e.get("resolve_indicator"), e.get("name", ""),
            )
        )
    legacy_series: list[LegacySeries] = []
    for i, e in enumerate(legacy.get("series", []), start=1):
        where = _("legacy.series #{n}").format(n=i)
        scope, ind, start, end = common(e, where, _LEGACY_SERIES_KEYS)
        if not e.get("dbcode") or not e.get("code"):
            raise bad(where, _("needs dbcode and code"))
        legacy_series.append(LegacySeries(scope, ind, start, end, str(e["dbcode"]), str(e["code"])))

    regions = {str(k): str(v) for k, v in raw.get("regions", {}).items()}
    regions.setdefault(NATIONAL, "全国")
    default_regions = [str(r) for r in nbs.get("default_regions", [NATIONAL])]
    indicators = [str(i) for i in nbs.get("indicators", ["cpi", "food"])]
    return Sources(
        path, portal_url, page_url, legacy_url, fallback, default_regions, indicators, http, datasets,
        portal_series, legacy_series, regions,
    )
