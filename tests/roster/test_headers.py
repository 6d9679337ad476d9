"""Every header cell of the officer's roster accounted for (Issue 27): the synonym table, look-alike
cells (exit 2 naming the cell and the accepted names), the header-cell report of calc, validate and
the manifest, the header searched for in the first 30 rows, two- and three-row headers with merged
group cells read as one.

Amounts (scheme "t" of calc_helpers, 2024-01: food 6.5% -> rate 6.5%; region 140105 takes its
prefecture 140100's standard: urban 870 a month): urban_dibao 870 x 6.5% = 56.55 -> 57 yuan a person.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from calc_helpers import make_id
from sheet_books import odfpy_book

IDS = [make_id("140105", f"19{60 + i}0101", f"{i + 1:03d}") for i in range(10)]


def calc(cli, setup, roster, out, *extra, fmt="json"):
    cfg, std = setup
    return cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
               "--out", out, "--format", fmt, *extra)


def paid(out: Path) -> dict:
    return {r["name"]: (str(r["amount"]), r["persons"], r["bank_account"])
            for r in pq.read_table(out / "payments.parquet").to_pylist()}


def roster_entry(out: Path) -> dict:
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return next(i for i in man["inputs"] if i["role"] == "roster")


def xlsxwriter_rows(path: Path, data: list[list], start_row: int = 0) -> Path:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("花名册")
    for r, row in enumerate(data):
        ws.write_row(start_row + r, 0, row)
    wb.close()
    return path


# --------------------------------------------------------------------------------------------
# synonyms: each pays what the sheet says


@pytest.mark.parametrize("title", ["保障人数", "保障人口", "享受人数", "家庭人口", "救助人数", "保障人数合计", "户保障人数",
                                   "保障人数（人）"])
def test_persons_synonyms_pay_the_persons_the_sheet_holds(tmp_path, cli, setup, title):
    book = xlsxwriter_rows(tmp_path / "p.xlsx", [["身份证号", "姓名", "类别", "行政区划代码", title],
                                                  [IDS[0], "甲", "城市低保", "140105", 3]])
    out = tmp_path / "o"
    r = calc(cli, setup, book, out)
    assert r.exit_code == 0, r.stderr
    assert paid(out)["甲"][:2] == ("171.00", 3)  # 3 persons x 57


@pytest.mark.parametrize("title", ["银行账号", "银行帐号", "银行卡号", "卡号", "银行账户", "一卡通账号", "一卡通帐号", "存折号",
                                   "账号", "帐号"])
def test_bank_account_synonyms_keep_the_account(tmp_path, cli, setup, title):
    book = xlsxwriter_rows(tmp_path / "b.xlsx", [["身份证号", "姓名", "类别", "行政区划代码", title],
                                                  [IDS[0], "甲", "城市低保", "140105", "6222000011112222"]])
    out = tmp_path / "o"
    r = calc(cli, setup, book, out)
    assert r.exit_code == 0, r.stderr
    assert paid(out)["甲"] == ("57.00", 1, "6222000011112222")
    cells = roster_entry(out)["header_cells"]
    assert {"cell": "E1", "text": title, "column": "bank_account"} in cells


@pytest.mark.parametrize("title, column", [("享受人口数", "persons"), ("保障人数（户）", "persons"), ("开户账号", "bank_account"),
                                           ("银行卡号（2019年换卡）", "bank_account"), ("身份证", "person_id")])
def test_look_alike_is_exit_2_naming_the_cell_and_the_names(tmp_path, cli, setup, title, column):
    header = ["身份证号", "姓名", "类别", "行政区划代码", "序号", title]
    book = xlsxwriter_rows(tmp_path / "l.xlsx", [["2024年1月城市低保花名册"], header,
                                                  [IDS[0], "甲", "城市低保", "140105", 1, "3"]])
    out = tmp_path / "o"
    r = calc(cli, setup, book, out)
    assert r.exit_code == 2, r.stderr
    assert "F2" in r.stderr and title in r.stderr and column in r.stderr, r.stderr
    names = "保障人数 / 保障人口" if column == "persons" else ("银行账号 / 银行帐号" if column == "bank_account" else "身份证号")
    assert names in r.stderr
    assert not out.exists()


def test_remarks_twice_are_not_an_error_and_every_cell_is_reported(tmp_path, cli, setup):
    header = ["序号", "身份证号", "姓名", "类别", "行政区划代码", "备注", "备注", "联系电话"]
    book = xlsxwriter_rows(tmp_path / "u.xlsx", [header, [1, IDS[0], "甲", "城市低保", "140105", "", "", "13800000000"]])
    out = tmp_path / "o"
    r = calc(cli, setup, book, out)
    assert r.exit_code == 0, r.stderr
    cells = roster_entry(out)["header_cells"]
    assert [c["column"] for c in cells] == ["seq", "person_id", "name", "category", "region_code", "remark", "remark", None]
    assert [c["cell"] for c in cells] == ["A1", "B1", "C1", "D1", "E1", "F1", "G1", "H1"]


def test_known_column_twice_names_both_cells(tmp_path, cli, setup):
    header = ["身份证号", "姓名", "类别", "行政区划代码", "银行账号", "银行卡号"]
    book = xlsxwriter_rows(tmp_path / "t.xlsx", [header, [IDS[0], "甲", "城市低保", "140105", "1", "2"]])
    r = calc(cli, setup, book, tmp_path / "o")
    assert r.exit_code == 2
    assert "E1" in r.stderr and "F1" in r.stderr and "bank_account" in r.stderr


def test_calc_and_validate_print_each_header_cell(tmp_path, cli, setup):
    header = ["序号", "身份证号", "姓名", "类别", "行政区划代码", "保障人口", "联系电话"]
    book = xlsxwriter_rows(tmp_path / "c.xlsx", [header, [1, IDS[0], "甲", "城市低保", "140105", 2, "138"]])
    r = calc(cli, setup, book, tmp_path / "o", fmt="table")
    assert r.exit_code == 0, r.stderr
    assert "A1 序号 → seq" in r.stdout and "F1 保障人口 → persons" in r.stdout and "G1 联系电话 → not used" in r.stdout
    v = cli("validate", "--roster", book)
    assert v.exit_code == 0, v.stderr
    assert "B1 身份证号 → person_id" in v.stdout and "A1 序号 → seq" in v.stdout
    j = json.loads(cli("validate", "--roster", book, "--format", "json").stdout)
    assert j["header_cells"][5] == {"cell": "F1", "text": "保障人口", "column": "persons"}


def test_validate_columns_publishes_the_synonym_table(cli):
    r = cli("validate", "--columns", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    assert "Roster columns" in cli("validate", "--columns").stdout
    for name in ("保障人口", "享受人数", "户保障人数", "银行帐号", "银行账号", "一卡通账号", "存折号", "身份证号码"):
        assert name in r.stdout
    j = json.loads(cli("validate", "--columns", "--format", "json").stdout)
    cols = {c["column"]: c for c in j["columns"]}
    assert "银行帐号" in cols["bank_account"]["names"] and "银行账号" in cols["bank_account"]["names"]
    assert cols["person_id"]["required"] and not cols["persons"]["required"]


# --------------------------------------------------------------------------------------------
# where the header is, and headers of two or three rows


def test_header_on_row_15_is_reported_as_row_15(tmp_path, cli, setup):
    notes = [[f"说明第{i}行"] for i in range(14)]
    book = xlsxwriter_rows(tmp_path / "h.xlsx", notes + [["身份证号", "姓名", "类别", "行政区划代码"],
                                                          [IDS[0], "甲", "城市低保", "140105"]])
    out = tmp_path / "o"
    r = calc(cli, setup, book, out, fmt="table")
    assert r.exit_code == 0, r.stderr
    assert "header on row 15" in r.stdout
    e = roster_entry(out)
    assert e["header_row"] == 15 and e["header_cells"][0]["cell"] == "A15"


def test_header_on_row_30_is_found_and_row_31_is_not(tmp_path, cli, setup):
    def book(n):
        notes = [[f"说明第{i}行"] for i in range(n - 1)]
        return xlsxwriter_rows(tmp_path / f"h{n}.xlsx", notes + [["身份证号", "姓名", "类别", "行政区划代码"],
                                                                  [IDS[0], "甲", "城市低保", "140105"]])
    r = calc(cli, setup, book(30), tmp_path / "o30")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "57.00"
    r = calc(cli, setup, book(31), tmp_path / "o31")
    assert r.exit_code == 2
    assert "no header row found" in r.stderr and "rows 1-30" in r.stderr, r.stderr


def _officers_two_row_header_openpyxl(path: Path) -> Path:
    """The officers' usual layout: a title merged over row 1, a note on row 2, 序号/姓名/身份证号/
    行政区划代码 merged over rows 3-4, 保障情况 merged over 类别 / 城乡 / 保障人数 and 银行信息 over
    账号 on row 4; data from row 5."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "花名册"
    ws["A1"] = "2024年1月城市低保花名册"
    ws.merge_cells("A1:H1")
    ws["A2"] = "填报单位：小店区民政局"
    for col, text in zip("ABCD", ["序号", "姓名", "身份证号", "行政区划代码"]):
        ws[f"{col}3"] = text
        ws.merge_cells(f"{col}3:{col}4")
    ws["E3"] = "保障情况"
    ws.merge_cells("E3:G3")
    ws["H3"] = "银行信息"
    for col, text in zip("EFGH", ["类别", "城乡", "保障人数", "账号"]):
        ws[f"{col}4"] = text
    data = [(1, "甲", IDS[0], "140105", "低保", "城市", 3, "6222000000000001"),
            (2, "乙", IDS[1], "140105", "城市低保", "城市", 2, "6222000000000002"),
            (3, "丙", IDS[2], "140105", "城市低保", "城市", 1, "6222000000000003")]
    for r, row in enumerate(data, start=5):
        for c, v in enumerate(row, start=1):
            ws.cell(r, c, v)
    wb.save(path)
    return path


