"""Officers' files read as they are (issue 16): spreadsheets made by openpyxl, xlsxwriter, xlwt and
odfpy, a streaming writer's A1 dimension, hidden and several sheets, title rows, merged titles,
line breaks and units in headers, formulas without values, and the row a person sees (file_row).

Amounts (scheme "t" of calc_helpers, 2024-01: CPI 103.6, food 106.5 -> rate 6.5%; region 140105
has no standard in force in 2024-01, so its prefecture 140100's: urban 870, rural 620 a month):
  urban_dibao: 870 x 6.5% = 56.55 -> 57 yuan a person (yuan_half_up)
  rural_dibao: 620 x 6.5% = 40.30 -> 40 yuan a person
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from calc_helpers import make_id
from sheet_books import odfpy_book

IDS = [make_id("140105", f"19{60 + i}0101", f"{i + 1:03d}") for i in range(8)]
HEADER = ["身份证号", "姓名", "类别", "行政区划代码", "保障人数", "银行账号"]


def rows(persons):
    """Urban dibao rows of 140105 with these persons, each with a bank account."""
    return [[IDS[i], f"人{i}", "城市低保", "140105", p, f"62220000000000{i:04d}"] for i, p in enumerate(persons)]


def calc(cli, setup, roster, out, *extra):
    cfg, std = setup
    return cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
               "--out", out, "--format", "json", *extra)


def paid(out: Path) -> dict:
    return {r["name"]: (str(r["amount"]), r["persons"], r["bank_account"]) for r in pq.read_table(out / "payments.parquet").to_pylist()}


def rejected(out: Path) -> list[dict]:
    return pq.read_table(out / "rejected.parquet").to_pylist()


def roster_input(out: Path) -> dict:
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return next(i for i in man["inputs"] if i["role"] == "roster")


def patch_zip(path: Path, member_re: str, fn) -> None:
    """Rewrite the zip members whose names match with fn(text) (as a streaming writer leaves them)."""
    with zipfile.ZipFile(path) as z:
        items = [(i, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in items:
            if re.fullmatch(member_re, info.filename):
                data = fn(data.decode("utf-8")).encode("utf-8")
            z.writestr(info.filename, data)


def xlsxwriter_book(path: Path, sheets: list[tuple[str, list[list], dict]]) -> Path:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    for name, data, opts in sheets:
        ws = wb.add_worksheet(name)
        start = 0
        if opts.get("title"):
            ws.merge_range(0, 0, 0, len(HEADER) - 1, opts["title"])  # a merged title across the header
            start = 2  # a blank row between title and header
        for r, row in enumerate(data):
            ws.write_row(start + r, 0, row)
        if opts.get("hidden"):
            ws.hide()
        if opts.get("active"):
            ws.activate()
    wb.close()
    return path


# --------------------------------------------------------------------------------------------
# every row and column whatever the file claims


def test_a1_dimension_reads_every_row_and_column(tmp_path, cli, setup):
    book = xlsxwriter_book(tmp_path / "a1.xlsx", [("花名册", [HEADER] + rows([1, 2, 1, 3, 2]), {})])
    patch_zip(book, r"xl/worksheets/sheet\d+\.xml", lambda s: re.sub(r'<dimension ref="[^"]*"/>', '<dimension ref="A1"/>', s))
    assert '<dimension ref="A1"/>' in zipfile.ZipFile(book).read("xl/worksheets/sheet1.xml").decode()
    out = tmp_path / "out"
    r = calc(cli, setup, book, out)
    assert r.exit_code == 0, r.stderr
    # 1+2+1+3+2 = 9 persons x 57 = 513.00; every row keeps its bank account (the last column)
    assert json.loads(r.stdout)["total_amount"] == "513.00"
    got = paid(out)
    assert got["人3"] == ("171.00", 3, "622200000000000003")  # 3 x 57
    assert all(acct for _, _, acct in got.values()) and len(got) == 5


def test_a1_dimension_standards_workbook_keeps_the_county_row(tmp_path, cli, setup):
    """A standards XLSX with a title row and an A1 dimension: the county row (last) is used."""
    cfg, _ = setup
    std = xlsxwriter_book(tmp_path / "std.xlsx", [("标准", [
        ["2024年低保标准"],
        ["region_code", "effective_from", "urban_monthly", "rural_monthly"],
        ["140100", "2023-01", "870", "620"],
        ["140105", "2023-06", "1000", "700"],  # the county: 1000 x 6.5% = 65 a person
    ], {})])
    patch_zip(std, r"xl/worksheets/sheet\d+\.xml", lambda s: re.sub(r'<dimension ref="[^"]*"/>', '<dimension ref="A1"/>', s))
    roster = xlsxwriter_book(tmp_path / "r.xlsx", [("s", [HEADER] + rows([2]), {})])
    out = tmp_path / "out"
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
            "--out", out, "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "130.00"  # 2 persons x 65


# --------------------------------------------------------------------------------------------
# which sheet


def test_hidden_first_sheet_is_not_read_unless_named(tmp_path, cli, setup):
    old = [HEADER] + rows([5])  # last year's list, hidden: 5 x 57 = 285
    new = [HEADER] + rows([1, 1])  # 2 x 57 = 114
    book = xlsxwriter_book(tmp_path / "h.xlsx", [("2023", old, {"hidden": True}), ("2024", new, {"active": True})])
    r = calc(cli, setup, book, tmp_path / "o1")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "114.00"
    assert roster_input(tmp_path / "o1")["sheet"] == "2024"
    r = calc(cli, setup, book, tmp_path / "o2", "--sheet", "2023")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "285.00"
    r = calc(cli, setup, book, tmp_path / "o3", "--sheet", "1")  # by number from 1: the hidden one
    assert json.loads(r.stdout)["total_amount"] == "285.00"
    r = calc(cli, setup, book, tmp_path / "o4", "--sheet", "2022")
    assert r.exit_code == 2 and "no sheet '2022'" in r.stderr and "'2023' (hidden)" in r.stderr
    v = json.loads(cli("validate", "--roster", book, "--sheet", "2023", "--format", "json").stdout)
    assert (v["sheet"], v["header_row"], v["rows"]) == ("2023", 1, 1)
    r = cli("validate", "--roster", tmp_path / "o1" / "manifest.json", "--sheet", "1")
    assert r.exit_code == 2 and "--sheet is for spreadsheets" in r.stderr


def test_several_roster_sheets_is_exit_2_listing_them(tmp_path, cli, setup):
    book = xlsxwriter_book(tmp_path / "two.xlsx", [("城市", [HEADER] + rows([1]), {}), ("说明", [["填表说明"]], {}),
                                                   ("农村", [HEADER] + rows([2]), {})])
    r = calc(cli, setup, book, tmp_path / "o")
    assert r.exit_code == 2
    assert "'城市'" in r.stderr and "'农村'" in r.stderr and "--sheet" in r.stderr
    assert not (tmp_path / "o" / "payments.parquet").exists()
    r = calc(cli, setup, book, tmp_path / "o2", "--sheet", "农村")
    assert json.loads(r.stdout)["total_amount"] == "114.00"  # 2 x 57


def test_one_roster_sheet_beside_a_notes_sheet_is_found(tmp_path, cli, setup):
    book = xlsxwriter_book(tmp_path / "n.xlsx", [("说明", [["填表说明"], ["身份证号请设为文本"]], {"active": True}),
                                                 ("名单", [HEADER] + rows([1, 2]), {})])
    r = calc(cli, setup, book, tmp_path / "o")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "171.00"  # 3 x 57


# --------------------------------------------------------------------------------------------
# headers as people lay them out


def test_title_rows_merged_title_and_file_row(tmp_path, cli, setup):
    data = [HEADER] + rows([1, 2]) + [["140105196001010000", "坏号", "城市低保", "140105", 1, ""]]
    book = xlsxwriter_book(tmp_path / "t.xlsx", [("s", data, {"title": "2024年5月城市低保花名册"})])
    out = tmp_path / "out"
    r = calc(cli, setup, book, out)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "171.00"  # (1 + 2) x 57
    assert roster_input(out)["header_row"] == 3  # title on row 1, blank row 2
    (rej,) = rejected(out)
    # data row 3 is on sheet row 6 (title, blank, header, two rows before it)
    assert (rej["source_row"], rej["file_row"], rej["reason"]) == (3, 6, "invalid_id")
    assert pq.read_table(out / "rejected.parquet").schema.names[:4] == ["source_row", "file_row", "reason", "detail"]


def test_line_break_and_unit_headers(tmp_path, cli, setup):
    header = ["身份证号", "姓 名", "保障\n类别", "行政区划代码", "保障人数（人）", "银行账号"]  # Alt+Enter, a space, a full-width unit
    book = xlsxwriter_book(tmp_path / "u.xlsx", [("s", [header] + rows([2, 3]), {})])
    out = tmp_path / "out"
    r = calc(cli, setup, book, out)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "285.00"  # (2 + 3) x 57: persons were read, not defaulted to 1


@pytest.mark.parametrize("cell, named", [("保障人数（户）", "persons"), ("身份证", "person_id")])
def test_look_alike_header_is_exit_2_naming_it(tmp_path, cli, setup, cell, named):
    header = list(HEADER)
    header[0 if named == "person_id" else 4] = cell
    if named == "person_id":
        header.append("公民身份号码2")  # an unrelated extra column does not matter
    book = xlsxwriter_book(tmp_path / "l.xlsx", [("s", [header] + rows([2]), {})])
    r = calc(cli, setup, book, tmp_path / "o")
    assert r.exit_code == 2
    assert cell in r.stderr and named in r.stderr


def test_csv_title_line_quoted_line_break_header_and_exact_file_rows(tmp_path, cli, setup):
    lines = [
        "2024年5月城市低保花名册,,,,,",
        '身份证号,姓名,类别,行政区划代码,"保障',
        '人数",银行账号',  # a quoted header cell with a line break is one cell
        f"{IDS[0]},人0,城市低保,140105,2,",
        "",  # a blank line: not a data row
        f'{IDS[1]},"人\n1",城市低保,140105,1,',  # a name with a line break: one record on two lines
        "140105196001010000,坏号,城市低保,140105,1,",
    ]
    roster = tmp_path / "r.csv"
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    r = calc(cli, setup, roster, out)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "171.00"  # (2 + 1) x 57
    assert roster_input(out)["header_row"] == 2
    (rej,) = rejected(out)
    assert (rej["source_row"], rej["file_row"]) == (3, 8)  # line 8 of the file
    v = cli("validate", "--roster", roster, "--format", "json")
    problems = json.loads(v.stdout)["problems"]
    assert problems["invalid_id"]["example_rows"] == [3] and problems["invalid_id"]["example_file_rows"] == [8]


# --------------------------------------------------------------------------------------------
# cells as Excel holds them


@pytest.mark.parametrize("references", [True, False])
def test_formula_without_value_is_rejected_not_one_person(tmp_path, cli, setup, references):
    """references=False: the cells written without their r="E3", as some writers leave them."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    for r in rows([2, 2]):
        ws.append(r)
    ws["E3"] = "=1+2"  # openpyxl stores the formula without a value (Excel would calculate it on opening)
    path = tmp_path / "f.xlsx"
    wb.save(path)
    if not references:
        patch_zip(path, r"xl/worksheets/sheet\d+\.xml", lambda s: re.sub(r'(<c\b[^>]*?) r="[A-Z]+\d+"', r"\1", s))
    out = tmp_path / "out"
    r = calc(cli, setup, path, out)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "114.00"  # only row 1: 2 x 57
    (rej,) = rejected(out)
    assert (rej["reason"], rej["file_row"]) == ("formula_without_value", 3)
    assert "persons" in rej["detail"]


