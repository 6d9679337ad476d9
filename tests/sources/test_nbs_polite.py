"""Issue 22, politeness as the portal's firewall wants: one warm-up GET per session, browser headers,
Retry-After honoured, jittered backoff, the challenge page stops the fetch at once (or waits when the
operator asked), the legacy fallback off by default."""

from __future__ import annotations

import json
import random
import re
import socket
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner
from werkzeug import Response

from cpi_link.core.errors import SourceUnavailable
from cpi_link.sources import nbs
from cpi_link.sources.nbs.transport import Blocked, retry_after_seconds
from nbs_support import (  # noqa: F401  (home22 is a fixture)
    C16,
    CONFIG,
    NATIONAL_FIXTURES,
    PAGE,
    PREFIX,
    fx,
    home22,
    json_resp,
    point_env,
)

OK = {"data": [], "success": True, "state": 20000}


def challenge(retry_after: str | None = None, status: int = 200) -> Response:
    headers = {"wzws-ray": "8f1c2a"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return Response(fx("waf_challenge.html"), status=status, headers=headers, content_type="text/html;charset=UTF-8")


def fetch(home):
    return nbs.fetch(CONFIG, home, ["000000"], "2020-11", "2020-12")


def posts(httpserver) -> list:
    return [req for req, _ in httpserver.log if req.method == "POST"]


# ------------------------------------------------------------------------------------------------
# Warm-up and headers


def test_one_warm_up_get_then_requests_with_the_cookie_and_a_browsers_headers(tmp_path, monkeypatch, httpserver):
    httpserver.expect_request(PAGE, method="GET").respond_with_response(
        Response("<html>portal</html>", content_type="text/html", headers={"Set-Cookie": "wzws_cid=warm; Path=/"})
    )
    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_handler(
        lambda r: json_resp(NATIONAL_FIXTURES[json.loads(r.get_data())["cid"]])
    )
    home = point_env(monkeypatch, tmp_path, httpserver.url_for("").rstrip("/"))
    out = fetch(home)
    assert len(out.observations) == 4
    log = [req for req, _ in httpserver.log]
    assert [r.method for r in log] == ["GET", "POST", "POST"]  # one warm-up for the whole session
    page = log[0]
    assert page.path == PAGE and page.headers["Accept"].startswith("text/html")
    assert page.headers["Sec-Fetch-Mode"] == "navigate" and "Referer" not in page.headers
    origin = httpserver.url_for("").rstrip("/")
    for r in log[1:]:
        assert r.cookies.get("wzws_cid") == "warm"
        assert r.headers["Referer"] == f"{origin}{PAGE}#/pc/national/monthData"
        assert r.headers["Origin"] == origin
        assert r.headers["Content-Type"] == "application/json;charset=UTF-8"
        assert r.headers["Accept"] == "application/json, text/plain, */*"
        assert r.headers["Accept-Language"].startswith("zh-CN")
        assert r.headers["Sec-Fetch-Site"] == "same-origin" and r.headers["User-Agent"].startswith("Mozilla/5.0")
    assert out.requests == 3


def test_307_without_the_cookie_then_success_after_the_warm_up(tmp_path, monkeypatch, httpserver):
    """The firewall redirects cookieless POSTs to themselves (307); the warm-up's cookie cures it."""
    httpserver.expect_request(PAGE, method="GET").respond_with_response(
        Response("<html>portal</html>", content_type="text/html", headers={"Set-Cookie": "wzws_cid=warm; Path=/"})
    )

    def es(request):
        if request.cookies.get("wzws_cid") != "warm":
            return Response("", status=307, headers={"Location": request.url, "wzws-ray": "1"})
        return json_resp(NATIONAL_FIXTURES[json.loads(request.get_data())["cid"]])

    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_handler(es)
    base = httpserver.url_for("").rstrip("/")

    home = point_env(monkeypatch, tmp_path, base, warm_up=False)
    with pytest.raises(SourceUnavailable, match="redirect loop"):
        fetch(home)  # without the warm-up: the 307 loop (what users of other clients report)

    httpserver.clear_log()
    home = point_env(monkeypatch, tmp_path / "b", base, warm_up=True)
    out = fetch(home)
    assert len(out.observations) == 4
    assert [r.method for r, _ in httpserver.log] == ["GET", "POST", "POST"]


def test_a_failed_warm_up_does_not_stop_the_fetch(tmp_path, monkeypatch, httpserver):
    httpserver.expect_request(PAGE).respond_with_data("down", status=502)
    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_json(OK)
    home = point_env(monkeypatch, tmp_path, httpserver.url_for("").rstrip("/"))
    out = fetch(home)
    assert out.requests == 3 and len(httpserver.log) == 3


# ------------------------------------------------------------------------------------------------
# The challenge page


def test_challenge_without_retry_after_stops_at_once_and_says_when_to_retry(home22, httpserver):
    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_response(challenge())
    with pytest.raises(SourceUnavailable) as ei:
        fetch(home22)
    msg = ei.value.message
    assert ei.value.exit_status == 3 and "challenge page" in msg and "after 1 try" in msg
    assert "retrying makes them longer" in msg and "(in 30 min)" in msg and "Nothing was stored" in msg
    assert re.search(r"Try again after \d{4}-\d\d-\d\d \d\d:\d\d Beijing time", msg)  # a time for people (it said UTC)
    assert len(posts(httpserver)) == 1


def test_challenge_with_retry_after_names_the_servers_time(home22, httpserver):
    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_response(challenge("600"))
    with pytest.raises(SourceUnavailable) as ei:
        fetch(home22)
    assert "(in 10 min) (Retry-After 600s)" in ei.value.message
    assert len(posts(httpserver)) == 1


def test_a_403_from_the_firewall_is_a_challenge_too(home22, httpserver):
    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_response(challenge("120", status=403))
    with pytest.raises(SourceUnavailable, match=r"firewall refused the request \(HTTP 403 challenge page\).*in 2 min"):
        fetch(home22)
    assert len(posts(httpserver)) == 1


def test_the_challenge_is_no_reason_to_try_the_legacy_interface(home22, httpserver, monkeypatch):
    monkeypatch.setenv("CPI_LINK_NBS_FALLBACK", "legacy")
    monkeypatch.setenv("CPI_LINK_NBS_LEGACY_URL", httpserver.url_for("/easyquery.htm"))
    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_response(challenge())
    with pytest.raises(SourceUnavailable, match="challenge page"):
        fetch(home22)
    assert not any(r.path == "/easyquery.htm" for r, _ in httpserver.log)


def test_cli_challenge_is_exit_3_with_one_clear_line(home22, httpserver):
    from cpi_link.cli import app

    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_response(challenge("900"))
    r = CliRunner().invoke(app, ["fetch", "--region", "000000", "--since", "2020-11", "--until", "2020-12"],
                           env={"COLUMNS": "300", "NO_COLOR": "1"}, catch_exceptions=False)
    assert r.exit_code == 3 and r.stdout == ""
    assert "Try again after" in r.stderr and "(in 15 min)" in r.stderr and "Traceback" not in r.stderr


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.sleeps: list[float] = []

    def sleep(self, s: float) -> None:
        self.sleeps.append(round(s, 6))
        self.now += s

    def clock(self) -> float:
        return self.now


def _transport(**kw):
    fake = FakeClock()
    settings = dict(timeout_seconds=5, tries=3, backoff_seconds=2, backoff_max_seconds=60, min_gap_seconds=0, backoff_jitter=0)
    settings.update(kw)
    t = nbs.Transport(nbs.HttpSettings(**settings), None, sleep=fake.sleep, clock=fake.clock, rng=random.Random(7))
    return t, fake


def _script(httpserver, path, responses):
    queue = list(responses)
    httpserver.expect_request(path).respond_with_handler(lambda r: queue.pop(0) if queue else Response(json.dumps(OK), content_type="application/json"))


def test_operator_asked_to_wait_sits_out_the_challenge_for_minutes(httpserver):
    _script(httpserver, "/es", [challenge("600"), challenge()])
    t, fake = _transport(on_challenge="wait", challenge_wait_seconds=300)
    raw = t.request_json("GET", httpserver.url_for("/es"))
    assert raw.payload == OK
    assert fake.sleeps == [600.0, 300.0]  # Retry-After when given (longer than the configured wait), else the wait
    t.close()


def test_operator_asked_to_wait_and_still_blocked(httpserver):
    _script(httpserver, "/es", [challenge()] * 5)
    t, fake = _transport(on_challenge="wait", challenge_wait_seconds=300, tries=2)
    with pytest.raises(Blocked, match="still blocked after waiting"):
        t.request_json("GET", httpserver.url_for("/es"))
    assert fake.sleeps == [300.0]
    t.close()


# ------------------------------------------------------------------------------------------------
# Retry-After and jitter


def test_retry_after_is_honoured_on_503(httpserver):
    _script(httpserver, "/es", [Response("busy", status=503, headers={"Retry-After": "7"})])
    t, fake = _transport()
    t.request_json("GET", httpserver.url_for("/es"))
    assert fake.sleeps == [7.0]  # not the 2 s backoff: the server said 7
    t.close()


def test_a_retry_after_beyond_the_limit_stops_with_the_time(httpserver):
    _script(httpserver, "/es", [Response("busy", status=429, headers={"Retry-After": "3600"})] * 3)
    t, fake = _transport(retry_after_max_seconds=120)
    with pytest.raises(nbs.SourceFailure, match=r"HTTP 429; the server asks to wait 3600s \(Retry-After\): try again after .*\(in 60 min\)"):
        t.request_json("GET", httpserver.url_for("/es"))
    assert fake.sleeps == [] and len(httpserver.log) == 1
    t.close()


def test_backoff_has_jitter(httpserver):
    _script(httpserver, "/es", [Response("x", status=500)] * 2)
    t, fake = _transport(backoff_jitter=0.25)
    t.request_json("GET", httpserver.url_for("/es"))
    a, b = fake.sleeps
    # 2 s then 4 s, each stretched by a random 0..25 %
    assert 2.0 <= a <= 2.5 and 4.0 <= b <= 5.0 and (a, b) != (2.0, 4.0)
    t.close()


def test_retry_after_as_an_http_date():
    now = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
    assert retry_after_seconds(format_datetime(now + timedelta(minutes=5), usegmt=True), now) == 300
    assert retry_after_seconds("120") == 120 and retry_after_seconds("soon") is None and retry_after_seconds(None) is None


# ------------------------------------------------------------------------------------------------
# The legacy interface: a manual option


def test_legacy_fallback_is_off_by_default(tmp_path, monkeypatch, httpserver):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    s.close()
    home = point_env(monkeypatch, tmp_path, closed, warm_up=False)
    monkeypatch.delenv("CPI_LINK_NBS_FALLBACK")
    monkeypatch.setenv("CPI_LINK_NBS_LEGACY_URL", httpserver.url_for("/easyquery.htm"))
    with pytest.raises(SourceUnavailable, match="connection refused; no legacy fallback configured"):
        fetch(home)
    assert len(httpserver.log) == 0  # no request spent on easyquery.htm


def test_a_urlacl_403_is_a_closed_path_not_a_passing_block(home22, httpserver):
    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_response(
        Response(fx("legacy_urlacl_403.html"), status=403, headers={"wzws-ray": "1", "reason": "UrlACL"}, content_type="text/html")
    )
    with pytest.raises(SourceUnavailable) as ei:
        fetch(home22)
    assert "blocked (HTTP 403 UrlACL)" in ei.value.message and "Try again after" not in ei.value.message
