"""Issue 32 (with issue 29's one roster of several sources): the page checks and pays several roster
files, and every sheet of a workbook that looks like a roster, as one roster, through
calc.handle.open_roster as `run --roster A --roster B --sheet all` does; `run` with the same files
then finds the month done.

Amounts (shanxi-2021, fixed: 城市低保 30 yuan a person, 农村低保 20):
  张建国 1 x 30 + 李秀英 3 x 30 (sheet 城区) + 王桂兰 2 x 20 (sheet 农村) + 陈新来 2 x 30 (the CSV)
  = 30 + 90 + 40 + 60 = 220.00 yuan, 8 persons; 张建国 again in the CSV is paid once (a duplicate).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from desk_helpers import IDS, browser, cli_run, copy_sample_standards, post_check, shot, start_desk  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow

NEW_ID = "140105198003150317"  # valid GB 11643 check digit (calc_helpers.make_id("140105", "19800315", "031"))
HEAD = ["身份证号", "姓名", "保障类别", "行政区划代码", "城乡", "保障人数", "银行账号"]


def _workbook(path: Path) -> None:
    """Two roster sheets and a notes sheet that is not a roster."""
    import openpyxl

    wb = openpyxl.Workbook()
    city = wb.active
    city.title = "城区"
    city.append(HEAD)
    city.append([IDS[0], "张建国", "城市低保", "140105", "城市", 1, "6200000000000000001"])
    city.append([IDS[1], "李秀英", "城市低保", "140105", "城市", 3, "6200000000000000002"])
    rural = wb.create_sheet("农村")
    rural.append(HEAD)
    rural.append([IDS[2], "王桂兰", "农村低保", "140105", "农村", 2, "6200000000000000003"])
    notes = wb.create_sheet("说明")
    notes.append(["本表由小店区民政局填报"])
    for ws in (city, rural):
        for row in ws.iter_rows(min_row=2, max_col=1):
            for c in row:
                c.number_format = "@"
    wb.save(path)


def _csv(path: Path) -> None:
    path.write_text(",".join(HEAD) + "\n"
                    f"{NEW_ID},陈新来,城市低保,140105,城市,2,6200000000000000005\n"
                    f"{IDS[0]},张建国,城市低保,140105,城市,1,6200000000000000001\n", encoding="utf-8")




def test_several_files_and_every_sheet_checked_and_paid_as_one_roster(browser, tmp_path, home):
    figs = tmp_path / "山西.csv"
    figs.write_text("地区代码,月份,指标,指数\n140000,2025-06,居民消费价格指数,103.6\n140000,2025-06,食品,101.0\n", encoding="utf-8")
    assert cli_run(home, "fetch", "--source", "file", "--file", str(figs)).returncode == 0
    book, extra = tmp_path / "小店区.xlsx", tmp_path / "补报.csv"
    _workbook(book)
    _csv(extra)
    standards = copy_sample_standards(tmp_path / "standards.csv")
    desk = start_desk(home)
    try:
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        ctx.set_default_timeout(120_000)  # a loaded CI box answers slowly; nothing here is timed
        page = ctx.new_page()
        page.goto(desk.url)
        page.goto(f"{desk.base}/month?month=2025-06")
        page.set_input_files("#roster-file", [str(book), str(extra)])
        page.set_input_files("#standards-file", str(standards))
        page.check("#all-sheets")
        page.click("#check-button")
        page.wait_for_selector("#check-result")
        read = page.locator("#check-result ul").first.inner_text()
        for where in ("小店区.xlsx", "城区", "农村", "补报.csv"):
            assert where in read, read
        assert "说明" in page.locator("li.skipped").inner_text()  # the notes sheet, said not read
        assert page.locator("li.source").count() == 3
        assert page.locator("#check-total").inner_text() == "220.00"
        rejected = page.locator("#rejected").inner_text()
        assert "补报.csv" in rejected and IDS[0] not in rejected  # the duplicate, named by its file, ID masked
        assert "nan" not in rejected  # a CSV row has no sheet: an empty cell
        shot(page, "month-several")
        page.click("#to-pay")
        page.dblclick("#pay-button")
        page.wait_for_selector("#paid")
        assert page.locator("#paid-total").inner_text() == "220.00"
        ctx.close()
    finally:
        log = desk.stop()
    assert "Traceback" not in log
    out = tmp_path / "ledger.parquet"
    assert cli_run(home, "ledger", "export", "--out", str(out)).returncode == 0
    import pyarrow.parquet as pq

    rows = pq.read_table(out).to_pylist()
    assert sorted(r["person_id"] for r in rows) == sorted(IDS + [NEW_ID])
    assert sum(Decimal(r["amount"]) for r in rows) == Decimal("220.00")
    # the CLI with the same files in the other order: the same roster, the month already done
    again = cli_run(home, "run", "--offline", "--since", "2025-06", "--roster", str(extra), "--roster", str(book),
                    "--sheet", "all", "--standards", str(standards), "--format", "json")
    assert again.returncode == 0, again.stderr
    assert {m["status"] for m in json.loads(again.stdout)} == {"already_done"}


def _check_by_post(desk, roster: Path, standards: Path) -> str:
    """The month's check posted as the form posts it; the month page once the check is done (or failed)."""
    return post_check(desk, roster, standards)[2]


