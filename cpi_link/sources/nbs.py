"""The NBS client: monthly CPI and food-price indices from the NBS data portal, legacy as fallback.

Which catalogue leaf and indicator to ask for depends on the month (NBS re-bases the CPI every five
years and publishes each base period as its own slice); all of that is data in
config/sources.toml, never literals here. `fetch()` asks the portal (POST stream/esData) for every
region x indicator x slice, stitches the slices by month and returns observations; if the portal
fails after its retries it tries the legacy easyquery.htm interface. It never touches the series
store: the caller upserts only after this returns, so a failure stores nothing.

Every raw response is kept under HOME/raw (0600, dir 0700) with its sha256 in the file name and a
sidecar describing the request.
"""

from __future__ import annotations

import json
import os
import re
import time
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from cpi_link.core.atomic import sha256_bytes, write_bytes
from cpi_link.core.decimals import parse_decimal
from cpi_link.core.errors import ConfigError, SourceUnavailable, UsageError
from cpi_link.core.months import add_months, month_range
from cpi_link.core.paths import Home, bundled_config_dir, private_dir
from cpi_link.sources.observation import Observation, now_utc

ENV_PORTAL_URL = "CPI_LINK_NBS_URL"
ENV_LEGACY_URL = "CPI_LINK_NBS_LEGACY_URL"
ENV_FALLBACK = "CPI_LINK_NBS_FALLBACK"
ENV_HTTP = {
    "timeout_seconds": "CPI_LINK_NBS_TIMEOUT",
    "tries": "CPI_LINK_NBS_TRIES",
    "backoff_seconds": "CPI_LINK_NBS_BACKOFF",
    "min_gap_seconds": "CPI_LINK_NBS_MIN_GAP",
}

NATIONAL = "000000"
EMPTY_VALUES = ("", "无", "-", "--")
# An index 上年同月=100 outside this band is not a CPI figure: the wrong indicator answered.
PLAUSIBLE_MIN, PLAUSIBLE_MAX = Decimal(50), Decimal(200)


# ------------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class HttpSettings:
    timeout_seconds: float = 20.0
    tries: int = 3
    backoff_seconds: float = 2.0
    backoff_max_seconds: float = 60.0
    min_gap_seconds: float = 1.0
    max_periods_per_request: int = 36
    user_agent: str = "cpi-link"
    referer: str = ""
    origin: str = ""


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


@dataclass
class Sources:
    path: Path
    portal_url: str
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
        if region == NATIONAL:
            return "national"
        if not (len(region) == 6 and region.isdigit()):
            raise UsageError(f"--region {region!r} is not a 6-digit region code")
        if not region.endswith("0000") or region not in self.regions:
            raise UsageError(
                f"--region {region}: NBS publishes monthly CPI for the country (000000) and the provinces "
                f"(XX0000) only; {region} is not a province listed in {self.path}"
            )
        return "province"


_TOP_KEYS = {"nbs", "http", "portal", "legacy", "regions"}
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
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: sources config not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None

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
            if isinstance(default, str):
                kwargs[k] = str(v)
            elif isinstance(default, int) and not isinstance(default, bool):
                kwargs[k] = int(v)
            else:
                kwargs[k] = float(v)
        except (TypeError, ValueError):
            raise bad(f"http.{k}", f"{v!r} is not a number") from None
        if not isinstance(default, str) and kwargs[k] < 0:
            raise bad(f"http.{k}", "must not be negative")
    http = HttpSettings(**kwargs)
    if http.tries < 1 or http.max_periods_per_request < 1:
        raise bad("http.tries", "tries and max_periods_per_request must be at least 1")

    portal_url = (env.get(ENV_PORTAL_URL) or portal.get("base_url") or "").strip().rstrip("/")
    if not portal_url.startswith(("http://", "https://")):
        raise bad("portal.base_url", f"{portal_url!r} is not an http(s) URL")
    legacy_url = (env.get(ENV_LEGACY_URL) or legacy.get("url") or "").strip() or None
    fallback = (env.get(ENV_FALLBACK) or nbs.get("fallback") or "none").strip().lower()
    if fallback not in ("legacy", "none"):
        raise bad("nbs.fallback", f"{fallback!r}: use 'legacy' or 'none'")

    datasets: dict[str, Dataset] = {}
    for scope, d in portal.get("datasets", {}).items():
        try:
            datasets[scope] = Dataset(int(d["code"]), str(d["root_id"]))
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
        path, portal_url, legacy_url, fallback, default_regions, indicators, http, datasets,
        portal_series, legacy_series, regions,
    )


