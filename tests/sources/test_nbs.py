"""The NBS client against a local HTTP server (pytest-httpserver on 127.0.0.1): no network at all.

Fixtures in tests/fixtures/nbs are hand-written in the shape of the portal's and the legacy
interface's real responses (reference-data/nbs-api.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import time
from decimal import Decimal
from pathlib import Path

import pytest
from werkzeug import Response

from cpi_link.sources import nbs
from cpi_link.core.errors import ExitStatus, SourceUnavailable, UsageError
from cpi_link.core.i18n import language
from cpi_link.core.paths import Home

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"
FIX = Path(__file__).resolve().parents[1] / "fixtures" / "nbs"
PREFIX = "/dg/website/publicrelease/web/external"

ROOT_NATIONAL = "fc982599aa684be7969d7b90b1bd0e84"
ROOT_PROVINCE = "f4c6cd795fea436c807163397dd36b98"
C16, I16 = "9d4eec43537742a7ab5d63db97fa2f51", "e5c318ffdbbc4d38898e52b52267eb25"
C21, I21 = "809d2522b0fe4be89142650341b19083", "4ae9047687934a6390984c21d6ddab96"
C26, I26 = "5c7452825c7c4dcba391db5ca7f335c5", "53180dfb9c14411ba4b762307c85920c"
CFOOD, IFOOD = "deccae3d6ecb4967809ab21a3c679c7f", "09373c3f8fdd428fa1b289925da6d590"

NATIONAL_WINDOW = {
    ("cpi", "2020-11"): Decimal("99.5"),
    ("cpi", "2020-12"): Decimal("100.2"),
    ("cpi", "2021-01"): Decimal("99.7"),
    ("cpi", "2021-02"): Decimal("99.8"),
    ("food", "2020-11"): Decimal("98.0"),
    ("food", "2020-12"): Decimal("101.2"),
    ("food", "2021-01"): Decimal("101.6"),
    ("food", "2021-02"): Decimal("99.8"),
}


def fx(name: str) -> bytes:
    return (FIX / name).read_bytes()


def json_resp(name: str, status: int = 200) -> Response:
    return Response(fx(name), status=status, content_type="application/json;charset=UTF-8")


def html_resp(name: str, status: int = 200) -> Response:
    return Response(fx(name), status=status, content_type="text/html;charset=UTF-8")


class EsData:
    """A stream/esData handler answering by cid, recording every request body."""

    def __init__(self, by_cid: dict[str, str]):
        self.by_cid = by_cid
        self.bodies: list[dict] = []
        self.script: list = []  # responses to give first (e.g. a 500), before answering normally

    def __call__(self, request):
        body = json.loads(request.get_data())
        self.bodies.append(body)
        if self.script:
            nxt = self.script.pop(0)
            return nxt(request) if callable(nxt) else nxt
        return json_resp(self.by_cid.get(body["cid"], "esdata_empty.json"))


NATIONAL_FIXTURES = {C16: "esdata_cpi_2016-2020.json", C21: "esdata_cpi_2021-2025.json", CFOOD: "esdata_food.json"}


@pytest.fixture
def nbs_home(tmp_path, monkeypatch, httpserver) -> Home:
    """Point the client at the local server, no pacing or backoff, no fallback unless a test asks."""
    monkeypatch.setenv("CPI_LINK_NBS_URL", httpserver.url_for(PREFIX))
    monkeypatch.setenv("CPI_LINK_NBS_ALLOW_HTTP", "1")  # the local server is plain http
    monkeypatch.setenv("CPI_LINK_NBS_LEGACY_URL", httpserver.url_for("/easyquery.htm"))
    monkeypatch.setenv("CPI_LINK_NBS_FALLBACK", "none")
    monkeypatch.setenv("CPI_LINK_NBS_MIN_GAP", "0")
    monkeypatch.setenv("CPI_LINK_NBS_BACKOFF", "0")
    monkeypatch.setenv("CPI_LINK_NBS_TRIES", "3")
    monkeypatch.setenv("CPI_LINK_NBS_TIMEOUT", "5")
    monkeypatch.setenv("CPI_LINK_NBS_WARM_UP", "0")  # the warm-up GET has its own tests (test_issue22_*)
    monkeypatch.delenv("CPI_LINK_CONFIG", raising=False)
    monkeypatch.setenv("CPI_LINK_HOME", str(tmp_path / "home"))
    return Home(tmp_path / "home")


def serve_esdata(httpserver, handler) -> None:
    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_handler(handler)


def national(home: Home, since="2020-11", until="2021-02"):
    return nbs.fetch(CONFIG, home, ["000000"], since, until)


def closed_port_url(path: str) -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}{path}"


# ------------------------------------------------------------------------------------------------
# Normal answers


def test_national_cpi_and_food_across_the_2021_base_period_change(nbs_home, httpserver):
    h = EsData(NATIONAL_FIXTURES)
    serve_esdata(httpserver, h)
    out = national(nbs_home)

    got = {(o.indicator, o.month): o.value for o in out.observations}
    assert got == NATIONAL_WINDOW
    assert all(o.region_code == "000000" and o.source == "nbs" for o in out.observations)
    # two CPI slices stitched by month: 2020 from the 2016-2020 leaf, 2021 from the 2021-2025 leaf
    by_cid = {b["cid"]: b for b in h.bodies}
    assert set(by_cid) == {C16, C21, CFOOD}
    # consecutive months go as one range token (nbs-api.md §4)
    assert by_cid[C16]["dts"] == ["202011MM-202012MM"] and by_cid[C16]["indicatorIds"] == [I16]
    assert by_cid[C21]["dts"] == ["202101MM-202102MM"] and by_cid[C21]["indicatorIds"] == [I21]
    assert by_cid[CFOOD]["dts"] == ["202011MM-202102MM"]
    for b in h.bodies:
        assert b["das"] == [{"text": "全国", "value": "000000000000"}]
        assert b["showType"] == "1" and b["daCatalogId"] == "" and b["rootId"] == ROOT_NATIONAL
        assert isinstance(b["dts"], list)
    refs = {(o.indicator, o.month): o.source_ref for o in out.observations}
    assert f"cid={C16}" in refs[("cpi", "2020-12")] and f"indicator={I16}" in refs[("cpi", "2020-12")]
    assert f"cid={C21}" in refs[("cpi", "2021-01")] and "/stream/esData" in refs[("cpi", "2021-01")]
    rep = out.report()
    json.dumps(rep)
    assert rep["requests"] == 3 and rep["not_yet_published"] == [] and rep["nbs_source"] == "nbs"
    assert rep["endpoint"] == httpserver.url_for(PREFIX)


def test_values_are_exact_decimals_and_an_empty_value_is_not_yet_published(nbs_home, httpserver):
    serve_esdata(httpserver, EsData({C26: "esdata_cpi_2026_unpublished.json", CFOOD: "esdata_empty.json"}))
    out = nbs.fetch(CONFIG, nbs_home, ["000000"], "2026-10", "2026-11")
    cpi = [o for o in out.observations if o.indicator == "cpi"]
    assert [(o.month, o.value) for o in cpi] == [("2026-10", Decimal("102.8"))]
    assert isinstance(cpi[0].value, Decimal) and str(cpi[0].value) == "102.8"
    assert cpi[0].yoy_pct == Decimal("2.8")  # exact, no binary float residue
    rep = out.report()
    assert "000000 cpi 2026-11" in rep["not_yet_published"]
    assert "000000 cpi 2026-10" not in rep["not_yet_published"] + rep["no_value"]
    assert not any(o.month == "2026-11" and o.indicator == "cpi" for o in out.observations)


def test_an_empty_window_is_no_error_and_stores_nothing(nbs_home, httpserver):
    serve_esdata(httpserver, EsData({}))  # every request: {"data": [], "success": true}
    out = national(nbs_home)
    assert out.observations == []
    rep = out.report()
    listed = set(rep["not_yet_published"]) | set(rep["no_value"])
    assert {f"000000 {i} {m}" for i, m in NATIONAL_WINDOW} == listed


def test_raw_responses_are_kept_private_with_their_sha256(nbs_home, httpserver):
    serve_esdata(httpserver, EsData(NATIONAL_FIXTURES))
    out = national(nbs_home)
    raw_dir = nbs_home.raw_dir
    assert stat.S_IMODE(os.stat(raw_dir).st_mode) == 0o700
    files = [Path(p) for p in out.report()["raw_files"]]
    assert len(files) == 3
    for p in files:
        assert p.parent == raw_dir and stat.S_IMODE(os.stat(p).st_mode) == 0o600
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        assert digest[:12] in p.name
        meta = json.loads(p.with_name(p.name.replace(".json", ".meta.json")).read_text("utf-8"))
        assert meta["sha256"] == digest and meta["method"] == "POST" and meta["body"]["cid"] in NATIONAL_FIXTURES
    shas = {p.name.split("-")[-1][:12] for p in files}
    assert all(any(f"sha256={s}" in o.source_ref for s in [hashlib.sha256(p.read_bytes()).hexdigest() for p in files])
               for o in out.observations)
    assert shas


def test_provincial_slices_and_food_are_looked_up_in_the_catalogue(nbs_home, httpserver):
    group = "6a27e7bf8c2c4ce4b7d58d56d806f4a5"
    httpserver.expect_request(
        f"{PREFIX}/new/queryIndexTreeAsync", query_string={"code": "4", "pid": group}
    ).respond_with_response(json_resp("tree_province_cpi_group.json"))
    httpserver.expect_request(
        f"{PREFIX}/new/queryIndicatorsByCid", query_string={"cid": "aa00000000000000000000000000a125", "dt": "", "name": ""}
    ).respond_with_response(json_resp("indicators_province_2021-2025.json"))
    httpserver.expect_request(
        f"{PREFIX}/new/queryIndicatorsByCid", query_string={"cid": "aa0000000000000000000000000f00d1", "dt": "", "name": ""}
    ).respond_with_response(json_resp("indicators_province_food.json"))
    h = EsData(
        {
            "aa00000000000000000000000000a125": "esdata_province_2021-2025.json",
            "aa0000000000000000000000000f00d1": "esdata_province_food.json",
        }
    )
    serve_esdata(httpserver, h)
    out = nbs.fetch(CONFIG, nbs_home, ["140000"], "2023-02", "2023-02")
    assert {(o.region_code, o.indicator, o.month, o.value) for o in out.observations} == {
        ("140000", "cpi", "2023-02", Decimal("101.3")),
        ("140000", "food", "2023-02", Decimal("103.2")),
    }
    for b in h.bodies:
        assert b["das"] == [{"text": "山西省", "value": "140000000000"}] and b["rootId"] == ROOT_PROVINCE
    # the tree is asked once for both indicators (cached); the wider 食品烟酒 row is not taken for food
    ids = {i for b in h.bodies for i in b["indicatorIds"]}
    assert ids == {"bb0000000000000000000000000c2125", "bb00000000000000000000000000f00d"}


def test_a_series_nbs_does_not_list_is_reported_as_not_configured(nbs_home, httpserver):
    group = "6a27e7bf8c2c4ce4b7d58d56d806f4a5"
    httpserver.expect_request(f"{PREFIX}/new/queryIndexTreeAsync").respond_with_json(
        {"data": [], "success": True, "state": 20000}
    )
    serve_esdata(httpserver, EsData({}))
    out = nbs.fetch(CONFIG, nbs_home, ["140000"], "2023-02", "2023-03")
    rep = out.report()
    assert out.observations == []
    assert any(s.startswith("140000 cpi 2023-02..2023-03") and group in s for s in rep["not_configured"])
    assert any(s.startswith("140000 food 2023-02..2023-03") for s in rep["not_configured"])


def test_a_district_code_is_refused_before_any_request(nbs_home, httpserver):
    with pytest.raises(UsageError, match="140100"):
        nbs.fetch(CONFIG, nbs_home, ["140100"], "2023-01", "2023-02")
    assert len(httpserver.log) == 0


def test_long_windows_are_asked_as_one_range_token(nbs_home, httpserver):
    h = EsData({})
    serve_esdata(httpserver, h)
    nbs.fetch(CONFIG, nbs_home, ["000000"], "2016-01", "2019-12")
    sizes = sorted((b["cid"], tuple(b["dts"])) for b in h.bodies)
    assert sizes == sorted([(C16, ("201601MM-201912MM",)), (CFOOD, ("201601MM-201912MM",))])


def test_a_portal_refusing_range_tokens_is_asked_in_chunks_of_periods(nbs_home, httpserver):
    h = EsData({})
    serve_esdata(httpserver, lambda r: Response("bad dts", status=500) if "-" in json.loads(r.get_data())["dts"][0] else h(r))
    out = nbs.fetch(CONFIG, nbs_home, ["000000"], "2016-01", "2019-12")
    sizes = sorted((b["cid"], len(b["dts"])) for b in h.bodies)
    assert sizes == sorted([(C16, 36), (C16, 12), (CFOOD, 36), (CFOOD, 12)])
    assert out.requests == 1 + 4  # one refused range token (not retried), then lists for the session


# ------------------------------------------------------------------------------------------------
# Retries and failures


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.sleeps: list[float] = []

    def sleep(self, s: float) -> None:
        self.sleeps.append(round(s, 6))
        self.now += s

    def clock(self) -> float:
        return self.now


def test_requests_are_paced_and_backoff_doubles(httpserver):
    httpserver.expect_request("/ok").respond_with_json({"data": [], "success": True, "state": 20000})
    httpserver.expect_request("/down").respond_with_data("no", status=500)
    fake = FakeClock()
    http = nbs.HttpSettings(timeout_seconds=5, tries=3, backoff_seconds=2, backoff_max_seconds=3, min_gap_seconds=1,
                            backoff_jitter=0)
    t = nbs.Transport(http, None, sleep=fake.sleep, clock=fake.clock)
    t.request_json("GET", httpserver.url_for("/ok"))
    t.request_json("GET", httpserver.url_for("/ok"))
    assert fake.sleeps == [1.0]  # the second request waits for the polite gap
    fake.sleeps.clear()
    with pytest.raises(nbs.SourceFailure) as ei:
        t.request_json("GET", httpserver.url_for("/down"))
    # 1 s gap, then backoff 2 s, then 4 s capped at 3 s (the gap is already covered by the backoff)
    assert fake.sleeps == [1.0, 2.0, 3.0] and ei.value.tries == 3 and ei.value.reason == "HTTP 500"
    t.close()



def test_http_500_then_success_is_retried(nbs_home, httpserver):
    h = EsData(NATIONAL_FIXTURES)
    h.script = [Response("oops", status=500), Response("busy", status=503)]
    serve_esdata(httpserver, h)
    out = national(nbs_home)
    assert {(o.indicator, o.month): o.value for o in out.observations} == NATIONAL_WINDOW
    assert out.report()["requests"] == 5


def test_busy_envelope_is_retried(nbs_home, httpserver):
    h = EsData(NATIONAL_FIXTURES)
    h.script = [json_resp("esdata_busy.json")]
    serve_esdata(httpserver, h)
    assert len(national(nbs_home).observations) == 8


def test_waf_cookie_challenge_307_is_followed_with_the_cookie(nbs_home, httpserver):
    h = EsData(NATIONAL_FIXTURES)
    seen_cookie = []

    def challenge(request):
        return Response("", status=307, headers={"Location": request.url, "Set-Cookie": "wzws_cid=abc123; Path=/", "wzws-ray": "1"})

    def check_cookie_then_answer(request):
        seen_cookie.append(request.cookies.get("wzws_cid"))
        return json_resp(NATIONAL_FIXTURES[json.loads(request.get_data())["cid"]])

    h.script = [challenge, check_cookie_then_answer]
    serve_esdata(httpserver, h)
    out = national(nbs_home)
    assert len(out.observations) == 8 and seen_cookie == ["abc123"]
    assert h.bodies[0] == h.bodies[1]  # the POST body survives the 307


def test_persistent_500_is_source_unavailable_exit_3(nbs_home, httpserver):
    serve_esdata(httpserver, lambda r: Response("Internal Server Error", status=500))
    with pytest.raises(SourceUnavailable) as ei:
        national(nbs_home)
    msg = ei.value.message
    assert ei.value.exit_status == ExitStatus.MISSING_FIGURES == 3
    assert "NBS portal" in msg and "after 3 tries" in msg and "HTTP 500" in msg and "Nothing was stored" in msg
    assert "\n" not in msg
    assert len(httpserver.log) == 1 + 3  # the range token's 500 is not retried; the month list gets 3 tries


def test_a_timeout_is_retried_then_reported(nbs_home, httpserver, monkeypatch):
    monkeypatch.setenv("CPI_LINK_NBS_TIMEOUT", "0.2")
    monkeypatch.setenv("CPI_LINK_NBS_TRIES", "2")

    def slow(request):
        time.sleep(0.6)
        return json_resp("esdata_empty.json")

    serve_esdata(httpserver, slow)
    with pytest.raises(SourceUnavailable) as ei:
        national(nbs_home)
    assert "unreachable" in ei.value.message and "timeout" in ei.value.message and "after 2 tries" in ei.value.message
    deadline = time.monotonic() + 5  # let the server finish the slow answers before the next test
    while len(httpserver.log) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)


def test_waf_html_page_stops_at_once_with_a_time_to_retry(nbs_home, httpserver):
    serve_esdata(httpserver, lambda r: html_resp("waf_challenge.html"))
    with pytest.raises(SourceUnavailable) as ei:
        national(nbs_home)
    assert "challenge page" in ei.value.message and "after 1 try" in ei.value.message
    assert "Try again after" in ei.value.message and "Nothing was stored" in ei.value.message
    assert len(httpserver.log) == 1  # retrying makes such blocks longer


def test_waf_html_page_once_then_json_when_the_operator_asked_to_wait(nbs_home, httpserver, monkeypatch):
    monkeypatch.setenv("CPI_LINK_NBS_ON_CHALLENGE", "wait")
    monkeypatch.setenv("CPI_LINK_NBS_CHALLENGE_WAIT", "0")
    h = EsData(NATIONAL_FIXTURES)
    h.script = [html_resp("waf_challenge.html")]
    serve_esdata(httpserver, h)
    assert len(national(nbs_home).observations) == 8


def test_truncated_json_names_the_problem(nbs_home, httpserver):
    body = fx("esdata_cpi_2016-2020.json")
    serve_esdata(httpserver, lambda r: Response(body[: len(body) // 2], content_type="application/json"))
    with pytest.raises(SourceUnavailable, match="malformed JSON .*truncated"):
        national(nbs_home)


def test_an_html_error_page(nbs_home, httpserver):
    serve_esdata(httpserver, lambda r: html_resp("error_page.html"))
    with pytest.raises(SourceUnavailable, match="HTML page instead of JSON"):
        national(nbs_home)


def test_an_html_502_gateway_page(nbs_home, httpserver):
    serve_esdata(httpserver, lambda r: html_resp("error_page.html", status=502))
    with pytest.raises(SourceUnavailable, match="HTTP 502"):
        national(nbs_home)


def test_an_answer_for_another_indicator_is_refused(nbs_home, httpserver):
    serve_esdata(httpserver, EsData({C16: "esdata_wrong_indicator.json"}))
    with pytest.raises(SourceUnavailable, match="not asked for"):
        national(nbs_home, "2020-12", "2020-12")


# ------------------------------------------------------------------------------------------------
# The legacy fallback


def _serve_legacy(httpserver, calls: list):
    by_code = {"A01010101": "legacy_A01010101.json", "A01010G01": "legacy_A01010G01.json", "A01010301": "legacy_A01010301.json"}

    def handler(request):
        calls.append(dict(request.args))
        code = json.loads(request.args["dfwds"])[0]["valuecode"]
        return Response(fx(by_code.get(code, "legacy_notfound.json")), content_type="application/json;charset=UTF-8")

    httpserver.expect_request("/easyquery.htm").respond_with_handler(handler)


def test_portal_down_falls_back_to_legacy(nbs_home, httpserver, monkeypatch):
    monkeypatch.setenv("CPI_LINK_NBS_URL", closed_port_url(PREFIX))
    monkeypatch.setenv("CPI_LINK_NBS_ALLOW_HTTP", "1")
    monkeypatch.setenv("CPI_LINK_NBS_FALLBACK", "legacy")
    calls: list = []
    _serve_legacy(httpserver, calls)
    with language("zh"):  # the report's portal_failed is for scripts: English whatever the reader's language
        out = national(nbs_home)
    assert {(o.indicator, o.month): o.value for o in out.observations} == NATIONAL_WINDOW
    # strdata is the published figure: 99.7 although `data` carries 99.6834701
    assert all(o.source == "nbs-legacy" and "easyquery.htm" in o.source_ref for o in out.observations)
    rep = out.report()
    assert rep["nbs_source"] == "nbs-legacy" and "connection refused" in rep["portal_failed"]
    assert rep["portal_failed"].startswith("NBS portal unreachable at ") and " tries: " in rep["portal_failed"]
    sj = {json.loads(c["dfwds"])[0]["valuecode"]: json.loads(c["dfwds"])[1]["valuecode"] for c in calls}
    assert sj == {"A01010101": "202011-202012", "A01010G01": "202101-202102", "A01010301": "202011-202102"}
    assert all(c["m"] == "QueryData" and c["dbcode"] == "hgyd" and c["wds"] == "[]" for c in calls)


def test_a_fetch_falling_back_leaves_the_process_language_alone(nbs_home, httpserver, monkeypatch):
    """The portal's failure is said in English for the report and in Chinese for the reader without switching
    the process's language: `serve` runs a fetch in a task thread while request threads render pages in the
    officer's language, and a switch to English, even for a moment, shows them an English page."""
    from cpi_link.core import i18n

    monkeypatch.setenv("CPI_LINK_NBS_URL", closed_port_url(PREFIX))
    monkeypatch.setenv("CPI_LINK_NBS_ALLOW_HTTP", "1")
    monkeypatch.setenv("CPI_LINK_NBS_FALLBACK", "legacy")
    _serve_legacy(httpserver, [])
    switched: list = []
    real = i18n.set_language
    with language("zh"):
        monkeypatch.setattr(i18n, "set_language", lambda lang: switched.append(lang) or real(lang))
        out = national(nbs_home)
        monkeypatch.setattr(i18n, "set_language", real)
    assert switched == []
    assert out.report()["portal_failed"].startswith("NBS portal unreachable at ")


