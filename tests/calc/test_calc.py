"""The calculator, with every amount worked by hand from SPEC 5.4 (issue 4)."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from calc_helpers import make_id, put_figures

# Index month 2024-01 under scheme "t": CPI 103.6 (3.6 >= 3.5) and food 106.5 (6.5 >= 6.0) both
# trigger; rate = the higher, 6.5 (food). Standards in force in 2024-01 (see STANDARDS):
#   140105 has its own row only from 2024-02, so 140105 falls back to 140100: urban 870, rural 620
#   140802 has no 140800 row: falls back to 140000: urban 500, rural 4800/12 = 400
#   140213 -> 140200: urban 770, rural 5000/12 = 416.666...
# Per person at 6.5%, whole yuan half up:
#   870 x 6.5% = 56.55 -> 57     620 x 6.5% = 40.30 -> 40     500 x 6.5% = 32.50 -> 33 (round() gives 32)
#   400 x 6.5% = 26.00 -> 26     770 x 6.5% = 50.05 -> 50     5000/12 x 6.5% = 27.083 -> 27
P = make_id("140105", "19600101", "011")  # the duplicate person
ROWS = [
    # (person_id, name, category, region, area, persons, bank) -> expected
    (make_id("140105", "19500101", "001"), "甲一", "urban_dibao", "140105", "", "", ""),       # 1: 57
    (make_id("140105", "19500101", "002"), "甲二", "rural_dibao", "140105", "", "", ""),       # 2: 40
    (make_id("140802", "19500101", "003"), "甲三", "urban_tekun", "140802", "", "", ""),       # 3: 33 (.5 up)
    (make_id("140802", "19500101", "004"), "甲四", "rural_tekun", "140802", "", "", ""),       # 4: 26
    (make_id("140202", "19500101", "005"), "甲五", "unemployment_insurance", "140213", "", "", ""),  # 5: 50
    (make_id("140202", "19500101", "006"), "甲六", "rural_dibao", "140213", "", "", ""),       # 6: 27 (annual)
    (make_id("140105", "19500101", "007"), "甲七", "special_care", "140105", "农村", "", ""),  # 7: 40
    (make_id("140105", "19500101", "008"), "甲八", "special_care", "140105", "", "", ""),      # 8: missing_field (area)
    (make_id("140105", "19500101", "009"), "甲九", "hiv_child", "140105", "城市", "", ""),     # 9: category_not_covered
    (make_id("140105", "19500101", "010"), "户十", "urban_dibao", "140105", "", "3", ""),      # 10: 57 x 3 = 171
    ("14010519800101002x", "小写", "urban_dibao", "140105", "", "", ""),  # 11: 57
    ("  " + make_id("140105", "19500101", "012") + " ", "空格", "urban_dibao", "140105", "", "", ""),  # 12: 57
    ("140105500101013", "十五位", "urban_dibao", "140105", "", "", ""),                       # 13: 57, converted
    (make_id("140105", "19500101", "014")[:-1] + "0", "坏校验", "urban_dibao", "140105", "", "", ""),  # 14: invalid_id
    ("1.40105E+17", "科学计数", "urban_dibao", "140105", "", "", ""),                          # 15: id_lost_precision
    (make_id("140105", "19500101", "016"), "", "urban_dibao", "140105", "", "", ""),           # 16: missing_field (name)
    (make_id("140105", "19500101", "018"), "五保", "五保户", "140105", "", "", ""),            # 17: unknown_category
    (make_id("140105", "19500101", "019"), "零人", "urban_dibao", "140105", "", "0", ""),      # 18: bad_persons
    (make_id("140105", "19500101", "020"), "文字", "urban_dibao", "140105", "", "abc", ""),    # 19: bad_persons
    (make_id("150102", "19500101", "021"), "内蒙", "urban_dibao", "150102", "", "", ""),       # 20: unknown_region
    (P, "重复", "rural_dibao", "140105", "", "", ""),                                           # 21: duplicate (40 < 57)
    (P, "重复", "urban_dibao", "140105", "", "", ""),                                           # 22: 57
    (make_id("140202", "19500101", "023"), "别名", "城镇低保", "140213", "", "", ""),           # 23: 50
    (make_id("140105", "19500101", "024"), "银行", "urban_tekun", "140105", "", "", "6228480012345678901"),  # 24: 57
    (make_id("140105", "19500101", "025"), "补助金", "unemployment_allowance", "140105", "", "", ""),  # 25: not covered
    (make_id("140105", "19500101", "026"), "无地区", "urban_dibao", "", "", "", ""),            # 26: missing_field
]
EXPECTED_PAID = {1: "57.00", 2: "40.00", 3: "33.00", 4: "26.00", 5: "50.00", 6: "27.00", 7: "40.00", 10: "171.00",
                 11: "57.00", 12: "57.00", 13: "57.00", 22: "57.00", 23: "50.00", 24: "57.00"}
EXPECTED_REJECTED = {8: "missing_field", 9: "category_not_covered", 14: "invalid_id", 15: "id_lost_precision",
                     16: "missing_field", 17: "unknown_category", 18: "bad_persons", 19: "bad_persons",
                     20: "unknown_region", 21: "duplicate_person", 25: "category_not_covered", 26: "missing_field"}
HEADER_CN = ["身份证号", "姓名", "类别", "行政区划代码", "城乡", "保障人数", "银行账号"]


def write_roster(path: Path, fmt: str) -> Path:
    if fmt == "csv":
        lines = [",".join(HEADER_CN)] + [",".join(r) for r in ROWS]
        path.write_bytes(("\n".join(lines) + "\n").encode("gb18030"))
    elif fmt == "xlsx":
        import openpyxl

        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(HEADER_CN)
        for r in ROWS:
            r = list(r)
            if r[0] == "1.40105E+17":
                r[0] = 1.40105e17  # the cell Excel made of an ID typed as a number
            if r[5].isdigit():
                r[5] = int(r[5])
            ws.append(r)
        wb.save(path)
    else:
        import pyarrow as pa

        cols = list(zip(*ROWS))
        pq.write_table(pa.table({h: list(c) for h, c in zip(HEADER_CN, cols)}), path)
    return path


def read_out(run_dir: Path):
    pay = pq.read_table(run_dir / "payments.parquet")
    rej = pq.read_table(run_dir / "rejected.parquet")
    summ = pq.read_table(run_dir / "summary.parquet")
    man = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    return pay, rej, summ, man


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_26_row_roster_worked_by_hand(tmp_path, cli, setup, fmt):
    cfg, std = setup
    roster = write_roster(tmp_path / f"roster.{fmt}", fmt)
    out = tmp_path / "out"
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
            "--out", out, "--format", "json")
    assert r.exit_code == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["total_amount"] == "779.00"  # 57+40+33+26+50+27+40+171+57+57+57+57+50+57
    pay, rej, summ, man = read_out(out)
    paid = {row["source_row"]: row for row in pay.to_pylist()}
    assert {k: str(v["amount"]) for k, v in paid.items()} == EXPECTED_PAID
    assert {row["source_row"]: row["reason"] for row in rej.to_pylist()} == EXPECTED_REJECTED
    details = {row["source_row"]: row["detail"] for row in rej.to_pylist()}
    assert details[8] == "area (城乡) is needed for this category and is empty"
    assert details[9].startswith("category hiv_child is not covered by ") and details[9].endswith(" in 2024-01")
    assert details[20] == "no standard for region 150102 (or its prefecture/province) in force in 2024-01"
    # money is decimal128 with 2 places
    for col in ("amount", "amount_per_person", "standard"):
        assert str(pay.schema.field(col).type) == "decimal128(18, 2)"
    # the details of particular rows
    assert paid[3]["standard"] == Decimal("500.00") and paid[3]["standard_region"] == "140000"
    assert paid[1]["standard_region"] == "140100" and paid[1]["area"] == "urban"
    assert paid[6]["standard"] == Decimal("416.67") and paid[6]["standard_annual"] == Decimal("5000.00")
    assert paid[10]["persons"] == 3 and paid[10]["amount_per_person"] == Decimal("57.00")
    assert paid[11]["person_id"].endswith("X")
    assert paid[12]["person_id"] == make_id("140105", "19500101", "012")
    assert paid[13]["person_id"] == make_id("140105", "19500101", "013") and paid[13]["id_flag"] == "converted_from_15"
    assert paid[22]["person_id"] == P
    assert paid[24]["bank_account"] == "6228480012345678901"
    assert paid[1]["rate_pct"] == Decimal("6.50") and paid[1]["indicator"] == "food"
    assert {p["scheme"] for p in paid.values()} == {"t"} and {p["version"] for p in paid.values()} == {"t-v1"}
    # the manifest's accounting
    c = man["counts"]
    assert (c["input_rows"], c["paid_rows"], c["rejected_rows"]) == (26, 14, 12)
    assert c["persons"] == 16 and c["total_amount"] == "779.00"
    assert man["decision"]["triggered"] is True and man["decision"]["rate_pct"] == "6.5"
    assert man["outputs"]["payments.parquet"]["rows"] == 14
    assert [i["role"] for i in man["inputs"]] == ["roster", "standards"]
    # summary: per region x category, totals equal the payments
    s = summ.to_pylist()
    assert sum(x["amount"] for x in s) == Decimal("779.00")
    assert {(x["region_code"], x["category"]): x["rows"] for x in s}[("140105", "urban_dibao")] == 6
    # private outputs
    assert os.stat(out).st_mode & 0o777 == 0o700
    for f in out.iterdir():
        assert f.stat().st_mode & 0o777 == 0o600
    # no resident ID on the terminal
    assert P not in r.stdout + r.stderr


def test_same_inputs_same_rows(tmp_path, cli, setup):
    cfg, std = setup
    roster = write_roster(tmp_path / "r.csv", "csv")
    outs = []
    for k in (1, 2):
        r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
                "--out", tmp_path / f"o{k}", "--format", "json")
        assert r.exit_code == 0, r.stderr
        outs.append(read_out(tmp_path / f"o{k}"))
    for i in range(3):
        assert outs[0][i].equals(outs[1][i])


def test_not_triggered_writes_manifest_and_empty_payments(tmp_path, cli, home, setup):
    cfg, std = setup
    put_figures(home, "2024-02", cpi="103.4", food="105.9")  # one tenth below each threshold
    roster = write_roster(tmp_path / "r.csv", "csv")
    r = cli("--config", cfg, "calc", "--month", "2024-02", "--roster", roster, "--standards", std, "--scheme", "t",
            "--out", tmp_path / "o", "--format", "json")
    assert r.exit_code == 0, r.stderr
    pay, rej, summ, man = read_out(tmp_path / "o")
    assert pay.num_rows == 0 and summ.num_rows == 0
    assert man["triggered"] is False and man["counts"]["total_amount"] == "0.00"


def test_missing_figures_exit_3_nothing_written(tmp_path, cli, home, setup):
    cfg, std = setup
    put_figures(home, "2024-03", cpi="104.0")  # food missing, though CPI alone would trigger
    roster = write_roster(tmp_path / "r.csv", "csv")
    r = cli("--config", cfg, "calc", "--month", "2024-03", "--roster", roster, "--standards", std, "--scheme", "t",
            "--out", tmp_path / "o")
    assert r.exit_code == 3
    assert "food" in r.stderr and "2024-03" in r.stderr
    assert not (tmp_path / "o").exists()


def test_missing_required_column_exit_2(tmp_path, cli, setup):
    cfg, std = setup
    bad = tmp_path / "bad.csv"
    bad.write_text("身份证号,姓名,行政区划代码\n" + make_id("140105", "19500101", "001") + ",甲,140105\n", encoding="utf-8")
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", bad, "--standards", std, "--scheme", "t",
            "--out", tmp_path / "o")
    assert r.exit_code == 2 and "bad.csv" in r.stderr and "category" in r.stderr
    assert not (tmp_path / "o").exists()


def test_out_must_be_new_or_empty(tmp_path, cli, setup):
    cfg, std = setup
    roster = write_roster(tmp_path / "r.csv", "csv")
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "x").write_text("keep me")
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
            "--out", tmp_path / "o")
    assert r.exit_code == 2 and (tmp_path / "o" / "x").read_text() == "keep me"


def test_default_run_folder_under_home_and_sample_standards_warned(tmp_path, cli, home, setup):
    cfg, _ = setup
    roster = write_roster(tmp_path / "r.csv", "csv")
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--scheme", "t", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert "SAMPLE" in r.stderr
    run_dir = Path(json.loads(r.stdout)["run_dir"])
    # a trial: under HOME/trials, never HOME/runs (only what the ledger pays is written there)
    assert run_dir.parent.parent == home / "trials" and (run_dir / "manifest.json").exists()


@pytest.mark.parametrize("command", ["calc", "run", "validate"])
def test_a_folder_as_roster_is_exit_2(tmp_path, cli, setup, command):
    cfg, std = setup
    folder = tmp_path / "not-a-file"
    folder.mkdir()
    args = {"calc": ["calc", "--month", "2024-01", "--standards", std, "--scheme", "t"],
            "run": ["run", "--offline", "--standards", std, "--scheme", "t"],
            "validate": ["validate"]}[command]
    r = cli("--config", cfg, *args, "--roster", folder)
    assert r.exit_code == 2, r.stderr
    assert "is a folder" in r.stderr
