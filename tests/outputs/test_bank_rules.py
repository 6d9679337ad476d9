"""Issue 31: bank files as banks take them. A template says how accounts and amounts are written,
whether a batch header and a totals row are written, and its row limit: more rows are split into
numbered files, each with its own count and sum, and a list of the files. A template the tool
cannot honour is refused (exit 2) before anything is written."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from test_bank import A, B, C, E, run  # noqa: F401 (run: the fixture)
from xlsx_structure import problems

# the run's rows with an account, in file order (region, then roster row):
#   140105: A 57.00, B 80.00, E 171.00; 140213: C 50.00   -> 358.00
ORDER = [(A, "57.00"), (B, "80.00"), (E, "171.00"), (C, "50.00")]


def _tpl(tmp_path: Path, head: str, amount: str = 'format = "yuan"') -> Path:
    p = tmp_path / "bank.toml"
    p.write_text(head + '\n[[column]]\ntitle = "序号"\nfield = "seq"\n[[column]]\ntitle = "账号"\nfield = "bank_account"\n'
                 f'[[column]]\ntitle = "金额"\nfield = "amount"\n{amount}\n[[column]]\ntitle = "证件号码"\nfield = "person_id"\n',
                 encoding="utf-8")
    return p


def test_row_limit_splits_into_numbered_files_each_with_its_count_and_sum(cli, run, tmp_path):  # noqa: F811
    tpl = _tpl(tmp_path, 'format = "csv"\nencoding = "utf-8"\nheader = true\ntotals = true\nrow_limit = 2\n'
                         'batch_header = ["总笔数", "{count}", "总金额", "{total}", "第{part}/{parts}批"]')
    out = tmp_path / "代发.csv"
    r = cli("report", run, "--bank", tpl, "--bank-out", out)
    assert r.exit_code == 0, r.stderr
    assert not out.exists()
    one, two = tmp_path / "代发-01.csv", tmp_path / "代发-02.csv"
    rows1 = list(csv.reader(io.StringIO(one.read_text(encoding="utf-8"), newline="")))
    rows2 = list(csv.reader(io.StringIO(two.read_text(encoding="utf-8"), newline="")))
    # file 1: A 57.00 + B 80.00 = 137.00; file 2: E 171.00 + C 50.00 = 221.00
    assert rows1[0] == ["总笔数", "2", "总金额", "137.00", "第1/2批"]
    assert rows1[1] == ["序号", "账号", "金额", "证件号码"]
    assert [(r[0], r[2], r[3]) for r in rows1[2:4]] == [("1", "57.00", A), ("2", "80.00", B)]
    assert rows1[4] == ["2", "", "137.00", ""]  # totals: the count under 序号, the sum under 金额
    assert rows2[0] == ["总笔数", "2", "总金额", "221.00", "第2/2批"]
    assert [(r[0], r[2], r[3]) for r in rows2[2:4]] == [("1", "171.00", E), ("2", "50.00", C)]
    listing = list(csv.reader(io.StringIO((tmp_path / "代发-清单.csv").read_text(encoding="utf-8-sig"), newline="")))
    assert listing == [["文件", "笔数", "金额（元）"], ["代发-01.csv", "2", "137.00"], ["代发-02.csv", "2", "221.00"],
                       ["合计", "4", "358.00"]]
    assert "代发-02.csv" in r.stderr and "221.00" in r.stderr
    for f in (one, two, tmp_path / "代发-清单.csv"):
        assert f.stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob(".*tmp*"))


def test_xlsx_parts_text_accounts_and_totals(cli, run, tmp_path):  # noqa: F811
    import openpyxl

    tpl = _tpl(tmp_path, 'format = "xlsx"\nheader = true\ntotals = true\nrow_limit = 3\nbatch_header = ["{count}", "{total}"]')
    out = tmp_path / "bank.xlsx"
    r = cli("report", run, "--bank", tpl, "--bank-out", out)
    assert r.exit_code == 0, r.stderr
    first = tmp_path / "bank-01.xlsx"
    ws = openpyxl.load_workbook(first).worksheets[0]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0][:2] == [3, 308]  # 57 + 80 + 171: the batch header's count and sum as numbers
    assert rows[1] == ["序号", "账号", "金额", "证件号码"]
    body = list(ws.iter_rows(min_row=3, max_row=5))
    assert all(row[1].data_type == "s" and len(row[1].value) == 19 for row in body)  # accounts as text
    assert rows[5][0] == 3 and str(rows[5][2]) in ("308", "308.0")
    ws2 = openpyxl.load_workbook(tmp_path / "bank-02.xlsx").worksheets[0]
    assert [[c.value for c in row] for row in ws2.iter_rows()][0][:2] == [1, 50]
    for f in (first, tmp_path / "bank-02.xlsx"):
        assert problems(f) == []


def test_whole_yuan_and_amounts_as_text(cli, run, tmp_path):  # noqa: F811
    tpl = _tpl(tmp_path, 'format = "csv"\nencoding = "utf-8"\nheader = false', 'format = "yuan"\ndecimals = 0')
    out = tmp_path / "b.csv"
    assert cli("report", run, "--bank", tpl, "--bank-out", out).exit_code == 0
    assert [r[2] for r in csv.reader(io.StringIO(out.read_text(encoding="utf-8")))] == ["57", "80", "171", "50"]


@pytest.mark.parametrize("head, amount, words", [
    ('format = "csv"', 'format = "yuan"\nthousands = true', "thousands"),
    ('format = "csv"', 'format = "yuan"\ndecimals = 3', "decimals"),
    ('format = "csv"', 'format = "fen"\ndecimals = 2', "decimals"),
    ('format = "csv"\nrow_limit = 0', 'format = "yuan"', "row_limit"),
    ('format = "xlsx"\nrow_limit = 1048576', 'format = "yuan"', "row_limit"),
    ('format = "csv"\nbatch_header = ["{rows}"]', 'format = "yuan"', "batch_header"),
    ('format = "csv"\ntotals = "yes"', 'format = "yuan"', "totals"),
])
def test_a_template_it_cannot_honour_is_refused(cli, run, tmp_path, head, amount, words):  # noqa: F811
    tpl = _tpl(tmp_path, head, amount)
    out = tmp_path / "b.csv"
    r = cli("report", run, "--bank", tpl, "--bank-out", out)
    assert r.exit_code == 2 and words in r.stderr and "bank.toml" in r.stderr, r.stderr
    assert not out.exists() and not list(tmp_path.glob("b*.csv"))


def test_accounts_as_numbers_are_refused(cli, run, tmp_path):  # noqa: F811
    p = tmp_path / "bank.toml"
    p.write_text('format = "xlsx"\n[[column]]\ntitle = "账号"\nfield = "bank_account"\nas = "number"\n'
                 '[[column]]\ntitle = "金额"\nfield = "amount"\n', encoding="utf-8")
    r = cli("report", run, "--bank", p, "--bank-out", tmp_path / "b.xlsx")
    assert r.exit_code == 2 and "15 digits" in r.stderr


def test_bundled_templates_say_what_they_follow(cli, run, tmp_path):  # noqa: F811
    from cpi_link.core.paths import bundled_config_dir
    from cpi_link.outputs.bank import load_template

    for f in sorted((bundled_config_dir() / "banks").glob("*.toml")):
        assert load_template(f).document, f.name
    out = tmp_path / "b.txt"
    r = cli("report", run, "--bank", "generic-batch-txt", "--bank-out", out)
    assert r.exit_code == 0, r.stderr
    lines = out.read_bytes().decode("gb18030").split("\r\n")
    assert lines[0] == "4|358.00" and lines[1].startswith("1|") and len(lines) == 6


def test_public_list_carries_posting_period_phone_and_region_names(cli, run, home, tmp_path):  # noqa: F811
    import openpyxl

    (home / "office.toml").write_text('office = "清徐县民政局"\nphone = "0351-5721234"\nposting_days = 7\n'
                                      'posting_from = "2024-02-05"\n', encoding="utf-8")
    out = tmp_path / "公示.xlsx"
    r = cli("report", run, "--public", out)
    assert r.exit_code == 0, r.stderr
    ws = openpyxl.load_workbook(out)["公示名单"]
    texts = [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
    # 7 days from 2024-02-05: the 5th to the 11th
    assert any("公示期：2024年2月5日至2024年2月11日（7 天）" in t and "监督电话：0351-5721234" in t for t in texts)
    assert "公示单位：清徐县民政局" in texts
    header = [c.value for c in ws[3]]
    assert header[3:5] == ["行政区划代码", "地区"]
    assert {row[3].value: row[4].value for row in ws.iter_rows(min_row=4) if row[3].value and row[3].value.isdigit()} == {
        "140105": "小店区", "140213": "平城区", "140802": "盐湖区"}
    assert problems(out) == []
    (home / "office.toml").write_text('posting_from = "2024-02-30"\n', encoding="utf-8")
    r = cli("report", run, "--public", tmp_path / "x.xlsx")
    assert r.exit_code == 2 and "office.toml" in r.stderr and "posting_from" in r.stderr


def test_report_csv_names_every_code(cli, run):  # noqa: F811
    r = cli("report", run, "--format", "csv")
    assert r.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    names = {(x["level"], x["code"]): x["name"] for x in rows}
    assert names[("prefecture", "140100")] == "太原市" and names[("county", "140105")] == "小店区"
    assert names[("category", "urban_dibao")] == "城市低保" and names[("total", "")] == ""