def test_portal_down_and_legacy_blocked_403_urlacl(nbs_home, httpserver, monkeypatch):
    monkeypatch.setenv("CPI_LINK_NBS_URL", closed_port_url(PREFIX))
    monkeypatch.setenv("CPI_LINK_NBS_ALLOW_HTTP", "1")
    monkeypatch.setenv("CPI_LINK_NBS_FALLBACK", "legacy")
    httpserver.expect_request("/easyquery.htm").respond_with_response(html_resp("legacy_urlacl_403.html", status=403))
    with pytest.raises(SourceUnavailable) as ei:
        national(nbs_home)
    msg = ei.value.message
    assert msg.startswith("NBS portal unreachable at ") and "after 3 tries: connection refused" in msg
    assert "legacy fallback failed" in msg and "403 UrlACL" in msg and msg.endswith("Nothing was stored.")
    assert len(httpserver.log) == 1  # a 403 is not retried


def test_legacy_not_found_is_named(nbs_home, httpserver, monkeypatch):
    monkeypatch.setenv("CPI_LINK_NBS_URL", closed_port_url(PREFIX))
    monkeypatch.setenv("CPI_LINK_NBS_ALLOW_HTTP", "1")
    monkeypatch.setenv("CPI_LINK_NBS_FALLBACK", "legacy")
    monkeypatch.setenv("CPI_LINK_NBS_TRIES", "1")
    httpserver.expect_request("/easyquery.htm").respond_with_response(json_resp("legacy_notfound.json"))
    with pytest.raises(SourceUnavailable, match="after 1 try: connection refused; legacy fallback failed .*returncode 501"):
        national(nbs_home)


