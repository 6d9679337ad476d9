"""`cpi-link estimate` (资金测算, SPEC 4.6), reproducing Shanxi's 2019 monthly figure (issue 19)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl

from calc_helpers import STANDARDS, put_figures, write_scheme

CONFIG = Path(__file__).resolve().parents[2] / "config"

# 省民政厅 2019-12-08: Q3 2019 headcounts, flat 30 / 20 / 30 yuan per person per month
COUNTS_2019 = [("140000", "城市低保", "", 301991), ("140000", "农村低保", "", 969492), ("140000", "农村特困", "", 133828)]


def _xlsx(path: Path, rows, header=("行政区划代码", "类别", "城乡", "人数")) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(header))
    for r in rows:
        ws.append(list(r))
    wb.save(path)
    return path


def test_2019_shanxi_figure_reproduced(tmp_path, cli):
    counts = _xlsx(tmp_path / "counts.xlsx", COUNTS_2019)
    # Shanxi's food index for 2019-04 is not bundled: the decision cannot be made (exit 3) ...
    r = cli("estimate", "--counts", counts, "--month", "2019-04", "--scheme", "shanxi", "--format", "json")
    assert r.exit_code == 3 and "food" in r.stderr
    # ... so assume the start (the amounts are flat: any rate gives the same)
    res = cli.json("estimate", "--counts", counts, "--month", "2019-04", "--scheme", "shanxi", "--rate", "6.1", "--format", "json")
    # 301,991 x 30 + 969,492 x 20 + 133,828 x 30 = 9,059,730 + 19,389,840 + 4,014,840 = 32,464,410
    assert res["total_amount"] == "32464410.00"
    assert res["triggered"] is True and res["rate_pct"] == "6.1" and res["method"] == "fixed"
    assert {c["category"]: c["amount"] for c in res["by_category"]} == {
        "urban_dibao": "9059730.00", "rural_dibao": "19389840.00", "rural_tekun": "4014840.00"}
    assert res["persons"] == 301991 + 969492 + 133828
    assert "by_funder" not in res  # the shipped scheme names no funding shares


def test_funding_shares_split_the_total(tmp_path, cli):
    cfg = tmp_path / "cfg"
    (cfg / "schemes").mkdir(parents=True)
    body = (CONFIG / "schemes" / "shanxi.toml").read_text(encoding="utf-8")
    body = body.replace('amounts = { urban_dibao = "30", rural_dibao = "20", urban_tekun = "30", rural_tekun = "30", unemployment_insurance = "30", special_care = "30" }',
                        'amounts = { urban_dibao = "30", rural_dibao = "20", urban_tekun = "30", rural_tekun = "30", unemployment_insurance = "30", special_care = "30" }\nfunding = { central = "0.6", province = "0.4" }', 1)
    (cfg / "schemes" / "sx.toml").write_text(body, encoding="utf-8")
    counts = tmp_path / "counts.csv"
    counts.write_text("region_code,category,area,persons\n" + "".join(f"{a},{b},{c},{d}\n" for a, b, c, d in COUNTS_2019), encoding="utf-8")
    res = cli.json("--config", cfg, "estimate", "--counts", counts, "--month", "2019-04", "--scheme", "sx", "--rate", "6.1", "--format", "json")
    # 32,464,410.00 x 0.6 = 19,478,646.00; x 0.4 = 12,985,764.00
    assert res["by_funder"] == [{"funder": "central", "share": "0.6", "amount": "19478646.00"},
                                {"funder": "province", "share": "0.4", "amount": "12985764.00"}]
    r = cli("--config", cfg, "estimate", "--counts", counts, "--month", "2019-04", "--scheme", "sx", "--rate", "6.1", "--format", "csv")
    assert r.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert {(x["kind"], x["key"]): x["amount"] for x in rows}[("funder", "central")] == "19478646.00"
    assert {(x["kind"], x["key"]): x["amount"] for x in rows}[("total", "")] == "32464410.00"


def test_proportional_uses_standards_and_the_months_decision(tmp_path, cli, home):
    cfg = tmp_path / "cfg"
    (cfg / "schemes").mkdir(parents=True)
    write_scheme(cfg / "schemes")
    put_figures(home, "2024-01", cpi="103.6", food="106.5")  # rate 6.5 (food)
    std = tmp_path / "std.csv"
    std.write_text(STANDARDS, encoding="utf-8")
    counts = tmp_path / "c.csv"
    counts.write_text("region_code,category,area,persons\n"
                      "140105,urban_dibao,,10\n"     # 140100 urban 870 x 6.5% = 56.55 -> 57; x 10 = 570
                      "140213,rural_dibao,,3\n"      # 140200 rural 5000/12 x 6.5% = 27.08 -> 27; x 3 = 81
                      "140105,special_care,农村,2\n"  # rural 620 x 6.5% = 40.30 -> 40; x 2 = 80
                      "150102,urban_dibao,,5\n"      # no standard: not costed
                      "140105,dibao_edge,,4\n",      # not covered
                      encoding="utf-8")
    r = cli("--config", cfg, "estimate", "--counts", counts, "--month", "2024-01", "--scheme", "t", "--standards", std, "--format", "json")
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["total_amount"] == "731.00"  # 570 + 81 + 80
    assert res["rate_pct"] == "6.5" and res["decisions"][0]["indicator"] == "food"
    assert [(x["file_row"], x["reason"]) for x in res["rejected"]] == [(5, "unknown_region"), (6, "category_not_covered")]
    assert "row 5" in r.stderr and "row 6" in r.stderr
    # an assumed rate: 870 x 3.0% = 26.1 -> 26 x 10 = 260; 416.67 x 3% = 12.5 -> 13 x 3 = 39; 620 x 3% = 18.6 -> 19 x 2 = 38
    res = cli.json("--config", cfg, "estimate", "--counts", counts, "--month", "2024-01", "--scheme", "t", "--standards", std,
                   "--rate", "3.0", "--format", "json")
    assert res["total_amount"] == "337.00"


def test_bad_counts_name_file_row_and_column(tmp_path, cli):
    counts = tmp_path / "c.csv"
    counts.write_text("行政区划代码,类别,城乡,人数\n140000,城市低保,,12\n140000,城市低保,,1.5\n", encoding="utf-8")
    r = cli("estimate", "--counts", counts, "--month", "2019-04", "--scheme", "shanxi", "--rate", "6")
    assert r.exit_code == 2 and "row 3" in r.stderr and "persons" in r.stderr and str(counts) in r.stderr