def test_hidden_rows_are_paid_and_counted(tmp_path, cli, setup):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    for r in rows([1, 2, 3]) + [["140105196001010000", "坏号", "城市低保", "140105", 1, ""]]:
        ws.append(r)
    ws.row_dimensions[3].hidden = True  # 人1 (2 persons): hidden in Excel, still on the roster
    ws.row_dimensions[5].hidden = True  # the bad ID: hidden and rejected
    path = tmp_path / "hid.xlsx"
    wb.save(path)
    out = tmp_path / "out"
    r = calc(cli, setup, path, out, "--format", "table")
    assert r.exit_code == 0, r.stderr
    assert "2 rows hidden in the sheet (1 of them paid)" in r.stdout
    entry = roster_input(out)
    assert (entry["hidden_rows"], entry["hidden_paid_rows"]) == (2, 1)
    assert paid(out)["人1"][0] == "114.00"  # 2 x 57: a hidden row is paid like the others


def test_error_date_and_boolean_cells_in_text_columns(tmp_path, cli, setup):
    import datetime

    import xlsxwriter

    path = tmp_path / "e.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, HEADER)
    for i, row in enumerate(rows([1, 1, 1, 1])):
        ws.write_row(i + 1, 0, row)
    ws.write_formula(2, 1, "=VLOOKUP(A3,X:Y,2,0)", None, "#N/A")  # name: an error with its stored value
    ws.write_datetime(3, 1, datetime.datetime(2024, 1, 2), date)  # name: a date
    ws.write_boolean(4, 2, True)  # category: TRUE
    wb.close()
    out = tmp_path / "out"
    r = calc(cli, setup, path, out)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "57.00"  # row 1 only
    got = {x["file_row"]: (x["reason"], x["detail"]) for x in rejected(out)}
    assert got[3][0] == "bad_cell" and "#N/A" in got[3][1]
    assert got[4][0] == "bad_cell" and "2024-01-02" in got[4][1]
    assert got[5][0] == "bad_cell" and "TRUE" in got[5][1]


