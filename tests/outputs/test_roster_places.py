"""乡镇/村, 备注 and the 12-digit 统计用区划代码 carried from the roster to the outputs (issue 31
item 1, SPEC 6.1): payments.parquet keeps them as written, the workbook's county sheets and the
公示 list show 乡镇/村 (备注 on the county sheets, never on the 公示 list), the report
CSV sums by 乡镇 and 村, and the header-cell report says these cells are read. Rosters are made
with openpyxl; amounts worked by hand:

shanxi (flat, 2019-11: CPI 103.8, food 119.4, both reach): 城市低保 30, 农村低保 20, 特困 30 yuan.
  row 2  140105001002 城市低保 2 persons  坞城街道 / 许西社区, 备注 新增        2 x 30 = 60.00
  row 3  140105       农村低保 1          北格镇 / 张花村                        1 x 20 = 20.00
  row 4  140105       城市特困 1          坞城街道 / (empty), 备注 =1+1 and 低保边缘 1 x 30 = 30.00
  row 5  140105       城市低保 1          北格镇 / 张花村, 备注 已死亡           not paid (remark_says_stopped)
  total 110.00; 坞城街道 2 rows 3 persons 90.00; 北格镇 1 row 1 person 20.00.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq

from calc_helpers import STANDARDS, make_id, put_figures, write_scheme
from xlsx_structure import problems

REPO = Path(__file__).resolve().parents[2]
SAMPLE_STANDARDS = REPO / "data" / "sample" / "standards.csv"
IDS = [make_id("140105", "19600101", f"{k:03d}") for k in range(1, 5)]
HEADER = ["乡镇（街道）", "村（社区）", "身份证号", "姓名", "保障类别", "行政区划代码", "城乡", "保障人数", "银行账号", "备注", "备注"]
ROWS = [
    ["坞城街道", "许西社区", IDS[0], "张一", "城市低保", "140105001002", "城市", "2", "6217000000000000001", "新增", None],
    ["北格镇", "张花村", IDS[1], "王二", "农村低保", "140105", "农村", "1", "6217000000000000002", None, None],
    ["坞城街道", None, IDS[2], "李三", "城市特困", "140105", "城市", "1", "6217000000000000003", "=1+1", "低保边缘"],
    ["北格镇", "张花村", IDS[3], "赵四", "城市低保", "140105", "城市", "1", "6217000000000000004", "已死亡", None],
]


def _roster(path: Path, header=HEADER, rows=ROWS) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.number_format = "@"
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # typed text, not a formula
    wb.save(path)
    return path


def _payments(out: Path) -> dict[str, list]:
    t = pq.read_table(out / "payments.parquet").sort_by("source_row")
    return {c: t.column(c).to_pylist() for c in t.column_names}


def _shanxi_run(cli, home, tmp_path, roster: Path) -> tuple[Path, str]:
    put_figures(home, "2019-11", cpi="103.8", food="119.4")
    out = tmp_path / "run"
    r = cli("calc", "--month", "2019-11", "--scheme", "shanxi", "--roster", roster, "--standards", SAMPLE_STANDARDS,
            "--out", out)
    assert r.exit_code == 0, r.output
    return out, r.stdout


def test_payments_keep_township_village_remark_and_the_full_code(cli, home, tmp_path):
    out, printed = _shanxi_run(cli, home, tmp_path, _roster(tmp_path / "花名册.xlsx"))
    t = _payments(out)
    assert t["source_row"] == [1, 2, 3]
    assert [str(x) for x in t["amount"]] == ["60.00", "20.00", "30.00"]
    assert sum(t["amount"]) == Decimal("110.00")
    assert t["region_code"] == ["140105"] * 3  # the county pays; the 12-digit code is kept beside it
    assert t["region_code_full"] == ["140105001002", None, None]
    assert t["township"] == ["坞城街道", "北格镇", "坞城街道"]
    assert t["village"] == ["许西社区", "张花村", None]
    assert t["remark"] == ["新增", None, "=1+1；低保边缘"]
    rej = pq.read_table(out / "rejected.parquet").to_pydict()
    assert rej["reason"] == ["remark_says_stopped"]
    # the header-cell report: these cells are read, not "not used"
    line = " ".join(printed.split())
    for cell in ("A1 乡镇（街道） → township", "B1 村（社区） → village", "J1 备注 → remark", "K1 备注 → remark"):
        assert cell in line, line
    assert "not used" not in line


def test_flat_workbook_county_sheet_and_public_list_show_them(cli, home, tmp_path):
    out, _ = _shanxi_run(cli, home, tmp_path, _roster(tmp_path / "花名册.xlsx"))
    wb_path, pub_path, pub_csv = tmp_path / "发放花名册.xlsx", tmp_path / "公示.xlsx", tmp_path / "公示.csv"
    r = cli("report", out, "--xlsx", wb_path, "--public", pub_path)
    assert r.exit_code == 0, r.output
    assert problems(wb_path) == [] and problems(pub_path) == []
    ws = openpyxl.load_workbook(wb_path)["140105"]
    head = [c.value for c in ws[2]]
    assert head == ["序号", "身份证号", "姓名", "保障类别", "行政区划代码", "城乡", "乡镇（街道）", "村（社区）", "保障人数",
                    "人均补贴（元）", "补贴金额（元）", "银行账号", "备注", "领取人签字"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=3, max_row=5)]
    assert [r[4] for r in rows] == ["140105001002", "140105", "140105"]
    assert [(r[6], r[7]) for r in rows] == [("坞城街道", "许西社区"), ("北格镇", "张花村"), ("坞城街道", None)]
    assert [r[12] for r in rows] == ["新增", None, "=1+1；低保边缘"]
    assert ws.cell(5, 13).data_type == "s" and ws.cell(5, 13).quotePrefix  # text, never a formula
    assert [Decimal(str(r[10])) for r in rows] == [Decimal(60), Decimal(20), Decimal(30)]
    total = next(r for r in ws.iter_rows(min_row=6, values_only=True) if r[0] == "合计")
    assert total[8] == 4 and Decimal(str(total[10])) == Decimal(110)
    # the 公示 list: 乡镇/村 after 地区, never the remark
    pub = openpyxl.load_workbook(pub_path).active
    head = [c.value for c in pub[3]]
    assert head == ["序号", "姓名", "身份证号", "行政区划代码", "地区", "乡镇（街道）", "村（社区）", "保障类别", "保障人数", "补贴金额（元）"]
    body = [[c.value for c in r] for r in pub.iter_rows(min_row=4, max_row=6)]
    assert sorted((r[5], r[6] or "", Decimal(str(r[9]))) for r in body) == [
        ("北格镇", "张花村", Decimal(20)), ("坞城街道", "", Decimal(30)), ("坞城街道", "许西社区", Decimal(60))]
    # the 12-digit code where the roster gave one, else the county's (issue 31)
    assert sorted((r[3], r[4]) for r in body) == [("140105", "小店区"), ("140105", "小店区"), ("140105001002", "小店区")]
    assert not any("新增" in str(c.value) or "低保边缘" in str(c.value) for row in pub.iter_rows() for c in row)
    assert cli("report", out, "--public", pub_csv).exit_code == 0
    lines = list(csv.reader(io.StringIO(pub_csv.read_text(encoding="utf-8-sig"))))
    assert lines[0][5:7] == ["乡镇（街道）", "村（社区）"] and lines[4][0] == "合计" and lines[4][-1] == "110.00"
    assert sorted(x[3] for x in lines[1:4]) == ["140105", "140105", "140105001002"]


def test_report_csv_sums_by_township_and_village(cli, home, tmp_path):
    out, _ = _shanxi_run(cli, home, tmp_path, _roster(tmp_path / "花名册.xlsx"))
    r = cli("report", out, "--format", "csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    town = {x["township"]: (x["rows"], x["persons"], x["amount"]) for x in rows if x["level"] == "township"}
    assert town == {"坞城街道": ("2", "3", "90.00"), "北格镇": ("1", "1", "20.00")}
    village = {(x["township"], x["village"]): x["amount"] for x in rows if x["level"] == "village"}
    assert village == {("坞城街道", ""): "30.00", ("坞城街道", "许西社区"): "60.00", ("北格镇", "张花村"): "20.00"}
    assert all(x["code"] == "140105" and x["name"] == "小店区" for x in rows if x["level"] in ("township", "village"))


def test_csv_roster_reads_them_too(cli, home, tmp_path):
    """A CSV roster's 乡镇/村 are read as dictionaries (few values): the same payments."""
    path = tmp_path / "roster.csv"
    path.write_text("\n".join(",".join(c or "" for c in r) for r in [HEADER] + ROWS) + "\n", encoding="utf-8")
    out, _ = _shanxi_run(cli, home, tmp_path, path)
    t = _payments(out)
    assert t["township"] == ["坞城街道", "北格镇", "坞城街道"] and t["village"] == ["许西社区", "张花村", None]
    assert t["remark"] == ["新增", None, "=1+1；低保边缘"] and sum(t["amount"]) == Decimal("110.00")


