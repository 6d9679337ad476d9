"""Issue 31: `cpi-link template roster|standards` write the officer's blank forms; filled in as an
officer does (openpyxl, typing into the formatted cells), they are read by validate and calc."""

from __future__ import annotations

from decimal import Decimal

import openpyxl

from calc_helpers import make_id, put_figures, write_scheme
from xlsx_structure import problems


def test_blank_forms_have_the_headers_text_cells_and_lists(cli, tmp_path):
    roster, std = tmp_path / "花名册.xlsx", tmp_path / "标准.xlsx"
    r = cli("template", "roster", "--out", roster)
    assert r.exit_code == 0, r.stderr
    assert cli("template", "standards", "--out", std).exit_code == 0
    wb = openpyxl.load_workbook(roster)
    ws = wb["花名册"]
    assert [c.value for c in ws[1]] == ["身份证号", "姓名", "保障类别", "行政区划代码", "城乡", "保障人数", "银行账号"]
    assert ws["A2"].number_format == "@" and ws["G500"].number_format == "@" and ws["F2"].number_format != "@"
    lists = {str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation}
    assert "城市低保" in lists["C2:C2001"] and lists["E2:E2001"] == '"城市,农村"'
    assert "说明" in wb.sheetnames
    assert [c.value for c in openpyxl.load_workbook(std)["保障标准"][1]] == ["行政区划代码", "执行日期", "城市低保标准", "农村低保标准"]
    for f in (roster, std):
        assert problems(f) == []
    assert cli("template", "roster", "--out", roster).exit_code == 2  # never written over a file
    assert cli("template", "roster", "--out", tmp_path / "x.txt").exit_code == 2
    csv_form = tmp_path / "花名册.csv"
    assert cli("template", "roster", "--out", csv_form).exit_code == 0
    assert csv_form.read_bytes() == "\ufeff身份证号,姓名,保障类别,行政区划代码,城乡,保障人数,银行账号\r\n".encode("utf-8")


def test_filled_forms_are_read_by_validate_and_calc(cli, home, tmp_path):
    roster, std = tmp_path / "花名册.xlsx", tmp_path / "标准.xlsx"
    assert cli("template", "roster", "--out", roster).exit_code == 0
    assert cli("template", "standards", "--out", std).exit_code == 0
    a, b = make_id("140105", "19500101", "001"), make_id("140105", "19600101", "002")
    wb = openpyxl.load_workbook(roster)
    for i, row in enumerate([(a, "张三", "城市低保", "140105", "城市", 2, "6228480012345678901"),
                             (b, "李四", "农村低保", "140105", "农村", 1, "")], 2):
        for j, v in enumerate(row, 1):
            wb["花名册"].cell(row=i, column=j).value = v
    wb.save(roster)
    wb = openpyxl.load_workbook(std)
    for j, v in enumerate(("140100", "2023-01", 870, 620), 1):
        wb["保障标准"].cell(row=2, column=j).value = v
    wb.save(std)
    r = cli("validate", "--roster", roster)
    assert r.exit_code == 0 and "2 " in r.stdout, r.stdout
    put_figures(home, "2024-01", cpi="103.6", food="106.5")
    sch = write_scheme(tmp_path)
    res = cli.json("calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", sch,
                   "--out", tmp_path / "run", "--format", "json")
    # rate 6.5 (food): 870 x 6.5% = 56.55 -> 57 x 2 persons = 114; 620 x 6.5% = 40.30 -> 40
    assert res["paid_rows"] == 2 and Decimal(res["total_amount"]) == Decimal("154.00")


def test_a_blank_form_is_private_and_its_errors_speak_chinese(cli, tmp_path):
    """The blank roster form is where the officer types IDs and accounts (Excel and WPS keep a file's
    mode when saving): 0600 as every file cpi-link writes, not 0644. A wrong suffix, an unreadable
    CSV and --until before --since are said in Chinese in a Chinese session."""
    import stat

    for name in ("r.xlsx", "r.csv"):
        assert cli("template", "roster", "--out", tmp_path / name).exit_code == 0
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    r = cli("--lang", "zh", "template", "roster", "--out", tmp_path / "x.txt")
    assert r.exit_code == 2 and f"--out {tmp_path / 'x.txt'}：请写成 .xlsx 或 .csv" in r.stderr, r.stderr
    r = cli("--lang", "zh", "simulate", "--scheme", "national", "--since", "2020-05", "--until", "2020-01",
            "--roster", tmp_path / "r.csv")
    assert r.exit_code == 2 and "--until 2020-01 早于 --since 2020-05" in r.stderr, r.stderr