# --------------------------------------------------------------------------------------------
# .xls and .ods


def test_xls_made_by_xlwt(tmp_path, cli, setup):
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    hidden = wb.add_sheet("old")
    hidden.write(0, 0, "身份证号")
    hidden.visibility = 1
    ws = wb.add_sheet("名单")
    ws.write(0, 0, "2024年低保花名册")
    for c, h in enumerate(HEADER):
        ws.write(1, c, h)
    for r, row in enumerate(rows([1, 3]) + [[IDS[5], "人5", "农村低保", "140105", 2, ""]]):
        for c, v in enumerate(row):
            ws.write(r + 2, c, v)
    path = tmp_path / "r.xls"
    wb.save(str(path))
    out = tmp_path / "out"
    r = calc(cli, setup, path, out)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "308.00"  # (1 + 3) x 57 + 2 x 40
    assert roster_input(out)["header_row"] == 2 and roster_input(out)["format"] == "xls"


def test_ods_made_by_odfpy(tmp_path, cli, setup):
    path = odfpy_book(tmp_path / "r.ods", [HEADER] + rows([2, 1]))
    out = tmp_path / "out"
    r = calc(cli, setup, path, out)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "171.00"  # (2 + 1) x 57
    assert paid(out)["人0"][1] == 2


def test_a_number_id_cell_keeps_its_lost_precision(tmp_path, cli, setup):
    import xlsxwriter

    path = tmp_path / "n.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, HEADER)
    ws.write_row(1, 0, rows([1])[0])
    ws.write_row(2, 0, [float(IDS[1]), "人1", "城市低保", "140105", 1, ""])  # the ID typed as a number
    wb.close()
    out = tmp_path / "out"
    r = calc(cli, setup, path, out)
    assert r.exit_code == 0, r.stderr
    (rej,) = rejected(out)
    assert rej["reason"] == "id_lost_precision" and rej["file_row"] == 3