# ------------------------------------------------------------------------------------------------
# Config


def test_sources_config_is_data_with_date_ranges(monkeypatch):
    for var in ("CPI_LINK_NBS_URL", "CPI_LINK_NBS_LEGACY_URL", "CPI_LINK_NBS_FALLBACK", *nbs.ENV_HTTP.values()):
        monkeypatch.delenv(var, raising=False)
    s = nbs.load_sources(CONFIG)
    assert s.portal_url == "https://data.stats.gov.cn/dg/website/publicrelease/web/external"
    assert s.default_regions == ["140000", "000000"] and s.fallback == "none"  # legacy only by hand
    assert s.http.min_gap_seconds >= 1.0 and s.http.tries >= 2 and s.http.timeout_seconds > 0
    nat_cpi = [e for e in s.portal_series if e.scope == "national" and e.indicator == "cpi"]
    assert nbs.covering(nat_cpi, "2020-12").cid == C16
    assert nbs.covering(nat_cpi, "2021-01").cid == C21
    assert nbs.covering(nat_cpi, "2026-01").cid == C26
    leg = [e for e in s.legacy_series if e.scope == "national" and e.indicator == "cpi"]
    assert [nbs.covering(leg, m).code for m in ("2018-05", "2021-01", "2026-03")] == ["A01010101", "A01010G01", "A01010J01"]
    env = {"CPI_LINK_NBS_URL": "http://mirror.example/x/", "CPI_LINK_NBS_MIN_GAP": "0"}
    s2 = nbs.load_sources(CONFIG, env=env)
    assert s2.portal_url == "http://mirror.example/x" and s2.http.min_gap_seconds == 0


