"""HTTP for the NBS client: one session, one warm-up GET of the portal page, polite pace, bounded
retries with jittered backoff and Retry-After; every request bounded by a deadline on the whole
exchange and a cap on the decoded body; every raw response archived under HOME/raw with its sha256
(the archive capped in size, oldest files rotated out). Also what a fetch returns (FetchOutcome)."""

from __future__ import annotations

import json
import os
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

from cpi_link.core.atomic import sha256_bytes, write_bytes
from cpi_link.core.errors import ConfigError
from cpi_link.core.i18n import N_, Message, _, join, message
from cpi_link.core.paths import private_dir
from cpi_link.core.times import beijing
from cpi_link.sources.nbs.config import HttpSettings
from cpi_link.sources.observation import Observation, now_utc

CHUNK = 64 * 1024
MAX_REDIRECTS = 5

# ------------------------------------------------------------------------------------------------
# Failures


class SourceFailure(Exception):
    """One request failed for good (after its retries, or at once when retrying cannot help)."""

    def __init__(self, reason: str, url: str, tries: int, unreachable: bool = False, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.url = url
        self.tries = tries
        self.unreachable = unreachable
        self.status = status


class Blocked(SourceFailure):
    """The portal's firewall is blocking us: stop everything (no fallback, no more requests)."""


class Refused(SourceFailure):
    """An answer we will not store (too big, impossible values): stop everything, store nothing."""


class _Retry(Exception):
    def __init__(self, reason: str, unreachable: bool = False, retry_after: float | None = None, challenge: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.unreachable = unreachable
        self.retry_after = retry_after
        self.challenge = challenge


@dataclass
class RawResponse:
    url: str
    sha256: str
    path: Path | None
    payload: Any

    @property
    def answered(self) -> str:
        """The address that answered (after same-host redirects), without its query: the figures' source_ref."""
        from urllib.parse import urlsplit

        return urlsplit(self.url)._replace(query="", fragment="").geturl()


@dataclass
class _Answer:
    status: int
    headers: Any  # case-insensitive mapping
    url: str
    content: bytes


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds (RFC 9110: delay-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    v = value.strip()
    if v.isdigit():
        return float(v)
    try:
        when = parsedate_to_datetime(v)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def _at(seconds: float) -> Message:
    """When to try again: UTC in the English kept for scripts, Beijing time for the reader."""
    when = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    minutes = max(1, (int(seconds) + 30) // 60)
    out = Message(f"{when:%Y-%m-%d %H:%M} UTC (in {minutes} min)")
    out.shown = _("{time} Beijing time (in {minutes} min)").format(time=beijing(when), minutes=minutes)
    return out


# ------------------------------------------------------------------------------------------------
# The deadline: a watchdog shuts the socket when the whole exchange overruns (a server dripping one
# byte at a time defeats per-read timeouts)


class _Watch:
    def __init__(self) -> None:
        self.fired = False
        self.conn = None
        self._lock = threading.Lock()

    def attach(self, conn) -> None:
        """conn: anything with a .sock (a connection, or the response's socket once the connection let go)."""
        with self._lock:
            self.conn = conn
            fired = self.fired
        if fired:
            _shut(conn)

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            conn = self.conn
        if conn is not None:
            _shut(conn)


def _shut(conn) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Holder:
    def __init__(self, sock):
        self.sock = sock


def _response_socket(resp):
    try:
        return resp.raw._fp.fp.raw._sock  # urllib3 response -> http.client response -> BufferedReader -> SocketIO
    except AttributeError:
        return None


_LOCAL = threading.local()


def _attach(conn) -> None:
    w = getattr(_LOCAL, "watch", None)
    if w is not None:
        w.attach(conn)


def _adapter_class():
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def watched(cls):
        class Watched(cls):
            def connect(self):
                super().connect()
                _attach(self)

            def request(self, *args, **kwargs):
                _attach(self)
                return super().request(*args, **kwargs)

        return Watched

    class Pool(HTTPConnectionPool):
        ConnectionCls = watched(HTTPConnection)

    class SPool(HTTPSConnectionPool):
        ConnectionCls = watched(HTTPSConnection)

    pools = {"http": Pool, "https": SPool}

    class DeadlineAdapter(HTTPAdapter):
        """Connections the watchdog can cut; optionally the system trust store as SSL context."""

        def __init__(self, ssl_context=None):
            self._ssl_context = ssl_context
            super().__init__()

        def init_poolmanager(self, connections, maxsize, block=False, **kw):
            if self._ssl_context is not None:
                kw["ssl_context"] = self._ssl_context
            super().init_poolmanager(connections, maxsize, block, **kw)
            self.poolmanager.pool_classes_by_scheme = pools

        def proxy_manager_for(self, proxy, **kw):
            if self._ssl_context is not None:
                kw.setdefault("ssl_context", self._ssl_context)
            pm = super().proxy_manager_for(proxy, **kw)
            if type(pm).__name__ == "ProxyManager":  # SOCKS pools keep their own classes
                pm.pool_classes_by_scheme = pools
            return pm

    return DeadlineAdapter


class _Deadline(Exception):
    pass


class _TooBig(Exception):
    def __init__(self, size: int, declared: bool = False):
        super().__init__(size)
        self.size = size
        self.declared = declared


class _Broken(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _read_capped(chunks, cap: int, end: float) -> bytes:
    """Join decoded chunks, refusing once past the cap or the deadline (a bomb never fills memory)."""
    parts: list[bytes] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > cap:
            raise _TooBig(total)
        parts.append(chunk)
        if time.monotonic() > end:
            raise _Deadline()
    return b"".join(parts)


class _RequestsWire:
    """Plain requests. trust_env stays on: HTTPS_PROXY/NO_PROXY and REQUESTS_CA_BUNDLE apply."""

    name = "requests"

    def __init__(self, http: HttpSettings):
        import requests

        ctx = None
        if http.trust_store == "system":
            try:
                import ssl

                import truststore
            except ImportError:
                raise ConfigError(
                    _("http.trust_store = 'system' needs the truststore package: pip install 'cpi-link[truststore]'")
                ) from None
            ctx = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.session = requests.Session()
        adapter = _adapter_class()(ctx)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def send(self, method, url, params, body, headers, end: float, cap: int) -> _Answer:
        import requests
        import urllib3

        left = end - time.monotonic()
        if left <= 0:
            raise _Deadline()
        watch = _Watch()
        _LOCAL.watch = watch
        timer = threading.Timer(left, watch.fire)
        timer.daemon = True
        timer.start()
        try:
            try:
                resp = self.session.request(
                    method, url, params=params, json=body, headers=headers, timeout=(left, left),
                    allow_redirects=False, stream=True,
                )
            except requests.Timeout:
                raise _Deadline() from None
            except requests.ConnectionError as exc:
                if watch.fired:
                    raise _Deadline() from None
                raise _Broken(_connection_reason(exc)) from None
            sock = _response_socket(resp)
            if sock is not None:  # http.client hands the socket to the response when the server will close
                watch.attach(_Holder(sock))
            try:
                declared = resp.headers.get("Content-Length", "")
                if not resp.headers.get("Content-Encoding") and declared.isdigit() and int(declared) > cap:
                    raise _TooBig(int(declared), declared=True)
                content = _read_capped(resp.raw.stream(CHUNK, decode_content=True), cap, end)
            except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
                if watch.fired:
                    raise _Deadline() from None
                if isinstance(exc, urllib3.exceptions.DecodeError):
                    raise _Broken(message(N_("a body that does not decode as its Content-Encoding ({encoding})"),
                                               encoding=resp.headers.get("Content-Encoding"))) from None
                raise _Broken(message(N_("the connection broke while the answer was read"))) from None
            finally:
                resp.close()
            if watch.fired:
                raise _Deadline()
            return _Answer(resp.status_code, resp.headers, resp.url, content)
        finally:
            timer.cancel()
            _LOCAL.watch = None

    def close(self) -> None:
        self.session.close()


class _CurlWire:
    """curl-cffi with a browser's TLS/HTTP2 fingerprint, for networks where the portal refuses plain clients."""

    name = "impersonate"

    def __init__(self, http: HttpSettings):
        try:
            from curl_cffi import requests as creq
        except ImportError:
            raise ConfigError(
                _("http.transport = 'impersonate' needs curl-cffi: pip install 'cpi-link[impersonate]'")
            ) from None
        if http.trust_store == "system":
            raise ConfigError(_("http.trust_store = 'system' works with transport 'requests'; with 'impersonate' use REQUESTS_CA_BUNDLE"))
        self._creq = creq
        self.session = creq.Session(impersonate=http.impersonate)

    def send(self, method, url, params, body, headers, end: float, cap: int) -> _Answer:
        from curl_cffi.requests import exceptions as cexc

        left = end - time.monotonic()
        if left <= 0:
            raise _Deadline()
        # the impersonated browser's own User-Agent and client hints must match its fingerprint
        headers = {k: v for k, v in headers.items() if k.lower() != "user-agent" and not k.lower().startswith("sec-")}
        verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        try:
            resp = self.session.request(
                method, url, params=params, json=body, headers=headers, timeout=left, allow_redirects=False,
                stream=True, verify=verify,
            )
            try:
                content = _read_capped(resp.iter_content(), cap, end)
            finally:
                resp.close()
        except cexc.Timeout:
            raise _Deadline() from None
        except cexc.RequestException as exc:
            raise _Broken(_connection_reason(exc)) from None
        return _Answer(resp.status_code, resp.headers, str(resp.url), content)

    def close(self) -> None:
        self.session.close()


def make_wire(http: HttpSettings):
    return _CurlWire(http) if http.transport == "impersonate" else _RequestsWire(http)


# ------------------------------------------------------------------------------------------------
# Transport: pace, retries, challenge handling, archive


class Transport:
    """HTTP with a cookie-keeping session (the WAF's 307 challenge sets a cookie), pace and retries."""

    def __init__(
        self, http: HttpSettings, raw_dir: Path | None, sleep=time.sleep, clock=time.monotonic,
        page_url: str | None = None, rng: random.Random | None = None,
    ):
        self.http = http
        self.raw_dir = raw_dir
        self.requests = 0
        self.raw_files: list[str] = []
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._last: float | None = None
        self.page_url = page_url
        self._warmed = not (http.warm_up and page_url)
        self.wire = make_wire(http)
        self._budget_end = time.monotonic() + http.fetch_deadline_seconds
        self.common_headers = {"User-Agent": http.user_agent, "Accept-Language": http.accept_language}
        self.referer = http.referer or page_url or ""
        self.origin = http.origin or _origin_of(self.referer)

    @property
    def session(self):
        return self.wire.session

    def close(self) -> None:
        self.wire.close()

    def _pace(self) -> None:
        if self._last is not None and self.http.min_gap_seconds > 0:
            wait = self.http.min_gap_seconds - (self._clock() - self._last)
            if wait > 0:
                self._sleep(wait)

    def _send(self, method, url, params, body, headers) -> _Answer:
        """One exchange, redirects followed by hand (each hop's body capped) within one deadline."""
        now = time.monotonic()
        if now >= self._budget_end:
            raise _Deadline()
        end = min(now + self.http.timeout_seconds, self._budget_end)
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                ans = self.wire.send(method, url, params, body, headers, end, self.http.max_body_bytes)
            finally:
                self.requests += 1
                self._last = self._clock()
            loc = ans.headers.get("Location")
            if ans.status not in (301, 302, 303, 307, 308) or not loc:
                return ans
            nxt = urljoin(ans.url or url, loc)
            if urlparse(nxt).netloc.lower() != urlparse(url).netloc.lower():  # its value would be stored as the portal's
                raise Refused(message(N_("the portal redirected (HTTP {status}) to another host: {url}; not followed, nothing stored"),
                                      status=ans.status, url=nxt), url, 1)
            if urlparse(nxt).scheme.lower() != "https" and urlparse(url).scheme.lower() == "https" and not self.http.allow_http:
                raise Refused(message(N_("the portal redirected (HTTP {status}) from https to plain http: {url}; not followed, "
                                         "nothing stored"), status=ans.status, url=nxt), url, 1)
            url, params = nxt, None
            if ans.status in (301, 302, 303) and method == "POST":
                method, body = "GET", None
        raise _Retry(message(N_("redirect loop (WAF 307 cookie challenge not passed)")))

    def warm_up(self) -> None:
        """One GET of the portal page per session, as a browser opens it: the WAF sets its cookies."""
        if self._warmed:
            return
        self._warmed = True
        headers = {
            **self.common_headers,
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "Upgrade-Insecure-Requests": "1",
            "Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Site": "none", "Sec-Fetch-User": "?1",
        }
        self._pace()
        try:
            self._send("GET", self.page_url, None, None, headers)
        except (_Deadline, _TooBig, _Broken, _Retry):
            pass  # only a cookie primer: the data request reports its own failure

    def _headers(self, method: str, referer: str | None) -> dict:
        h = {**self.common_headers, "Accept": "application/json, text/plain, */*"}
        ref = referer or self.referer
        if ref:
            h["Referer"] = ref
        if method == "POST":
            h["Content-Type"] = "application/json;charset=UTF-8"
            if self.origin:
                h["Origin"] = self.origin
        if self.origin and ref.startswith(self.origin):
            h.update({"Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin"})
        return h

    def _delay(self, attempt: int, last: _Retry) -> float:
        h = self.http
        if last.challenge:
            base = max(h.challenge_wait_seconds, last.retry_after or 0.0)
        else:
            base = min(h.backoff_seconds * (2 ** (attempt - 2)), h.backoff_max_seconds)
            if last.retry_after is not None:
                base = max(base, last.retry_after)
        return base * (1 + self._rng.uniform(0, h.backoff_jitter)) if base > 0 else 0.0

    def request_json(
        self, method: str, url: str, *, params: dict | None = None, body: dict | None = None,
        strict_content_type: bool = True, check=None, label: str = "", referer: str | None = None,
        no_retry_status: tuple[int, ...] = (),
    ) -> RawResponse:
        """Send until a JSON answer passes `check` (which raises _Retry or SourceFailure), or give up."""
        self.warm_up()
        headers = self._headers(method, referer)
        last: _Retry | None = None
        for attempt in range(1, self.http.tries + 1):
            if attempt > 1:
                delay = self._delay(attempt, last)
                if last.challenge:
                    self._budget_end += delay  # the operator asked to sit the block out
                elif time.monotonic() + delay >= self._budget_end:
                    raise SourceFailure(join(last.reason, self._over_budget()), url, attempt - 1, last.unreachable)
                if delay > 0:
                    self._sleep(delay)
            self._pace()
            try:
                try:
                    ans = self._send(method, url, params, body, headers)
                except _Deadline:
                    if time.monotonic() >= self._budget_end:
                        raise SourceFailure(self._over_budget(), url, attempt, unreachable=True) from None
                    raise _Retry(message(N_("no complete answer within {seconds:g}s (timeout: a deadline on the whole request)"),
                                         seconds=self.http.timeout_seconds), unreachable=True) from None
                except _TooBig as big:
                    said = (N_("the answer declares {size:,} bytes, over the cap http.max_body_bytes = {cap:,} (a month's "
                               "figures are kilobytes); refused") if big.declared else
                            N_("the answer ran past {size:,} bytes, over the cap http.max_body_bytes = {cap:,} (a month's "
                               "figures are kilobytes); refused"))
                    raise Refused(message(said, size=big.size, cap=self.http.max_body_bytes), url, attempt) from None
                except _Broken as exc:
                    raise _Retry(exc.reason, unreachable=True) from None
                if ans.status in no_retry_status:
                    raise SourceFailure(message(N_("HTTP {status}"), status=ans.status), url, attempt, status=ans.status)
                payload = self._decode(ans, strict_content_type)
                if check is not None:
                    check(payload)
            except _Retry as exc:
                last = exc
                ra = exc.retry_after
                if exc.challenge and self.http.on_challenge != "wait":
                    raise Blocked(self._blocked(exc), url, attempt) from None
                if ra is not None and ra > self.http.retry_after_max_seconds and not exc.challenge:
                    raise SourceFailure(join(exc.reason, message(N_("the server asks to wait {seconds:g}s (Retry-After): try again after {when}"),
                                                                  seconds=ra, when=_at(ra))), url, attempt)
            except SourceFailure as exc:
                exc.tries = attempt
                raise
            else:
                raw = self._save(ans.content, ans.url, method, params, body, label)
                return RawResponse(ans.url, raw[0], raw[1], payload)
        assert last is not None
        if last.challenge:
            raise Blocked(self._blocked(last), url, self.http.tries)
        raise SourceFailure(last.reason, url, self.http.tries, last.unreachable)

    def _over_budget(self) -> str:
        return message(N_("the whole fetch ran out of its deadline (http.fetch_deadline_seconds = {seconds:g}s)"),
                       seconds=self.http.fetch_deadline_seconds)

    def _blocked(self, exc: _Retry) -> str:
        wait = exc.retry_after if exc.retry_after is not None else self.http.challenge_wait_seconds
        said = message(N_(" (Retry-After {seconds:g}s)"), seconds=exc.retry_after) if exc.retry_after is not None else ""
        how = (
            N_("stopped at once: such blocks last minutes to hours and retrying makes them longer. Try again after {when}{said}")
            if self.http.on_challenge != "wait" else N_("still blocked after waiting. Try again after {when}{said}")
        )
        return join(exc.reason, message(how, when=_at(wait), said=said))

    def _decode(self, ans: _Answer, strict_content_type: bool) -> Any:
        status = ans.status
        content = ans.content or b""
        ctype = (ans.headers.get("Content-Type") or "").lower()
        head = content.lstrip()[:1]
        ra = retry_after_seconds(ans.headers.get("Retry-After"))
        text = content[:4000].decode("utf-8", "replace")
        challenge = bool(ans.headers.get("wzws-ray")) or "wzws" in text.lower() or (
            (head == b"<" or "html" in ctype) and "javascript" in text.lower()
        )
        if status == 429 or status >= 500:
            raise _Retry(message(N_("HTTP {status}"), status=status), retry_after=ra)
        if 300 <= status < 400:
            raise _Retry(message(N_("HTTP {status} redirect without a Location"), status=status))
        if status >= 400:
            acl = "UrlACL" in (ans.headers.get("reason", "") + text)  # a path blocked for good, not a passing block
            if challenge and not acl:
                raise _Retry(message(N_("the portal's firewall refused the request (HTTP {status} challenge page)"), status=status),
                             retry_after=ra, challenge=True)
            said = N_("blocked (HTTP {status} UrlACL)") if acl else N_("HTTP {status}")
            raise SourceFailure(message(said, status=status), ans.url, 1, status=status)
        if head == b"<" or (strict_content_type and "html" in ctype):
            if challenge:
                raise _Retry(message(N_("the portal's firewall answered with its challenge page (HTML asking for JavaScript) "
                                        "instead of JSON")), retry_after=ra, challenge=True)
            if ctype:
                raise _Retry(message(N_("an HTML page instead of JSON (HTTP {status}, {type})"), status=status, type=ctype))
            raise _Retry(message(N_("an HTML page instead of JSON (HTTP {status}, no content type)"), status=status))
        if not content.strip():
            raise _Retry(message(N_("an empty body instead of JSON")))
        try:
            return json.loads(content.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise _Retry(message(N_("a body that is not UTF-8 text"))) from None
        except json.JSONDecodeError as exc:
            raise _Retry(message(N_("malformed JSON ({error} at byte {pos} of {size}; truncated?)"), error=exc.msg, pos=exc.pos,
                                 size=len(content))) from None

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
        self._rotate()
        return digest, path

    def _rotate(self) -> None:
        """Keep HOME/raw under http.raw_max_bytes: oldest archives (body + sidecar) go first, this session's stay."""
        assert self.raw_dir is not None
        keep = {Path(p).name for p in self.raw_files}
        files = sorted(p for p in self.raw_dir.glob("*.json") if not p.name.endswith(".meta.json"))
        sizes = {p: p.stat().st_size + _size(p.with_name(p.name[:-5] + ".meta.json")) for p in files}
        total = sum(sizes.values())
        for p in files:
            if total <= self.http.raw_max_bytes:
                break
            if p.name in keep:
                continue
            total -= sizes[p]
            for q in (p, p.with_name(p.name[:-5] + ".meta.json")):
                q.unlink(missing_ok=True)


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except FileNotFoundError:
        return 0


def _origin_of(url: str) -> str:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    return f"{u.scheme}://{u.netloc}" if u.scheme and u.netloc else ""


def _connection_reason(exc: Exception) -> str:
    text = str(exc)
    low = text.lower()
    if "proxy" in low:
        return message(N_("the proxy refused or failed the connection (check HTTPS_PROXY / NO_PROXY)"))
    if "certificate" in low or "ssl" in low or "tls" in low:
        return message(N_("TLS/SSL handshake failed (a proxy with its own certificate? set REQUESTS_CA_BUNDLE to its CA file, "
                          "or http.trust_store = 'system')"))
    if "refused" in low:
        return message(N_("connection refused"))
    if "reset" in low:
        return message(N_("connection reset"))
    if "name or service not known" in low or "nodename nor servname" in low or "getaddrinfo" in low or "resolve" in low:
        return message(N_("host name not found (DNS)"))
    if "remotedisconnected" in low or "aborted" in low:
        return message(N_("connection closed without an answer"))
    return message(N_("connection failed"))


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