# --------------------------------------------------------------------------------------------
# bounded resources, clear messages


def test_workbook_part_beyond_the_cap_is_refused_before_reading(tmp_path, cli, setup, monkeypatch):
    from cpi_link.core import sheets

    book = xlsxwriter_book(tmp_path / "big.xlsx", [("s", [HEADER] + rows([1] * 8), {})])
    monkeypatch.setattr(sheets, "MAX_PART_BYTES", 500)  # the sheet part is larger than this expanded
    r = calc(cli, setup, book, tmp_path / "o")
    assert r.exit_code == 2
    assert "big.xlsx: the part " in r.stderr and "expands to" in r.stderr and "not read" in r.stderr


def test_a_stray_far_away_cell_is_refused_not_allocated(tmp_path, cli, setup):
    """One cell at XFD1048576 would make calamine allocate 17 billion cells: refused, exit 2."""
    import xlsxwriter

    path = tmp_path / "far.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, HEADER)
    ws.write_row(1, 0, rows([1])[0])
    ws.write(1048575, 16383, "x")
    wb.close()
    r = calc(cli, setup, path, tmp_path / "o")
    assert r.exit_code == 2
    assert "row 1,048,576 and column 16,384" in r.stderr and "far.xlsx" in r.stderr


def test_an_ods_of_repeated_cells_is_refused_not_allocated(tmp_path, cli, setup):
    """A 1 KB ODS whose one row of 1,000 repeated cells is repeated 70,000 times asks for 70 million
    cells (calamine's own cap is 100 million): refused before calamine expands it, exit 2."""
    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')
    head = "".join(f'<table:table-cell office:value-type="string"><text:p>{h}</text:p></table:table-cell>' for h in HEADER)
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} office:version="1.2"><office:body>'
               f'<office:spreadsheet><table:table table:name="S"><table:table-row>{head}</table:table-row>'
               '<table:table-row table:number-rows-repeated="70000"><table:table-cell table:number-columns-repeated="1000" '
               'office:value-type="string"><text:p>x</text:p></table:table-cell></table:table-row></table:table>'
               '</office:spreadsheet></office:body></office:document-content>')
    path = tmp_path / "bomb.ods"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", content)
        z.writestr("META-INF/manifest.xml", '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
                   '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="/" '
                   'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/></manifest:manifest>')
    assert path.stat().st_size < 2048
    r = calc(cli, setup, path, tmp_path / "o")
    assert r.exit_code == 2
    assert "row 70,001 and column 1,000 (70,001,000 cells, beyond the cap of 60,000,000)" in " ".join(r.stderr.split())


def test_not_a_workbook_is_exit_2_naming_the_file(tmp_path, cli, setup):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    r = calc(cli, setup, path, tmp_path / "o")
    assert r.exit_code == 2 and "broken.xlsx" in r.stderr and "Traceback" not in r.stderr


def csv_past_4mb(tmp_path: Path, header: list[str], good: str, bad: bytes) -> tuple[Path, int]:
    """A CSV of the header, then `good` (a line) past the first 4 MB, where the encoding is decided,
    then the line `bad`: (its path, the line number of `bad` less 2)."""
    line = good.encode("utf-8")
    n = (5 << 20) // len(line) + 10
    path = tmp_path / "past4mb.csv"
    path.write_bytes(",".join(header).encode("utf-8") + b"\n" + line * n + bad)
    return path, n


