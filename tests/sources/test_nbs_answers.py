"""Issue 22, answers checked before they touch the store: conflicting duplicates, more than one
decimal, impossible values -> the whole fetch refused (exit 3, the value named), store untouched."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from cpi_link.core.errors import SourceUnavailable
from cpi_link.sources import nbs
from nbs_support import (  # noqa: F401  (home22 is a fixture)
    C16,
    CFOOD,
    CONFIG,
    I16,
    IFOOD,
    PREFIX,
    answer,
    home22,
)

FOOD_OK = [("202012MM", "101.2"), ("202011MM", "98.0")]


def serve(httpserver, cpi_rows, food_rows=FOOD_OK):
    def handler(request):
        cid = json.loads(request.get_data())["cid"]
        return answer(C16, I16, cpi_rows) if cid == C16 else answer(CFOOD, IFOOD, food_rows)

    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_handler(handler)


def fetch(home):
    return nbs.fetch(CONFIG, home, ["000000"], "2020-11", "2020-12")


def test_two_different_values_for_one_month_refuse_the_whole_answer(home22, httpserver):
    serve(httpserver, [("202012MM", "100.2"), ("202011MM", "99.5"), ("202012MM", "100.3")])
    with pytest.raises(SourceUnavailable) as ei:
        fetch(home22)
    msg = ei.value.message
    assert ei.value.exit_status == 3
    assert "two different values for 000000 cpi 2020-12" in msg and "100.2 and 100.3" in msg and "Nothing was stored" in msg


def test_an_exact_repeat_is_one_observation(home22, httpserver):
    serve(httpserver, [("202012MM", "100.2"), ("202011MM", "99.5"), ("202012MM", "100.2")])
    out = fetch(home22)
    cpi = sorted((o.month, o.value) for o in out.observations if o.indicator == "cpi")
    assert cpi == [("2020-11", Decimal("99.5")), ("2020-12", Decimal("100.2"))]


@pytest.mark.parametrize(
    "value, words",
    [
        ("101.355", "has more than one decimal"),  # a traceback before
        ("101.35", "has more than one decimal"),
        ("1002.0", "is not an index 上年同月=100"),  # impossible: a CPI index is near 100
        ("-1.0", "is not an index 上年同月=100"),
        ("NaN", "is not a published index"),
        ("1e2", "is not a published index"),
        ("１０１.３", "is not a published index"),  # full-width digits: not what the portal publishes
    ],
)
def test_a_value_that_is_not_a_published_index_refuses_the_fetch(home22, httpserver, value, words):
    serve(httpserver, [("202012MM", "100.2"), ("202011MM", value)])
    with pytest.raises(SourceUnavailable) as ei:
        fetch(home22)
    msg = ei.value.message
    assert ei.value.exit_status == 3 and words in msg and repr(value) in msg and "2020-11" in msg
    assert "Nothing was stored" in msg


def test_trailing_zero_is_still_one_decimal(home22, httpserver):
    serve(httpserver, [("202012MM", "100.20"), ("202011MM", "99.5")])
    got = {o.month: o.value for o in fetch(home22).observations if o.indicator == "cpi"}
    assert got["2020-12"] == Decimal("100.2")


def _run(args, env):
    from cpi_link.cli import app

    return CliRunner().invoke(app, args, env=env, catch_exceptions=False)


@pytest.mark.parametrize(
    "rows, named",
    [
        ([("202012MM", "100.2"), ("202011MM", "99.5"), ("202012MM", "100.9")], "100.2 and 100.9"),
        ([("202012MM", "101.355"), ("202011MM", "99.5")], "'101.355'"),
        ([("202012MM", "320.0"), ("202011MM", "99.5")], "'320.0'"),
    ],
)
def test_cli_refuses_with_exit_3_and_leaves_the_store_untouched(home22, httpserver, rows, named):
    env = {"COLUMNS": "200", "NO_COLOR": "1"}
    args = ["fetch", "--region", "000000", "--since", "2020-11", "--until", "2020-12", "--format", "json"]
    state = {"rows": [("202012MM", "100.2"), ("202011MM", "99.5")]}

    def handler(request):
        cid = json.loads(request.get_data())["cid"]
        return answer(C16, I16, state["rows"]) if cid == C16 else answer(CFOOD, IFOOD, FOOD_OK)

    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_handler(handler)
    r = _run(args, env)
    assert r.exit_code == 0, r.stderr
    store_file = home22.store_dir / "observations.parquet"
    before = (store_file.read_bytes(), store_file.stat().st_mtime_ns)
    revisions = sorted(p.name for p in home22.store_dir.rglob("*"))

    state["rows"] = rows
    r = _run(args, env)
    assert r.exit_code == 3
    assert named in r.stderr and "Nothing was stored" in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == ""
    assert (store_file.read_bytes(), store_file.stat().st_mtime_ns) == before
    assert sorted(p.name for p in home22.store_dir.rglob("*")) == revisions
