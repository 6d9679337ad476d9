"""The NBS data portal (数据发布库): POST stream/esData per region x indicator x base-period slice,
stitched by month."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cpi_link.core.i18n import N_, message
from cpi_link.core.months import add_months
from cpi_link.sources.nbs.config import (
    EMPTY_VALUES,
    PLAUSIBLE_MAX,
    PLAUSIBLE_MIN,
    Dataset,
    PortalSeries,
    Sources,
)
from cpi_link.sources.nbs.transport import (
    FetchOutcome,
    Refused,
    SourceFailure,
    Transport,
    _Retry,
)
from cpi_link.sources.observation import Observation, now_utc

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


_PLAIN_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")  # ASCII only: \d takes full-width digits
_TENTH = Decimal("0.1")


def checked_value(text: str, what: str, url: str) -> Decimal:
    """A published index as text: a plain decimal with at most one decimal place, inside the plausible band.
    Anything else refuses the whole answer (Refused): a wrong figure must never reach the store."""
    s = text.strip()
    if not _PLAIN_DECIMAL.match(s):
        raise Refused(message(N_("{what}: value {value!r} is not a published index (a plain decimal number); the whole answer "
                                 "is refused"), what=what, value=text), url, 1)
    dec = Decimal(s)
    if dec != dec.quantize(_TENTH):
        raise Refused(message(N_("{what}: value {value!r} has more than one decimal (NBS publishes indices to one decimal); "
                                 "the whole answer is refused"), what=what, value=text), url, 1)
    if not (PLAUSIBLE_MIN <= dec <= PLAUSIBLE_MAX):
        raise Refused(message(N_("{what}: value {value!r} is not an index 上年同月=100 (outside {low}..{high}); the whole answer "
                                 "is refused"), what=what, value=text, low=PLAUSIBLE_MIN, high=PLAUSIBLE_MAX), url, 1)
    return dec


def checked_month(month: str, what: str, url: str) -> str:
    """A month the portal answers for: never after the current month (a figure not yet published
    cannot be a figure; file import refuses it too). Refuses the whole answer (Refused)."""
    if month > current_month():
        raise Refused(message(N_("{what}: the answer holds a value for {month}, after the current month {current}; the whole "
                                 "answer is refused"), what=what, month=month, current=current_month()), url, 1)
    return month


def refuse_conflicts(observations: list[Observation], url: str) -> list[Observation]:
    """Two different values for one (region, indicator, month) refuse the whole fetch; exact repeats collapse."""
    seen: dict[tuple[str, str, str], Observation] = {}
    out: list[Observation] = []
    for o in observations:
        prev = seen.get(o.key)
        if prev is None:
            seen[o.key] = o
            out.append(o)
        elif prev.value != o.value:
            raise Refused(message(N_("two different values for {region} {indicator} {month} in one answer ({one} and "
                                     "{other}); the whole answer is refused"), region=o.region_code, indicator=o.indicator,
                                  month=o.month, one=prev.value, other=o.value), url, 1)
    return out


def region12(region: str) -> str:
    return region + "000000"


def covering(entries, month: str):
    hits = [e for e in entries if e.start <= month and (e.end is None or month <= e.end)]
    return max(hits, key=lambda e: e.start) if hits else None


def month_span(months: list[str]) -> str:
    return months[0] if len(months) == 1 else f"{months[0]}..{months[-1]}"


def month_runs(months: list[str]) -> list[list[str]]:
    """Split sorted months into runs of consecutive months."""
    out: list[list[str]] = []
    for m in months:
        if out and add_months(out[-1][-1], 1) == m:
            out[-1].append(m)
        else:
            out.append([m])
    return out


def current_month() -> str:
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
        self._ranges_ok = sources.http.range_tokens

    def referer(self, ds: Dataset | None) -> str | None:
        """The portal page with the dataset's route, as the page's own requests carry it."""
        if ds is None or not ds.route or not self.s.page_url or self.s.http.referer:
            return None
        return f"{self.s.page_url}#/pc/national/{ds.route}"

    # -- catalogue ----------------------------------------------------------------------------
    def _envelope(self, payload: Any) -> None:
        if not isinstance(payload, dict) or "data" not in payload:
            raise SourceFailure(message(N_("JSON without the data envelope ({{data, success, state}})")), self.base, 1)
        if payload.get("success") is False or payload.get("state") not in (None, 20000, "20000"):
            said = (N_("the portal answered success={success}, state={state} ({message})") if payload.get("message") else
                    N_("the portal answered success={success}, state={state}"))
            raise _Retry(message(said, success=payload.get("success"), state=payload.get("state"), message=payload.get("message")))

    def tree(self, code: int, pid: str = "") -> list[dict]:
        key = (code, pid)
        if key not in self._tree_cache:
            raw = self.t.request_json(
                "GET", f"{self.base}/new/queryIndexTreeAsync", params={"code": str(code), "pid": pid},
                check=self._envelope, label=f"catalogue code={code} pid={pid}",
            )
            data = raw.payload.get("data") or []
            if not isinstance(data, list):
                raise SourceFailure(message(N_("{what}: data is not a list"), what="queryIndexTreeAsync"), raw.url, 1)
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
                raise SourceFailure(message(N_("{what}: data.list is not a list"), what="queryIndicatorsByCid"), raw.url, 1)
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
                    e = covering(entries, m)
                    if e is None:
                        missing.append(m)
                    else:
                        by_entry.setdefault(e, []).append(m)
                for run in month_runs(missing):
                    outcome.not_configured.append(
                        f"{region} {ind} {month_span(run)}: no portal series configured in {self.s.path.name}"
                    )
                for e, ms in by_entry.items():
                    if e.resolved_at_runtime:
                        slices, why = self.resolve(e, ms)
                        if why:
                            outcome.not_configured.append(f"{region} {ind} {month_span(ms)}: {why}")
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
                        for run in month_runs(left):
                            outcome.not_configured.append(f"{region} {ind} {month_span(run)}: no catalogue slice covers these months")

        got: dict[tuple[str, str], set[str]] = {}
        asked: dict[tuple[str, str], list[str]] = {}
        for (region, scope, cid), by_id in plan.items():
            ds = self.s.datasets[scope]
            all_months = sorted({m for _, ms in by_id.values() for m in ms})
            for ind, ms in by_id.values():
                asked.setdefault((region, ind), []).extend(ms)
            for obs in self._ask(region, ds, cid, by_id, all_months, fetched_at):
                outcome.observations.append(obs)
                got.setdefault((region, obs.indicator), set()).add(obs.month)
        classify_missing(asked, got, outcome)

    def _ask(self, region: str, ds: Dataset, cid: str, by_id: dict, months: list[str], fetched_at: str):
        """Consecutive months as one range token (fewer requests); a portal that refuses the token
        (HTTP 400/500) is asked with month lists from then on."""
        out: list[Observation] = []
        lists: list[list[str]] = []
        for run in month_runs(months):
            step = self.s.http.max_months_per_range
            for i in range(0, len(run), step):
                span = run[i : i + step]
                if self._ranges_ok and len(span) > 1:
                    token = f"{period_code(span[0])}-{period_code(span[-1])}"
                    try:
                        out += self._request(region, ds, cid, by_id, span, fetched_at, [token])
                        continue
                    except SourceFailure as exc:
                        if exc.status not in (400, 500) or isinstance(exc, Refused):
                            raise
                        self._ranges_ok = False
                lists.append(span)
        step = self.s.http.max_periods_per_request
        flat = [m for span in lists for m in span]
        for i in range(0, len(flat), step):
            chunk = flat[i : i + step]
            out += self._request(region, ds, cid, by_id, chunk, fetched_at)
        return out

    def _request(self, region: str, ds: Dataset, cid: str, by_id: dict, chunk: list[str], fetched_at: str,
                 dts: list[str] | None = None):
        url = f"{self.base}/stream/esData"
        body = {
            "cid": cid,
            "indicatorIds": list(by_id),
            "daCatalogId": "",
            "das": [{"text": self.s.region_name(region), "value": region12(region)}],
            "dts": dts or [period_code(m) for m in chunk],
            "showType": "1",
            "rootId": ds.root_id,
        }
        raw = self.t.request_json(
            "POST", url, body=body, check=self._envelope, label=f"{region} {cid}", referer=self.referer(ds),
            no_retry_status=(400, 500) if dts else (),
        )
        data = raw.payload.get("data")
        if data in (None, ""):
            data = []
        if not isinstance(data, list):
            raise SourceFailure(message(N_("stream/esData: data is not a list of period rows")), url, 1)
        wanted = set(chunk)
        out: list[Observation] = []
        for row in data:
            if not isinstance(row, dict):
                raise SourceFailure(message(N_("stream/esData: a period row is not an object")), url, 1)
            month = month_of_period(row.get("code"))
            if month is None:
                raise SourceFailure(message(N_("stream/esData: period code {code!r} is not monthly (YYYYMMMM)"), code=row.get("code")), url, 1)
            checked_month(month, f"stream/esData {region}", url)
            if month not in wanted:
                continue
            for item in row.get("values") or []:
                if not isinstance(item, dict):
                    raise SourceFailure(message(N_("stream/esData: a value item is not an object")), url, 1)
                iid = str(item.get("_id") or "")
                if iid not in by_id:
                    raise SourceFailure(message(N_("stream/esData returned indicator {got} which was not asked for (asked {asked})"),
                                                got=iid or "(none)", asked=", ".join(by_id)), url, 1)
                cat = item.get("catalogid")
                if cat and str(cat) != cid:
                    raise SourceFailure(message(N_("stream/esData returned catalogue {got} for a request on {asked}"), got=cat, asked=cid),
                                        url, 1)
                da = item.get("da") or item.get("areaCode")
                if da and str(da) != region12(region):
                    raise SourceFailure(message(N_("stream/esData returned region {got} for a request on {asked}"), got=da,
                                                asked=region12(region)), url, 1)
                indicator, months_for_id = by_id[iid]
                if month not in months_for_id:
                    continue
                value = item.get("value")
                if value is None or (isinstance(value, str) and value.strip() in EMPTY_VALUES):
                    continue  # not (yet) published: reported by classify_missing
                if not isinstance(value, str):
                    raise SourceFailure(message(N_("stream/esData: value for {month} arrived as {type} {value!r}, not as the published text"),
                                                month=month, type=type(value).__name__, value=value), url, 1)
                dec = checked_value(value, f"stream/esData {region} {indicator} {month}", url)
                ref = f"POST {raw.answered} cid={cid} indicator={iid} region={region12(region)} sha256={raw.sha256}"
                out.append(Observation(region, indicator, month, dec, "nbs", ref, fetched_at))
        return refuse_conflicts(out, url)


def classify_missing(asked: dict[tuple[str, str], list[str]], got: dict[tuple[str, str], set[str]], outcome: FetchOutcome) -> None:
    """Months asked without a value: after the series' latest value (or recent) = not yet published."""
    recent = add_months(current_month(), -2)
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