def test_a_bad_sources_file_is_a_config_error(tmp_path):
    from cpi_link.core.errors import ConfigError

    text = (CONFIG / "sources.toml").read_text("utf-8").replace('from = "2021-01"', 'from = "2021-13"', 1)
    (tmp_path / "sources.toml").write_text(text, "utf-8")
    with pytest.raises(ConfigError, match="sources.toml.*2021-13"):
        nbs.load_sources(tmp_path, env={})


def test_names_are_normalised_like_the_portal_clients_do():
    assert nbs.split_slice("居民消费价格分类指数 (上年同月=100) (2021-2025) ") == ("居民消费价格分类指数(上年同月=100)", "2021", "2025")
    assert nbs.split_slice("X（上年同月=100）(2026-)") == ("X(上年同月=100)", "2026", None)
    assert nbs.normalise_name(" 食品类居民消费价格指数 （上年同月=100） ") == "食品类居民消费价格指数(上年同月=100)"


# ------------------------------------------------------------------------------------------------
# The command line, end to end


def _run(args: list[str], env: dict[str, str]):
    from conftest import run_cli

    return run_cli(args, env)


def _env(home: Home, httpserver) -> dict[str, str]:
    return {"CPI_LINK_HOME": str(home.root), "CPI_LINK_NBS_URL": httpserver.url_for(PREFIX), "CPI_LINK_NBS_ALLOW_HTTP": "1", "COLUMNS": "200", "NO_COLOR": "1"}


