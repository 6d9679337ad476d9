"""Rows a person reading the sheet would not pay, and households (Issue 27): one row per family
member with a relationship column, 低保 with 城乡, 12-digit region codes, a 备注 saying the person
stopped, 合计/小计 rows and page titles; and a property test: input rows = paid + rejected against
a row count made without the reader.

Amounts (scheme "t" of calc_helpers, 2024-01: food 6.5%; 140105 takes 140100's standard: urban 870,
rural 620 a month): urban_dibao 870 x 6.5% = 56.55 -> 57 a person; rural_dibao 620 x 6.5% = 40.30 -> 40.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calc_helpers import make_id

IDS = [make_id("140105", f"19{50 + i}0101", f"{i + 1:03d}") for i in range(40)]


def calc(cli, setup, roster, out, *extra):
    """calc of 2024-01 under scheme t; `roster` one file or a list of files read as one roster."""
    cfg, std = setup
    files = [a for f in (roster if isinstance(roster, (list, tuple)) else [roster]) for a in ("--roster", f)]
    return cli("--config", cfg, "calc", "--month", "2024-01", *files, "--standards", std, "--scheme", "t",
               "--out", out, "--format", "json", *extra)


def paid(out: Path) -> dict:
    return {r["name"]: (str(r["amount"]), r["persons"]) for r in pq.read_table(out / "payments.parquet").to_pylist()}


def roster_entry(out: Path) -> dict:
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return next(i for i in man["inputs"] if i["role"] == "roster")


def rejected(out: Path) -> dict:
    return {r["file_row"]: (r["reason"], r["detail"]) for r in pq.read_table(out / "rejected.parquet").to_pylist()}


def test_one_row_per_family_member_pays_each_person_once(tmp_path, cli, setup):
    """openpyxl: a 3-person household listed as 户主 + 2 members (保障人数 3 on the head's row only),
    a 2-person household listed by its head alone, a person whose 备注 says 已死亡，停保, a 合计 row
    with a formula."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["序号", "身份证号", "姓名", "类别", "行政区划代码", "城乡", "保障人数", "与户主关系", "备注"])
    ws.append([1, IDS[0], "甲", "低保", "140105100201", "城市", 3, "户主", ""])  # 12-digit code, 低保 + 城市
    ws.append([2, IDS[1], "乙", "低保", "140105100201", "城市", None, "妻子", ""])
    ws.append([3, IDS[2], "丙", "低保", "140105100201", "城市", None, "儿子", ""])
    ws.append([4, IDS[3], "丁", "低保", "140105", "农村", 2, "户主", ""])
    ws.append([5, IDS[4], "戊", "城市低保", "140105", "城市", 1, "户主", "已死亡，停保"])
    ws.append(["合计", None, None, None, None, None, "=SUM(G2:G6)", None, None])
    wb.save(tmp_path / "h.xlsx")
    out = tmp_path / "o"
    r = calc(cli, setup, tmp_path / "h.xlsx", out)
    assert r.exit_code == 0, r.stderr
    j = json.loads(r.stdout)
    # 甲 乙 丙: 3 x 57 = 171 (not 5 persons); 丁 alone with 保障人数 2: rural 2 x 40 = 80
    assert paid(out) == {"甲": ("57.00", 1), "乙": ("57.00", 1), "丙": ("57.00", 1), "丁": ("80.00", 2)}
    assert j["total_amount"] == "251.00" and j["persons"] == 5
    rej = rejected(out)
    assert rej[6][0] == "remark_says_stopped" and "已死亡，停保" in rej[6][1]
    assert rej[7][0] == "total_row"
    assert j["input_rows"] == 6 == j["paid_rows"] + j["rejected_rows"]
    pay = pq.read_table(out / "payments.parquet").to_pylist()
    assert {p["region_code"] for p in pay} == {"140105"}


def test_head_name_column_groups_members(tmp_path, cli, setup):
    f = tmp_path / "h.csv"
    f.write_text("身份证号,姓名,户主姓名,类别,行政区划代码,保障人数\n"
                 f"{IDS[0]},甲,甲,城市低保,140105,2\n{IDS[1]},乙,甲,城市低保,140105,\n"
                 f"{IDS[2]},丙,丙,城市低保,140105,3\n", encoding="utf-8")
    out = tmp_path / "o"
    r = calc(cli, setup, f, out)
    assert r.exit_code == 0, r.stderr
    assert paid(out) == {"甲": ("57.00", 1), "乙": ("57.00", 1), "丙": ("171.00", 3)}


def test_titles_and_totals_between_two_blocks_are_rejected_rows(tmp_path, cli, setup):
    """xlsxwriter: a 城市 block with a 小计, a page title, then more rows under the same header."""
    import xlsxwriter

    path = tmp_path / "t.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("花名册")
    data = [["2024年1月城市低保花名册"], ["序号", "身份证号", "姓名", "类别", "行政区划代码", "保障人数"],
            [1, IDS[0], "甲", "城市低保", "140105", 2], ["小计", "", "", "", "", 2],
            ["2024年1月农村低保花名册"], [1, IDS[1], "乙", "农村低保", "140105", 1], ["合 计", "", "", "", "", 3]]
    for i, row in enumerate(data):
        ws.write_row(i, 0, row)
    wb.close()
    out = tmp_path / "o"
    r = calc(cli, setup, path, out)
    assert r.exit_code == 0, r.stderr
    assert paid(out) == {"甲": ("114.00", 2), "乙": ("40.00", 1)}
    rej = rejected(out)
    assert {k: v[0] for k, v in rej.items()} == {4: "total_row", 5: "title_row", 7: "total_row"}


# --------------------------------------------------------------------------------------------
# property: every data row ends in payments or in rejected


ROW_KINDS = st.sampled_from(["ok", "ok_household_head", "member", "bad_id", "no_name", "unknown_cat", "stopped",
                             "total", "blank", "title", "bad_region", "persons_0", "header"])
COLUMNS = ["序号", "身份证号", "姓名", "类别", "行政区划代码", "保障人数", "与户主关系", "备注"]


def _write(path: Path, kinds: list[str]) -> int:
    """An XLSX or CSV of these rows under a title and a header ("header": the header again, its
    columns in the other order from there on, as a second table pasted below); returns the data
    rows counted here (every non-blank row that is not a header), independently of the reader."""
    lines = [["2024年1月城市低保花名册"] + [""] * (len(COLUMNS) - 1), COLUMNS]
    order = COLUMNS
    counted = 0
    for i, kind in enumerate(kinds):
        if kind == "header":
            order = order[::-1]
            lines.append(order)
            continue
        pid = IDS[i]
        row = {
            "ok": [i, pid, f"人{i}", "城市低保", "140105", 1, "户主", ""],
            "ok_household_head": [i, pid, f"人{i}", "城市低保", "140105", 3, "户主", ""],
            "member": [i, pid, f"人{i}", "城市低保", "140105", "", "子女", ""],
            "bad_id": [i, pid[:-1] + ("0" if pid[-1] != "0" else "1"), f"人{i}", "城市低保", "140105", 1, "户主", ""],
            "no_name": [i, pid, "", "城市低保", "140105", 1, "户主", ""],
            "unknown_cat": [i, pid, f"人{i}", "五保户", "140105", 1, "户主", ""],
            "stopped": [i, pid, f"人{i}", "城市低保", "140105", 1, "户主", "已迁出"],
            "total": ["合计", "", "", "", "", 9, "", ""],
            "blank": ["", "", "", "", "", "", "", ""],
            "title": ["2024年1月农村低保花名册", "", "", "", "", "", "", ""],
            "bad_region": [i, pid, f"人{i}", "城市低保", "14010", 1, "户主", ""],
            "persons_0": [i, pid, f"人{i}", "城市低保", "140105", 0, "户主", ""],
        }[kind]
        if kind in ("total", "title", "blank"):
            lines.append(row)  # a page's text in its first cell, whatever the columns below
        else:
            by_name = dict(zip(COLUMNS, row))
            lines.append([by_name[c] for c in order])
        counted += kind != "blank"
    if path.suffix == ".csv":
        import csv

        with path.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows(lines)
        return counted
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("花名册")
    for r, row in enumerate(lines):
        ws.write_row(r, 0, row)
    wb.close()
    return counted


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(ROW_KINDS, min_size=1, max_size=25))
def test_input_rows_are_paid_plus_rejected(tmp_path_factory, cli, setup, suffix, kinds):
    d = tmp_path_factory.mktemp("p")
    counted = _write(d / f"r{suffix}", kinds)
    out = d / "o"
    r = calc(cli, setup, d / f"r{suffix}", out)
    assert r.exit_code == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["input_rows"] == counted
    pay = pq.read_table(out / "payments.parquet").num_rows
    rej = pq.read_table(out / "rejected.parquet")
    assert pay + rej.num_rows == counted == j["paid_rows"] + j["rejected_rows"]
    reasons = rej.column("reason").to_pylist()
    assert reasons.count("total_row") == kinds.count("total")
    assert reasons.count("title_row") == kinds.count("title")
    assert reasons.count("remark_says_stopped") == kinds.count("stopped")
    tables = roster_entry(out).get("tables", [])
    assert len(tables) == kinds.count("header")  # each repeated header read as a table of its own