def test_two_row_header_with_merged_groups_reads_every_column(tmp_path, cli, setup):
    book = _officers_two_row_header_openpyxl(tmp_path / "two.xlsx")
    out = tmp_path / "o"
    r = calc(cli, setup, book, out)
    assert r.exit_code == 0, r.stderr
    # 3 + 2 + 1 = 6 persons x 57 = 342.00; each keeps its account (低保 + 城市 -> urban_dibao)
    assert json.loads(r.stdout)["total_amount"] == "342.00"
    got = paid(out)
    assert got["甲"] == ("171.00", 3, "6222000000000001")
    assert got["丙"] == ("57.00", 1, "6222000000000003")
    e = roster_entry(out)
    assert (e["header_row"], e["header_end"]) == (3, 4)
    by_cell = {c["cell"]: c["column"] for c in e["header_cells"]}
    assert by_cell == {"A3": "seq", "B3": "name", "C3": "person_id", "D3": "region_code", "E4": "category", "F4": "area",
                       "G4": "persons", "H4": "bank_account"}
    t = calc(cli, setup, book, tmp_path / "o2", fmt="table")
    assert "header on rows 3-4" in t.stdout


def test_three_row_header_in_an_xls_file(tmp_path, cli, setup):
    """xlwt: 基本信息 over 姓名/身份证号; 保障情况 over 人员信息 over 类别 / 保障人数 (three rows)."""
    import xlwt

    wb = xlwt.Workbook()
    ws = wb.add_sheet("花名册")
    ws.write_merge(0, 2, 0, 0, "序号")
    ws.write_merge(0, 1, 1, 2, "基本信息")
    ws.write(2, 1, "姓名")
    ws.write(2, 2, "身份证号")
    ws.write_merge(0, 2, 3, 3, "行政区划代码")
    ws.write_merge(0, 0, 4, 5, "保障情况")
    ws.write_merge(1, 1, 4, 5, "人员信息")
    ws.write(2, 4, "类别")
    ws.write(2, 5, "保障人数")
    for r, row in enumerate([(1, "甲", IDS[0], "140105", "城市低保", 2), (2, "乙", IDS[1], "140105", "城市低保", 4)], start=3):
        for c, v in enumerate(row):
            ws.write(r, c, v)
    path = tmp_path / "three.xls"
    wb.save(str(path))
    out = tmp_path / "o"
    r = calc(cli, setup, path, out)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "342.00"  # (2 + 4) x 57
    e = roster_entry(out)
    assert (e["header_row"], e["header_end"]) == (1, 3)


