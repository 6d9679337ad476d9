"""`cpi-link report`: summaries and the disbursement workbook, built on a real run folder (issue 8)."""

from __future__ import annotations

import os
import stat
import zipfile
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from calc_helpers import STANDARDS, make_id, put_figures, write_scheme

# Index month 2024-01 under scheme "t": CPI 103.6 and food 106.5 both trigger; rate 6.5 (food).
# Standards in force in 2024-01 (calc_helpers.STANDARDS):
#   140105 -> 140100 (its own row starts 2024-02): urban 870, rural 620
#   140802 -> 140000: urban 500;  140213 -> 140200: urban 770
#   870 x 6.5% = 56.55 -> 57;  620 x 6.5% = 40.30 -> 40;  500 x 6.5% = 32.50 -> 33;  770 x 6.5% = 50.05 -> 50
INJECT = '=HYPERLINK("http://evil.example/x","点我")'
ROWS = [
    # person_id, name, category, region, area, persons, bank            expected yuan
    (make_id("140105", "19500101", "001"), INJECT, "urban_dibao", "140105", "", "", "6228480012345678901"),  # 57
    (make_id("140105", "19500101", "002"), "+甲二", "rural_dibao", "140105", "", "", ""),                  # 40
    (make_id("140105", "19500101", "003"), "户三", "urban_dibao", "140105", "", "3", ""),                  # 57 x 3 = 171
    (make_id("140802", "19500101", "004"), "@乙四", "urban_tekun", "140802", "", "", ""),                  # 33
    (make_id("140202", "19500101", "005"), "-丙五", "unemployment_insurance", "140213", "", "", ""),       # 50
    ("12345", "坏号", "urban_dibao", "140105", "", "", ""),                                                 # rejected
]
TOTAL = Decimal("351.00")  # 57 + 40 + 171 + 33 + 50
BY_COUNTY = {"140105": Decimal("268.00"), "140802": Decimal("33.00"), "140213": Decimal("50.00")}


def write_roster(path: Path) -> Path:
    lines = ["person_id,name,category,region_code,area,persons,bank_account"]
    for r in ROWS:
        lines.append(",".join('"' + c.replace('"', '""') + '"' if ("," in c or '"' in c) else c for c in r))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_run(cli, home: Path, tmp_path: Path, verified: bool = True) -> Path:
    sch = write_scheme(tmp_path)
    if not verified:
        sch.write_text(sch.read_text(encoding="utf-8").replace("verified = true", "verified = false"), encoding="utf-8")
    put_figures(home, "2024-01", cpi="103.6", food="106.5")
    std = tmp_path / "standards.csv"
    std.write_text(STANDARDS, encoding="utf-8")
    out = tmp_path / "run"
    r = cli("calc", "--month", "2024-01", "--roster", write_roster(tmp_path / "roster.csv"), "--standards", std,
            "--scheme", sch, "--out", out, "--format", "json")
    assert r.exit_code == 0, r.stderr
    return out


def cell_yuan(v) -> Decimal:
    return Decimal(str(v)).quantize(Decimal("0.01"))


def test_report_json_matches_parquet(cli, home, tmp_path):
    run = make_run(cli, home, tmp_path)
    rep = cli.json("report", run, "--format", "json")
    assert rep["month"] == "2024-01" and rep["triggered"] is True
    assert rep["totals"]["amount"] == "351.00" and rep["totals"]["rows"] == 5 and rep["totals"]["persons"] == 7
    assert {r["region_code"]: Decimal(r["amount"]) for r in rep["by_county"]} == BY_COUNTY
    assert {r["prefecture"]: r["amount"] for r in rep["by_prefecture"]} == {"140100": "268.00", "140800": "33.00", "140200": "50.00"}
    assert "测试文件" in rep["citation"] and rep["consistency_problems"] == []
    by_cat = {r["category"]: r for r in rep["by_category"]}
    assert by_cat["urban_dibao"]["persons"] == 4 and by_cat["urban_dibao"]["amount"] == "228.00"
    assert by_cat["urban_dibao"]["category_zh"] == "城市低保"