def test_serve_options_standards_max_and_no_remark_check_reach_the_check(tmp_path, home):
    """Issue 27: `serve --standards-max` and `--no-remark-check` apply to the page's check as to calc,
    and a household whose head's 保障人数 differs from its members is a warning on the page.
    shanxi-2021 (fixed, 城市低保 30 a person): 张建国's household, 保障人数 3 but 2 members listed, pays
    2 x 30; 王桂兰, whose 备注 says 已死亡，停保, is paid 30 with the check off: 90.00."""
    figs = tmp_path / "山西.csv"
    figs.write_text("地区代码,月份,指标,指数\n140000,2025-06,居民消费价格指数,103.6\n140000,2025-06,食品,101.0\n", encoding="utf-8")
    assert cli_run(home, "fetch", "--source", "file", "--file", str(figs)).returncode == 0
    roster = tmp_path / "户.csv"
    roster.write_text("身份证号,姓名,与户主关系,保障类别,行政区划代码,城乡,保障人数,备注\n"
                      f"{IDS[0]},张建国,户主,城市低保,140105,城市,3,\n"
                      f"{IDS[1]},李秀英,妻子,城市低保,140105,城市,,\n"
                      f"{IDS[2]},王桂兰,户主,城市低保,140105,城市,1,已死亡，停保\n", encoding="utf-8")
    standards = copy_sample_standards(tmp_path / "standards.csv")
    with standards.open("a", encoding="utf-8") as fh:
        fh.write('140105,2025-03,3500,,7260,"SAMPLE urban standard above 3000"\n')
    plain = start_desk(home)
    try:
        page = _check_by_post(plain, roster, standards)
    finally:
        plain.stop()
    assert 'class="task failed"' in page and "3500" in page and "--standards-max" in page
    desk = start_desk(home, args=("--standards-max", "4000", "--no-remark-check"))
    try:
        page = _check_by_post(desk, roster, standards)
    finally:
        log = desk.stop()
    assert "Traceback" not in log
    assert 'id="check-total">90.00<' in page, page
    assert "备注检查已关闭" in page  # remark check off
    assert "花名册第 2 行：张建国（户主）一户：保障人数写的是 3，但列出了 2 名成员" in page


def test_a_household_warning_of_several_files_names_file_and_sheet_in_the_pages_language(tmp_path, home):
    """The manifest keeps where a warned row is as data ({"file", "sheet"}); the page words it in
    Chinese. shanxi-2021 (城市低保 30 a person): 陈新来 2 x 30 (CSV) + 丙's household, 保障人数 3 but
    2 members listed (sheet 城区), 2 x 30 = 120.00."""
    import openpyxl
    import requests

    figs = tmp_path / "山西.csv"
    figs.write_text("地区代码,月份,指标,指数\n140000,2025-06,居民消费价格指数,103.6\n140000,2025-06,食品,101.0\n", encoding="utf-8")
    assert cli_run(home, "fetch", "--source", "file", "--file", str(figs)).returncode == 0
    csv = tmp_path / "城市.csv"
    csv.write_text("身份证号,姓名,与户主关系,保障类别,行政区划代码,城乡,保障人数\n"
                   f"{NEW_ID},陈新来,户主,城市低保,140105,城市,2\n", encoding="utf-8")
    book = tmp_path / "花名册.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "城区"
    ws.append(["身份证号", "姓名", "与户主关系", "保障类别", "行政区划代码", "城乡", "保障人数"])
    ws.append([IDS[0], "张建国", "户主", "城市低保", "140105", "城市", 3])
    ws.append([IDS[1], "李秀英", "妻子", "城市低保", "140105", "城市", None])
    for row in ws.iter_rows(min_row=2, max_col=1):
        for c in row:
            c.number_format = "@"
    wb.save(book)
    standards = copy_sample_standards(tmp_path / "standards.csv")
    desk = start_desk(home)
    try:
        import re
        import time

        s = requests.Session()
        csrf = re.search(r'name="csrf" value="([^"]+)"', s.get(desk.url).text).group(1)
        with csv.open("rb") as a, book.open("rb") as b, standards.open("rb") as sf:
            s.post(desk.base + "/month/check", data={"csrf": csrf, "month": "2025-06"},
                   files=[("roster", (csv.name, a)), ("roster", (book.name, b)), ("standards", (standards.name, sf))])
        for _ in range(240):
            page = s.get(desk.base + "/month?month=2025-06").text
            if 'id="check-result"' in page or 'class="task failed"' in page:
                break
            time.sleep(0.5)
    finally:
        log = desk.stop()
    assert "Traceback" not in log
    assert 'id="check-total">120.00<' in page, page
    assert "花名册 花名册.xlsx，工作表 城区 第 2 行：张建国（户主）一户：保障人数写的是 3，但列出了 2 名成员" in page, page