def test_two_row_header_in_a_csv(tmp_path, cli, setup):
    f = tmp_path / "two.csv"
    f.write_text("序号,姓名,身份证号,行政区划代码,保障情况,,\n,,,,类别,保障人数,银行帐号\n"
                 f"1,甲,{IDS[0]},140105,城市低保,2,6222000000000001\n", encoding="utf-8")
    out = tmp_path / "o"
    r = calc(cli, setup, f, out)
    assert r.exit_code == 0, r.stderr
    assert paid(out)["甲"] == ("114.00", 2, "6222000000000001")


def test_hidden_columns_are_read_and_reported(tmp_path, cli, setup):
    """openpyxl: column F (保障人数) hidden in Excel: read and paid as the sheet holds it, and said."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["序号", "身份证号", "姓名", "类别", "行政区划代码", "保障人数"])
    ws.append([1, IDS[0], "甲", "城市低保", "140105", 2])
    ws.column_dimensions["F"].hidden = True
    wb.save(tmp_path / "h.xlsx")
    out = tmp_path / "o"
    r = calc(cli, setup, tmp_path / "h.xlsx", out)
    assert r.exit_code == 0, r.stderr
    assert paid(out)["甲"][:2] == ("114.00", 2)  # 2 x 57
    cells = {c["cell"]: c for c in roster_entry(out)["header_cells"]}
    assert cells["F1"].get("hidden") is True and not cells["E1"].get("hidden")
    t = calc(cli, setup, tmp_path / "h.xlsx", tmp_path / "o2", fmt="table")
    assert "F1 保障人数 (hidden column) → persons" in t.stdout


def test_a_hidden_and_a_visible_column_for_the_same_field_is_exit_2_naming_both(tmp_path, cli, setup):
    """A hidden 银行账号 (last year's accounts) and a visible 银行卡号 beside it."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["身份证号", "姓名", "类别", "行政区划代码", "银行账号", "银行卡号"])
    ws.append([IDS[0], "甲", "城市低保", "140105", "6222000000000001", "6222000000000009"])
    ws.column_dimensions["E"].hidden = True
    wb.save(tmp_path / "h.xlsx")
    r = calc(cli, setup, tmp_path / "h.xlsx", tmp_path / "o")
    assert r.exit_code == 2
    assert "E1" in r.stderr and "F1" in r.stderr and "bank_account" in r.stderr


def _book_with_hidden_column(path: Path, data: list[list], hidden: int) -> Path:
    """An XLS (xlwt: the column's COLINFO hidden) or an ODS (odfpy: table-column visibility
    collapse, the columns before it one repeated element) whose 0-based column `hidden` is hidden."""
    if path.suffix == ".xls":
        import xlwt

        wb = xlwt.Workbook()
        ws = wb.add_sheet("花名册")
        for r, row in enumerate(data):
            for c, v in enumerate(row):
                ws.write(r, c, v)
        ws.col(hidden).hidden = True
        wb.save(str(path))
        return path
    return odfpy_book(path, data, hidden_column=hidden)


@pytest.mark.parametrize("suffix", [".xls", ".ods"])
def test_hidden_columns_of_xls_and_ods_are_reported(tmp_path, cli, setup, suffix):
    """Issue 27: calamine does not say which columns are hidden; the XLS COLINFO records and the
    ODS table-column visibility do. Column F (保障人数) hidden: paid as the sheet holds it, and said."""
    book = _book_with_hidden_column(tmp_path / f"h{suffix}", [["序号", "身份证号", "姓名", "类别", "行政区划代码", "保障人数"],
                                                               [1, IDS[0], "甲", "城市低保", "140105", 2]], hidden=5)
    out = tmp_path / "o"
    r = calc(cli, setup, book, out)
    assert r.exit_code == 0, r.stderr
    assert paid(out)["甲"][:2] == ("114.00", 2)  # 2 x 57
    cells = {c["cell"]: c for c in roster_entry(out)["header_cells"]}
    assert cells["F1"].get("hidden") is True
    assert [c for c, v in cells.items() if v.get("hidden")] == ["F1"]
    t = calc(cli, setup, book, tmp_path / "o2", fmt="table")
    assert "F1 保障人数 (hidden column) → persons" in t.stdout


@pytest.mark.parametrize("suffix", [".xls", ".xlsx", ".ods"])
def test_a_hidden_and_a_visible_account_column_name_the_hidden_one(tmp_path, cli, setup, suffix):
    """A hidden 银行账号 (E, last year's accounts) beside a visible 银行卡号 (F): exit 2, both cells
    named and the hidden one said, in every spreadsheet format."""
    data = [["身份证号", "姓名", "类别", "行政区划代码", "银行账号", "银行卡号"],
            [IDS[0], "甲", "城市低保", "140105", "6222000000000001", "6222000000000009"]]
    if suffix == ".xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        for row in data:
            wb.active.append(row)
        wb.active.column_dimensions["E"].hidden = True
        book = tmp_path / "h.xlsx"
        wb.save(book)
    else:
        book = _book_with_hidden_column(tmp_path / f"h{suffix}", data, hidden=4)
    r = calc(cli, setup, book, tmp_path / "o")
    assert r.exit_code == 2, r.stderr
    assert "cell E1 (hidden column) '银行账号' and cell F1 '银行卡号' both give the column bank_account" in r.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("fmt", ["ods", "xls"])
def test_two_row_header_after_a_libreoffice_resave(tmp_path, cli, setup, fmt):
    """The officers' two-row layout (openpyxl), re-saved by LibreOffice as ODS and as XLS: the same
    342.00 (6 persons x 57), every account kept."""
    import shutil
    import subprocess

    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    book = _officers_two_row_header_openpyxl(tmp_path / "two.xlsx")
    conv = tmp_path / "conv"
    subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path}/lo", "--headless", "--norestore",
                    "--convert-to", fmt, "--outdir", str(conv), str(book)], check=True, capture_output=True, timeout=180)
    out = tmp_path / "o"
    r = calc(cli, setup, conv / f"two.{fmt}", out)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "342.00"
    assert paid(out)["乙"] == ("114.00", 2, "6222000000000002")