def test_csv_bad_byte_is_named_by_line_and_column(tmp_path, cli, setup):
    bad = f"{IDS[1]},".encode() + "张三".encode("gb18030") + ",城市低保,140105,1,\n".encode("utf-8")
    path, n = csv_past_4mb(tmp_path, HEADER, f"{IDS[0]},人0,城市低保,140105,1,\n", bad)
    r = calc(cli, setup, path, tmp_path / "o")
    assert r.exit_code == 2
    assert f"line {n + 2}, column 2 (姓名)" in r.stderr, r.stderr


def test_csv_field_beyond_the_cap_names_its_line(tmp_path, cli, setup):
    lines = [",".join(HEADER), f"{IDS[0]},人0,城市低保,140105,1,", f'{IDS[1]},"{"长" * (3 << 20)}",城市低保,140105,1,']
    path = tmp_path / "long.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = calc(cli, setup, path, tmp_path / "o")
    assert r.exit_code == 2
    assert "line 3" in r.stderr and "ArrowInvalid" not in r.stderr, r.stderr


def test_fetch_file_reads_the_sheet_named(tmp_path, cli, home):
    """An officer's figures workbook with a notes sheet first: --sheet picks the figures."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    wb.active.append(["请在“数据”表填写"])
    ws = wb.create_sheet("数据")
    ws.append(["地区代码", "月份", "指标", "指数"])
    ws.append(["140000", "2024-01", "CPI", "103.6"])
    path = tmp_path / "figures.xlsx"
    wb.save(path)
    r = cli("fetch", "--source", "file", "--file", path, "--sheet", "数据", "--format", "json")
    assert r.exit_code == 0, r.stderr
    s = cli.json("series", "--region", "140000", "--since", "2024-01", "--until", "2024-01", "--format", "json")
    assert [(o["indicator"], o["value"]) for o in s] == [("cpi", "103.6")]


# --------------------------------------------------------------------------------------------
# what calamine reads as empty, in XLS and ODS too: error cells, formulas without a value, hidden rows

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sheets"


@pytest.mark.parametrize("name", ["libreoffice-roster.xls", "libreoffice-roster.ods"])
def test_libreoffice_error_cell_and_hidden_row(tmp_path, cli, setup, name):
    # written by LibreOffice (fixtures/sheets/make_libreoffice_rosters.py): title row, header on
    # row 2; 人0 2 persons, 人1 =1+2 (stored 3), 人2 =NA() (stored #N/A), 人3 1 person on a hidden row
    out = tmp_path / "out"
    r = calc(cli, setup, FIXTURES / name, out, "--format", "table")
    assert r.exit_code == 0, r.stderr
    got = paid(out)
    assert {k: v[0] for k, v in got.items()} == {"人0": "114.00", "人1": "171.00", "人3": "57.00"}  # (2, 3, 1) x 57
    (rej,) = rejected(out)
    assert (rej["reason"], rej["file_row"], rej["source_row"]) == ("bad_cell", 5, 3)
    assert "#N/A" in rej["detail"] and "persons" in rej["detail"]  # not 1 person for an error
    assert "1 rows hidden in the sheet (1 of them paid)" in r.stdout
    assert (roster_input(out)["hidden_rows"], roster_input(out)["hidden_paid_rows"]) == (1, 1)


def test_ods_formula_without_value_is_rejected(tmp_path, cli, setup):
    data = [HEADER] + rows([2, "=1+2", 1])  # odfpy stores the formula without a value; calamine reads ""
    path = odfpy_book(tmp_path / "f.ods", data, hidden_rows={3})
    out = tmp_path / "out"
    r = calc(cli, setup, path, out)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "171.00"  # 人0 2 x 57 + 人2 (hidden) 1 x 57
    (rej,) = rejected(out)
    assert (rej["reason"], rej["file_row"]) == ("formula_without_value", 3)
    assert roster_input(out)["hidden_rows"] == 1


def test_xls_error_cell_and_hidden_row_by_xlwt(tmp_path, cli, setup):
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("名单")
    for c, h in enumerate(HEADER):
        ws.write(0, c, h)
    for r, row in enumerate(rows([2, None, 3])):
        for c, v in enumerate(row):
            if v is not None:
                ws.write(r + 1, c, v)
    ws.row(2).set_cell_error(4, 0x2A)  # 人1's persons: #N/A (a BOOLERR record), read "" by calamine
    ws.row(3).hidden = True  # 人2: hidden, paid
    path = tmp_path / "e.xls"
    wb.save(str(path))
    out = tmp_path / "out"
    r = calc(cli, setup, path, out)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "285.00"  # (2 + 3) x 57
    (rej,) = rejected(out)
    assert (rej["reason"], rej["file_row"]) == ("bad_cell", 3) and "#N/A" in rej["detail"]
    assert (roster_input(out)["hidden_rows"], roster_input(out)["hidden_paid_rows"]) == (1, 1)


def test_standards_error_cell_is_exit_2_not_the_prefecture_standard(tmp_path, cli, setup):
    """The county's urban standard is =VLOOKUP(...) stored as #N/A: calamine reads an empty cell, which
    would drop the county row and pay the prefecture's 870 (57 a person). Exit 2 naming the cell."""
    import xlsxwriter

    cfg, _ = setup
    std = tmp_path / "std.xlsx"
    wb = xlsxwriter.Workbook(str(std))
    ws = wb.add_worksheet("标准")
    ws.write_row(0, 0, ["region_code", "effective_from", "urban_monthly", "rural_monthly"])
    ws.write_row(1, 0, ["140100", "2023-01", "870", "620"])
    ws.write_row(2, 0, ["140105", "2023-06"])
    ws.write_formula(2, 2, "=VLOOKUP(A3,X:Y,2,0)", None, "#N/A")
    ws.write(2, 3, "700")
    wb.close()
    roster = xlsxwriter_book(tmp_path / "r.xlsx", [("s", [HEADER] + rows([2]), {})])
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
            "--out", tmp_path / "out", "--format", "json")
    assert r.exit_code == 2, r.stdout
    assert "row 3, column C (urban_monthly) holds the error #N/A" in r.stderr
    assert not (tmp_path / "out").exists()


