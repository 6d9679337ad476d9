"""Bank batch-payment files from the bundled templates, the 公示 list, --encoding on --format csv
and masked IDs by default in diff (issue 21)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest

from calc_helpers import STANDARDS, make_id, put_figures, write_scheme

# 2024-01 under scheme "t": CPI 103.6, food 106.5 -> rate 6.5 (food). Standards (calc_helpers):
#   140105 -> 140100 urban 870 / rural 620; 140213 -> 140200 urban 770; 140802 -> 140000 urban 500
A, B, C, D, E = (make_id(r, "19600101", f"{i:03d}") for i, r in enumerate(["140105", "140105", "140213", "140802", "140105"], 1))
ROSTER = [
    # id, name, category, region, persons, account                 yuan
    (A, "张三丰", "urban_dibao", "140105", "1", "6228480012345678901"),  # 870 x 6.5% = 56.55 -> 57
    (B, "李四", "rural_dibao", "140105", "2", "6228480012345678902"),    # 620 x 6.5% = 40.30 -> 40, x 2 = 80
    (C, "王五", "urban_dibao", "140213", "1", "6228480012345678903"),    # 770 x 6.5% = 50.05 -> 50
    (D, "赵六", "urban_tekun", "140802", "1", ""),                       # 500 x 6.5% = 32.50 -> 33, no account
    (E, "欧阳娜娜", "urban_dibao", "140105", "3", "6228480012345678905"),  # 57 x 3 = 171
]
RUN_TOTAL = Decimal("391.00")    # 57 + 80 + 50 + 33 + 171
BANK_TOTAL = Decimal("358.00")   # without D: 391 - 33


@pytest.fixture
def run(cli, home, tmp_path) -> Path:
    sch = write_scheme(tmp_path)
    put_figures(home, "2024-01", cpi="103.6", food="106.5")
    std = tmp_path / "standards.csv"
    std.write_text(STANDARDS, encoding="utf-8")
    roster = tmp_path / "roster.csv"
    roster.write_text("person_id,name,category,region_code,area,persons,bank_account\n"
                      + "".join(f"{p},{n},{c},{r},,{k},{acct}\n" for p, n, c, r, k, acct in ROSTER), encoding="utf-8")
    out = tmp_path / "run"
    r = cli("calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", sch, "--out", out)
    assert r.exit_code == 0, r.stderr
    return out


def _check_left_out(stderr: str) -> None:
    assert "1 paid rows have no bank account" in stderr and "33.00" in stderr
    assert D not in stderr and (D[:6] + "********" + D[-4:]) in stderr  # listed, masked


def test_generic_csv_template_sums_to_the_run(cli, run, tmp_path):
    out = tmp_path / "bank.csv"
    r = cli("report", run, "--bank", "generic-csv", "--bank-out", out)
    assert r.exit_code == 0, r.stderr
    _check_left_out(r.stderr)
    assert "358.00" in r.stderr and "391.00" in r.stderr
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("gb18030"), newline="")))
    assert rows[0] == ["账号", "户名", "金额", "证件号码", "摘要"]
    body = rows[1:]
    assert len(body) == 4 and all(r[4] == "价格临时补贴" for r in body)
    assert {r[1]: r[2] for r in body} == {"张三丰": "57.00", "李四": "80.00", "欧阳娜娜": "171.00", "王五": "50.00"}
    assert sum(Decimal(r[2]) for r in body) == BANK_TOTAL
    assert {r[0] for r in body} == {x[5] for x in ROSTER if x[5]} and {r[3] for r in body} == {A, B, C, E}
    assert out.read_bytes().count(b"\r\n") == 5


def test_generic_txt_template_no_header_amounts_in_fen(cli, run, tmp_path):
    out = tmp_path / "bank.txt"
    r = cli("report", run, "--bank", "generic-txt", "--bank-out", out)
    assert r.exit_code == 0, r.stderr
    _check_left_out(r.stderr)
    lines = out.read_bytes().decode("gb18030").split("\r\n")
    assert lines[-1] == "" and len(lines) == 5  # 4 rows, no header
    fields = [line.split("|") for line in lines[:-1]]
    assert [f[0] for f in fields] == ["1", "2", "3", "4"] and all(len(f) == 6 for f in fields)
    assert sum(int(f[3]) for f in fields) == 35800  # fen
    assert {f[2]: f[3] for f in fields}["欧阳娜娜"] == "17100"


def test_generic_xlsx_template_text_accounts(cli, run, tmp_path):
    import openpyxl

    out = tmp_path / "bank.xlsx"
    r = cli("report", run, "--bank", "generic-xlsx", "--bank-out", out)
    assert r.exit_code == 0, r.stderr
    ws = openpyxl.load_workbook(out).worksheets[0]
    assert ws.title == "代发明细"
    rows = list(ws.iter_rows(values_only=False))
    assert [c.value for c in rows[0]] == ["收款账号", "收款户名", "金额（元）", "身份证号码", "行政区划代码", "附言"]
    assert len(rows) == 5  # header + 4, no title or total rows
    for row in rows[1:]:
        assert row[0].data_type == "s" and len(row[0].value) == 19  # the account as text, never 6.22848E+18
        assert row[3].data_type == "s" and len(row[3].value) == 18
    assert sum(Decimal(str(r[2].value)).quantize(Decimal("0.01")) for r in rows[1:]) == BANK_TOTAL


def test_template_from_a_path_and_bad_templates(cli, run, tmp_path):
    tpl = tmp_path / "mine.toml"
    tpl.write_text('format = "csv"\nencoding = "utf-8"\nheader = false\n[[column]]\ntitle = "a"\nfield = "amount"\nformat = "fen"\n',
                   encoding="utf-8")
    out = tmp_path / "m.csv"
    assert cli("report", run, "--bank", tpl, "--bank-out", out).exit_code == 0
    assert sum(int(x) for x in out.read_text().split()) == 35800
    tpl.write_text('format = "csv"\n[[column]]\ntitle = "a"\nfield = "amount"\nformat = "cents"\n', encoding="utf-8")
    r = cli("report", run, "--bank", tpl, "--bank-out", out)
    assert r.exit_code == 2 and "mine.toml" in r.stderr and "cents" in r.stderr
    tpl.write_text('format = "csv"\n[[column]]\ntitle = "a"\nfield = "acount"\n', encoding="utf-8")
    r = cli("report", run, "--bank", tpl, "--bank-out", out)
    assert r.exit_code == 2 and "acount" in r.stderr
    r = cli("report", run, "--bank", "no-such-bank", "--bank-out", out)
    assert r.exit_code == 2 and "generic-csv" in r.stderr
    assert cli("report", run, "--bank", "generic-csv").exit_code == 2  # no --bank-out


def test_mask_name():
    from cpi_link.outputs.bank import mask_name

    assert mask_name("张三丰") == "张*丰" and mask_name("李四") == "李*" and mask_name("欧阳娜娜") == "欧**娜"
    assert mask_name("王") == "*" and mask_name("") == "" and mask_name(None) == ""


def test_public_list_csv_and_xlsx(cli, run, tmp_path):
    import openpyxl

    out = tmp_path / "公示.csv"
    r = cli("report", run, "--public", out)
    assert r.exit_code == 0, r.stderr
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # utf-8-sig: Excel opens it
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["序号", "姓名", "身份证号", "行政区划代码", "地区", "保障类别", "保障人数", "补贴金额（元）"]
    # issue 31: the posting period, the phone and the office follow 合计 (placeholders when unset)
    assert [r[0][:5] for r in rows[-3:]] == ["公示期：　", "监督电话：", "公示单位："]
    rows = rows[:-3]
    assert {r[3]: r[4] for r in rows[1:-1]}["140105"] == "小店区"
    names = {r[1] for r in rows[1:-1]}
    assert names == {"张*丰", "李*", "王*", "赵*", "欧**娜"}
    text = raw.decode("utf-8-sig")
    for pid in (A, B, C, D, E):
        assert pid not in text and (pid[:6] + "********" + pid[-4:]) in text
    assert "张三丰" not in text and rows[-1][0] == "合计" and rows[-1][7] == "391.00"
    assert sum(Decimal(r[7]) for r in rows[1:-1]) == RUN_TOTAL
    out2 = tmp_path / "公示.xlsx"
    assert cli("report", run, "--public", out2, "--encoding", "gb18030").exit_code == 0
    ws = openpyxl.load_workbook(out2)["公示名单"]
    vals = [[c.value for c in r] for r in ws.iter_rows(min_row=4)]
    vals = vals[:next(i for i, v in enumerate(vals) if v[0] == "合计") + 1]
    assert sum(Decimal(str(v[7])) for v in vals[:-1]) == RUN_TOTAL and vals[-1][0] == "合计"
    gb = tmp_path / "gb.csv"
    assert cli("report", run, "--public", gb, "--encoding", "gb18030").exit_code == 0
    assert "欧**娜" in gb.read_bytes().decode("gb18030")


def test_encoding_option_on_format_csv(cli, run):
    r = cli("report", run, "--format", "csv")
    assert r.exit_code == 0 and r.stdout_bytes.startswith(b"level,")
    r = cli("report", run, "--format", "csv", "--encoding", "utf-8-sig")
    assert r.stdout_bytes.startswith(b"\xef\xbb\xbflevel,")
    r = cli("trigger", "--scheme", "national", "--month", "2019-11", "--format", "csv", "--encoding", "gb18030")
    assert r.exit_code == 0, r.stderr
    r.stdout_bytes.decode("gb18030")  # valid GB18030
    r = cli("report", run, "--format", "csv", "--encoding", "latin-1")
    assert r.exit_code == 2


def test_diff_masks_ids_unless_full_ids(cli, home, tmp_path):
    from test_diff import P1, P5, make_runs

    a, b = make_runs(cli, home, tmp_path)
    for args in ([], ["--format", "json"], ["--format", "csv"]):
        r = cli("diff", a, b, *args)
        assert r.exit_code == 0, r.stderr
        assert P5 not in r.stdout and P1 not in r.stdout and (P5[:6] + "********" + P5[-4:]) in r.stdout
    d = cli.json("diff", a, b, "--format", "json", "--full-ids")
    assert [x["person_id"] for x in d["added"]] == [P5]


def test_not_triggered_run_gives_empty_files(cli, home, tmp_path):
    sch = write_scheme(tmp_path)
    put_figures(home, "2024-02", cpi="101.0", food="102.0")  # below both thresholds: nobody is paid
    std = tmp_path / "standards.csv"
    std.write_text(STANDARDS, encoding="utf-8")
    roster = tmp_path / "roster.csv"
    roster.write_text("person_id,name,category,region_code,area,persons,bank_account\n"
                      + "".join(f"{p},{n},{c},{r},,{k},{acct}\n" for p, n, c, r, k, acct in ROSTER), encoding="utf-8")
    out = tmp_path / "run"
    assert cli("calc", "--month", "2024-02", "--roster", roster, "--standards", std, "--scheme", sch, "--out", out).exit_code == 0
    for tpl, name in (("generic-csv", "b.csv"), ("generic-txt", "b.txt"), ("generic-xlsx", "b.xlsx")):
        r = cli("report", out, "--bank", tpl, "--bank-out", tmp_path / name, "--public", tmp_path / f"p-{name}")
        assert r.exit_code == 0, r.stderr
        assert "0 rows, total 0.00 yuan" in r.stderr
    assert (tmp_path / "b.txt").read_bytes() == b""