def test_validate_warns_of_a_household_whose_size_differs(tmp_path, cli):
    f = tmp_path / "h.csv"
    f.write_text("身份证号,姓名,与户主关系,类别,行政区划代码,保障人数\n"
                 f"{IDS[0]},甲,户主,城市低保,140105,4\n{IDS[1]},乙,妻子,城市低保,140105,\n"
                 f"{IDS[2]},丙,户主,城市低保,140105,2\n{IDS[3]},丁,儿子,城市低保,140105,\n", encoding="utf-8")
    r = cli("validate", "--roster", f, "--format", "json")
    assert r.exit_code == 0, r.stderr
    w = json.loads(r.stdout)["warnings"]["household_size"]
    assert w["rows"] == 1 and w["example_file_rows"] == [2]
    assert "household of 甲" in w["example_details"][0] and "says 4 but 2 members" in w["example_details"][0]


def _stopped_roster(path: Path) -> Path:
    path.write_text("身份证号,姓名,类别,行政区划代码,保障人数,备注\n"
                    f"{IDS[0]},甲,城市低保,140105,2,\n{IDS[1]},戊,城市低保,140105,1,已死亡，停保\n", encoding="utf-8")
    return path


def test_the_remark_check_is_turned_off_by_the_option_or_the_scheme(tmp_path, cli, setup):
    """SPEC 5.1: a scheme or command option may turn the remark_says_stopped check off. 甲 2 x 57 =
    114; with the check on 戊 is rejected (114.00), off he is paid 57 (171.00), and the manifest says so."""
    cfg, std = setup
    f = _stopped_roster(tmp_path / "r.csv")
    on = calc(cli, setup, f, tmp_path / "on")
    assert on.exit_code == 0, on.stderr
    assert json.loads(on.stdout)["total_amount"] == "114.00"
    assert rejected(tmp_path / "on")[3][0] == "remark_says_stopped"
    assert "remark_check" not in roster_entry(tmp_path / "on")

    off = calc(cli, setup, f, tmp_path / "off", "--no-remark-check")
    assert off.exit_code == 0, off.stderr
    assert json.loads(off.stdout)["total_amount"] == "171.00"
    assert paid(tmp_path / "off")["戊"] == ("57.00", 1)
    assert roster_entry(tmp_path / "off")["remark_check"] is False

    text = (cfg / "schemes" / "t.toml").read_text(encoding="utf-8")
    (cfg / "schemes" / "nr.toml").write_text(text.replace('scheme = "t"', 'scheme = "nr"\nremark_check = false', 1),
                                             encoding="utf-8")
    by_scheme = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", f, "--standards", std, "--scheme", "nr",
                    "--out", tmp_path / "nr")
    assert by_scheme.exit_code == 0, by_scheme.stderr
    assert "remark check off" in by_scheme.stdout
    assert roster_entry(tmp_path / "nr")["remark_check"] is False
    assert paid(tmp_path / "nr")["戊"] == ("57.00", 1)

    v = cli("validate", "--roster", f, "--format", "json", "--no-remark-check")
    assert v.exit_code == 0, v.stderr
    assert json.loads(v.stdout)["problems"] == {} and json.loads(v.stdout)["remark_check"] is False
    v = cli("--config", cfg, "validate", "--roster", f, "--format", "json", "--scheme", "nr")
    assert json.loads(v.stdout)["problems"] == {}
    v = cli("validate", "--roster", f, "--format", "json")
    assert json.loads(v.stdout)["problems"]["remark_says_stopped"]["example_file_rows"] == [3]


