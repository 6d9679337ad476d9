"""Issue 28: month and date cells read as the officer typed them, figure values with one decimal.

A month typed as the number 2019.10 is stored by the spreadsheet as the float 2019.1, the same as
2019.1 (January): it is refused naming the cell, in figures, standards and programme files. Text
months (2019.10, 2019-10, 2019年10月, 201910) and date cells are October.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from conftest import REPO

HEAD = ["地区代码", "月份", "指标", "指数"]


def _figures_xlsx(path, month_cell, value=102.3):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEAD)
    ws.append(["140000", month_cell, "食品", value])
    wb.save(path)
    return path


def test_number_month_in_figures_is_exit_2_and_store_untouched(tmp_path, cli):
    before = cli("series", "--region", "140000", "--format", "json").stdout
    f = _figures_xlsx(tmp_path / "f.xlsx", 2019.10)  # typed 2019.10: the cell holds 2019.1
    r = cli("fetch", "--source", "file", "--file", f)
    assert r.exit_code == 2, r.output
    assert "f.xlsx: data row 1, field month" in r.stderr and "2019.1" in r.stderr and "October" in r.stderr
    assert cli("series", "--region", "140000", "--format", "json").stdout == before


@pytest.mark.parametrize("cell", ["2019.10", "2019-10", "2019年10月", "201910", dt.date(2019, 10, 1),
                                  dt.datetime(2019, 10, 15)])
def test_text_and_date_months_are_october(tmp_path, cell):
    from cpi_link.sources.file import read_figures_file

    obs = read_figures_file(_figures_xlsx(tmp_path / "f.xlsx", cell))
    assert [(o.month, o.indicator, o.value) for o in obs] == [("2019-10", "food", Decimal("102.3"))]


def test_text_2019_1_in_csv_is_january(tmp_path):
    # typed as text it says what it says; only a number cell is ambiguous
    from cpi_link.sources.file import read_figures_file

    f = tmp_path / "f.csv"
    f.write_text("地区代码,月份,指标,指数\n140000,2019.1,食品,102.3\n140000,2019.10,食品,102.4\n", encoding="utf-8")
    assert [o.month for o in read_figures_file(f)] == ["2019-01", "2019-10"]


@pytest.mark.parametrize("value", ["102.25", "102.30", 102.25])
def test_figure_with_two_decimals(tmp_path, cli, value):
    if isinstance(value, float):
        f = _figures_xlsx(tmp_path / "f.xlsx", "2019-10", value)
    else:
        f = tmp_path / "f.csv"
        f.write_text(f"地区代码,月份,指标,指数\n140000,2019-10,食品,{value}\n", encoding="utf-8")
    r = cli("fetch", "--source", "file", "--file", f, "--format", "json")
    if value == "102.30":  # a cell formatted with two decimals: the same published figure
        assert r.exit_code == 0, r.output
        return
    assert r.exit_code == 2, r.output
    assert "data row 1, field value: 102.25 has more than one decimal" in r.stderr


def _standards_xlsx(path, when):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["行政区划代码", "执行日期", "城市低保标准", "农村低保标准"])
    ws.append(["140000", "2016-01", 600, 500])
    ws.append(["140000", when, 720, 600])
    wb.save(path)
    return path


def test_number_month_in_standards_is_exit_2(tmp_path, cli, setup):
    from calc_helpers import make_id

    cfg, _std = setup
    std = _standards_xlsx(tmp_path / "std.xlsx", 2019.10)
    roster = tmp_path / "r.csv"
    roster.write_text(f"身份证号,姓名,类别,地区代码,城乡\n{make_id('140105', '19600101', '001')},甲,urban_dibao,140105,urban\n",
                      encoding="utf-8")
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
            "--out", tmp_path / "out")
    assert r.exit_code == 2, r.output
    assert "(data row 2), field effective_from (column '执行日期')" in r.stderr and "October" in r.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("when", ["2019.10", dt.date(2019, 10, 1), "2019年10月1日"])
def test_standards_october_applies_from_october(tmp_path, when):
    from cpi_link.rules.standards import load_standards

    s = load_standards(_standards_xlsx(tmp_path / "std.xlsx", when))
    assert s.in_force("140105", "2019-09").monthly("urban") == Decimal(600)
    assert s.in_force("140105", "2019-10").monthly("urban") == Decimal(720)


def test_number_month_in_programme_file(tmp_path):
    from cpi_link.core.errors import ConfigError
    from cpi_link.rules.programmes import parse_programme_file

    src = (REPO / "config/programmes/shanxi-2021-spring-festival.toml").read_text(encoding="utf-8")
    p = tmp_path / "p.toml"
    p.write_text(src.replace('payment_month = "2021-02"', "payment_month = 2021.10"), encoding="utf-8")
    with pytest.raises(ConfigError, match="key payment_month: 2021.10 is a number, not a month"):
        parse_programme_file(p)
