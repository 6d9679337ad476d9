"""Officers' values read as they type them (issue 17): IDs, bank accounts, categories, region codes,
standards files, bounds, and no ID in any message. Every amount worked by hand.

Index month 2024-01 under scheme "t" (calc_helpers): CPI 103.6 and food 106.5 both trigger; the rate
is the higher, 6.5 (food); whole yuan half up. Standards (calc_helpers.STANDARDS) in 2024-01:
  140105 -> its prefecture 140100: urban 870, rural 620   (140105's own row starts 2024-02)
  870 x 6.5% = 56.55 -> 57        620 x 6.5% = 40.30 -> 40
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from calc_helpers import STANDARDS, make_id, write_scheme

HEADER = ["person_id", "name", "category", "region_code", "area", "persons", "bank_account"]
ID15 = "140105500101013"  # a legacy ID: 140105 + 500101 (1950-01-01) + 013
ID15_AS_18 = make_id("140105", "19500101", "013")


def ids(n: int) -> list[str]:
    return [make_id("140105", "19700101", f"{i:03d}") for i in range(1, n + 1)]


def write_csv(path: Path, rows) -> Path:
    lines = [",".join(HEADER)] + [",".join(str(c) for c in r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_xlsx(path: Path, rows) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    for r in rows:
        ws.append(list(r))
    wb.save(path)
    return path


def calc(cli, setup, tmp_path, roster, std=None, month="2024-01"):
    cfg, default_std = setup
    out = tmp_path / "out"
    r = cli("--config", cfg, "calc", "--month", month, "--roster", roster, "--standards", std or default_std,
            "--scheme", "t", "--out", out, "--format", "json")
    assert r.exit_code == 0, r.stderr
    pay = {p["source_row"]: p for p in pq.read_table(out / "payments.parquet").to_pylist()}
    rej = {p["source_row"]: p for p in pq.read_table(out / "rejected.parquet").to_pylist()}
    return pay, rej, r


# --------------------------------------------------------------------------------------------
# 1. IDs


def test_15_digit_id_in_a_number_cell_is_exact(tmp_path, cli, setup):
    a = ids(1)[0]
    roster = write_xlsx(tmp_path / "r.xlsx", [
        (int(ID15), "十五位数字", "urban_dibao", "140105", "", 1, ""),      # 1: a number cell, 15 digits: exact
        (float(a), "十八位数字", "urban_dibao", "140105", "", 1, ""),       # 2: 18 digits as a number: lost
    ])
    pay, rej, _ = calc(cli, setup, tmp_path, roster)
    assert pay[1]["person_id"] == ID15_AS_18 and pay[1]["id_flag"] == "converted_from_15"
    assert str(pay[1]["amount"]) == "57.00"  # 870 x 6.5% = 56.55 -> 57
    assert rej[2]["reason"] == "id_lost_precision"


def test_full_width_id_region_and_persons(tmp_path, cli, setup):
    a = ids(1)[0]
    fw = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
    x_id = "14010519800101002X"  # valid (test_calc row 11)
    roster = write_csv(tmp_path / "r.csv", [
        ("\u3000" + x_id.translate(fw) + "\u3000", "全角", "urban_dibao", "140105", "", "", ""),  # 1: 57
        (a, "全角地区", "urban_dibao", "１４０１０５", "", "２", ""),                           # 2: 57 x 2 = 114
        (ids(2)[1], "全角类别", "ｒｕｒａｌ＿ｄｉｂａｏ", "140105", "", "", ""),                 # 3: rural 620 -> 40
    ])
    pay, rej, _ = calc(cli, setup, tmp_path, roster)
    assert not rej
    assert pay[1]["person_id"] == x_id and str(pay[1]["amount"]) == "57.00"
    assert pay[2]["region_code"] == "140105" and pay[2]["persons"] == 2 and str(pay[2]["amount"]) == "114.00"
    assert pay[2]["standard_region"] == "140100"
    assert pay[3]["category"] == "rural_dibao" and str(pay[3]["amount"]) == "40.00"


def test_region_code_as_a_spreadsheet_wrote_it(tmp_path, cli, setup):
    p = ids(3)
    roster = write_csv(tmp_path / "r.csv", [(p[0], "点零", "urban_dibao", "140105.0", "", "", ""),   # 1: 57
                                            (p[1], "空格", "urban_dibao", "140 105", "", "", ""),    # 2: 57
                                            (p[2], "短", "urban_dibao", "14010", "", "", "")])      # 3: missing_field
    pay, rej, _ = calc(cli, setup, tmp_path, roster)
    assert [(pay[i]["region_code"], str(pay[i]["amount"])) for i in (1, 2)] == [("140105", "57.00")] * 2
    assert rej[3]["reason"] == "missing_field" and "'14010' is not a 6-digit code" in rej[3]["detail"]


def test_full_width_code_in_standards_matches(tmp_path, cli, setup):
    # 140105's own row from 2024-01, typed full-width: urban 900 x 6.5% = 58.50 -> 59 (not 140100's 57)
    std = tmp_path / "std.csv"
    std.write_text(STANDARDS + "１４０１０５,２０２４-０１,９００,７００,\n", encoding="utf-8")
    roster = write_csv(tmp_path / "r.csv", [(ids(1)[0], "甲", "urban_dibao", "140105", "", "", "")])
    pay, _, _ = calc(cli, setup, tmp_path, roster, std=std)
    assert pay[1]["standard_region"] == "140105" and str(pay[1]["amount"]) == "59.00"


def test_full_width_region_in_figures_file(tmp_path):
    from cpi_link.sources.file import read_figures_file

    f = tmp_path / "figures.csv"
    f.write_text("region_code,month,indicator,value\n１４００００,２０２４-０１,cpi,１０３.６\n", encoding="utf-8")
    (obs,) = read_figures_file(f)
    assert (obs.region_code, obs.month, obs.value) == ("140000", "2024-01", Decimal("103.6"))


# --------------------------------------------------------------------------------------------
# 2. Bank accounts


def test_bank_accounts(tmp_path, cli, setup):
    p = ids(6)
    roster = write_xlsx(tmp_path / "r.xlsx", [
        (p[0], "浮点", "urban_dibao", "140105", "", 1, 6.221004348395486e18),     # 1: a number of 19 digits: lost
        (p[1], "十二位", "urban_dibao", "140105", "", 1, 622100434839),            # 2: 12 digits as a number: exact
        (p[2], "空格", "urban_dibao", "140105", "", 1, "6222 0212 3456 7890 123"),  # 3: spaces removed
        (p[3], "全角", "urban_dibao", "140105", "", 1, "６２２２０２１２３４５６７８９０１２３"),
        (p[4], "科学", "urban_dibao", "140105", "", 1, "6.22100434839549E+18"),    # 5: Excel's text of a number
        (p[5], "短", "urban_dibao", "140105", "", 1, "12345"),                      # 6: paid as given, a warning
    ])
    pay, rej, _ = calc(cli, setup, tmp_path, roster)
    assert rej[1]["reason"] == "bank_account_lost_precision" and rej[5]["reason"] == "bank_account_lost_precision"
    assert pay[2]["bank_account"] == "622100434839"
    assert pay[3]["bank_account"] == "6222021234567890123"
    assert pay[4]["bank_account"] == "6222021234567890123"
    assert pay[6]["bank_account"] == "12345" and str(pay[6]["amount"]) == "57.00"


def test_validate_warns_about_account_length(tmp_path, cli):
    p = ids(2)
    roster = write_csv(tmp_path / "r.csv", [(p[0], "短", "urban_dibao", "140105", "", "", "12345"),
                                            (p[1], "好", "urban_dibao", "140105", "", "", "6222021234567890123")])
    rep = cli.json("validate", "--roster", roster, "--format", "json")
    assert rep["problems"] == {} and rep["ok_rows"] == 2
    w = rep["warnings"]["bank_account_length"]
    assert w["rows"] == 1 and w["example_rows"] == [1] and "5 digits" in w["example_details"][0]


def test_validate_without_month_warns_about_codes_on_no_list(tmp_path, cli):
    p = ids(2)
    roster = write_csv(tmp_path / "r.csv", [(p[0], "甲", "urban_dibao", "149999", "", "", ""),
                                            (p[1], "乙", "urban_dibao", "140202", "", "", "")])  # abolished, but on the list
    rep = cli.json("validate", "--roster", roster, "--format", "json")
    w = rep["warnings"]["region_not_on_list"]
    assert w["rows"] == 1 and w["example_rows"] == [1] and "149999" in w["example_details"][0]


def test_float_bank_column_in_parquet(tmp_path, cli, setup):
    import pyarrow as pa

    p = ids(2)
    roster = tmp_path / "r.parquet"
    pq.write_table(pa.table({"person_id": p, "name": ["甲", "乙"], "category": ["urban_dibao"] * 2,
                             "region_code": ["140105"] * 2, "bank_account": [6.221004348395486e18, 622100434839.0]}),
                   roster)
    pay, rej, _ = calc(cli, setup, tmp_path, roster)
    assert rej[1]["reason"] == "bank_account_lost_precision"
    assert pay[2]["bank_account"] == "622100434839"


# --------------------------------------------------------------------------------------------
# 3. Categories


def test_tekun_by_area(tmp_path, cli, setup):
    p = ids(5)
    roster = write_csv(tmp_path / "r.csv", [
        (p[0], "城", "特困人员", "140105", "城市", "", ""),       # 1: urban_tekun, urban 870 -> 57
        (p[1], "乡", "特困人员", "140105", "农村", "", ""),       # 2: rural_tekun, rural 620 -> 40
        (p[2], "供养", "特困供养人员", "140105", "rural", "", ""),  # 3: rural_tekun -> 40
        (p[3], "无", "特困人员", "140105", "", "", ""),           # 4: missing_field naming 城乡
        (p[4], "全称", "城镇特困供养人员", "140105", "", "", ""),  # 5: a listed wording: urban_tekun -> 57
    ])
    pay, rej, _ = calc(cli, setup, tmp_path, roster)
    assert (pay[1]["category"], str(pay[1]["amount"])) == ("urban_tekun", "57.00")
    assert (pay[2]["category"], str(pay[2]["amount"])) == ("rural_tekun", "40.00")
    assert (pay[3]["category"], str(pay[3]["amount"])) == ("rural_tekun", "40.00")
    assert rej[4]["reason"] == "missing_field" and "城乡" in rej[4]["detail"]
    assert (pay[5]["category"], str(pay[5]["amount"])) == ("urban_tekun", "57.00")


def test_category_table_lists_every_group():
    from cpi_link.core.categories import BY_AREA, CATEGORIES, category_code, category_for_area

    assert len(CATEGORIES) == 11  # SPEC 5.2
    assert category_code("城市低保对象") == "urban_dibao" and category_code("低保边缘家庭") == "dibao_edge"
    assert category_code("五保户") is None  # not guessed
    assert category_for_area("特困供养", "rural") == "rural_tekun" and category_for_area("特困人员", None) is None
    assert set(BY_AREA) >= {"特困人员", "特困供养人员", "特困供养"}


# --------------------------------------------------------------------------------------------
# 4. Region codes


def test_region_codes(tmp_path, cli, setup):
    p = ids(5)
    roster = write_csv(tmp_path / "r.csv", [
        (p[0], "不存在", "urban_dibao", "140199", "", "", ""),  # 1: not on the list (was: 140100's 57)
        (p[1], "不存在", "urban_dibao", "149999", "", "", ""),  # 2: not on the list (was: 140000's 500 -> 33)
        (p[2], "撤销", "urban_dibao", "140202", "", "", ""),    # 3: 大同市城区, abolished 2018
        (p[3], "撤县", "urban_dibao", "140424", "", "", ""),    # 4: 屯留县 -> 屯留区 140405 in 2018
        (p[4], "平城", "urban_dibao", "140213", "", "", ""),    # 5: 平城区 since 2018: 140200 urban 770 -> 50.05 -> 50
    ])
    pay, rej, _ = calc(cli, setup, tmp_path, roster)
    assert {k: v["reason"] for k, v in rej.items()} == {i: "unknown_region" for i in (1, 2, 3, 4)}
    assert "140199 is not on the administrative-division list" in rej[1]["detail"]
    assert "abolished in 2018" in rej[3]["detail"]
    assert "abolished in 2018, replaced by 140405 屯留区" in rej[4]["detail"]
    assert str(pay[5]["amount"]) == "50.00" and pay[5]["standard_region"] == "140200"


def test_region_list_and_names():
    from cpi_link.core import regions

    assert regions.region_name("140105") == "小店区"
    assert regions.region_name("140000") == "山西省" and regions.region_name("000000") == "全国"
    assert regions.with_name("140105") == "140105 小店区"
    assert regions.is_valid("140213", "2024-01") and not regions.is_valid("140213", "2017-12")
    assert regions.is_valid("140202", "2017-12") and not regions.is_valid("140202", "2018-01")
    assert regions.region_name("140199") is None
    # Shanxi in 2020: 1 province, 11 prefectures, 117 county-level units (the ministry's count)
    shanxi = [c for c in regions._table() if c.startswith("14") and regions.is_valid(c, "2020-06")]
    assert len(shanxi) == 129
    assert regions.clean_code("１４０１０５\u3000") == "140105" and regions.clean_code("140105.0") == "140105"


# --------------------------------------------------------------------------------------------
# 5. Standards files


def test_chinese_standards_headers_csv_and_xlsx(tmp_path):
    import openpyxl

    from cpi_link.rules.standards import load_standards

    header = ["行政区划代码", "执行日期", "城市低保标准", "农村低保标准(年)"]
    rows = [["140000", "2020-01-01", "500", "4800"], ["140100", "2023年1月1日", "870", "7440"]]
    csv = tmp_path / "std.csv"
    csv.write_text("\n".join(",".join(r) for r in [header] + rows) + "\n", encoding="gb18030")
    wb = openpyxl.Workbook()
    wb.active.append(header)
    for r in rows:
        wb.active.append([r[0], r[1], int(r[2]), int(r[3])])
    wb.save(tmp_path / "std.xlsx")
    for path in (csv, tmp_path / "std.xlsx"):
        s = load_standards(path)
        a, b = s.rows
        assert (a.region_code, a.effective_from, a.rural_basis) == ("140000", "2020-01", "annual")
        assert a.monthly("urban") == Decimal(500) and a.monthly("rural") == Decimal(400)  # 4800 / 12
        assert b.effective_from == "2023-01" and b.monthly("rural") == Decimal(620)  # 7440 / 12


@pytest.mark.parametrize("body,want", [
    ("140000,2020-01,500,400,4900\n", "line 2 (data row 1), field rural_annual: 4900 a year disagrees"),  # 400 x 12 = 4800
    ("140000,2020-01,\"4,5\",400,\n", "line 2 (data row 1), field urban_monthly: '4,5' is not a number"),
    ("140000,2020-01,100001,400,\n", "line 2 (data row 1), field urban_monthly: 100001 yuan a month is outside 100-3000"),
    ("140000,2020-01,1e14,400,\n", "line 2 (data row 1), field urban_monthly: '1e14' is not a number"),
    ("140000,2020-01,500,,1200001\n", "line 2 (data row 1), field rural_annual: 1200001 a year is 100000.08 a month, outside 100-3000"),
    ("140000,2020-01,500,400,\n140000,2020-01,510,400,\n", "line 3 (data row 2): 140000 from 2020-01 is already given on data row 1"),
])
def test_bad_standards_exit_2(tmp_path, cli, setup, body, want):
    std = tmp_path / "std.csv"
    std.write_text("region_code,effective_from,urban_monthly,rural_monthly,rural_annual\n" + body, encoding="utf-8")
    roster = write_csv(tmp_path / "r.csv", [(ids(1)[0], "甲", "urban_dibao", "140105", "", "", "")])
    cfg, _ = setup
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
            "--out", tmp_path / "out")
    assert r.exit_code == 2, r.stderr
    assert "std.csv" in r.stderr and want in r.stderr
    assert not (tmp_path / "out").exists()


def test_same_standards_row_twice_is_harmless(tmp_path):
    from cpi_link.rules.standards import load_standards

    std = tmp_path / "std.csv"
    std.write_text("region_code,effective_from,urban_monthly,rural_monthly\n140000,2020-01,500,400\n"
                   "140000,2020-01,500.00,400\n", encoding="utf-8")
    assert len(load_standards(std)) == 1


# --------------------------------------------------------------------------------------------
# 6. Bounds where money is made


def test_persons_cap(tmp_path, cli, setup):
    p = ids(3)
    roster = write_csv(tmp_path / "r.csv", [
        (p[0], "户", "urban_dibao", "140105", "", "99", ""),      # 1: 57 x 99 = 5643
        (p[1], "太多", "urban_dibao", "140105", "", "100", ""),   # 2: bad_persons, over the cap
        (p[2], "巨", "urban_dibao", "140105", "", "999999", ""),  # 3: bad_persons (was: paid 56,999,943.00)
    ])
    pay, rej, _ = calc(cli, setup, tmp_path, roster)
    assert str(pay[1]["amount"]) == "5643.00"
    assert rej[2]["reason"] == rej[3]["reason"] == "bad_persons"
    assert rej[2]["detail"] == "persons 100 is more than 99, the most one row (a household) can cover"


@pytest.mark.parametrize("std_value,want", [
    ("100000000000000", "yuan a month is outside 100-3000"),  # 1e14 yuan (was: paid 0.00); 15 digits: masked
    ("1e11", "'1e11' is not a number"),                      # (was: a wrapped, negative total)
    ("1e30", "'1e30' is not a number"),                      # (was: a traceback)
])
def test_absurd_standards_refused(tmp_path, cli, setup, std_value, want):
    std = tmp_path / "std.csv"
    std.write_text(f"region_code,effective_from,urban_monthly,rural_monthly\n140000,2020-01,{std_value},400\n",
                   encoding="utf-8")
    roster = write_csv(tmp_path / "r.csv", [(ids(1)[0], "甲", "urban_dibao", "140105", "", "99", "")])
    cfg, _ = setup
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
            "--out", tmp_path / "out")
    assert r.exit_code == 2 and want in r.stderr and "Traceback" not in r.stderr


def test_amounts_checked_against_decimal_18_2():
    import numpy as np

    from cpi_link.calc.encoding import summary_table
    from cpi_link.core.errors import InputError
    from cpi_link.core.money import decimal128_from_fen, small_decimal_from_fen

    assert decimal128_from_fen(np.array([10**18 - 1])).to_pylist() == [Decimal("9999999999999999.99")]
    with pytest.raises(InputError, match=r"17 digits of yuan does not fit decimal\(18,2\)"):
        decimal128_from_fen(np.array([10**18]))
    with pytest.raises(InputError):
        small_decimal_from_fen(np.array([10**18]), 18)
    # a total past int64 (two huge region totals), refused instead of wrapped to a negative number
    with pytest.raises(InputError, match="a summary amount"):
        summary_table([{"region_code": "140105", "category": "urban_dibao", "rows": 1, "persons": 1,
                        "amount_fen": 2**63 + 5}])


@pytest.mark.parametrize("key,value,words", [
    ("minimum", '"0.005"', "key minimum: \"0.005\" has more than 2 decimals"),
    ("multiplier", '"1.0000000000000000000000000001"', "key multiplier: \"1.0000000000000000000000000001\" has more than 4 decimals"),
    ("multiplier", '"100000000000000000000"', "key multiplier: \"100000********0000\" is above 10"),  # masked
    ("trigger", '{ cpi = "-1" }', "key trigger.cpi: \"-1\" must not be negative"),
])
def test_scheme_values_bounded_at_load(tmp_path, cli, setup, key, value, words):
    cfg, std = setup
    text = (cfg / "schemes" / "t.toml").read_text(encoding="utf-8")
    import re

    text = re.sub(rf"^{key} = .*$", f"{key} = {value}", text, count=1, flags=re.M)
    (cfg / "schemes" / "t.toml").write_text(text, encoding="utf-8")
    roster = write_csv(tmp_path / "r.csv", [(ids(1)[0], "甲", "urban_dibao", "140105", "", "", "")])
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
            "--out", tmp_path / "out")
    assert r.exit_code == 2, r.stderr
    assert "t.toml" in r.stderr and words in r.stderr and "Traceback" not in r.stderr


def test_per_point_bounded(tmp_path):
    from cpi_link.core.errors import ConfigError
    from cpi_link.rules.schemes import load_scheme

    write_scheme(tmp_path, method="per_point", extra='per_point = "0.001"')
    with pytest.raises(ConfigError, match="key per_point: \"0.001\" has more than 2 decimals"):
        load_scheme(tmp_path / "t.toml", tmp_path)


def test_deeply_nested_toml_is_not_valid_toml(tmp_path, cli, setup):
    cfg, std = setup
    (cfg / "schemes" / "deep.toml").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    roster = write_csv(tmp_path / "r.csv", [(ids(1)[0], "甲", "urban_dibao", "140105", "", "", "")])
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std,
            "--scheme", "deep", "--out", tmp_path / "out")
    assert r.exit_code == 2 and "deep.toml: not valid TOML" in r.stderr and "Traceback" not in r.stderr


def test_programme_values_bounded_at_load(tmp_path):
    from cpi_link.core.errors import ConfigError
    from cpi_link.rules.programmes import parse_programme_file

    base = ('programme = "fest"\nname = "测试节日补助"\ndocument = "测试文件"\npayment_month = "2024-01"\n'
            'categories = { urban_dibao = "urban" }\nmethod = "proportional_index"\n'
            'index = { region = "140000", indicator = "food", month = "2023-12" }\nrounding = "yuan_half_up"\n')
    for line, words in (('multiplier = "20"', "key multiplier: \"20\" is above 10"),
                        ('minimum = "0.001"', "key minimum: \"0.001\" has more than 2 decimals")):
        p = tmp_path / "p.toml"
        p.write_text(base + line + "\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=words):
            parse_programme_file(p)


# --------------------------------------------------------------------------------------------
# 7. No ID in any message


def test_no_id_in_any_output_over_swapped_columns(tmp_path, cli, setup, home):
    """A roster whose columns were pasted out of order: IDs land in category, region_code, persons,
    area and name. Every command's stdout, stderr and log carries them masked, never whole."""
    import re

    cfg, std = setup
    p = ids(6)
    roster = tmp_path / "swapped.csv"
    roster.write_text(
        "person_id,name,category,region_code,area,persons,bank_account\n"
        f"urban_dibao,甲,{p[0]},140105,,,\n"            # ID in category: invalid_id (person_id) first
        f"{p[1]},甲,{p[1]},140105,,,\n"                 # unknown_category quoting the ID
        f"{p[2]},乙,urban_dibao,{p[2]},,,\n"            # region_code quoting the ID
        f"{p[3]},丙,urban_dibao,140105,{p[3]},,\n"      # area quoting the ID
        f"{p[4]},丁,urban_dibao,140105,,{p[4]},\n"      # persons quoting the ID
        f"{p[5]},{p[5]},urban_dibao,140105,,,\n",       # name holding an ID: paid (a name is not checked)
        encoding="utf-8")
    runs = [
        ("validate", "--roster", roster),
        ("validate", "--roster", roster, "--format", "json"),
        ("validate", "--roster", roster, "--format", "csv"),
        ("--config", cfg, "validate", "--roster", roster, "--month", "2024-01", "--standards", std, "--scheme", "t"),
        ("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
         "--out", tmp_path / "out"),
        ("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
         "--out", tmp_path / "out2", "--format", "json"),
        ("--config", cfg, "run", "--roster", roster, "--standards", std, "--scheme", "t", "--offline",
         "--since", "2024-01"),
        ("report", tmp_path / "out"),
        ("report", tmp_path / "out", "--format", "json"),
        # a bad file whose error quotes a cell: a standards file with an ID for a region code
        ("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", tmp_path / "badstd.csv",
         "--scheme", "t", "--out", tmp_path / "out3"),
    ]
    (tmp_path / "badstd.csv").write_text(f"region_code,effective_from,urban_monthly,rural_monthly\n{p[0]},2024-01,1,1\n",
                                         encoding="utf-8")
    long_digits = re.compile(r"\d{15,}")
    for args in runs:
        r = cli(*args)
        assert "Traceback" not in r.stdout + r.stderr, args
        assert r.exit_code in (0, 2), (args, r.exit_code, r.stderr)
        out = r.stdout + r.stderr
        assert not long_digits.search(out), (args, long_digits.search(out).group(0)[:6])
        if "json" in args and "validate" in args:
            assert "140105********" in out
    logs = "".join(f.read_text(encoding="utf-8") for f in (home / "logs").glob("*.log"))
    assert not long_digits.search(logs)
    details = pq.read_table(tmp_path / "out" / "rejected.parquet").column("detail").to_pylist()
    assert len(details) == 5 and not any(long_digits.search(d or "") for d in details)
    assert any("140105********" in d for d in details)


def test_mask_digits():
    from cpi_link.core.privacy import mask_digits

    assert mask_digits("category '140202193001010154' is not a code") == "category '140202********0154' is not a code"
    assert mask_digits("14010519800101002X and 6222021234567890123") == "140105********002X and 622202********0123"
    assert mask_digits("row 12345, 2024-01") == "row 12345, 2024-01"
