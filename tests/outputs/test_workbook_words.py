"""Issue 31: the workbook an officer signs says what was paid the way it was computed, in Chinese
whole: a flat-amount scheme by its amounts (no standard, no rise on the county sheets), a
proportional one by its rate; Beijing time; region names beside codes; totals in words (人民币大写);
a signature block and the cost by funder on the cover; page numbers per county."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl

from calc_helpers import STANDARDS, put_figures, write_scheme
from test_report import INJECT, make_run, write_roster

FLAT = ('amounts = { urban_dibao = "30", rural_dibao = "20", urban_tekun = "30", rural_tekun = "30", '
        'unemployment_insurance = "30", special_care = "30", orphan = { urban = "30", rural = "20" } }\n'
        'funding = { central = "0.6", province = "0.4" }')


def _flat_run(cli, home, tmp_path) -> Path:
    sch = write_scheme(tmp_path, name="flat", method="fixed", extra=FLAT)
    put_figures(home, "2024-01", cpi="103.6", food="106.5")
    std = tmp_path / "standards.csv"
    std.write_text(STANDARDS, encoding="utf-8")
    out = tmp_path / "flat-run"
    r = cli("calc", "--month", "2024-01", "--roster", write_roster(tmp_path / "roster.csv"), "--standards", std,
            "--scheme", sch, "--out", out)
    assert r.exit_code == 0, r.stderr
    return out


def _texts(ws) -> list[str]:
    return [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]


# ASCII words a Chinese workbook may hold: codes, IDs, the tool's name and the scheme's own words
ALLOWED = re.compile(r"cpi-link|scheme|show|verified|false|CPI|Excel|WPS|GB|T|X|flat")


def _english_words(texts: list[str], names: tuple[str, ...]) -> set[str]:
    words = set()
    for t in texts:
        for n in names:  # the roster's names, the scheme's title and the run id are names, not words
            t = t.replace(n, "")
        for w in re.findall(r"[A-Za-z][A-Za-z_\-]*", t):
            if not ALLOWED.fullmatch(w):
                words.add(w)
    return words


def test_flat_scheme_reads_by_its_amounts_with_words_funders_and_signatures(cli, home, tmp_path):
    run = _flat_run(cli, home, tmp_path)
    xlsx = tmp_path / "w.xlsx"
    r = cli("report", run, "--xlsx", xlsx)
    assert r.exit_code == 0, r.stderr
    wb = openpyxl.load_workbook(xlsx)
    cover = " ".join(_texts(wb["封面"]))
    # 30 + 20 + 30 x 3 (140105) + 30 (urban_tekun, 140802) + 30 (unemployment_insurance) = 200.00
    assert "按每人每月 城市低保 30 元、农村低保 20 元、特困人员 30 元、领取失业保险金人员 30 元、优抚对象 30 元、孤儿（城市 30 元、农村 20 元）发放" in cover
    assert "按 6.5%" not in cover and "补贴比例" not in cover
    assert "人民币贰佰元整" in cover
    # funding 0.6 / 0.4 of 200.00: 120.00 and 80.00, each in words
    rows = {row[0].value: row for row in wb["封面"].iter_rows() if row[0].value in ("中央财政", "省级财政")}
    assert rows["中央财政"][1].value == "60%" and str(rows["中央财政"][2].value) in ("120", "120.0")
    assert rows["中央财政"][3].value == "人民币壹佰贰拾元整" and rows["省级财政"][3].value == "人民币捌拾元整"
    for who in ("经办人（签字）：", "审核人（签字）：", "负责人（签字）："):
        assert who in cover
    county = wb["140105"]
    header = [c.value for c in county[2] if c.value]
    assert "低保标准（元/月）" not in header and "上涨幅度（%）" not in header and "标准适用地区" not in header
    assert header[-2:] == ["银行账号", "领取人签字"]
    assert county["A1"].value.startswith("价格临时补贴发放花名册　140105 小店区（太原市 140100）")
    tail = [[c.value for c in row] for row in county.iter_rows(min_row=3)]
    total_row = next(r for r in tail if r[0] == "合计")
    assert "大写：人民币壹佰肆拾元整" in total_row  # 30 + 20 + 90


def test_proportional_scheme_keeps_standard_and_rise(cli, home, tmp_path):
    run = make_run(cli, home, tmp_path)
    xlsx = tmp_path / "w.xlsx"
    assert cli("report", run, "--xlsx", xlsx).exit_code == 0
    wb = openpyxl.load_workbook(xlsx)
    cover = " ".join(_texts(wb["封面"]))
    assert "按 6.5%（食品价格指数）计发价格临时补贴" in cover and "按每人每月" not in cover
    assert "资金分担" not in cover  # the scheme names no funding
    header = [c.value for c in wb["140105"][2]]
    assert "低保标准（元/月）" in header and "上涨幅度（%）" in header
    # 351.00 in words
    assert "人民币叁佰伍拾壹元整" in cover


def test_chinese_workbook_has_no_english_words_and_beijing_time(cli, home, tmp_path):
    run = _flat_run(cli, home, tmp_path)
    xlsx = tmp_path / "w.xlsx"
    assert cli("report", run, "--xlsx", xlsx).exit_code == 0
    wb = openpyxl.load_workbook(xlsx)
    texts = [t for ws in wb.worksheets for t in _texts(ws)]
    run_id = __import__("json").loads((run / "manifest.json").read_text(encoding="utf-8"))["run_id"]
    assert _english_words(texts, (INJECT, "test scheme", run_id, "flat-v1", "test")) == set()
    cover = " ".join(_texts(wb["封面"]))
    # the figures were put at 2026-01-01T00:00:00Z: 08:00 in Beijing
    assert "2026-01-01 08:00" in cover and not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", cover)
    rejected = [[c.value for c in row] for row in wb["未发放名单"].iter_rows(min_row=3)]
    assert rejected and all(not re.search(r"[a-z]{3,}", str(r[5])) for r in rejected)  # 说明 in Chinese


def test_page_numbers_run_per_county(cli, home, tmp_path):
    import zipfile

    run = _flat_run(cli, home, tmp_path)
    xlsx = tmp_path / "w.xlsx"
    assert cli("report", run, "--xlsx", xlsx).exit_code == 0
    with zipfile.ZipFile(xlsx) as z:
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
    for s in sheets:
        assert 'useFirstPageNumber="1"' in s and "&amp;N" not in s


def test_amount_in_words():
    from cpi_link.core.money import rmb_upper

    # worked by hand after 《支付结算办法》's rules for 大写金额
    assert rmb_upper(54000) == "人民币伍佰肆拾元整"
    assert rmb_upper(161900) == "人民币壹仟陆佰壹拾玖元整"
    assert rmb_upper(5) == "人民币伍分"
    assert rmb_upper(0) == "人民币零元整"
    assert rmb_upper(100005) == "人民币壹仟元零伍分"
    assert rmb_upper(100100) == "人民币壹仟零壹元整"
    assert rmb_upper(2030) == "人民币贰拾元叁角"
    assert rmb_upper(10000000000) == "人民币壹亿元整"
    assert rmb_upper(1000200000) == "人民币壹仟万零贰仟元整"  # 10,002,000.00: the gap after 万 said once
    assert rmb_upper(100400050) == "人民币壹佰万零肆仟元伍角"
    assert rmb_upper(100000000023) == "人民币壹拾亿元贰角叁分"  # 元位 0 before 角: 零 may be left out