def test_cli_fetch_then_series_shows_the_fetched_values(nbs_home, httpserver):
    serve_esdata(httpserver, EsData({**NATIONAL_FIXTURES, C26: "esdata_cpi_2026_unpublished.json"}))
    env = _env(nbs_home, httpserver)
    r = _run(["fetch", "--source", "nbs", "--region", "000000", "--since", "2020-11", "--until", "2021-02", "--format", "json"], env)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    rep = json.loads(r.stdout)
    assert rep["rows"] == 8 and rep["requests"] == 3 and rep["not_yet_published"] == []

    r = _run(["series", "--region", "000000", "--since", "2020-11", "--until", "2021-02", "--format", "json"], env)
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)
    assert {(x["indicator"], x["month"]): Decimal(x["value"]) for x in rows} == NATIONAL_WINDOW

    # a month the bundled figures lack shows its NBS provenance
    r = _run(["fetch", "--region", "000000", "--since", "2026-10", "--until", "2026-11", "--format", "json"], env)
    assert r.exit_code == 0, r.stderr
    assert "000000 cpi 2026-11" in json.loads(r.stdout)["not_yet_published"]
    r = _run(["series", "--region", "000000", "--since", "2026-10", "--format", "json"], env)
    (row,) = [x for x in json.loads(r.stdout) if x["indicator"] == "cpi"]
    assert (row["month"], row["indicator"], row["value"], row["source"]) == ("2026-10", "cpi", "102.8", "nbs")
    assert C26 in row["source_ref"] and I26 in row["source_ref"]


