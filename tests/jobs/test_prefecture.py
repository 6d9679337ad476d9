"""Prefecture schemes (`index_region = "prefecture"`) in `run` (issue 19): each row decided on its
设区市's own figures; the month completes when every prefecture with figures has them."""

from __future__ import annotations

import pytest

from calc_helpers import STANDARDS, make_id, put_figures, write_scheme

A = make_id("140105", "19500101", "001")  # 140100 太原: urban 870
B = make_id("140213", "19500101", "002")  # 140200 大同: urban 770
C = make_id("149901", "19500101", "003")  # 149900: no such prefecture, no figures


@pytest.fixture
def pref(tmp_path, home):
    cfg = tmp_path / "cfg"
    (cfg / "schemes").mkdir(parents=True)
    p = write_scheme(cfg / "schemes", name="p")
    p.write_text(p.read_text(encoding="utf-8").replace('index_region = "140000"', 'index_region = "prefecture"'), encoding="utf-8")
    put_figures(home, "2024-01", region="140100", cpi="103.6", food="101.0")  # 太原 starts at 3.6
    put_figures(home, "2024-01", region="140200", cpi="102.0", food="101.0")  # 大同 does not
    put_figures(home, "2024-02", region="140100", cpi="104.0", food="101.0")  # 大同's 2024-02 not in yet
    std = tmp_path / "std.csv"
    std.write_text(STANDARDS, encoding="utf-8")
    return cfg, std, tmp_path


def _roster(tmp_path, *rows):
    p = tmp_path / "roster.csv"
    p.write_text("person_id,name,category,region_code\n" + "".join(f"{i},人,urban_dibao,{r}\n" for i, r in rows), encoding="utf-8")
    return p


def test_prefecture_scheme_completes_in_run(pref, cli):
    cfg, std, tmp = pref
    roster = _roster(tmp, (A, "140105"), (B, "140213"))
    out = cli.json("--config", cfg, "run", "--roster", roster, "--standards", std, "--scheme", "p", "--offline",
                   "--since", "2024-01", "--format", "json")
    # 2024-01 is the latest month every prefecture has: 太原 870 x 3.6% = 31.32 -> 31; 大同 not triggered
    assert [(m["month"], m["status"], m["total_amount"]) for m in out] == [("2024-01", "paid", "31.00")]


def test_a_prefecture_missing_its_figure_is_named(pref, cli, home):
    cfg, std, tmp = pref
    put_figures(home, "2024-03", region="140100", cpi="104.0", food="101.0")
    put_figures(home, "2024-03", region="140200", cpi="104.0", food="101.0")
    roster = _roster(tmp, (A, "140105"))
    r = cli("--config", cfg, "run", "--roster", roster, "--standards", std, "--scheme", "p", "--offline", "--since", "2024-01")
    assert r.exit_code == 3 and "2024-02" in r.stderr and "140200" in r.stderr



def test_row_of_an_unknown_prefecture_is_rejected_and_the_month_completes(pref, cli):
    cfg, std, tmp = pref
    roster = _roster(tmp, (A, "140105"), (C, "149901"))
    out = cli.json("--config", cfg, "run", "--roster", roster, "--standards", std, "--scheme", "p", "--offline",
                   "--since", "2024-01", "--format", "json")
    assert [(m["month"], m["status"], m["total_amount"]) for m in out] == [("2024-01", "paid", "31.00")]


def test_estimate_per_prefecture_rejects_an_unknown_one(pref, cli):
    cfg, std, tmp = pref
    counts = tmp / "c.csv"
    counts.write_text("region_code,category,persons\n140105,urban_dibao,10\n140213,urban_dibao,5\n149901,urban_dibao,7\n",
                      encoding="utf-8")
    res = cli.json("--config", cfg, "estimate", "--counts", counts, "--month", "2024-01", "--scheme", "p",
                   "--standards", std, "--format", "json")
    # 太原 triggers at 3.6: 870 x 3.6% = 31.32 -> 31 x 10 = 310; 大同 does not start; 149900 unknown
    assert res["total_amount"] == "310.00"
    assert [(x["file_row"], x["reason"]) for x in res["rejected"]] == [(4, "unknown_region")]
    assert {d["region_code"]: d["triggered"] for d in res["decisions"]} == {"140100": True, "140200": False}


def test_a_prefecture_months_reason_is_english_for_scripts(pref, cli):
    """The month's reason in run's JSON is the same English in both languages (a Chinese run wrote 按设区市分别判定),
    and said in Chinese where a person reads it."""
    from cpi_link.core.i18n import language
    from cpi_link.jobs.monthly import month_reason_text

    cfg, std, tmp = pref
    roster = _roster(tmp, (A, "140105"))
    out = cli.json("--lang", "zh", "--config", cfg, "run", "--roster", roster, "--standards", std, "--scheme", "p",
                   "--offline", "--since", "2024-01", "--format", "json")
    assert [(m["month"], m["status"], m["reason"]) for m in out] == [("2024-01", "paid", "decided per prefecture")]
    with language("zh"):
        assert month_reason_text(out[0]["reason"]) == "按设区市分别判定"
