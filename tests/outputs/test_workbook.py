"""The workbook that prints for signing (issue 21): print settings read from the XLSX's own XML,
money exact to the fen, the 未发放名单 sheet, and run folders refused when they do not match
their manifest. No LibreOffice needed (that is `make print-check`)."""

from __future__ import annotations

import re
import zipfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from test_report import ROWS, TOTAL, make_run


def _sheets(xlsx: Path) -> dict[str, str]:
    """sheet name -> its worksheet XML, plus 'workbook' -> workbook.xml and 'styles'."""
    with zipfile.ZipFile(xlsx) as z:
        wb = z.read("xl/workbook.xml").decode("utf-8")
        rels = z.read("xl/_rels/workbook.xml.rels").decode("utf-8")
        targets = dict(re.findall(r'Id="(rId\d+)"[^>]*Target="([^"]+)"', rels))
        targets.update({k: v for v, k in re.findall(r'Target="([^"]+)"[^>]*Id="(rId\d+)"', rels)})
        out = {"workbook": wb, "styles": z.read("xl/styles.xml").decode("utf-8")}
        for name, rid in re.findall(r'<sheet name="([^"]+)" sheetId="\d+" r:id="(rId\d+)"', wb):
            out[name] = z.read("xl/" + targets[rid].lstrip("/").removeprefix("xl/")).decode("utf-8")
    return out


def test_county_sheets_print_landscape_one_page_wide_with_titles_footer_and_breaks(cli, home, tmp_path):
    run = make_run(cli, home, tmp_path)
    xlsx = tmp_path / "w.xlsx"
    assert cli("report", run, "--xlsx", xlsx).exit_code == 0
    x = _sheets(xlsx)
    for code in ("140105", "140213", "140802", "未发放名单"):
        s = x[code]
        setup = re.search(r"<pageSetup [^>]*/>", s).group(0)
        assert 'orientation="landscape"' in setup and 'paperSize="9"' in setup  # A4
        assert 'fitToHeight="0"' in setup and ('fitToWidth="' not in setup or 'fitToWidth="1"' in setup)
        assert '<pageSetUpPr fitToPage="1"/>' in s  # fit-to-page on: 1 wide (the default width), any height
        # page numbers run per sheet (issue 31): numbering restarts, the count is the county's own
        assert re.search(r"<oddFooter>&amp;C(未发放名单　)?第 &amp;P 页( 共 \d+ 页)?</oddFooter>", s)
        assert 'useFirstPageNumber="1"' in s
        assert re.search(r'<definedName name="_xlnm.Print_Titles" localSheetId="\d+">\'?' + code + r"'?!\$1:\$2</definedName>", x["workbook"])
    # signature-height rows: the county sheets' default row is 27 pt (about 1 cm)
    assert re.search(r'<sheetFormatPr defaultRowHeight="27" customHeight="1"', x["140105"])
    # borders on the cells (a thin border style exists and the data cells use it)
    assert '<left style="thin">' in x["styles"]
    # 合计 and the signature line are the last two rows, 经办人/审核人/负责人 on one row
    s = x["140105"]
    last_rows = re.findall(r"<row r=\"(\d+)\"[^>]*>(.*?)</row>", s)[-2:]
    assert "合计" in last_rows[0][1] and all(w in last_rows[1][1] for w in ("经办人", "审核人", "负责人"))
    # the cover fits one page (portrait)
    cover = re.search(r"<pageSetup [^>]*/>", x["封面"]).group(0)
    assert 'orientation="portrait"' in cover and '<pageSetUpPr fitToPage="1"/>' in x["封面"]
    assert 'fitToHeight="0"' not in cover  # height 1: the default


def test_page_breaks_keep_the_tail_with_rows():
    from cpi_link.outputs.workbook import ROWS_PER_PAGE, page_breaks

    assert ROWS_PER_PAGE == 15
    assert page_breaks(3) == []  # 3 rows + 合计 + signatures: one page
    # 150 rows: breaks every 15 rows (sheet rows 2+15, 2+30 ... 2+135); the last page would have
    # 15 rows and no room for the tail, so one more break before the last 2 rows (2 + 148)
    assert page_breaks(150) == [2 + 15 * k for k in range(1, 10)] + [2 + 148]
    # 140 rows: last page 140 - 135 = 5 rows + tail: fits, no extra break
    assert page_breaks(140) == [2 + 15 * k for k in range(1, 10)]
    assert page_breaks(14)[-1] == 2 + 12  # 14 rows > 12: the last 2 go with the tail
    assert page_breaks(15 * 2000) == []  # more than Excel's 1023 manual breaks: left to the application


def test_money_cells_are_exact_decimals_summing_to_the_run(cli, home, tmp_path):
    run = make_run(cli, home, tmp_path)
    xlsx = tmp_path / "w.xlsx"
    assert cli("report", run, "--xlsx", xlsx).exit_code == 0
    x = _sheets(xlsx)
    grand = Decimal(0)
    for code in ("140105", "140213", "140802"):
        rows = re.findall(r'<row r="(\d+)"[^>]*>(.*?)</row>', x[code])
        data = [body for n, body in rows if int(n) >= 3 and "合计" not in body and "经办人" not in body]
        amounts = [re.search(r'<c r="L\d+"[^>]*><v>([^<]+)</v>', b).group(1) for b in data]
        # written as "57.00", not a float's digits
        assert all(re.fullmatch(r"\d+\.\d\d", a) for a in amounts), amounts
        total_row = next(body for n, body in rows if "合计" in body)
        total = Decimal(re.search(r'<c r="L\d+"[^>]*><v>([^<]+)</v>', total_row).group(1))
        assert sum(Decimal(a) for a in amounts) == total
        grand += total
    pay = pq.read_table(run / "payments.parquet").to_pandas()
    assert grand == sum(pay["amount"]) == TOTAL  # 351.00


