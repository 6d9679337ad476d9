"""Bundled Shanxi figures with their provenance and the reference standards (issue 19)."""

from __future__ import annotations

import csv
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHANXI_PREFECTURES = {"140100", "140200", "140300", "140400", "140500", "140600", "140700", "140800", "140900",
                      "141000", "141100"}


def test_shanxi_figures_carry_source_and_quote_and_leave_out_2021_02():
    rows = list(csv.DictReader(open(REPO / "data" / "figures" / "cpi_shanxi.csv", encoding="utf-8", newline="")))
    assert all(r["source"].strip() and r["quote"].strip() for r in rows)
    assert not [r for r in rows if r["month"] == "2021-02"]  # two reprints disagree (0.1 vs 0.3)
    assert (sum(r["indicator"] == "cpi" for r in rows), sum(r["indicator"] == "food" for r in rows)) == (29, 8)
    keys = [(r["region_code"], r["month"], r["indicator"]) for r in rows]
    assert len(keys) == len(set(keys))


def test_the_store_keeps_each_bundled_figures_own_source(home):
    from cpi_link.core.paths import Home
    from cpi_link.store.series import SeriesStore

    o = SeriesStore(Home(home)).get("140000", "cpi", "2022-06")
    assert str(o.value) == "102.9" and o.source == "bundled"
    assert "sxzd.stats.gov.cn" in o.source_ref and "cpi_shanxi.csv sha256:" in o.source_ref


def test_reference_standards_codes_are_shanxi_prefectures_and_not_the_default():
    rows = list(csv.DictReader(open(REPO / "data" / "reference" / "shanxi_standards.csv", encoding="utf-8", newline="")))
    assert rows and {r["region_code"] for r in rows} <= SHANXI_PREFECTURES
    assert all(r["source"].strip() for r in rows)
    from cpi_link.core.paths import bundled_data_dir

    # the default standards stay the invented sample, not these
    assert not (bundled_data_dir() / "sample" / "standards.csv").read_bytes() == (REPO / "data" / "reference" / "shanxi_standards.csv").read_bytes()
    assert "SAMPLE" in (bundled_data_dir() / "sample" / "standards.csv").read_text(encoding="utf-8")


def test_shanxi_months_decidable_from_bundled_figures(cli):
    r = cli("trigger", "--scheme", "shanxi", "--since", "2016-07", "--until", "2023-02", "--stored-months")
    assert r.exit_code == 3  # the months with only a CPI figure stop, named
    assert "2019-04: no food figure for 140000" in r.stderr
    text = r.stdout
    for m in ("2017-04", "2021-07", "2021-09", "2021-11", "2021-12", "2023-02"):
        assert m in text
    assert "0 of 6 months triggered" in text
