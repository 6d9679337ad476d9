"""A flat-amount scheme's decision read by a person says the amounts paid, not the rate (issue 31
item 3): the trigger table, calc's and report's console lines, the page and the workbook share one
sentence (rules.trigger); a proportional scheme keeps its rate. The JSON keeps its English keys
and reason. Figures: Shanxi 2019-11, CPI 103.8 and food 119.4 (both reach 3.5 % and 6.0 %)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from cpi_link.core.i18n import language
from cpi_link.core.paths import Home
from cpi_link.rules.schemes import load_scheme
from cpi_link.rules.trigger import decide, decision_reason, paid_how_zh
from cpi_link.sources.observation import Observation
from cpi_link.store.series import SeriesStore

from calc_helpers import put_figures

REPO = Path(__file__).resolve().parents[2]
SHANXI_ZH = "按每人每月 城市低保 30 元、农村低保 20 元、特困人员 30 元、领取失业保险金人员 30 元、优抚对象 30 元发放"


def _shanxi_2019_11(tmp_path):
    store = SeriesStore(Home(tmp_path / "home"), use_bundled=False)
    store.upsert([Observation("140000", ind, "2019-11", Decimal(v), "file", "t.csv sha256:0", "2026-01-01T00:00:00Z")
                  for ind, v in (("cpi", "103.8"), ("food", "119.4"))])
    return decide(load_scheme("shanxi", REPO / "config").rules_for("2019-11"), store)


def test_flat_reason_names_the_amounts_in_both_languages(tmp_path):
    d = _shanxi_2019_11(tmp_path)
    assert d.triggered and d.indicator == "food" and d.rate_pct == Decimal("19.4")
    with language("en"):
        en = decision_reason(d)
    assert en == ("CPI rose 3.8% and food prices rose 19.4% year on year, reaching the 3.5% and 6.0% thresholds; "
                  "paid as flat amounts per person per month: urban_dibao 30 yuan, rural_dibao 20 yuan, urban_tekun 30 "
                  "yuan, rural_tekun 30 yuan, unemployment_insurance 30 yuan, special_care 30 yuan.")
    with language("zh"):
        zh = decision_reason(d)
    assert zh == "2019年11月山西省居民消费价格同比上涨3.8%，食品价格同比上涨19.4%，达到3.5%和6.0%的启动条件，" + SHANXI_ZH
    assert "计发" not in zh and "subsidy rate" not in en
    # the JSON keeps its English reason and keys
    j = d.to_json()
    assert j["reason"].endswith("subsidy rate 19.4% (food).") and j["rate_pct"] == "19.4"


def test_a_decision_dict_reads_the_same_with_the_manifest_rules(tmp_path):
    """calc, run and report read the decision back from the manifest: its "rules" say fixed."""
    d = _shanxi_2019_11(tmp_path)
    rules = {"method": "fixed", "categories": {"urban_dibao": "urban", "rural_dibao": "rural"},
             "amounts": {"urban_dibao": "30", "rural_dibao": "20", "orphan": "99"}}  # orphan not covered: not named
    with language("zh"):
        assert decision_reason(d.to_json(), rules).endswith("按每人每月 城市低保 30 元、农村低保 20 元发放")
        assert decision_reason(d.to_json()).endswith("按较高的食品价格涨幅19.4%计发")  # no rules: as before
    assert paid_how_zh(rules, d.to_json()) == "按每人每月 城市低保 30 元、农村低保 20 元发放"
    assert paid_how_zh({"method": "proportional"}, d.to_json()) == "按 19.4%（食品价格指数）计发"


def test_trigger_table_and_calc_line_in_chinese(cli, home, tmp_path):
    put_figures(home, "2019-11", cpi="103.8", food="119.4")
    env = {"CPI_LINK_LANG": "zh", "COLUMNS": "400"}
    from conftest import Cli

    zh = Cli({**cli.env, **env})
    r = zh("trigger", "--month", "2019-11", "--scheme", "shanxi")
    assert r.exit_code == 0, r.output
    assert "按每人每月 城市低保 30 元" in r.stdout and "定额" in r.stdout and "计发" not in r.stdout
    out = tmp_path / "run"
    r = zh("calc", "--month", "2019-11", "--scheme", "shanxi", "--roster", REPO / "data/sample/roster.csv",
           "--standards", REPO / "data/sample/standards.csv", "--out", out)
    assert r.exit_code == 0, r.output
    assert SHANXI_ZH in r.stdout and "计发" not in r.stdout
    r = zh("report", out)
    assert r.exit_code == 0, r.output
    assert SHANXI_ZH in r.stdout and "计发" not in r.stdout