def test_without_those_columns_nothing_changes(cli, home, tmp_path):
    roster = _roster(tmp_path / "plain.xlsx", HEADER[2:9], [r[2:5] + ["140105"] + r[6:9] for r in ROWS])
    out, _ = _shanxi_run(cli, home, tmp_path, roster)
    t = _payments(out)
    for c in ("township", "village", "remark", "region_code_full"):
        assert t[c] == [None] * 4, c
    assert sum(t["amount"]) == Decimal("140.00")  # row 5 (no remark now) paid too: 110 + 30
    wb_path = tmp_path / "w.xlsx"
    assert cli("report", out, "--xlsx", wb_path).exit_code == 0
    head = [c.value for c in openpyxl.load_workbook(wb_path)["140105"][2]]
    assert "乡镇（街道）" not in head and "备注" not in head and problems(wb_path) == []


def test_proportional_sheet_shows_places_and_the_remark(cli, home, tmp_path):
    """Scheme t (standard x rise, 2024-01 food 6.5%): 140105 takes 140100's 2023-01 standards,
    urban 870 x 6.5% = 56.55 -> 57 yuan, rural 620 x 6.5% = 40.30 -> 40 yuan (yuan_half_up);
    the sheet keeps the standard and rise and shows 备注 too, wrapped (9 pt) in a narrow column
    before the signature (issue 31: `make print-check` prints a 150-row county of it at 80 % or more)."""
    sch = write_scheme(tmp_path)
    put_figures(home, "2024-01", cpi="103.6", food="106.5")
    std = tmp_path / "standards.csv"
    std.write_text(STANDARDS, encoding="utf-8")
    out = tmp_path / "run"
    rows = [r[:9] + ["新增", None] for r in ROWS[:2]]
    r = cli("calc", "--month", "2024-01", "--roster", _roster(tmp_path / "r.xlsx", rows=rows), "--standards", std,
            "--scheme", sch, "--out", out)
    assert r.exit_code == 0, r.output
    t = _payments(out)
    assert [str(x) for x in t["amount_per_person"]] == ["57.00", "40.00"] and [str(x) for x in t["amount"]] == ["114.00", "40.00"]
    wb_path = tmp_path / "w.xlsx"
    assert cli("report", out, "--xlsx", wb_path).exit_code == 0
    ws = openpyxl.load_workbook(wb_path)["140105"]
    head = [c.value for c in ws[2]]
    assert head[6:8] == ["乡镇（街道）", "村（社区）"] and "低保标准（元/月）" in head and head[-2:] == ["备注", "领取人签字"]
    remark = [ws.cell(r, len(head) - 1) for r in (3, 4)]
    assert [c.value for c in remark] == ["新增", "新增"]
    assert all(c.alignment.wrap_text and c.font.sz == 9 for c in remark)  # stays in its cell, off the signature
    assert problems(wb_path) == []


