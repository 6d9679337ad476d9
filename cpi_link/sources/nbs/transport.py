"""HTTP for the NBS client: one session, polite pace, bounded retries with backoff; every raw
response archived under HOME/raw with its sha256. Also what a fetch returns (FetchOutcome)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cpi_link.core.atomic import sha256_bytes, write_bytes
from cpi_link.core.paths import private_dir
from cpi_link.sources.nbs.config import HttpSettings
from cpi_link.sources.observation import Observation, now_utc

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
