"""The legacy easyquery.htm interface, tried when the portal fails only when configured (off by default:
NBS answers it with 403 UrlACL since 2026-03; mirrors and archives still speak it)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from cpi_link.core.i18n import N_, message
from cpi_link.sources.nbs.config import (
    EMPTY_VALUES,
    LegacySeries,
    Sources,
)
from cpi_link.sources.nbs.portal import (checked_month, checked_value, classify_missing, covering, month_runs, month_span,
                                        refuse_conflicts)
from cpi_link.sources.nbs.transport import FetchOutcome, SourceFailure, Transport
from cpi_link.sources.observation import Observation, now_utc

# ------------------------------------------------------------------------------------------------
# The legacy easyquery.htm interface


class Legacy:
    def __init__(self, sources: Sources, transport: Transport):
        self.s = sources
        self.t = transport
        self.url = sources.legacy_url or ""

    def _check(self, payload: Any) -> None:
        if not isinstance(payload, dict) or "returncode" not in payload:
            raise SourceFailure(message(N_("JSON without returncode/returndata")), self.url, 1)
        rc = payload.get("returncode")
        if rc != 200:
            msg = payload.get("returndata")
            said = N_("returncode {code} ({message})") if isinstance(msg, str) else N_("returncode {code}")
            raise SourceFailure(message(said, code=rc, message=msg), self.url, 1)
        if not isinstance(payload.get("returndata"), dict):
            raise SourceFailure(message(N_("returndata is not an object")), self.url, 1)

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
                    e = covering(entries, m)
                    (by_entry.setdefault(e, []) if e else missing).append(m)
                for run in month_runs(missing):
                    outcome.not_configured.append(f"{region} {ind} {month_span(run)}: no legacy code configured")
                for e, ms in by_entry.items():
                    asked.setdefault((region, ind), []).extend(ms)
                    for run in month_runs(ms):
                        for obs in self._request(region, e, run, fetched_at):
                            outcome.observations.append(obs)
                            got.setdefault((region, ind), set()).add(obs.month)
        classify_missing(asked, got, outcome)

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
                raise SourceFailure(message(N_("legacy returned region {got} for a request on {asked}"), got=wd.get("reg"), asked=region),
                                    self.url, 1)
            sj_code = wd.get("sj", "")
            if not re.match(r"^\d{6}$", sj_code):
                raise SourceFailure(message(N_("legacy returned period {code!r}, not YYYYMM"), code=sj_code), self.url, 1)
            month = checked_month(f"{sj_code[:4]}-{sj_code[4:]}", f"legacy {region}", self.url)
            if month not in wanted:
                continue
            d = node.get("data") or {}
            s = d.get("strdata")
            if not d.get("hasdata") or s is None or str(s).strip() in EMPTY_VALUES:
                continue
            dec = checked_value(str(s), f"legacy {region} {e.indicator} {month}", self.url)
            ref = f"GET {raw.answered} dbcode={e.dbcode} zb={e.code}" + (f" reg={region}" if wds else "") + f" sha256={raw.sha256}"
            out.append(Observation(region, e.indicator, month, dec, "nbs-legacy", ref, fetched_at))
        if other and not out and len(nodes) == other:
            raise SourceFailure(message(N_("legacy answered for other indicators than {code}"), code=e.code), self.url, 1)
        return refuse_conflicts(out, self.url)