def test_a_bank_template_may_carry_the_township(cli, home, tmp_path):
    """A template naming field = "township" (e.g. as 摘要): text cells, the rows with an account,
    60 + 20 + 30 = 110.00 yuan in the file."""
    out, _ = _shanxi_run(cli, home, tmp_path, _roster(tmp_path / "花名册.xlsx"))
    tpl = tmp_path / "town.toml"
    tpl.write_text('name = "乡镇摘要"\nformat = "xlsx"\nheader = true\n'
                   '[[column]]\ntitle = "账号"\nfield = "bank_account"\n[[column]]\ntitle = "户名"\nfield = "name"\n'
                   '[[column]]\ntitle = "金额"\nfield = "amount"\n[[column]]\ntitle = "摘要"\nfield = "township"\n',
                   encoding="utf-8")
    bank = tmp_path / "代发.xlsx"
    r = cli("report", out, "--bank", tpl, "--bank-out", bank)
    assert r.exit_code == 0, r.output
    assert problems(bank) == []
    rows = list(openpyxl.load_workbook(bank).active.iter_rows(values_only=True))
    assert rows[0] == ("账号", "户名", "金额", "摘要")
    got = sorted((r[0], r[3], Decimal(str(r[2]))) for r in rows[1:])
    assert got == [("6217000000000000001", "坞城街道", Decimal(60)), ("6217000000000000002", "北格镇", Decimal(20)),
                   ("6217000000000000003", "坞城街道", Decimal(30))]
