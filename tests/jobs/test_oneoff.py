"""One-off programmes (issue 9): amounts worked by hand, strict files, exactly once per programme."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from calc_helpers import STANDARDS, make_id, put_figures

HEAD = '''programme = "{id}"
name = "测试节日补助"
document = "测试文件 第二部分"
verified = true
payment_month = "2024-01"
'''
FIXED = HEAD + '''region = "140000"
categories = { urban_dibao = "urban", rural_dibao = "rural", urban_tekun = "urban", orphan = "by_area" }
method = "fixed"
amounts = { urban_dibao = "200", rural_dibao = "200", urban_tekun = "300", orphan = "300" }
'''
PROPORTIONAL = HEAD + '''categories = { urban_dibao = "urban", rural_dibao = "rural" }
method = "proportional_index"
index = { region = "140000", indicator = "food", month = "2023-12" }
rounding = "yuan_half_up"
minimum = "30"
'''


def write(tmp: Path, text: str, id: str = "fest", name: str | None = None) -> Path:
    d = tmp / "cfg" / "programmes"
    d.mkdir(parents=True, exist_ok=True)
    p = d / f"{name or id}.toml"
    p.write_text(text.replace("{id}", id), encoding="utf-8")
    return p


def roster(tmp: Path, rows: list[tuple], name: str = "roster.csv") -> Path:
    p = tmp / name
    lines = ["person_id,name,category,region_code,area,persons"] + [",".join(r) for r in rows]
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def fen(table, col: str) -> list:
    return [None if v is None else str(v) for v in table.column(col).to_pylist()]


def rejected(run: Path) -> dict[int, str]:
    t = pq.read_table(run / "rejected.parquet").to_pydict()
    return dict(zip(t["source_row"], t["reason"]))


P = make_id("140105", "19600101", "011")  # on two rows
FIXED_ROWS = [
    (make_id("140105", "19500101", "001"), "甲", "urban_dibao", "140105", "", ""),    # 1: 200
    (make_id("140105", "19500101", "002"), "户", "urban_dibao", "140105", "", "3"),   # 2: 200 x 3 = 600
    (make_id("140105", "19500101", "003"), "乙", "hiv_child", "140105", "城市", ""),  # 3: category_not_covered
    (P, "重复", "rural_dibao", "140105", "", ""),                                      # 4: 200 < 300: duplicate_person
    (P, "重复", "urban_tekun", "140105", "", ""),                                      # 5: 300, the higher
    (make_id("140802", "19500101", "006"), "丙", "孤儿", "140802", "农村", ""),        # 6: 300
    (make_id("140802", "19500101", "007"), "丁", "orphan", "140802", "", ""),          # 7: missing_field (area)
    (make_id("610102", "19500101", "008"), "戊", "urban_dibao", "610102", "", ""),     # 8: unknown_region (outside 140000)
    (make_id("140105", "19500101", "009")[:-1] + "0", "坏", "urban_dibao", "140105", "", ""),  # 9: invalid_id (check digit)
]


def test_fixed_amounts_per_category(cli, tmp_path, home):
    prog = write(tmp_path, FIXED)
    out = tmp_path / "out"
    r = cli("oneoff", "--programme", prog, "--roster", roster(tmp_path, FIXED_ROWS), "--out", out, "--format", "json")
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    # paid rows 1, 2, 5, 6: 200 + 600 + 300 + 300 = 1400 yuan for 1 + 3 + 1 + 1 = 6 persons
    assert (res["paid_rows"], res["persons"], res["total_amount"], res["rejected_rows"]) == (4, 6, "1400.00", 5)
    p = pq.read_table(out / "payments.parquet")
    assert "programme" in p.column_names and "scheme" not in p.column_names and "version" not in p.column_names
    assert p.column("source_row").to_pylist() == [1, 2, 5, 6]
    assert fen(p, "amount_per_person") == ["200.00", "200.00", "300.00", "300.00"]
    assert fen(p, "amount") == ["200.00", "600.00", "300.00", "300.00"]
    assert p.column("category").to_pylist() == ["urban_dibao", "urban_dibao", "urban_tekun", "orphan"]
    assert p.column("area").to_pylist() == ["urban", "urban", "urban", "rural"]
    assert set(p.column("programme").to_pylist()) == {"fest"} and set(p.column("index_month").to_pylist()) == {"2024-01"}
    for col in ("indicator", "rate_pct", "standard", "standard_region"):  # nothing of the kind was used
        assert p.column(col).null_count == 4, col
    assert str(p.schema.field("amount").type) == "decimal128(18, 2)"
    assert rejected(out) == {3: "category_not_covered", 4: "duplicate_person", 7: "missing_field", 8: "unknown_region",
                             9: "invalid_id"}

    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["counts"]["input_rows"] == m["counts"]["paid_rows"] + m["counts"]["rejected_rows"] == 9
    assert m["index_month"] == "2024-01" and m["run_id"] == res["run_id"]
    assert {k: m["programme"][k] for k in ("id", "name", "document", "verified")} == {
        "id": "fest", "name": "测试节日补助", "document": "测试文件 第二部分", "verified": True}
    assert len(m["programme"]["sha256"]) == 64 and m["programme"]["path"].endswith("fest.toml")
    assert set(m["outputs"]) == {"payments.parquet", "rejected.parquet", "summary.parquet"}
    assert [i["role"] for i in m["inputs"]] == ["roster"]  # fixed amounts read no standards
    s = pq.read_table(out / "summary.parquet").to_pydict()
    assert sum(s["rows"]) == 4 and [str(a) for a in s["amount"]] == ["800.00", "300.00", "300.00"]
    assert oct(out.stat().st_mode & 0o777) == "0o700"
    assert all(oct(f.stat().st_mode & 0o777) == "0o600" for f in out.iterdir())
    # the ledger, keyed by programme
    rec = json.loads((home / "ledger" / "months" / "programme-fest.json").read_text())
    assert rec["kind"] == "programme" and rec["total_fen"] == 140000 and rec["run_id"] == res["run_id"]


def test_proportional_index_half_up_and_floor(cli, tmp_path, home):
    # food 106.5 for 140000 in 2023-12: YoY 6.5%. Standards in force in the payment month 2024-01:
    #   140105 -> 140100 urban 870, rural 620;  140802 -> 140000 urban 500, rural 4800/12 = 400
    #   870 x 6.5% = 56.55 -> 57 (half up)      500 x 6.5% = 32.50 -> 33 (round() would say 32)
    #   400 x 6.5% = 26.00 -> 26 -> floor 30    620 x 6.5% = 40.30 -> 40, household of 2 -> 80
    put_figures(home, "2023-12", food="106.5")
    prog = write(tmp_path, PROPORTIONAL)
    std = tmp_path / "std.csv"
    std.write_text(STANDARDS, encoding="utf-8")
    rows = [
        (make_id("140105", "19500101", "001"), "甲", "urban_dibao", "140105", "", ""),  # 57
        (make_id("140802", "19500101", "002"), "乙", "urban_dibao", "140802", "", ""),  # 33
        (make_id("140802", "19500101", "003"), "丙", "rural_dibao", "140802", "", ""),  # 30 (floor)
        (make_id("140105", "19500101", "004"), "丁", "rural_dibao", "140105", "", "2"),  # 80
        (make_id("150102", "19500101", "005"), "戊", "urban_dibao", "150102", "", ""),  # unknown_region (no standard)
        (make_id("140105", "19500101", "006"), "己", "urban_tekun", "140105", "", ""),  # category_not_covered
    ]
    out = tmp_path / "out"
    res = cli.json("oneoff", "--programme", prog, "--roster", roster(tmp_path, rows), "--standards", std, "--out", out,
                   "--format", "json")
    assert res["total_amount"] == "200.00"  # 57 + 33 + 30 + 80
    p = pq.read_table(out / "payments.parquet")
    assert fen(p, "amount_per_person") == ["57.00", "33.00", "30.00", "40.00"]
    assert fen(p, "amount") == ["57.00", "33.00", "30.00", "80.00"]
    assert fen(p, "standard") == ["870.00", "500.00", "400.00", "620.00"]
    assert set(p.column("indicator").to_pylist()) == {"food"} and set(fen(p, "rate_pct")) == {"6.50"}
    assert rejected(out) == {5: "unknown_region", 6: "category_not_covered"}
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["decision"]["figures"]["food"]["value"] == "106.5" and m["decision"]["rate_pct"] == "6.5"
    assert [i["role"] for i in m["inputs"]] == ["roster", "standards"]


def test_multiplier_and_falling_prices(cli, tmp_path, home):
    # food 99.5: YoY -0.5, so the amount before the floor is 0 -> minimum 30 -> x multiplier 1.5 = 45
    put_figures(home, "2023-12", food="99.5")
    prog = write(tmp_path, PROPORTIONAL + 'multiplier = "1.5"\n')
    std = tmp_path / "std.csv"
    std.write_text(STANDARDS, encoding="utf-8")
    rows = [(make_id("140105", "19500101", "001"), "甲", "urban_dibao", "140105", "", "")]
    res = cli.json("oneoff", "--programme", prog, "--roster", roster(tmp_path, rows), "--standards", std, "--format", "json")
    assert res["total_amount"] == "45.00"
    assert "did not rise" in res["decision"]["reason"]


def test_missing_index_figure_exits_3_and_writes_nothing(cli, tmp_path, home):
    prog = write(tmp_path, PROPORTIONAL.replace('indicator = "food"', 'indicator = "scpi"'))
    rows = [(make_id("140105", "19500101", "001"), "甲", "urban_dibao", "140105", "", "")]
    r = cli("oneoff", "--programme", prog, "--roster", roster(tmp_path, rows), "--out", tmp_path / "out")
    assert r.exit_code == 3
    assert "no scpi figure for 140000 in 2023-12" in r.stderr and "fest" in r.stderr
    assert not (tmp_path / "out").exists() and not (home / "ledger").exists()


BAD = [
    ("extra", FIXED + 'colour = "red"\n', "unknown key colour"),
    ("bare number", FIXED.replace('urban_dibao = "200"', "urban_dibao = 200"), 'key amounts.urban_dibao: write the number as a string'),
    ("float", FIXED.replace('urban_dibao = "200"', "urban_dibao = 200.5"), "key amounts.urban_dibao: write the number as a string"),
    ("bad decimal", FIXED.replace('urban_dibao = "200"', 'urban_dibao = "2oo"'), 'key amounts.urban_dibao: "2oo" is not a decimal'),
    ("three decimals", FIXED.replace('urban_dibao = "200"', 'urban_dibao = "200.005"'), "key amounts.urban_dibao: 200.005 is not a whole number of fen"),
    ("unknown category", FIXED.replace('orphan = "by_area" }', 'orphan = "by_area", widow = "urban" }'), "key categories.widow: unknown category"),
    ("bad basis", FIXED.replace('orphan = "by_area" }', 'orphan = "county" }'), "key categories.orphan: 'county' is not one of"),
    ("amount not covered", FIXED.replace('orphan = "300" }', 'orphan = "300", special_care = "100" }'),
     "key amounts.special_care: special_care is not in categories"),
    ("amount missing", FIXED.replace(', orphan = "300" }', " }"), "key amounts.orphan: category orphan is covered but has no amount"),
    ("method", FIXED.replace('method = "fixed"', 'method = "double"'), 'key method: "double" is not one of fixed, proportional_index'),
    ("no index", PROPORTIONAL.replace('index = { region = "140000", indicator = "food", month = "2023-12" }\n', ""), "missing key index"),
    ("bad indicator", PROPORTIONAL.replace('"food"', '"rice"'), 'key index.indicator: "rice" is not one of'),
    ("index key", PROPORTIONAL.replace('month = "2023-12" }', 'month = "2023-12", city = "x" }'), "unknown key city in index"),
    ("amounts with index", PROPORTIONAL + 'amounts = { urban_dibao = "1" }\n', "key amounts: only used by method fixed"),
    ("no rounding", PROPORTIONAL.replace('rounding = "yuan_half_up"\n', ""), "missing key rounding"),
    ("bad rounding", PROPORTIONAL.replace('"yuan_half_up"', '"bankers"'), 'key rounding: "bankers" is not one of'),
    ("minimum", PROPORTIONAL.replace('minimum = "30"', 'minimum = "-1"'), 'key minimum: "-1" must not be negative'),
    ("month", FIXED.replace('payment_month = "2024-01"', 'payment_month = "2024-13"'), 'key payment_month: "2024-13" is not a month'),
    ("region", FIXED.replace('region = "140000"', "region = 140000"), "key region: 140000 must be a 6-digit region code"),
    ("verified", FIXED.replace("verified = true", 'verified = "yes"'), "key verified: 'yes' must be true or false"),
    ("missing", FIXED.replace('document = "测试文件 第二部分"\n', ""), "missing key document"),
    ("toml", FIXED + "amounts = [\n", "not valid TOML"),
]


@pytest.mark.parametrize("text,message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_strict_validation_names_file_and_key(tmp_path, text, message):
    from cpi_link.core.errors import ConfigError
    from cpi_link.rules.programmes import parse_programme_file

    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        parse_programme_file(path)
    assert str(path) in e.value.message and message in e.value.message, e.value.message


def test_bad_programme_exits_2_naming_file_and_key(cli, tmp_path, home):
    write(tmp_path, FIXED.replace('urban_dibao = "200"', "urban_dibao = 200"))
    rows = [(make_id("140105", "19500101", "001"), "甲", "urban_dibao", "140105", "", "")]
    r = cli("--config", tmp_path / "cfg", "oneoff", "--programme", "fest", "--roster", roster(tmp_path, rows))
    assert r.exit_code == 2 and "fest.toml" in r.stderr and "amounts.urban_dibao" in r.stderr
    assert not (home / "runs").exists()


A = make_id("140105", "19500101", "001")
B = make_id("140802", "19500101", "002")
C = make_id("140202", "19500101", "003")


def test_exactly_once_per_programme(cli, tmp_path, home):
    cfg = tmp_path / "cfg"
    write(tmp_path, FIXED)
    write(tmp_path, FIXED.replace('"200"', '"100"', 1), id="other")  # a second programme: urban_dibao 100
    first = roster(tmp_path, [(A, "甲", "urban_dibao", "140105", "", ""), (B, "乙", "rural_dibao", "140802", "", "")])
    later = roster(tmp_path, [(A, "甲", "urban_dibao", "140105", "", ""), (C, "丙", "urban_tekun", "140213", "", "")], "later.csv")
    args = ["--config", cfg, "oneoff", "--programme", "fest", "--format", "json"]

    r = cli(*args, "--supplement", "--roster", first)
    assert r.exit_code == 2 and "not been paid yet" in r.stderr

    one = cli.json(*args, "--roster", first)
    assert one["total_amount"] == "400.00"  # 200 + 200

    r = cli(*args, "--roster", first)  # the same programme again: refused
    assert r.exit_code == 2 and "already paid" in r.stderr and "--supplement" in r.stderr
    r = cli(*args, "--roster", later)  # even with another roster
    assert r.exit_code == 2

    sup = cli.json(*args, "--roster", later, "--supplement")
    assert sup["paid_rows"] == 1 and sup["total_amount"] == "300.00"  # only C (urban_tekun 300); A already paid
    assert sup["rejected_by_reason"] == {"already_paid": 1} and sup["supplement_to"] == one["run_id"]
    assert sup["run_id"] != one["run_id"]
    assert rejected(Path(sup["run_dir"])) == {1: "already_paid"}

    again = cli.json(*args, "--roster", later, "--supplement")  # the same supplement twice pays nobody
    assert again["paid_rows"] == 0 and again["rejected_by_reason"] == {"already_paid": 2}

    rec = json.loads((home / "ledger" / "months" / "programme-fest.json").read_text())
    assert rec["total_fen"] == 40000 + 30000 and len(rec["supplements"]) == 2 and len(rec["payment_files"]) == 3
    for f in rec["payment_files"]:  # every run keeps its own ledger file
        assert (home / "ledger" / f).exists()

    # another programme pays the same people: the ledger is per programme
    other = cli.json("--config", cfg, "oneoff", "--programme", "other", "--roster", first, "--format", "json")
    assert other["paid_rows"] == 2 and other["total_amount"] == "300.00"  # A at 100, B at 200
    # and the monthly ledger is untouched by programmes
    assert sorted(p.stem for p in (home / "ledger" / "months").glob("*.json")) == ["programme-fest", "programme-other"]


def test_out_folder_not_empty_writes_nothing(cli, tmp_path, home):
    prog = write(tmp_path, FIXED)
    out = tmp_path / "out"
    out.mkdir()
    (out / "x").write_text("x")
    r = cli("oneoff", "--programme", prog, "--roster", roster(tmp_path, FIXED_ROWS[:1]), "--out", out)
    assert r.exit_code == 2 and "not an empty folder" in r.stderr
    assert not (home / "ledger" / "months" / "programme-fest.json").exists()


def test_bundled_example_loads_and_runs(cli, tmp_path, home):
    shown = cli.json("programme", "show", "shanxi-2021-spring-festival", "--format", "json")
    assert shown["verified"] is False and shown["example"] is True and shown["method"] == "fixed"
    assert "晋政办发电〔2021〕3号" in shown["document"]
    listed = cli.json("programme", "list", "--format", "json")
    assert "shanxi-2021-spring-festival" in [p["programme"] for p in listed]
    text = Path(shown["path"]).read_text(encoding="utf-8")
    assert "EXAMPLE" in text and "EDIT" in text
    # the example's amounts as the file states them: 低保 200, 特困 and 孤儿 300
    assert shown["amounts"]["urban_dibao"] == "200.00" and shown["amounts"]["rural_tekun"] == "300.00"
    rows = [(A, "甲", "城市低保", "140105", "", "2"), (B, "乙", "农村特困", "140802", "", ""), (C, "丙", "优抚对象", "140213", "城市", "")]
    r = cli("oneoff", "--programme", "shanxi-2021-spring-festival", "--roster", roster(tmp_path, rows), "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert "EXAMPLE" in r.stderr and "verified = false" in r.stderr
    res = json.loads(r.stdout)
    assert res["total_amount"] == "700.00"  # 200 x 2 + 300; 优抚对象 is not covered by the festival subsidy
    assert res["rejected_by_reason"] == {"category_not_covered": 1}
    # report reads the run like a monthly one
    rep = cli("report", res["run_dir"])
    assert rep.exit_code == 0, rep.stderr


def test_table_output_names_programme_and_total(cli, tmp_path, home):
    prog = write(tmp_path, FIXED)
    r = cli("oneoff", "--programme", prog, "--roster", roster(tmp_path, FIXED_ROWS))
    assert r.exit_code == 0, r.stderr
    assert "fest" in r.stdout and "1400.00" in r.stdout and "duplicate_person" in r.stdout