def test_a_scheme_remark_check_must_be_true_or_false(tmp_path, cli, setup):
    cfg, std = setup
    text = (cfg / "schemes" / "t.toml").read_text(encoding="utf-8")
    (cfg / "schemes" / "bad.toml").write_text(text.replace('scheme = "t"', 'scheme = "bad"\nremark_check = "no"', 1),
                                              encoding="utf-8")
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", _stopped_roster(tmp_path / "r.csv"),
            "--standards", std, "--scheme", "bad", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "remark_check" in r.stderr


def _household_roster(path: Path) -> Path:
    """甲's household: 保障人数 4 but 甲 and 乙 listed; 丙's: 2, 丙 and 丁 listed (agrees)."""
    path.write_text("身份证号,姓名,与户主关系,类别,行政区划代码,保障人数\n"
                    f"{IDS[0]},甲,户主,城市低保,140105,4\n{IDS[1]},乙,妻子,城市低保,140105,\n"
                    f"{IDS[2]},丙,户主,城市低保,140105,2\n{IDS[3]},丁,儿子,城市低保,140105,\n", encoding="utf-8")
    return path


def test_calc_and_run_warn_of_a_household_whose_size_differs(tmp_path, cli, setup):
    """Issue 27: calc and run print the warning validate gives, naming the household's head and the
    line, and the manifest's roster entry keeps it. Each listed member is paid: 4 x 57 = 228.00."""
    cfg, std = setup
    f = _household_roster(tmp_path / "h.csv")
    r = calc(cli, setup, f, tmp_path / "o")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "228.00"
    said = "roster row 2: household of 甲 (户主): 保障人数 says 4 but 2 members are listed"
    assert said in r.stderr
    w = roster_entry(tmp_path / "o")["warnings"]["household_size"]
    assert w["rows"] == 1 and w["example_file_rows"] == [2] and w["example_rows"] == [1]
    run = cli("--config", cfg, "run", "--roster", f, "--standards", std, "--scheme", "t", "--offline", "--since", "2024-01")
    assert run.exit_code == 0, run.stderr
    assert said in run.stderr
    zh = cli("--lang", "zh", "--config", cfg, "calc", "--month", "2024-01", "--roster", f, "--standards", std, "--scheme", "t",
             "--out", tmp_path / "zh")
    assert zh.exit_code == 0, zh.stderr
    assert "甲" in zh.stderr and "members are listed" not in zh.stderr