# ------------------------------------------------------------------------------------------------
# Transport: one session, polite pace, bounded retries with exponential backoff


class SourceFailure(Exception):
    """One request failed for good (after its retries, or at once when retrying cannot help)."""

    def __init__(self, reason: str, url: str, tries: int, unreachable: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.url = url
        self.tries = tries
        self.unreachable = unreachable


class _Retry(Exception):
    def __init__(self, reason: str, unreachable: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.unreachable = unreachable


@dataclass
class RawResponse:
    url: str
    sha256: str
    path: Path | None
    payload: Any


class Transport:
    """HTTP with a cookie-keeping session (the WAF's 307 challenge sets a cookie), pace and retries."""

    def __init__(self, http: HttpSettings, raw_dir: Path | None, sleep=time.sleep, clock=time.monotonic):
        import requests

        self.http = http
        self.raw_dir = raw_dir
        self.requests = 0
        self.raw_files: list[str] = []
        self._sleep = sleep
        self._clock = clock
        self._last: float | None = None
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": http.user_agent, "Accept": "application/json, text/plain, */*"})
        if http.referer:
            self.session.headers["Referer"] = http.referer
        if http.origin:
            self.session.headers["Origin"] = http.origin

    def close(self) -> None:
        self.session.close()

    def _pace(self) -> None:
        if self._last is not None and self.http.min_gap_seconds > 0:
            wait = self.http.min_gap_seconds - (self._clock() - self._last)
            if wait > 0:
                self._sleep(wait)

    def request_json(
        self, method: str, url: str, *, params: dict | None = None, body: dict | None = None,
        strict_content_type: bool = True, check=None, label: str = "",
    ) -> RawResponse:
        """Send until a JSON answer passes `check` (which raises _Retry or SourceFailure), or give up."""
        import requests

        last: _Retry | None = None
        for attempt in range(1, self.http.tries + 1):
            if attempt > 1:
                delay = min(self.http.backoff_seconds * (2 ** (attempt - 2)), self.http.backoff_max_seconds)
                if delay > 0:
                    self._sleep(delay)
            self._pace()
            try:
                try:
                    resp = self.session.request(
                        method, url, params=params, json=body, timeout=self.http.timeout_seconds, allow_redirects=True
                    )
                finally:
                    self.requests += 1
                    self._last = self._clock()
                payload, content = self._decode(resp, strict_content_type)
                if check is not None:
                    check(payload)
            except requests.Timeout:
                last = _Retry(f"no answer within {self.http.timeout_seconds:g}s (timeout)", unreachable=True)
            except requests.TooManyRedirects:
                last = _Retry("redirect loop (WAF 307 cookie challenge not passed)")
            except requests.ConnectionError as exc:
                last = _Retry(_connection_reason(exc), unreachable=True)
            except requests.RequestException as exc:
                raise SourceFailure(f"request failed ({type(exc).__name__})", url, attempt) from None
            except _Retry as exc:
                last = exc
            except SourceFailure as exc:
                exc.tries = attempt
                raise
            else:
                raw = self._save(content, resp.url, method, params, body, label)
                return RawResponse(resp.url, raw[0], raw[1], payload)
        assert last is not None
        raise SourceFailure(last.reason, url, self.http.tries, last.unreachable)

    def _decode(self, resp, strict_content_type: bool) -> tuple[Any, bytes]:
        status = resp.status_code
        content = resp.content or b""
        ctype = (resp.headers.get("Content-Type") or "").lower()
        head = content.lstrip()[:1]
        if status in (429,) or status >= 500:
            raise _Retry(f"HTTP {status}")
        if 300 <= status < 400:
            raise _Retry(f"HTTP {status} redirect (WAF cookie challenge)")
        if status >= 400:
            acl = "UrlACL" in (resp.headers.get("reason", "") + content[:4000].decode("utf-8", "replace"))
            raise SourceFailure(f"blocked (HTTP {status} UrlACL)" if acl else f"HTTP {status}", resp.url, 1)
        if head == b"<" or (strict_content_type and "html" in ctype):
            text = content[:4000].decode("utf-8", "replace")
            if "javascript" in text.lower() or "wzws" in text.lower() or resp.headers.get("wzws-ray"):
                raise _Retry("WAF challenge page (HTML asking for JavaScript) instead of JSON")
            raise _Retry(f"an HTML page instead of JSON (HTTP {status}, {ctype or 'no content type'})")
        if not content.strip():
            raise _Retry("an empty body instead of JSON")
        try:
            payload = json.loads(content.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise _Retry("a body that is not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise _Retry(f"malformed JSON ({exc.msg} at byte {exc.pos} of {len(content)}; truncated?)") from None
        return payload, content

    def _save(self, content: bytes, url: str, method: str, params, body, label: str) -> tuple[str, Path | None]:
        digest = sha256_bytes(content)
        if self.raw_dir is None:
            return digest, None
        private_dir(self.raw_dir)
        stamp = now_utc().replace("-", "").replace(":", "")
        name = f"{stamp}-{digest[:12]}"
        path = self.raw_dir / f"{name}.json"
        write_bytes(path, content)
        meta = {
            "sha256": digest, "file": path.name, "fetched_at": now_utc(), "method": method, "url": url,
            "params": params, "body": body, "what": label, "bytes": len(content),
        }
        write_bytes(self.raw_dir / f"{name}.meta.json", json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8"))
        self.raw_files.append(str(path))
        return digest, path


def _connection_reason(exc: Exception) -> str:
    text = str(exc)
    low = text.lower()
    if "refused" in low:
        return "connection refused"
    if "reset" in low:
        return "connection reset"
    if "name or service not known" in low or "nodename nor servname" in low or "getaddrinfo" in low:
        return "host name not found (DNS)"
    if "ssl" in low or "certificate" in low:
        return "TLS/SSL handshake failed"
    if "remotedisconnected" in low or "aborted" in low:
        return "connection closed without an answer"
    return "connection failed"


# ------------------------------------------------------------------------------------------------
# The outcome


@dataclass
class FetchOutcome:
    observations: list[Observation] = field(default_factory=list)
    endpoint: str = ""
    source: str = "nbs"
    requests: int = 0
    not_yet_published: list[str] = field(default_factory=list)
    no_value: list[str] = field(default_factory=list)
    not_configured: list[str] = field(default_factory=list)
    raw_files: list[str] = field(default_factory=list)
    fallback_reason: str | None = None
    sources_file: str = ""

    def report(self) -> dict:
        out = {
            "endpoint": self.endpoint,
            "nbs_source": self.source,
            "requests": self.requests,
            "not_yet_published": list(self.not_yet_published),
            "no_value": list(self.no_value),
            "not_configured": list(self.not_configured),
            "raw_files": list(self.raw_files),
            "sources_file": self.sources_file,
        }
        if self.fallback_reason:
            out["portal_failed"] = self.fallback_reason
        return out


# ------------------------------------------------------------------------------------------------
# Period codes and names


def period_code(month: str) -> str:
    return month.replace("-", "") + "MM"


def month_of_period(code: str) -> str | None:
    m = re.match(r"^(\d{4})(\d{2})MM$", str(code or "").strip())
    return f"{m.group(1)}-{m.group(2)}" if m else None


_FULLWIDTH = str.maketrans({"（": "(", "）": ")", "：": ":", "，": ",", "－": "-", "—": "-"})
_SLICE_TAIL = re.compile(r"\((\d{4})?-(\d{4}|至今)?\)$")


def normalise_name(name: str | None) -> str:
    """NBS names carry stray spaces and full-width brackets (nbs-api.md §9.5)."""
    return re.sub(r"\s+", "", str(name or "")).translate(_FULLWIDTH)


def split_slice(name: str) -> tuple[str, str | None, str | None]:
    """'X (上年同月=100) (2021-2025)' -> ('X(上年同月=100)', '2021', '2025'); no tail -> (X, None, None)."""
    n = normalise_name(name)
    m = _SLICE_TAIL.search(n)
    if not m:
        return n, None, None
    end = m.group(2)
    return n[: m.start()], m.group(1), (None if end in (None, "至今") else end)


def _region12(region: str) -> str:
    return region + "000000"


def _covering(entries, month: str):
    hits = [e for e in entries if e.start <= month and (e.end is None or month <= e.end)]
    return max(hits, key=lambda e: e.start) if hits else None


def _span(months: list[str]) -> str:
    return months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}"


def _runs(months: list[str]) -> list[list[str]]:
    """Split sorted months into runs of consecutive months."""
    out: list[list[str]] = []
    for m in months:
        if out and add_months(out[-1][-1], 1) == m:
            out[-1].append(m)
        else:
            out.append([m])
    return out


def _current_month() -> str:
    return now_utc()[:7]


# ------------------------------------------------------------------------------------------------
# The portal


@dataclass(frozen=True)
class _Slice:
    cid: str
    indicator_id: str
    start: str
    end: str | None


class Portal:
    def __init__(self, sources: Sources, transport: Transport):
        self.s = sources
        self.t = transport
        self.base = sources.portal_url
        self._tree_cache: dict[tuple[int, str], list[dict]] = {}
        self._ind_cache: dict[str, list[dict]] = {}

    # -- catalogue ----------------------------------------------------------------------------
    def _envelope(self, payload: Any) -> None:
        if not isinstance(payload, dict) or "data" not in payload:
            raise SourceFailure("JSON without the data envelope ({data, success, state})", self.base, 1)
        if payload.get("success") is False or payload.get("state") not in (None, 20000, "20000"):
            raise _Retry(
                f"the portal answered success={payload.get('success')}, state={payload.get('state')}"
                + (f" ({payload.get('message')})" if payload.get("message") else "")
            )

    def tree(self, code: int, pid: str = "") -> list[dict]:
        key = (code, pid)
        if key not in self._tree_cache:
            raw = self.t.request_json(
                "GET", f"{self.base}/new/queryIndexTreeAsync", params={"code": str(code), "pid": pid},
                check=self._envelope, label=f"catalogue code={code} pid={pid}",
            )
            data = raw.payload.get("data") or []
            if not isinstance(data, list):
                raise SourceFailure("queryIndexTreeAsync: data is not a list", raw.url, 1)
            self._tree_cache[key] = [n for n in data if isinstance(n, dict)]
        return self._tree_cache[key]

    def indicators(self, cid: str) -> list[dict]:
        if cid not in self._ind_cache:
            raw = self.t.request_json(
                "GET", f"{self.base}/new/queryIndicatorsByCid", params={"cid": cid, "dt": "", "name": ""},
                check=self._envelope, label=f"indicators of {cid}",
            )
            data = raw.payload.get("data") or {}
            items = data.get("list") if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise SourceFailure("queryIndicatorsByCid: data.list is not a list", raw.url, 1)
            self._ind_cache[cid] = [i for i in items if isinstance(i, dict)]
        return self._ind_cache[cid]

    def resolve(self, entry: PortalSeries, months: list[str]) -> tuple[list[_Slice], str | None]:
        """Find the catalogue slices (cid + indicator id) for an entry without identifiers."""
        ds = self.s.datasets[entry.scope]
        want_leaf = normalise_name(entry.resolve_leaf)
        want_ind = normalise_name(entry.resolve_indicator)
        slices: list[_Slice] = []
        leaves = []
        for node in self.tree(ds.code, entry.resolve_group or ""):
            if not node.get("isLeaf"):
                continue
            base, y0, y1 = split_slice(node.get("name") or node.get("_name") or "")
            if base != want_leaf:
                continue
            y0 = y0 or (str(node.get("sdate"))[:4] if node.get("sdate") else None)
            y1 = y1 or (str(node.get("edate"))[:4] if node.get("edate") else None)
            start = max(entry.start, f"{y0}-01" if y0 else "0000-01")
            end_candidates = [e for e in (entry.end, f"{y1}-12" if y1 else None) if e]
            end = min(end_candidates) if end_candidates else None
            if end is not None and end < start:
                continue
            if not any(start <= m and (end is None or m <= end) for m in months):
                continue
            leaves.append((node, start, end))
        if not leaves:
            return [], f"no catalogue leaf named {entry.resolve_leaf!r} under {entry.resolve_group} covers these months"
        for node, start, end in leaves:
            cid = str(node.get("_id"))
            ids = [str(i.get("_id")) for i in self.indicators(cid) if normalise_name(i.get("i_showname")) == want_ind]
            if len(ids) != 1:
                what = "no indicator" if not ids else f"{len(ids)} indicators"
                return [], f"{what} named {entry.resolve_indicator!r} in catalogue leaf {cid}"
            slices.append(_Slice(cid, ids[0], start, end))
        return slices, None

    # -- data ---------------------------------------------------------------------------------
    def fetch(self, regions: list[str], months: list[str], outcome: FetchOutcome) -> None:
        fetched_at = now_utc()
        # (region, cid) -> {indicator_id: (indicator, months)}
        plan: dict[tuple[str, str, str], dict[str, tuple[str, list[str]]]] = {}
        for region in regions:
            scope = self.s.scope_of(region)
            for ind in self.s.indicators:
                entries = [e for e in self.s.portal_series if e.scope == scope and e.indicator == ind]
                by_entry: dict[PortalSeries, list[str]] = {}
                missing: list[str] = []
                for m in months:
                    e = _covering(entries, m)
                    if e is None:
                        missing.append(m)
                    else:
                        by_entry.setdefault(e, []).append(m)
                for run in _runs(missing):
                    outcome.not_configured.append(
                        f"{region} {ind} {_span(run)}: no portal series configured in {self.s.path.name}"
                    )
                for e, ms in by_entry.items():
                    if e.resolved_at_runtime:
                        slices, why = self.resolve(e, ms)
                        if why:
                            outcome.not_configured.append(f"{region} {ind} {_span(ms)}: {why}")
                    else:
                        slices = [_Slice(e.cid, e.indicator_id, e.start, e.end)]
                    covered: set[str] = set()
                    for sl in slices:
                        sm = [m for m in ms if sl.start <= m and (sl.end is None or m <= sl.end) and m not in covered]
                        covered.update(sm)
                        if sm:
                            key = (region, scope, sl.cid)
                            slot = plan.setdefault(key, {})
                            prev = slot.get(sl.indicator_id)
                            slot[sl.indicator_id] = (ind, sorted(set(sm) | set(prev[1] if prev else [])))
                    left = [m for m in ms if m not in covered]
                    if slices and left:
                        for run in _runs(left):
                            outcome.not_configured.append(f"{region} {ind} {_span(run)}: no catalogue slice covers these months")

        got: dict[tuple[str, str], set[str]] = {}
        asked: dict[tuple[str, str], list[str]] = {}
        for (region, scope, cid), by_id in plan.items():
            ds = self.s.datasets[scope]
            all_months = sorted({m for _, ms in by_id.values() for m in ms})
            for ind, ms in by_id.values():
                asked.setdefault((region, ind), []).extend(ms)
            step = self.s.http.max_periods_per_request
            for i in range(0, len(all_months), step):
                chunk = all_months[i : i + step]
                for obs in self._request(region, ds, cid, by_id, chunk, fetched_at):
                    outcome.observations.append(obs)
                    got.setdefault((region, obs.indicator), set()).add(obs.month)
        _classify_missing(asked, got, outcome)

    def _request(self, region: str, ds: Dataset, cid: str, by_id: dict, chunk: list[str], fetched_at: str):
        url = f"{self.base}/stream/esData"
        body = {
            "cid": cid,
            "indicatorIds": list(by_id),
            "daCatalogId": "",
            "das": [{"text": self.s.region_name(region), "value": _region12(region)}],
            "dts": [period_code(m) for m in chunk],
            "showType": "1",
            "rootId": ds.root_id,
        }
        raw = self.t.request_json("POST", url, body=body, check=self._envelope, label=f"{region} {cid}")
        data = raw.payload.get("data")
        if data in (None, ""):
            data = []
        if not isinstance(data, list):
            raise SourceFailure("stream/esData: data is not a list of period rows", url, 1)
        wanted = set(chunk)
        out: list[Observation] = []
        for row in data:
            if not isinstance(row, dict):
                raise SourceFailure("stream/esData: a period row is not an object", url, 1)
            month = month_of_period(row.get("code"))
            if month is None:
                raise SourceFailure(f"stream/esData: period code {row.get('code')!r} is not monthly (YYYYMMMM)", url, 1)
            if month not in wanted:
                continue
            for item in row.get("values") or []:
                if not isinstance(item, dict):
                    raise SourceFailure("stream/esData: a value item is not an object", url, 1)
                iid = str(item.get("_id") or "")
                if iid not in by_id:
                    raise SourceFailure(f"stream/esData returned indicator {iid or '(none)'} which was not asked for (asked {', '.join(by_id)})", url, 1)
                cat = item.get("catalogid")
                if cat and str(cat) != cid:
                    raise SourceFailure(f"stream/esData returned catalogue {cat} for a request on {cid}", url, 1)
                da = item.get("da") or item.get("areaCode")
                if da and str(da) != _region12(region):
                    raise SourceFailure(f"stream/esData returned region {da} for a request on {_region12(region)}", url, 1)
                indicator, months_for_id = by_id[iid]
                if month not in months_for_id:
                    continue
                value = item.get("value")
                if value is None or (isinstance(value, str) and value.strip() in EMPTY_VALUES):
                    continue  # not (yet) published: reported by _classify_missing
                if not isinstance(value, str):
                    raise SourceFailure(f"stream/esData: value for {month} arrived as {type(value).__name__} {value!r}, not as the published text", url, 1)
                try:
                    dec = parse_decimal(value)
                except ValueError:
                    raise SourceFailure(f"stream/esData: value {value!r} for {month} is not a number", url, 1) from None
                if not (PLAUSIBLE_MIN <= dec <= PLAUSIBLE_MAX):
                    raise SourceFailure(f"stream/esData: value {value} for {indicator} {month} is not an index 上年同月=100", url, 1)
                ref = f"POST {url} cid={cid} indicator={iid} region={_region12(region)} sha256={raw.sha256}"
                out.append(Observation(region, indicator, month, dec, "nbs", ref, fetched_at))
        return out


def _classify_missing(asked: dict[tuple[str, str], list[str]], got: dict[tuple[str, str], set[str]], outcome: FetchOutcome) -> None:
    """Months asked without a value: after the series' latest value (or recent) = not yet published."""
    recent = add_months(_current_month(), -2)
    for (region, ind), ms in asked.items():
        have = got.get((region, ind), set())
        latest = max(have) if have else None
        for m in sorted(set(ms)):
            if m in have:
                continue
            label = f"{region} {ind} {m}"
            if (latest is not None and m > latest) or (latest is None and m >= recent):
                outcome.not_yet_published.append(label)
            else:
                outcome.no_value.append(label)


# ------------------------------------------------------------------------------------------------
# The legacy easyquery.htm interface


class Legacy:
    def __init__(self, sources: Sources, transport: Transport):
        self.s = sources
        self.t = transport
        self.url = sources.legacy_url or ""

    def _check(self, payload: Any) -> None:
        if not isinstance(payload, dict) or "returncode" not in payload:
            raise SourceFailure("JSON without returncode/returndata", self.url, 1)
        rc = payload.get("returncode")
        if rc != 200:
            msg = payload.get("returndata")
            raise SourceFailure(f"returncode {rc}" + (f" ({msg})" if isinstance(msg, str) else ""), self.url, 1)
        if not isinstance(payload.get("returndata"), dict):
            raise SourceFailure("returndata is not an object", self.url, 1)

    def fetch(self, regions: list[str], months: list[str], outcome: FetchOutcome) -> None:
        fetched_at = now_utc()
        asked: dict[tuple[str, str], list[str]] = {}
        got: dict[tuple[str, str], set[str]] = {}
        for region in regions:
            scope = self.s.scope_of(region)
            for ind in self.s.indicators:
                entries = [e for e in self.s.legacy_series if e.scope == scope and e.indicator == ind]
                by_entry: dict[LegacySeries, list[str]] = {}
                missing = []
                for m in months:
                    e = _covering(entries, m)
                    (by_entry.setdefault(e, []) if e else missing).append(m)
                for run in _runs(missing):
                    outcome.not_configured.append(f"{region} {ind} {_span(run)}: no legacy code configured")
                for e, ms in by_entry.items():
                    asked.setdefault((region, ind), []).extend(ms)
                    for run in _runs(ms):
                        for obs in self._request(region, e, run, fetched_at):
                            outcome.observations.append(obs)
                            got.setdefault((region, ind), set()).add(obs.month)
        _classify_missing(asked, got, outcome)

    def _request(self, region: str, e: LegacySeries, run: list[str], fetched_at: str) -> list[Observation]:
        sj = run[0].replace("-", "") if len(run) == 1 else f"{run[0].replace('-', '')}-{run[-1].replace('-', '')}"
        wds = [] if e.scope == "national" else [{"wdcode": "reg", "valuecode": region}]
        params = {
            "m": "QueryData",
            "dbcode": e.dbcode,
            "rowcode": "zb",
            "colcode": "sj",
            "wds": json.dumps(wds),
            "dfwds": json.dumps([{"wdcode": "zb", "valuecode": e.code}, {"wdcode": "sj", "valuecode": sj}]),
            "k1": str(int(time.time() * 1000)),
        }
        raw = self.t.request_json(
            "GET", self.url, params=params, strict_content_type=False, check=self._check, label=f"legacy {region} {e.code}"
        )
        nodes = raw.payload["returndata"].get("datanodes") or []
        wanted = set(run)
        out: list[Observation] = []
        other = 0
        for node in nodes:
            wd = {w.get("wdcode"): str(w.get("valuecode")) for w in node.get("wds") or [] if isinstance(w, dict)}
            if wd.get("zb") != e.code:
                other += 1
                continue
            if e.scope != "national" and wd.get("reg") not in (None, region):
                raise SourceFailure(f"legacy returned region {wd.get('reg')} for a request on {region}", self.url, 1)
            sj_code = wd.get("sj", "")
            if not re.match(r"^\d{6}$", sj_code):
                raise SourceFailure(f"legacy returned period {sj_code!r}, not YYYYMM", self.url, 1)
            month = f"{sj_code[:4]}-{sj_code[4:]}"
            if month not in wanted:
                continue
            d = node.get("data") or {}
            s = d.get("strdata")
            if not d.get("hasdata") or s is None or str(s).strip() in EMPTY_VALUES:
                continue
            try:
                dec = parse_decimal(str(s))
            except ValueError:
                raise SourceFailure(f"legacy strdata {s!r} for {month} is not a number", self.url, 1) from None
            if not (PLAUSIBLE_MIN <= dec <= PLAUSIBLE_MAX):
                raise SourceFailure(f"legacy value {s} for {e.indicator} {month} is not an index 上年同月=100", self.url, 1)
            ref = f"GET {self.url} dbcode={e.dbcode} zb={e.code}" + (f" reg={region}" if wds else "") + f" sha256={raw.sha256}"
            out.append(Observation(region, e.indicator, month, dec, "nbs-legacy", ref, fetched_at))
        if other and not out and len(nodes) == other:
            raise SourceFailure(f"legacy answered for other indicators than {e.code}", self.url, 1)
        return out


# ------------------------------------------------------------------------------------------------
# Entry points


def _window(since: str | None, until: str | None) -> list[str]:
    end = until or _current_month()
    start = since or add_months(end, -12)
    return month_range(start, end)


def _describe(f: SourceFailure) -> str:
    tries = f"after {f.tries} {'try' if f.tries == 1 else 'tries'}"
    return f"{'unreachable' if f.unreachable else 'failed'} at {f.url} {tries}: {f.reason}"


def fetch(config_dir: Path, home: Home, regions: list[str] | None, since: str | None, until: str | None) -> FetchOutcome:
    """Fetch index figures from NBS (portal first, legacy as configured fallback). Stores nothing."""
    sources = load_sources(config_dir)
    regions = list(dict.fromkeys(regions or sources.default_regions))
    for r in regions:
        sources.scope_of(r)  # bad region: UsageError before any request
    months = _window(since, until)
    transport = Transport(sources.http, home.raw_dir)
    try:
        outcome = FetchOutcome(endpoint=sources.portal_url, source="nbs", sources_file=str(sources.path))
        try:
            Portal(sources, transport).fetch(regions, months, outcome)
            outcome.requests = transport.requests
            outcome.raw_files = list(transport.raw_files)
            return outcome
        except SourceFailure as pf:
            portal_msg = f"NBS portal {_describe(pf)}"
        if sources.fallback != "legacy" or not sources.legacy_url:
            raise SourceUnavailable(f"{portal_msg}; no legacy fallback configured. Nothing was stored.")
        legacy_outcome = FetchOutcome(
            endpoint=sources.legacy_url, source="nbs-legacy", sources_file=str(sources.path), fallback_reason=portal_msg
        )
        try:
            Legacy(sources, transport).fetch(regions, months, legacy_outcome)
        except SourceFailure as lf:
            raise SourceUnavailable(f"{portal_msg}; legacy fallback {_describe(lf)}. Nothing was stored.") from None
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
    transport = Transport(sources.http, home.raw_dir if home else None)
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
        raise SourceUnavailable(f"NBS portal {_describe(f)}") from None
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