def test_rejected_sheet_lists_every_rejected_row_with_reason_in_words(cli, home, tmp_path):
    import openpyxl

    run = make_run(cli, home, tmp_path)
    xlsx = tmp_path / "w.xlsx"
    assert cli("report", run, "--xlsx", xlsx).exit_code == 0
    ws = openpyxl.load_workbook(xlsx)["未发放名单"]
    assert [c.value for c in ws[2]] == ["序号", "名册行号", "姓名", "身份证号（已遮蔽）", "未发放原因", "说明"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=3)]
    # roster row 6 ("12345", 坏号) is the only rejected one: invalid_id, on line 7 of the CSV (the header is line 1)
    assert len(rows) == 1
    assert rows[0][1] == 7 and rows[0][2] == "坏号" and rows[0][3] == "*****"
    assert "身份证号无效" in rows[0][4]
    cover = " ".join(str(c.value) for r in openpyxl.load_workbook(xlsx)["封面"].iter_rows() for c in r if c.value)
    # issue 31: labels in Chinese, times in Beijing time (2026-01-01T00:00:00Z is 08:00 in Beijing)
    assert "1 行（见“未发放名单”）" in cover and "获取时间（北京时间）" in cover and "2026-01-01 08:00" in cover
    assert "fetched_at" not in cover and "T00:00:00Z" not in cover


def test_rejected_rows_use_file_row_when_present(tmp_path):
    from cpi_link.outputs.report import Run, load_rejected

    pid = ROWS[0][0]
    t = pa.table({"source_row": pa.array([3, 1], pa.int64()), "file_row": pa.array([5, 3], pa.int64()),
                  "reason": ["invalid_id", "bad_persons"], "detail": [f"bad id {pid}", "persons 0"],
                  "person_id": [pid, "x"], "name": ["甲", "乙"]})
    pq.write_table(t, tmp_path / "rejected.parquet")
    rej = load_rejected(Run(path=tmp_path, manifest={}, payments=None, summary=None))
    assert rej["row"].tolist() == [3, 5] and rej["name"].tolist() == ["乙", "甲"]
    pq.write_table(t.drop_columns(["file_row"]), tmp_path / "rejected.parquet")
    assert load_rejected(Run(path=tmp_path, manifest={}, payments=None, summary=None))["row"].tolist() == [1, 3]


def _tamper_payments(run: Path) -> None:
    """Raise the first row's amount by 1 fen and rewrite the file (what an edit in a tool does)."""
    t = pq.read_table(run / "payments.parquet")
    amt = t.column("amount").to_pylist()
    amt[0] = amt[0] + Decimal("0.01")
    t = t.set_column(t.schema.get_field_index("amount"), "amount", pa.array(amt, t.schema.field("amount").type))
    pq.write_table(t, run / "payments.parquet")


def test_tampered_run_folder_is_refused_everywhere(cli, home, tmp_path):
    run = make_run(cli, home, tmp_path)
    other = tmp_path / "other"
    import shutil

    shutil.copytree(run, other)
    _tamper_payments(run)
    for args in (["report", run], ["report", run, "--xlsx", tmp_path / "w.xlsx"],
                 ["report", run, "--bank", "generic-csv", "--bank-out", tmp_path / "b.csv"],
                 ["report", run, "--public", tmp_path / "p.csv"], ["diff", other, run], ["diff", run, other]):
        r = cli(*args)
        assert r.exit_code == 2, (args, r.stdout, r.stderr)
        assert "payments.parquet was changed after the run" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "w.xlsx").exists() and not (tmp_path / "b.csv").exists() and not (tmp_path / "p.csv").exists()
    assert cli("report", other).exit_code == 0
    (other / "summary.parquet").unlink()
    r = cli("report", other)
    assert r.exit_code == 2


def test_long_county_sheet_has_its_page_breaks(cli, home, tmp_path):
    from calc_helpers import STANDARDS, make_id, put_figures, write_scheme

    sch = write_scheme(tmp_path)
    put_figures(home, "2024-01", cpi="103.6", food="106.5")
    std = tmp_path / "standards.csv"
    std.write_text(STANDARDS, encoding="utf-8")
    roster = tmp_path / "r.csv"
    roster.write_text("person_id,name,category,region_code,area,persons\n"
                      + "".join(f"{make_id('140105', '19600101', f'{i:03d}')},人{i},urban_dibao,140105,,1\n" for i in range(1, 41)),
                      encoding="utf-8")
    out = tmp_path / "run"
    assert cli("calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", sch, "--out", out).exit_code == 0
    xlsx = tmp_path / "w.xlsx"
    assert cli("report", out, "--xlsx", xlsx).exit_code == 0
    s = _sheets(xlsx)["140105"]
    # 40 rows: pages of 15 data rows under the 2 title rows -> breaks before sheet rows 17 and 32
    # (0-based 2 + 15, 2 + 30); the last page has 10 rows + 合计 + signatures: no extra break
    assert re.findall(r'<brk id="(\d+)"[^>]*man="1"', s) == ["17", "32"]