def test_cli_series_shows_nbs_provenance_for_figures_equal_to_the_bundled_ones(nbs_home, httpserver):
    serve_esdata(httpserver, EsData(NATIONAL_FIXTURES))
    env = _env(nbs_home, httpserver)
    r = _run(["fetch", "--region", "000000", "--since", "2020-11", "--until", "2021-02"], env)
    assert r.exit_code == 0, r.stderr
    r = _run(["series", "--region", "000000", "--since", "2020-11", "--until", "2021-02", "--format", "json"], env)
    assert {x["source"] for x in json.loads(r.stdout)} == {"nbs"}


def test_cli_failure_leaves_the_store_untouched(nbs_home, httpserver):
    env = _env(nbs_home, httpserver)
    h = EsData(NATIONAL_FIXTURES)
    serve_esdata(httpserver, h)
    # a first fetch that adds a figure the bundled data lacks (2026-10), so the store file exists
    h.by_cid = {C26: "esdata_cpi_2026_unpublished.json"}
    r = _run(["fetch", "--region", "000000", "--since", "2026-10", "--until", "2026-11", "--format", "json"], env)
    assert r.exit_code == 0, r.stderr
    store_file = nbs_home.store_dir / "observations.parquet"
    assert store_file.exists()
    before = (store_file.read_bytes(), store_file.stat().st_mtime_ns)

    h.script = [Response("down", status=500)] * 10
    r = _run(["fetch", "--region", "000000", "--since", "2020-11", "--until", "2021-02"], env)
    assert r.exit_code == 3
    assert "NBS portal failed" in r.stderr and "HTTP 500" in r.stderr and "Nothing was stored" in r.stderr
    assert r.stdout == ""
    assert (store_file.read_bytes(), store_file.stat().st_mtime_ns) == before
    # issue 34: in the reader's language (it was English in a Chinese run); the transport's reason as it came
    r = _run(["--lang", "zh", "fetch", "--region", "000000", "--since", "2020-11", "--until", "2021-02"], env)
    said = " ".join(r.stderr.split())
    assert r.exit_code == 3 and "国家统计局数据门户访问失败" in said and "HTTP 500" in said and "未存入任何数据" in said, said
    assert "NBS portal" not in said and "Nothing was stored" not in said
    assert (store_file.read_bytes(), store_file.stat().st_mtime_ns) == before


