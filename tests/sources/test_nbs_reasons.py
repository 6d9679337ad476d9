"""Issue 34: the reasons the NBS transport and the answer checks write themselves (connection refused, a
timeout, a refused value, the firewall's page) are said in the reader's language inside the fetch failure;
the report's portal_failed, for scripts, keeps them English."""

from __future__ import annotations

import json
import time

import pytest
from werkzeug import Response

from cpi_link.core.errors import SourceUnavailable
from cpi_link.core.i18n import language
from cpi_link.sources import nbs
from nbs_support import C16, CFOOD, CONFIG, I16, IFOOD, PREFIX, answer, home22  # noqa: F401  (home22 is a fixture)

from test_nbs import closed_port_url


def _fetch(home, lang: str) -> str:
    with language(lang), pytest.raises(SourceUnavailable) as ei:
        nbs.fetch(CONFIG, home, ["000000"], "2020-11", "2020-12")
    return ei.value.message


def _serve(httpserver, handler) -> None:
    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_handler(handler)


def test_a_value_that_is_not_an_index_is_refused_in_chinese(home22, httpserver):
    def handler(request):
        cid = json.loads(request.get_data())["cid"]
        if cid == C16:
            return answer(C16, I16, [("202012MM", "100.2"), ("202011MM", "1002.0")])
        return answer(CFOOD, IFOOD, [("202012MM", "101.2"), ("202011MM", "98.0")])

    _serve(httpserver, handler)
    zh = _fetch(home22, "zh")
    assert "值 '1002.0' 不是上年同月=100 的指数（不在 50..200 范围内）；整个回应被拒绝" in zh, zh
    assert "the whole answer is refused" not in zh and "is not an index" not in zh
    en = _fetch(home22, "en")
    assert "value '1002.0' is not an index 上年同月=100 (outside 50..200); the whole answer is refused" in en, en


def test_connection_refused_is_said_in_chinese_and_stays_english_for_scripts(home22, httpserver, monkeypatch):
    monkeypatch.setenv("CPI_LINK_NBS_URL", closed_port_url(PREFIX))
    monkeypatch.setenv("CPI_LINK_NBS_TRIES", "1")
    zh = _fetch(home22, "zh")
    assert "连接被拒绝" in zh and "connection refused" not in zh, zh
    assert "connection refused" in _fetch(home22, "en")


def test_a_timeout_is_said_in_chinese(home22, httpserver, monkeypatch):
    monkeypatch.setenv("CPI_LINK_NBS_TIMEOUT", "0.2")
    monkeypatch.setenv("CPI_LINK_NBS_TRIES", "1")

    def slow(request):
        time.sleep(0.6)
        return Response("{}", content_type="application/json")

    _serve(httpserver, slow)
    zh = _fetch(home22, "zh")
    assert "0.2 秒内没有收到完整回应（timeout：整个请求的时限）" in zh and "no complete answer" not in zh, zh
    time.sleep(1)  # the server finishes the slow answer it is still writing before the next test's requests


def test_the_firewall_page_is_said_in_chinese(home22, httpserver):
    page = b"<html><script>var wzws='x';</script>javascript</html>"
    _serve(httpserver, lambda r: Response(page, status=200, content_type="text/html"))
    zh = _fetch(home22, "zh")
    assert "数据门户的防火墙返回了验证页面" in zh and "已立即停止" in zh and "分钟后" in zh, zh
    assert "Try again after" not in zh and "challenge page" not in zh
    assert "北京时间" in zh and "UTC" not in zh  # a time for people
    with language("en"), pytest.raises(SourceUnavailable) as ei:
        nbs.fetch(CONFIG, home22, ["000000"], "2020-11", "2020-12")
    en = ei.value.message
    assert "challenge page" in en and "stopped at once" in en and "Try again after" in en and "Beijing time" in en, en


def test_an_answer_for_another_indicator_is_said_in_chinese(home22, httpserver):
    _serve(httpserver, lambda r: answer(C16, "someotherindicator", [("202012MM", "100.2")]))
    zh = _fetch(home22, "zh")
    assert "stream/esData 返回了未请求的指标 someotherindicator（请求的是 " in zh and "not asked for" not in zh, zh
    en = _fetch(home22, "en")
    assert "stream/esData returned indicator someotherindicator which was not asked for (asked " in en, en
