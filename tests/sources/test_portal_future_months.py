"""Issue 30: the portal's answers checked like an officer's file: a value for a month after the
current month, or a redirect to another host, refuses the whole answer (exit 3), and nothing is stored."""

from __future__ import annotations

import json

import pytest

from cpi_link.core.errors import SourceUnavailable
from cpi_link.sources import nbs
from nbs_support import C16, CFOOD, CONFIG, I16, IFOOD, PREFIX, answer, home22  # noqa: F401  (home22 is a fixture)


def serve(httpserver, rows):
    def handler(request):
        cid = json.loads(request.get_data())["cid"]
        return answer(C16, I16, rows) if cid == C16 else answer(CFOOD, IFOOD, [("202012MM", "101.2")])

    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_handler(handler)


def test_a_month_after_the_current_month_refuses_the_answer(home22, httpserver):
    serve(httpserver, [("202012MM", "100.2"), ("209901MM", "101.0")])  # 2099-01: always after today
    with pytest.raises(SourceUnavailable) as ei:
        nbs.fetch(CONFIG, home22, ["000000"], "2020-12", "2020-12")
    assert ei.value.exit_status == 3
    assert "2099-01" in ei.value.message and "after the current month" in ei.value.message
    assert not (home22.store_dir / "observations.parquet").exists()


def test_the_cli_says_exit_3_and_stores_nothing(home22, httpserver, cli):
    serve(httpserver, [("202012MM", "100.2"), ("209901MM", "101.0")])
    r = cli("--home", home22.root, "fetch", "--region", "000000", "--since", "2020-12", "--until", "2020-12")
    assert r.exit_code == 3 and "2099-01" in r.stderr, r.stderr
    assert not (home22.store_dir / "observations.parquet").exists()


def test_a_redirect_to_another_host_is_refused_naming_it(home22, httpserver):
    from werkzeug import Response

    target = "http://elsewhere.invalid:8080/stream/esData"
    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_response(
        Response(status=307, headers={"Location": target}))
    with pytest.raises(SourceUnavailable) as ei:
        nbs.fetch(CONFIG, home22, ["000000"], "2020-12", "2020-12")
    assert ei.value.exit_status == 3 and target in ei.value.message and "another host" in ei.value.message
    assert not (home22.store_dir / "observations.parquet").exists()