def test_report_table_and_csv(cli, home, tmp_path):
    run = make_run(cli, home, tmp_path)
    r = cli("report", run)
    assert r.exit_code == 0 and "351.00" in r.stdout and "TRIGGERED" in r.stdout
    r = cli("report", run, "--format", "csv")
    assert r.exit_code == 0
    assert "total,,,5,7,351.00" in r.stdout


def test_workbook_totals_text_ids_and_injection(cli, home, tmp_path):
    import openpyxl

    run = make_run(cli, home, tmp_path)
    xlsx = tmp_path / "out" / "花名册.xlsx"
    r = cli("report", run, "--xlsx", xlsx)
    assert r.exit_code == 0, r.stderr
    assert stat.S_IMODE(os.stat(xlsx).st_mode) == 0o600

    wb = openpyxl.load_workbook(xlsx)
    assert wb.sheetnames == ["封面", "140105", "140213", "140802", "未发放名单"]
    pay = pq.read_table(run / "payments.parquet").to_pandas()
    parquet_total = sum(pay["amount"])  # Decimals
    assert parquet_total == TOTAL

    grand = Decimal(0)
    for code in ("140105", "140213", "140802"):
        ws = wb[code]
        headers = [c.value for c in ws[2]]
        assert headers[:3] == ["序号", "身份证号", "姓名"] and "补贴金额（元）" in headers
        col = headers.index("补贴金额（元）") + 1
        rows = [row for row in ws.iter_rows(min_row=3) if row[0].value not in (None, "合计") and isinstance(row[0].value, int)]
        total_row = next(row for row in ws.iter_rows(min_row=3) if row[0].value == "合计")
        row_sum = sum(cell_yuan(row[col - 1].value) for row in rows)
        assert row_sum == cell_yuan(total_row[col - 1].value) == BY_COUNTY[code]
        grand += row_sum
        for row in rows:
            idc = row[1]
            assert idc.data_type == "s" and isinstance(idc.value, str) and len(idc.value) == 18
            assert idc.number_format == "@"
    assert grand == parquet_total

    ws = wb["140105"]
    names = {row[2].value: row[2] for row in ws.iter_rows(min_row=3) if isinstance(row[0].value, int)}
    # the injected name is kept as text: a string cell, never a formula
    assert INJECT in names and names[INJECT].data_type == "s" and names[INJECT].quotePrefix
    assert names["+甲二"].data_type == "s"
    bank = [row[12] for row in ws.iter_rows(min_row=3) if isinstance(row[0].value, int) and row[12].value]
    assert bank[0].value == "6228480012345678901" and bank[0].data_type == "s"
    with zipfile.ZipFile(xlsx) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert "<f>" not in z.read(name).decode("utf-8"), f"a formula in {name}"

    cover = wb["封面"]
    values = {row[0].value: row[1].value for row in cover.iter_rows() if row[0].value}
    assert values["统计月份"] == "2024-01" and values["是否启动"] == "启动"
    assert cell_yuan(values["补贴金额合计（元）"]) == TOTAL
    assert "6.5" in values["补贴比例（上涨幅度）"]
    assert "测试文件" in values["依据文件"]
    assert not any(isinstance(k, str) and k.startswith("警告") for k in values)


def test_workbook_masks_ids_and_warns_unverified(cli, home, tmp_path):
    import openpyxl

    run = make_run(cli, home, tmp_path, verified=False)
    xlsx = tmp_path / "masked.xlsx"
    r = cli("report", run, "--xlsx", xlsx, "--mask-ids")
    assert r.exit_code == 0 and "verified = false" in r.stderr
    wb = openpyxl.load_workbook(xlsx)
    ids = [row[1].value for row in wb["140105"].iter_rows(min_row=3) if isinstance(row[0].value, int)]
    assert ids and all(i[6:14] == "********" and len(i) == 18 for i in ids)
    assert ids[0] == ROWS[0][0][:6] + "********" + ROWS[0][0][-4:]
    cover_text = " ".join(str(c.value) for row in wb["封面"].iter_rows() for c in row if c.value)
    assert "未经核实" in cover_text and "UNVERIFIED" not in cover_text and "WARNING" not in cover_text