def test_a_household_head_name_is_masked_in_the_warning(tmp_path, cli, setup):
    """A head whose 姓名 cell holds an ID (columns swapped): the warning never shows its digits."""
    f = tmp_path / "h.csv"
    f.write_text("身份证号,姓名,与户主关系,类别,行政区划代码,保障人数\n"
                 f"{IDS[0]},{IDS[5]},户主,城市低保,140105,3\n{IDS[1]},乙,妻子,城市低保,140105,\n", encoding="utf-8")
    r = calc(cli, setup, f, tmp_path / "o")
    assert r.exit_code == 0, r.stderr
    assert "says 3 but 2 members" in r.stderr and IDS[5] not in r.stderr


def test_a_second_table_in_another_column_order_is_read_by_its_own_header(tmp_path, cli, setup):
    """openpyxl: a 城市 block (序号, 身份证号, 姓名, 类别, 行政区划代码, 保障人数), a 合计 row, a
    title, then a 农村 block with its own header in another order (保障人数 before 序号)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["序号", "身份证号", "姓名", "类别", "行政区划代码", "保障人数"])
    ws.append([1, IDS[0], "甲", "城市低保", "140105", 2])
    ws.append([2, IDS[1], "乙", "城市低保", "140105", 1])
    ws.append(["合计", None, None, None, None, 3])
    ws.append(["2024年1月农村低保花名册"])
    ws.append(["姓名", "保障人数", "序号", "行政区划代码", "类别", "身份证号"])
    ws.append(["丙", 3, 1, "140105", "农村低保", IDS[2]])
    ws.append(["丁", 1, 12, "140105", "农村低保", IDS[3]])
    wb.save(tmp_path / "two.xlsx")
    out = tmp_path / "o"
    r = calc(cli, setup, tmp_path / "two.xlsx", out)
    assert r.exit_code == 0, r.stderr
    # 甲 2 x 57 = 114, 乙 57; 丙 3 x 40 = 120, 丁 1 x 40 = 40 (序号 12 is not persons): 331.00
    assert paid(out) == {"甲": ("114.00", 2), "乙": ("57.00", 1), "丙": ("120.00", 3), "丁": ("40.00", 1)}
    j = json.loads(r.stdout)
    assert j["total_amount"] == "331.00"
    assert {k: v[0] for k, v in rejected(out).items()} == {4: "total_row", 5: "title_row"}
    assert j["input_rows"] == 6 == j["paid_rows"] + j["rejected_rows"]  # the second header is not a data row
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    entry = next(i for i in man["inputs"] if i["role"] == "roster")
    assert entry["tables"][0]["header_row"] == 6
    assert {c["cell"]: c["column"] for c in entry["tables"][0]["header_cells"]}["B6"] == "persons"
    t = cli("--config", setup[0], "calc", "--month", "2024-01", "--roster", tmp_path / "two.xlsx", "--standards", setup[1],
            "--scheme", "t", "--out", tmp_path / "o2")
    assert "another table, header on row 6: A6 姓名 → name" in t.stdout


def _two_tables_csv(path: Path) -> Path:
    """The city block, its 合计 line, a blank line, a page title, then the rural block with its own
    header in another order; every line has all six fields, as Excel and WPS save a CSV."""
    path.write_text("序号,身份证号,姓名,类别,行政区划代码,保障人数\n"
                    f"1,{IDS[0]},甲,城市低保,140105,2\n"
                    f"2,{IDS[1]},乙,城市低保,140105,1\n"
                    "合计,,,,,3\n"
                    "\n"
                    "2024年1月农村低保花名册,,,,,\n"
                    "姓名,保障人数,序号,行政区划代码,类别,身份证号\n"
                    f"丙,3,1,140105,农村低保,{IDS[2]}\n"
                    f"丁,1,12,140105,农村低保,{IDS[3]}\n"
                    f"戊,x,13,140105,农村低保,{IDS[4]}\n", encoding="utf-8")
    return path


def test_a_csv_line_repeating_a_header_starts_a_new_table(tmp_path, cli, setup):
    """Issue 27: a CSV read as a sheet is: the second header line (another column order) starts a
    table read by its own header, the 合计 line is total_row, the title title_row; rejected rows
    name the line a person sees (the blank line and the second header counted)."""
    f = _two_tables_csv(tmp_path / "two.csv")
    out = tmp_path / "o"
    r = calc(cli, setup, f, out)
    assert r.exit_code == 0, r.stderr
    # 甲 2 x 57 = 114, 乙 57; 丙 3 x 40 = 120, 丁 1 x 40 = 40 (序号 12 is not persons): 331.00
    assert paid(out) == {"甲": ("114.00", 2), "乙": ("57.00", 1), "丙": ("120.00", 3), "丁": ("40.00", 1)}
    j = json.loads(r.stdout)
    assert j["total_amount"] == "331.00"
    got = rejected(out)
    assert {k: v[0] for k, v in got.items()} == {4: "total_row", 6: "title_row", 10: "bad_persons"}
    assert j["input_rows"] == 7 == j["paid_rows"] + j["rejected_rows"]  # the second header is not a data row
    entry = roster_entry(out)
    assert entry["tables"][0]["header_row"] == 7
    assert {c["cell"]: c["column"] for c in entry["tables"][0]["header_cells"]}["B7"] == "persons"
    t = cli("--config", setup[0], "calc", "--month", "2024-01", "--roster", f, "--standards", setup[1], "--scheme", "t",
            "--out", tmp_path / "o2")
    assert "another table, header on line 7: A7 姓名 → name; B7 保障人数 → persons" in t.stdout


@pytest.mark.parametrize("batch_rows", [1, 2, 3, 1000])
def test_csv_tables_whatever_the_batch_size(tmp_path, batch_rows):
    """The switch to reading every column happens in the batch holding the second header: rows
    given before it are not given again, and each row keeps its line, whatever the batch size."""
    from cpi_link.roster.read import open_roster

    r = open_roster(_two_tables_csv(tmp_path / "two.csv"))
    got = [(row["name"], row["persons"]) for t, _n in r.batches(batch_rows) for row in t.to_pylist()]
    assert got == [("甲", "2"), ("乙", "1"), ("", "3"), ("", ""), ("丙", "3"), ("丁", "1"), ("戊", "x")]
    assert r.rows_read == 7 and r.csv_gaps == [5]  # the fifth record after the header: line 7
    # the lines of data rows 1..7: the blank line 5 and the second header on line 7 skipped
    assert r.exact_file_rows(list(range(1, 8)), None).tolist() == [2, 3, 4, 6, 8, 9, 10]


def test_two_csv_exports_joined_end_to_end(tmp_path, cli, setup):
    """`copy /b 城市.csv + 农村.csv`: Excel's "CSV UTF-8" files each start with a BOM, so the second
    header starts with one in the middle of the file: still a table of its own. 57 + 2 x 40 = 137."""
    city = ("\ufeff身份证号,姓名,类别,行政区划代码,保障人数\n" + f"{IDS[0]},甲,城市低保,140105,1\n").encode("utf-8")
    rural = ("\ufeff姓名,身份证号,保障人数,类别,行政区划代码\n" + f"乙,{IDS[1]},2,农村低保,140105\n").encode("utf-8")
    f = tmp_path / "joined.csv"
    f.write_bytes(city + rural)
    out = tmp_path / "o"
    r = calc(cli, setup, f, out)
    assert r.exit_code == 0, r.stderr
    assert paid(out) == {"甲": ("57.00", 1), "乙": ("80.00", 2)}
    assert json.loads(r.stdout)["rejected_rows"] == 0


def test_a_csv_table_with_other_columns_is_exit_2_naming_its_header_line(tmp_path, cli, setup):
    """A second export with one more column (银行账号) joined below: its header line has 5 fields where
    the first table's has 4; exit 2 says so, not "a stray separator"."""
    f = tmp_path / "wider.csv"
    f.write_text("身份证号,姓名,类别,行政区划代码\n" + f"{IDS[0]},甲,城市低保,140105\n"
                 "身份证号,姓名,类别,行政区划代码,银行账号\n" + f"{IDS[1]},乙,农村低保,140105,6222000000000001\n",
                 encoding="utf-8")
    r = calc(cli, setup, f, tmp_path / "o")
    assert r.exit_code == 2
    assert "line 3 repeats the header with 5 fields where the first table's header has 4" in r.stderr
    assert not (tmp_path / "o").exists()