def test_csv_undecodable_after_an_ascii_start_names_the_files_line(tmp_path, cli, setup):
    """The encoding is decided on the first non-ASCII bytes, here past 4 MB of ASCII: a byte that
    no encoding reads is named by its line in the file (not an offset in a sample)."""
    header = ["person_id", "name", "category", "region_code", "persons", "bank_account"]
    bad = f"{IDS[1]},\xff\xfe\x80,urban_dibao,140105,1,\n".encode("latin-1")
    path, n = csv_past_4mb(tmp_path, header, f"{IDS[0]},ren0,urban_dibao,140105,1,\n", bad)
    r = calc(cli, setup, path, tmp_path / "o")
    assert r.exit_code == 2
    assert f"line {n + 2}, byte 20 of the line is not UTF-8 or GB18030 text" in r.stderr, r.stderr


def test_sheet_errors_in_chinese(tmp_path, cli, setup):
    book = xlsxwriter_book(tmp_path / "two.xlsx", [("城市", [HEADER] + rows([1]), {}), ("农村", [HEADER] + rows([2]), {})])
    cfg, std = setup
    args = ("--config", cfg, "calc", "--month", "2024-01", "--roster", book, "--standards", std, "--scheme", "t",
            "--out", tmp_path / "o")
    zh = cli("--lang", "zh", *args)
    assert zh.exit_code == 2
    err = " ".join(zh.stderr.split())
    assert "有 2 个可见工作表看起来都是花名册（'城市', '农村'）；请用 --sheet 名称（或从 1 起的序号）指定要读取的一个" in err, err
    r = cli("--lang", "zh", *args[:-2], "--sheet", "城乡", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "没有工作表 '城乡'；--sheet 取工作表名称或从 1 起的序号" in " ".join(r.stderr.split())
    en = cli(*args)
    assert "2 visible sheets each look like a roster ('城市', '农村')" in " ".join(en.stderr.split())


def test_estimate_and_simulate_take_the_sheet(tmp_path, cli, setup):
    """A headcounts workbook with a notes sheet first and a title row: --sheet names it; file rows as shown."""
    import openpyxl

    cfg, std = setup
    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    wb.active.append(["本表为测算用"])
    ws = wb.create_sheet("人数")
    ws.append(["2024年1月测算"])
    ws.append(["行政区划代码", "类别", "人数"])
    ws.append(["140105", "城市低保", 10])
    ws.append(["140105", "未知类别", 3])
    path = tmp_path / "counts.xlsx"
    wb.save(path)
    r = cli("--config", cfg, "estimate", "--counts", path, "--sheet", "人数", "--month", "2024-01", "--scheme", "t",
            "--standards", std, "--format", "json")
    assert r.exit_code == 2 and "row 4 (data row 2), column category" in r.stderr, r.stderr  # the row Excel shows
    ws.delete_rows(4)
    wb.save(path)
    r = cli("--config", cfg, "estimate", "--counts", path, "--sheet", "2", "--month", "2024-01", "--scheme", "t",
            "--standards", std, "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "570.00"  # 10 x 57

    book = xlsxwriter_book(tmp_path / "r.xlsx", [("old", [HEADER] + rows([5]), {"hidden": True}),
                                                 ("new", [HEADER] + rows([1, 1]), {"active": True})])
    r = cli("--config", cfg, "simulate", "--scheme", "t", "--baseline", "t", "--since", "2024-01", "--until", "2024-01",
            "--roster", book, "--sheet", "old", "--standards", std, "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["months"][0]["baseline_amount"] == "285.00"  # the hidden sheet named: 5 x 57


def scan_book(path: Path) -> tuple[Path, set]:
    """2,000 rows by openpyxl with a formula without a value every 7th row, an #N/A cell every 13th
    and a hidden row every 11th: (path, what the scan must find, as SheetScan.found holds it)."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    want = set()
    for r in range(1, 2001):
        ws.append([f"id{r}", "名字" * (r % 5), r])
        if r % 7 == 0:
            ws.cell(r, 3).value = "=1+2"  # no stored value
            want.add((r - 1, 2, "formula"))
        if r % 13 == 0:
            ws.cell(r, 2).value = "#N/A"  # an error cell
            want.add((r - 1, 1, "#N/A"))
        if r % 11 == 0:
            ws.row_dimensions[r].hidden = True
            want.add((r - 1, -1, "hidden"))
    wb.save(path)
    return path, want


def test_xlsx_scan_across_chunks_finds_every_cell_on_its_row(tmp_path, monkeypatch):
    """The XLSX scan inflates the sheet XML a chunk at a time and publishes rows as they pass: with
    chunks of a few KB, formulas, errors and hidden rows on 2,000 rows are all found, each on its row,
    whatever chunk boundary they straddle, and wait(row) returns once that row was scanned."""
    import openpyxl

    from cpi_link.core import sheetscan

    path, want = scan_book(tmp_path / "s.xlsx")
    for chunk in (1500, 4096, 65536, 4 << 20):
        monkeypatch.setattr(sheetscan, "XLSX_CHUNK", chunk)
        scan = sheetscan.SheetScan(path, "xlsx", 0)
        scan.wait(1000)
        assert {f for f in scan.found if f[0] < 999} == {w for w in want if w[0] < 999}, chunk
        scan.wait(1 << 31)
        assert set(scan.found) == want and len(scan.found) == len(want), chunk
        # each publish: every cell of the rows it says were scanned is published by then
        seen, calls = set(), []

        def publish(upto, cells):
            seen.update((r, c, w) for (r, c), w in cells.items())
            calls.append(upto)
            assert {w for w in want if w[0] + 1 <= upto} <= seen, (chunk, upto)

        sheetscan._scan_xlsx(path, 0, publish)
        assert seen == want and calls == sorted(calls) and (chunk > 65536 or len(calls) > 3), chunk


def test_cell_reasons_in_chinese():
    from cpi_link.core.i18n import language
    from cpi_link.roster.reasons import detail_text

    with language("zh"):
        assert detail_text("name holds a date/time (2024-01-02T00:00:00) in the sheet, not text or a number") == (
            "name 在表中是日期/时间（2024-01-02T00:00:00），而不是文字或数字")
        assert detail_text("category holds TRUE (a yes/no cell) in the sheet, not text or a number") == (
            "category 在表中是TRUE（是/否单元格），而不是文字或数字")


# --------------------------------------------------------------------------------------------
# merged cells: one value shown over several rows, held by the first cell only


def _merged_expectations(cli, setup, path, out):
    """calc on `path`, where 人0..人2 share a category cell merged over rows 2-4 (C2:C4): 人0's row holds
    城市低保 and is paid (2 x 57 = 114); 人1 and 人2 read an empty category: bad_cell naming the range."""
    r = calc(cli, setup, path, out)
    assert r.exit_code == 0, r.stderr
    assert {k: v[0] for k, v in paid(out).items()} == {"人0": "114.00", "人3": "57.00"}
    got = {x["file_row"]: (x["reason"], x["detail"]) for x in rejected(out)}
    assert sorted(got) == [3, 4]
    for reason, detail in got.values():
        assert reason == "bad_cell" and "category is inside the merged cells C2:C4" in detail, detail


def test_xlsx_merged_category_over_rows(tmp_path, cli, setup):
    import xlsxwriter

    path = tmp_path / "m.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, HEADER)
    for i, row in enumerate(rows([2, 1, 1, 1])):
        ws.write_row(i + 1, 0, row)
    ws.merge_range(1, 2, 3, 2, "城市低保")  # C2:C4, as an officer groups rows of one category
    wb.close()
    _merged_expectations(cli, setup, path, tmp_path / "out")


def test_xls_merged_category_over_rows(tmp_path, cli, setup):
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("名单")
    for c, h in enumerate(HEADER):
        ws.write(0, c, h)
    for r, row in enumerate(rows([2, 1, 1, 1])):
        for c, v in enumerate(row):
            if not (c == 2 and r < 3):
                ws.write(r + 1, c, v)
    ws.write_merge(1, 3, 2, 2, "城市低保")
    path = tmp_path / "m.xls"
    wb.save(str(path))
    _merged_expectations(cli, setup, path, tmp_path / "out")


def test_ods_merged_category_over_rows(tmp_path, cli, setup):
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import CoveredTableCell, Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    table = Table(name="花名册")
    for i, row in enumerate([HEADER] + rows([2, 1, 1, 1])):
        tr = TableRow()
        for c, v in enumerate(row):
            if c == 2 and i in (2, 3):
                tr.addElement(CoveredTableCell())
                continue
            kw = {"numberrowsspanned": 3} if (c == 2 and i == 1) else {}
            cell = TableCell(valuetype="float", value=v, **kw) if isinstance(v, int) else TableCell(valuetype="string", **kw)
            cell.addElement(P(text=str(v)))
            tr.addElement(cell)
        table.addElement(tr)
    doc.spreadsheet.addElement(table)
    path = tmp_path / "m.ods"
    doc.save(str(path))
    _merged_expectations(cli, setup, path, tmp_path / "out")


def test_standards_merged_cells_are_exit_2(tmp_path, cli, setup):
    """Two counties' rows share one merged effective_from cell: the second reads empty; exit 2 naming it."""
    import xlsxwriter

    cfg, _ = setup
    std = tmp_path / "std.xlsx"
    wb = xlsxwriter.Workbook(str(std))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["region_code", "effective_from", "urban_monthly", "rural_monthly"])
    ws.write_row(1, 0, ["140100", "2023-01", "870", "620"])
    ws.write_row(2, 0, ["140105", "", "1000", "700"])
    ws.merge_range(1, 1, 2, 1, "2023-01")
    wb.close()
    roster = xlsxwriter_book(tmp_path / "r.xlsx", [("s", [HEADER] + rows([2]), {})])
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
            "--out", tmp_path / "out", "--format", "json")
    assert r.exit_code == 2, r.stdout
    assert "row 3, column B (effective_from) is inside the merged cells B2:B3" in " ".join(r.stderr.split())


def test_number_cells_read_to_excels_15_digits(tmp_path, cli, setup):
    """Formulas leave binary fractions: persons 3.0000000000000004 and a standard of 899.9999999999999
    show in Excel as 3 and 900. Read as the sheet shows them: 900 x 6.5% = 58.50 -> 59 a person
    (yuan_half_up), x 3 = 177.00; read to the last binary digit it would be bad_persons, and 58 yuan."""
    import openpyxl

    cfg, _ = setup
    std = tmp_path / "std.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["region_code", "effective_from", "urban_monthly", "rural_monthly"])
    wb.active.append(["140105", "2023-06", 899.9999999999999, 700])
    wb.save(std)
    roster = tmp_path / "r.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(HEADER)
    wb.active.append([IDS[0], "人0", "城市低保", "140105", 3.0000000000000004, ""])
    wb.save(roster)
    out = tmp_path / "out"
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
            "--out", out, "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "177.00"
    assert paid(out)["人0"][1] == 3


@pytest.mark.parametrize("rows_too", [False, True])
def test_xlsx_scan_of_cells_without_their_reference(tmp_path, monkeypatch, rows_too):
    """A writer may leave out each cell's r="E5" (and each row's r): cells are then counted in order.
    The same 2,000-row sheet without references gives the same findings, chunk by chunk."""
    import openpyxl

    from cpi_link.core import sheetscan

    path, want = scan_book(tmp_path / "s.xlsx")
    strip = r'(<c\b[^>]*?) r="[A-Z]+\d+"' if not rows_too else r'(<(?:c|row)\b[^>]*?) r="[A-Z]*\d+"'
    patch_zip(path, r"xl/worksheets/sheet\d+\.xml", lambda s: re.sub(strip, r"\1", s))
    with zipfile.ZipFile(path) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert not re.search(r'<c\b[^>]*\br="', xml) and bool(re.search(r'<row\b[^>]*\br="', xml)) != rows_too
    for chunk in (1500, 65536, 4 << 20):
        monkeypatch.setattr(sheetscan, "XLSX_CHUNK", chunk)
        seen = set()

        def publish(upto, cells):
            seen.update((r, c, w) for (r, c), w in cells.items())
            assert {w for w in want if w[0] + 1 <= upto} <= seen, (chunk, upto)

        sheetscan._scan_xlsx(path, 0, publish)
        assert seen == want, chunk