def test_not_triggered_run_reports_zero(cli, home, tmp_path):
    import openpyxl

    sch = write_scheme(tmp_path)
    put_figures(home, "2024-02", cpi="101.0", food="102.0")
    std = tmp_path / "standards.csv"
    std.write_text(STANDARDS, encoding="utf-8")
    out = tmp_path / "run"
    assert cli("calc", "--month", "2024-02", "--roster", write_roster(tmp_path / "r.csv"), "--standards", std,
               "--scheme", sch, "--out", out).exit_code == 0
    rep = cli.json("report", out, "--format", "json")
    assert rep["triggered"] is False and rep["totals"]["amount"] == "0.00"
    xlsx = tmp_path / "w.xlsx"
    assert cli("report", out, "--xlsx", xlsx).exit_code == 0
    assert openpyxl.load_workbook(xlsx).sheetnames == ["封面", "未发放名单"]


@pytest.mark.parametrize("what", ["missing", "not_a_run", "file"])
def test_bad_run_folder_exits_2(cli, tmp_path, what):
    target = tmp_path / "nope"
    if what == "not_a_run":
        target.mkdir()
        (target / "manifest.json").write_text("{}", encoding="utf-8")
    elif what == "file":
        target.write_text("x", encoding="utf-8")
    r = cli("report", target)
    assert r.exit_code == 2
    assert str(target) in r.stderr and ("run folder" in r.stderr or "folder" in r.stderr)


# -- publication calendar (issue 8, item 5) ---------------------------------------------------


def test_calendar_rules():
    from datetime import date

    from cpi_link.rules.calendar import add_working_days, classify, payment_deadline, publication_window

    assert publication_window("2019-11") == (date(2019, 12, 9), date(2019, 12, 12))
    assert publication_window("2019-12") == (date(2020, 1, 9), date(2020, 1, 12))
    # 2016 rules: 20 working days after publication (nominally the 10th), China's calendar.
    # 2019-12-10 is a Tuesday: 15 working days to 2019-12-31, then (1 January a holiday) Jan 2, 3,
    # 6, 7, 8 -> 2020-01-08
    assert add_working_days(date(2019, 12, 10), 20) == date(2020, 1, 8)
    dl = payment_deadline("2019-11", "working_days_after_release = 20")
    assert dl.rule == "working_days" and dl.deadline == date(2020, 1, 8) and "2020-01-01" in dl.note
    # 2021 rules: the month of publication
    dl = payment_deadline("2022-09", "end_of_release_month")
    assert dl.rule == "publication_month" and dl.deadline == date(2022, 10, 31)
    assert payment_deadline("2024-01", "end_of_release_month").deadline == date(2024, 2, 29)
    assert classify(None) == ("unspecified", None) and payment_deadline("2024-01", None).deadline is None
    assert classify("working_days_after_release = 20") == ("working_days", 20) and classify("公布后20个工作日内") == ("unspecified", None)


def test_trigger_shows_calendar(cli):
    [d] = cli.json("trigger", "--scheme", "national", "--month", "2019-11", "--format", "json")
    assert d["payment_deadline"] == "2020-01-08" and d["next_figures_expected"] == "2020-01-09..2020-01-12"
    assert d["figures_published_expected"] == "2019-12-09..2019-12-12"
    [d] = cli.json("trigger", "--scheme", "national", "--month", "2022-09", "--format", "json")
    assert d["payment_deadline"] == "2022-10-31" and d["payment_timing"] == "end_of_release_month"
    [d] = cli.json("trigger", "--scheme", "national", "--month", "2022-11", "--format", "json")
    assert d["triggered"] is False and d["payment_deadline"] is None
    r = cli("trigger", "--scheme", "national", "--month", "2022-09")
    assert "by 2022-10-31" in r.stdout and "figures for 2022-10 are expected" in r.stdout


def test_run_footer_shows_next_figures_and_deadline(cli, tmp_path):
    from conftest import REPO

    r = cli("run", "--offline", "--scheme", "national", "--roster", REPO / "data/sample/roster.csv",
            "--standards", REPO / "data/sample/standards.csv")
    assert r.exit_code == 0, r.stderr
    out = " ".join(r.stdout.split())
    assert "are expected from NBS around" in out and "payment deadline for" in out and "under national-2021-1553" in out