def test_a_csv_repeating_its_header_in_the_same_order(tmp_path, cli, setup):
    """A 城市 block then a 农村 block pasted below it with the same header line: 40 + 57."""
    f = tmp_path / "same.csv"
    head = "身份证号,姓名,类别,行政区划代码\n"
    f.write_text(head + f"{IDS[0]},甲,城市低保,140105\n" + head + f"{IDS[1]},乙,农村低保,140105\n", encoding="utf-8")
    out = tmp_path / "o"
    r = calc(cli, setup, f, out)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "97.00"
    assert json.loads(r.stdout)["rejected_rows"] == 0


def test_a_second_table_with_a_column_the_first_lacks_is_exit_2(tmp_path, cli, setup):
    import xlsxwriter

    path = tmp_path / "x.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("花名册")
    for i, row in enumerate([["身份证号", "姓名", "类别", "行政区划代码"], [IDS[0], "甲", "城市低保", "140105"],
                             ["身份证号", "姓名", "类别", "行政区划代码", "银行账号"], [IDS[1], "乙", "城市低保", "140105", "62"]]):
        ws.write_row(i, 0, row)
    wb.close()
    r = calc(cli, setup, path, tmp_path / "o")
    assert r.exit_code == 2
    assert "header on row 3" in r.stderr and "bank_account" in r.stderr


