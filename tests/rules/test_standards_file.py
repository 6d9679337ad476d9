"""Standards files as officers write them (Issue 27): units in headers, bounds on monthly values,
region codes on the bundled list, errors naming the row the officer sees.

Amounts (scheme "t" of calc_helpers, 2024-01: food 6.5%): a roster of one urban and one rural
person of 140105; with 140105's own row urban 900, rural 5220 a year = 435 a month:
urban 900 x 6.5% = 58.5 -> 59; rural 435 x 6.5% = 28.275 -> 28; total 87.00.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from calc_helpers import make_id

IDS = [make_id("140105", "19700101", "001"), make_id("140105", "19710101", "002")]


def roster(tmp_path: Path) -> Path:
    f = tmp_path / "r.csv"
    f.write_text(f"身份证号,姓名,类别,行政区划代码\n{IDS[0]},甲,城市低保,140105\n{IDS[1]},乙,农村低保,140105\n",
                 encoding="utf-8")
    return f


def calc(cli, setup, tmp_path, std, *extra):
    cfg, _std = setup
    return cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster(tmp_path), "--standards", std,
               "--scheme", "t", "--out", tmp_path / "o", "--format", "json", *extra)


def xlsx(path: Path, rows: list[list]) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


@pytest.mark.parametrize("urban, rural", [("城市低保标准(元)", "农村低保标准（元/年）"),
                                          ("城市低保标准（元/月）", "农村低保标准(元/年)")])
def test_units_in_headers_are_honoured(tmp_path, cli, setup, urban, rural):
    std = xlsx(tmp_path / "s.xlsx", [["2024年低保标准"], ["行政区划代码", "执行日期", urban, rural],
                                     ["140105", "2023-07", 900, 5220]])
    r = calc(cli, setup, tmp_path, std)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "87.00"  # 59 + 28: 5220 is annual, 435 a month


def test_an_annual_figure_in_the_monthly_column_is_exit_2_naming_the_sheet_row(tmp_path, cli, setup):
    std = xlsx(tmp_path / "s.xlsx", [["2024年低保标准"], ["填报单位：小店区"], ["行政区划代码", "执行日期", "城市低保标准", "农村低保标准"],
                                     ["140105", "2023-07", 900, 5220]])
    r = calc(cli, setup, tmp_path, std)
    assert r.exit_code == 2
    assert "sheet row 4 (data row 1), field rural_monthly" in r.stderr and "5220" in r.stderr
    assert "--standards-max" in r.stderr
    std2 = xlsx(tmp_path / "s2.xlsx", [["行政区划代码", "执行日期", "城市低保标准", "农村低保标准"], ["140105", "2023-07", 3500, 700]])
    assert calc(cli, setup, tmp_path, std2).exit_code == 2
    r = calc(cli, setup, tmp_path, std2, "--standards-max", "4000")
    assert r.exit_code == 0, r.stderr
    # 3500 x 6.5% = 227.5 -> 228; 700 x 6.5% = 45.5 -> 46
    assert json.loads(r.stdout)["total_amount"] == "274.00"


def test_a_monthly_value_below_100_is_exit_2(tmp_path, cli, setup):
    f = tmp_path / "s.csv"
    f.write_text("region_code,effective_from,urban_monthly,rural_monthly\n140105,2023-07,900,70\n", encoding="utf-8")
    r = calc(cli, setup, tmp_path, f)
    assert r.exit_code == 2 and "line 2 (data row 1), field rural_monthly" in r.stderr


def test_a_region_code_not_on_the_list_is_exit_2_naming_the_row(tmp_path, cli, setup):
    f = tmp_path / "s.csv"
    f.write_text("region_code,effective_from,urban_monthly,rural_monthly\n140100,2023-01,870,620\n"
                 "140015,2023-07,900,700\n", encoding="utf-8")
    r = calc(cli, setup, tmp_path, f)
    assert r.exit_code == 2
    assert "line 3 (data row 2), field region_code" in r.stderr and "140015" in r.stderr


def test_an_urban_annual_header_is_a_look_alike(tmp_path, cli, setup):
    f = tmp_path / "s.csv"
    f.write_text("行政区划代码,执行日期,城市低保标准（元/年）,农村低保标准\n140105,2023-07,10800,700\n", encoding="utf-8")
    r = calc(cli, setup, tmp_path, f)
    assert r.exit_code == 2 and "cell C " in r.stderr and "urban_monthly" in r.stderr


@pytest.mark.parametrize("command", ["calc", "validate", "run", "simulate", "estimate", "oneoff"])
def test_standards_max_on_every_command_that_takes_standards(tmp_path, cli, setup, home, command):
    """Issue 27: an urban standard of 3500 a month is refused by every command that reads a standards
    file, and `--standards-max 4000` lets each of them read it."""
    cfg, _std = setup
    std = tmp_path / "s.csv"
    std.write_text("region_code,effective_from,urban_monthly,rural_monthly\n140105,2023-07,3500,700\n", encoding="utf-8")
    r = roster(tmp_path)
    if command == "oneoff":
        from calc_helpers import put_figures

        put_figures(home, "2023-12", food="106.5")
        (cfg / "programmes").mkdir()
        (cfg / "programmes" / "fest.toml").write_text(
            'programme = "fest"\nname = "测试节日补助"\ndocument = "测试文件"\nverified = true\npayment_month = "2024-01"\n'
            'categories = { urban_dibao = "urban", rural_dibao = "rural" }\nmethod = "proportional_index"\n'
            'index = { region = "140000", indicator = "food", month = "2023-12" }\nrounding = "yuan_half_up"\n',
            encoding="utf-8")
    counts = tmp_path / "c.csv"
    counts.write_text("region_code,category,area,persons\n140105,urban_dibao,,1\n", encoding="utf-8")
    args = {"calc": ["calc", "--month", "2024-01", "--roster", r, "--scheme", "t", "--out", tmp_path / "o"],
            "validate": ["validate", "--month", "2024-01", "--roster", r, "--scheme", "t"],
            "run": ["run", "--roster", r, "--scheme", "t", "--offline", "--since", "2024-01"],
            "simulate": ["simulate", "--scheme", "t", "--baseline", "t", "--since", "2024-01", "--until", "2024-01", "--roster", r],
            "estimate": ["estimate", "--counts", counts, "--month", "2024-01", "--scheme", "t"],
            "oneoff": ["oneoff", "--programme", "fest", "--roster", r, "--out", tmp_path / "o"]}[command]
    refused = cli("--config", cfg, *args, "--standards", std)
    assert refused.exit_code == 2 and "3500" in refused.stderr and "--standards-max" in refused.stderr
    ok = cli("--config", cfg, *args, "--standards", std, "--standards-max", "4000")
    assert ok.exit_code == 0, ok.stderr