def test_cli_sources_show_and_discover(nbs_home, httpserver):
    env = _env(nbs_home, httpserver)
    r = _run(["sources", "show", "--format", "json"], env)
    assert r.exit_code == 0, r.stderr
    shown = json.loads(r.stdout)
    assert shown["portal_url"] == httpserver.url_for(PREFIX)
    assert any(x["cid_or_code"] == C21 and x["from"] == "2021-01" for x in shown["series"])

    httpserver.expect_request(
        f"{PREFIX}/new/queryIndexTreeAsync", query_string={"code": "4", "pid": "6a27e7bf8c2c4ce4b7d58d56d806f4a5"}
    ).respond_with_response(json_resp("tree_province_cpi_group.json"))
    r = _run(["sources", "discover", "--dataset", "4", "--pid", "6a27e7bf8c2c4ce4b7d58d56d806f4a5", "--format", "json"], env)
    assert r.exit_code == 0, r.stderr
    nodes = json.loads(r.stdout)
    assert nodes[0] == {
        "name": "居民消费价格分类指数 (上年同月=100) (2026-)", "_id": "b5e122302ad745358ba7415bd4a22c2f",
        "isLeaf": True, "sdate": "2026", "edate": None,
    }
    r = _run(["sources", "discover", "--dataset", "4", "--pid", "6a27e7bf8c2c4ce4b7d58d56d806f4a5", "--format", "csv"], env)
    assert r.stdout.splitlines()[0] == "name,_id,isLeaf,sdate,edate"
    # issue 34: booleans are true/false in CSV, yes/no in the table, as sources.toml writes them in the settings line
    assert r.stdout.splitlines()[1] == "居民消费价格分类指数 (上年同月=100) (2026-),b5e122302ad745358ba7415bd4a22c2f,true,2026,"
    r = _run(["sources", "discover", "--dataset", "4", "--pid", "6a27e7bf8c2c4ce4b7d58d56d806f4a5"], env | {"COLUMNS": "80"})
    # at 80 columns (cron mail) each _id stays on one line, to be copied into --pid or --cid
    assert r.exit_code == 0 and "b5e122302ad745358ba7415bd4a22c2f" in r.stdout and "True" not in r.stdout and "yes" in r.stdout
    assert all(n["_id"] in r.stdout for n in nodes) and max(len(line) for line in r.stdout.splitlines()) <= 80
    r = _run(["sources", "show"], env)
    assert "range_tokens=true" in "".join(r.stdout.split()) and "True" not in r.stdout
    for args in (["sources", "--help"], ["sources", "show", "--help"], ["sources", "discover", "--help"]):
        assert _run(args, env).exit_code == 0


def test_cli_fetch_of_a_prefecture_is_refused_in_the_readers_language(nbs_home, httpserver):
    """NBS publishes monthly figures for the country and the provinces: --region 140100 (太原) is bad usage (exit 2)
    before any request, said in Chinese in a Chinese run (it was English)."""
    env = _env(nbs_home, httpserver)
    r = _run(["--lang", "zh", "fetch", "--region", "140100", "--since", "2024-01", "--until", "2024-02"], env)
    said = " ".join(r.stderr.split())
    assert r.exit_code == 2 and "国家统计局只发布全国（000000）和各省（XX0000）的月度居民消费价格指数" in said, said
    assert "140100 不是" in said and "publishes" not in said and "Traceback" not in said
    r = _run(["--lang", "en", "fetch", "--region", "140100", "--since", "2024-01", "--until", "2024-02"], env)
    assert r.exit_code == 2 and "140100 is not a province listed in" in " ".join(r.stderr.split()), r.stderr
    assert httpserver.log == []