# A repeated header's ID cell as officers type it: spaces around, a full-width space inside, an
# Alt+Enter line break inside; the first header's matcher reads each as 身份证号 (core.tabular.header_name).
SPACED_ID_CELLS = [" 身份证号 ", "身份证\u3000号", "身份\n证号", "\u3000公民身份号码\u3000"]


@pytest.mark.parametrize("cell", SPACED_ID_CELLS)
def test_a_repeated_header_with_spaces_in_its_id_cell_starts_a_table_on_a_sheet(tmp_path, cli, setup, cell):
    """openpyxl: a 城市 block, then a 农村 block whose header (persons before name) has its ID cell,
    in the ID column, typed with spaces or a line break: read as a header, as the first one is, not
    a rejected row (it was bad_id, and 乙 was read with the first table's columns).
    甲 2 x 57 = 114, 乙 3 x 40 = 120: 234.00."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["身份证号", "姓名", "类别", "行政区划代码", "保障人数"])
    ws.append([IDS[0], "甲", "城市低保", "140105", 2])
    ws.append([cell, " 保障人数", "姓名", "类别 ", "行政区划代码"])  # the ID column's cell as typed
    ws.append([IDS[1], 3, "乙", "农村低保", "140105"])
    wb.save(tmp_path / "two.xlsx")
    out = tmp_path / "o"
    r = calc(cli, setup, tmp_path / "two.xlsx", out)
    assert r.exit_code == 0, r.stderr
    assert paid(out) == {"甲": ("114.00", 2), "乙": ("120.00", 3)}
    j = json.loads(r.stdout)
    assert (j["input_rows"], j["rejected_rows"]) == (2, 0)
    assert roster_entry(out)["tables"][0]["header_row"] == 3


@pytest.mark.parametrize("cell", SPACED_ID_CELLS)
def test_a_repeated_header_with_spaces_in_its_id_cell_starts_a_table_in_a_csv(tmp_path, cli, setup, cell):
    """The same in a CSV (the cell quoted, as Excel saves one with a line break): 234.00, and the
    second header is no data row."""
    quoted = '"' + cell + '"'
    f = tmp_path / "two.csv"
    f.write_text("身份证号,姓名,类别,行政区划代码,保障人数\n"
                 f"{IDS[0]},甲,城市低保,140105,2\n"
                 f"{quoted}, 保障人数,姓名,类别 ,行政区划代码\n"  # the ID column's cell as typed
                 f"{IDS[1]},3,乙,农村低保,140105\n", encoding="utf-8")
    out = tmp_path / "o"
    r = calc(cli, setup, f, out)
    assert r.exit_code == 0, r.stderr
    assert paid(out) == {"甲": ("114.00", 2), "乙": ("120.00", 3)}
    j = json.loads(r.stdout)
    assert (j["input_rows"], j["rejected_rows"]) == (2, 0)
    assert roster_entry(out)["tables"][0]["header_row"] == 3


def test_header_words_are_found_as_the_first_header_reads_them():
    """One function for sheets (Python cells) and CSV (an Arrow column): the same rows found; IDs,
    numbers, empty cells and a name are not header words."""
    import numpy as np
    import pyarrow as pa

    from cpi_link.roster.read import _HeaderWords

    words = _HeaderWords({"身份证号", "姓名"})
    cells = [IDS[0], " 身份证号 ", "", "身份\n证号", "张三", "\ufeff身份证号", "身份证　号", IDS[1][:-1] + "x", "姓 名"]
    want = [1, 3, 5, 6, 8]
    col = np.empty(len(cells), object)
    col[:] = cells
    assert words.rows(col).tolist() == want
    assert words.rows(pa.chunked_array([pa.array(cells[:4]), pa.array(cells[4:])])).tolist() == want
    mixed = col.copy()
    mixed[0] = 140105.0  # a number cell (calamine gives a float): not a header word, no error
    assert words.rows(mixed).tolist() == want
    ascii_words = _HeaderWords({"身份证号", "ID"})  # an English header cell: ASCII cells are compared too
    assert ascii_words.rows(np.array([" id ", IDS[0], "Id"], object)).tolist() == [0, 2]
    assert ascii_words.rows(pa.array([" id ", IDS[0], "Id"])).tolist() == [0, 2]


def test_the_household_warning_names_the_file_and_sheet_of_several_rosters(tmp_path, cli, setup):
    """Issue 27: `--roster` twice, a city CSV (its households agree; a blank line) and a rural
    workbook (openpyxl, sheet 农村低保) whose head 丁 says 保障人数 3 with 2 members listed: the
    warning names the workbook, its sheet and the row a person sees (row 3), as the rejected rows
    are named, on stderr and in the manifest; validate names the same place.
    Each listed member is one person: 甲 57 + 乙 57 = 114; 丙 40, 丁 40, 戊 40 = 120; 234.00."""
    from openpyxl import Workbook

    city = tmp_path / "城市.csv"
    city.write_text("身份证号,姓名,与户主关系,类别,行政区划代码,保障人数\n"
                    f"{IDS[0]},甲,户主,城市低保,140105,2\n\n{IDS[1]},乙,妻子,城市低保,140105,\n", encoding="utf-8")
    wb = Workbook()
    ws = wb.active
    ws.title = "农村低保"
    ws.append(["身份证号", "姓名", "与户主关系", "类别", "行政区划代码", "保障人数"])
    ws.append([IDS[2], "丙", "户主", "农村低保", "140105", 1])
    ws.append([IDS[3], "丁", "户主", "农村低保", "140105", 3])
    ws.append([IDS[4], "戊", "儿子", "农村低保", "140105", None])
    rural = tmp_path / "农村.xlsx"
    wb.save(rural)
    out = tmp_path / "o"
    r = calc(cli, setup, [city, rural], out)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "234.00"
    said = "roster 农村.xlsx, sheet 农村低保, row 3: household of 丁 (户主): 保障人数 says 3 but 2 members are listed"
    assert said in r.stderr
    assert "roster row" not in r.stderr
    w = roster_entry(out)["warnings"]["household_size"]
    assert (w["rows"], w["example_file_rows"], w["example_places"]) == (1, [3], [{"file": "农村.xlsx", "sheet": "农村低保"}])
    assert w["example_rows"] == [4]  # data rows numbered on across the files: 2 in the CSV, then 丙, 丁
    v = cli("validate", "--roster", city, "--roster", rural, "--format", "json")
    assert v.exit_code == 0, v.stderr
    vw = json.loads(v.stdout)["warnings"]["household_size"]
    assert (vw["example_file_rows"], vw["example_places"]) == ([3], [{"file": "农村.xlsx", "sheet": "农村低保"}])
    # stored as data, whoever ran it: a Chinese session stores the same place and is shown it in Chinese
    zh = calc(cli, setup, [city, rural], tmp_path / "zh", "--lang", "zh")
    assert zh.exit_code == 0, zh.stderr
    assert roster_entry(tmp_path / "zh")["warnings"]["household_size"]["example_places"] == w["example_places"]
    assert "农村.xlsx，工作表 农村低保" in zh.stderr
    zv = cli("--lang", "zh", "validate", "--roster", city, "--roster", rural, "--format", "json")
    assert json.loads(zv.stdout)["warnings"]["household_size"]["example_places"] == vw["example_places"]


def test_the_household_warning_names_the_csv_line_a_person_sees(tmp_path, cli, setup):
    """A blank line above the household's head: the warning names line 4, the line the head is on
    (as the rejected rows are named), not the third line after the header. 2 x 57 = 114.00."""
    f = tmp_path / "h.csv"
    f.write_text("身份证号,姓名,与户主关系,类别,行政区划代码,保障人数\n"
                 f"{IDS[0]},甲,户主,城市低保,140105,1\n\n{IDS[1]},乙,户主,城市低保,140105,3\n{IDS[2]},丙,妻子,城市低保,140105,\n",
                 encoding="utf-8")
    r = calc(cli, setup, f, tmp_path / "o")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "171.00"
    assert "roster row 4: household of 乙 (户主): 保障人数 says 3 but 2 members are listed" in r.stderr


def test_a_household_does_not_run_on_into_the_next_roster_file(tmp_path, cli, setup):
    """`--roster` twice: the first file ends with 甲's household (保障人数 2: 甲 and 乙 listed); the
    second starts with a member row (丙, 儿子) before its first head 丁 (保障人数 1). 丙 is not a
    member of 甲's household (no 'says 2 but 3' warning). Each row one person: 57 x 2 + 40 x 2 = 194.00."""
    first = tmp_path / "a.csv"
    first.write_text("身份证号,姓名,与户主关系,类别,行政区划代码,保障人数\n"
                     f"{IDS[0]},甲,户主,城市低保,140105,2\n{IDS[1]},乙,妻子,城市低保,140105,\n", encoding="utf-8")
    second = tmp_path / "b.csv"
    second.write_text("身份证号,姓名,与户主关系,类别,行政区划代码,保障人数\n"
                      f"{IDS[2]},丙,儿子,农村低保,140105,\n{IDS[3]},丁,户主,农村低保,140105,1\n", encoding="utf-8")
    out = tmp_path / "o"
    r = calc(cli, setup, [first, second], out)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "194.00"
    assert "household of" not in r.stderr
    assert "warnings" not in roster_entry(out)
