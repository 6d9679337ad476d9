"""Issue 32: the officer's monthly work on `cpi-link serve`, in a real headless Chromium (Debian's,
driven by Playwright): Shanxi figures imported from the downloaded template, a roster checked with
its rejected rows, the month paid once under double clicks, reloads, a second tab and a concurrent
`cpi-link run`, and the workbook and bank file agreeing with `calc` to the fen.

CPI_LINK_SCREENSHOTS=DIR also saves a screenshot of each page there (docs/ holds them)."""

from __future__ import annotations

import csv
import io
import json
import os
from decimal import Decimal
from pathlib import Path

import pytest

from desk_helpers import (EXPECTED_PERSONS, EXPECTED_TOTAL, IDS, browser, cli_run, copy_sample_standards,  # noqa: F401 (fixture)
                          shot, start_desk, write_roster)

pytestmark = pytest.mark.slow





def _fill_template(path: Path, values: dict) -> None:
    """Type the official index figures into the downloaded form, as an officer does in Excel."""
    import openpyxl

    wb = openpyxl.load_workbook(path)
    ws = wb.active
    head = None
    for row in ws.iter_rows():
        cells = [str(c.value or "") for c in row]
        if head is None and "月份" in cells and "指数" in cells:
            head = {v: i for i, v in enumerate(cells)}
            continue
        if head is not None and cells[head["月份"]]:
            key = (cells[head["月份"]], cells[head["指标"]])
            if key in values:
                row[head["指数"]].value = values[key]
    assert head is not None, "the template has a 月份/指数 header"
    wb.save(path)


def _ledger_rows(home: Path, tmp_path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    out = tmp_path / f"ledger-{len(list(tmp_path.glob('ledger-*')))}.parquet"
    r = cli_run(home, "ledger", "export", "--out", str(out))
    assert r.returncode == 0, r.stderr
    return pq.read_table(out).to_pylist()


def test_monthly_work_in_the_browser(browser, tmp_path, home):
    desk = start_desk(home)
    try:
        ctx = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
        ctx.set_default_timeout(120_000)  # a shared CI box under load answers slowly; nothing here is timed
        page = ctx.new_page()
        page.goto(desk.url)
        assert page.locator("h1").inner_text() == "价格数据"  # Chinese by default
        shot(page, "figures-empty")

        # 1. the figures template, filled in and imported
        page.fill("input[name=since]", "2025-06")
        page.fill("input[name=until]", "2025-07")
        with page.expect_download() as dl:
            page.click("#template-download")
        form = tmp_path / "figures.xlsx"
        dl.value.save_as(form)
        # 2025-06: CPI 103.6 (3.6% reaches 3.5): triggered; 2025-07 the same
        _fill_template(form, {("2025-06", "居民消费价格指数"): 103.6, ("2025-06", "食品价格"): 101.0,
                              ("2025-07", "居民消费价格指数"): 103.6, ("2025-07", "食品价格"): 101.0})
        page.set_input_files("#figures-file", str(form))
        page.click("#figures-upload")
        result = page.locator("#figures-result").inner_text()
        assert "新增 4" in result or "added 4" in result, result
        row = page.locator("tr[data-month='2025-06']")
        assert "103.6" in row.inner_text() and "是" in row.inner_text()
        shot(page, "figures")

        # 2. the month: decision, roster check with rejected rows and totals
        roster = tmp_path / "花名册.xlsx"
        write_roster(roster, "2025年6月")
        standards = copy_sample_standards(tmp_path / "standards.csv")
        page.goto(f"{desk.base}/month?month=2025-06")
        assert "启动" in page.locator("#decision").inner_text()
        assert page.locator("#unverified").is_visible()  # shanxi's rules are marked unverified
        page.set_input_files("#roster-file", str(roster))
        page.set_input_files("#standards-file", str(standards))
        page.click("#check-button")
        page.wait_for_selector("#check-result", timeout=90_000)
        assert page.locator("#check-total").inner_text() == EXPECTED_TOTAL
        cells = page.locator("#header-cells").inner_text()  # every header cell accounted for, as calc prints it
        assert "A2\t身份证号\tperson_id" in cells and "G2\t银行账号\tbank_account" in cells, cells
        rejected = page.locator("#rejected").inner_text()
        assert "\n6\t" in rejected and "\n7\t" in rejected, rejected  # the rows Excel shows: the mistyped ID, the 合计 row
        assert IDS[2][:6] + "********" in rejected and bad_id_not_shown(rejected)
        shot(page, "month")

        # 3. pay: a double click, three more POSTs and a reload pay the month once
        page.click("#to-pay")
        page.wait_for_selector("#pay-button")
        shot(page, "pay-confirm")
        csrf = page.locator("input[name=csrf]").first.get_attribute("value")
        page.dblclick("#pay-button")
        page.wait_for_selector("#paid", timeout=120_000)
        for _ in range(3):
            ctx.request.post(f"{desk.base}/pay", form={"month": "2025-06", "csrf": csrf})
        page.reload()
        page.wait_for_selector("#paid")
        assert page.locator("#paid-total").inner_text() == EXPECTED_TOTAL
        shot(page, "pay-done")

        rows = _ledger_rows(home, tmp_path)
        assert sorted(r["person_id"] for r in rows) == sorted(IDS)
        assert sum(Decimal(r["amount"]) for r in rows) == Decimal(EXPECTED_TOTAL)

        # 4. downloads agree with calc to the fen
        calc = cli_run(home, "calc", "--month", "2025-06", "--roster", str(roster), "--standards", str(standards),
                       "--out", str(tmp_path / "calc"), "--format", "json")
        assert calc.returncode == 0, calc.stderr
        calc_total = Decimal(json.loads(calc.stdout)["total_amount"])
        assert calc_total == Decimal(EXPECTED_TOTAL)
        page.select_option("select[name=template]", "generic-csv")
        with page.expect_download() as dl:
            page.click("#dl-bank")
        bank = tmp_path / "bank.csv"
        dl.value.save_as(bank)
        lines = list(csv.DictReader(io.StringIO(bank.read_bytes().decode("gb18030"))))
        assert sum(Decimal(r["金额"]) for r in lines) == calc_total and len(lines) == 3
        with page.expect_download() as dl:
            page.click("#dl-workbook")
        wb_path = tmp_path / "workbook.xlsx"
        dl.value.save_as(wb_path)
        import openpyxl

        wb = openpyxl.load_workbook(wb_path, read_only=True)
        cover = {r[0]: r[1] for r in wb["封面"].iter_rows(values_only=True) if r and r[0]}
        assert Decimal(str(cover["补贴金额合计（元）"])) == calc_total
        paid = Decimal(0)
        for ws in wb.worksheets:
            if ws.title in ("封面", "未发放名单"):
                continue
            col = None
            for r in ws.iter_rows(values_only=True):
                if r and "补贴金额（元）" in r:
                    col = r.index("补贴金额（元）")
                elif col is not None and isinstance(r[0], int):  # a person's row: 序号, then the cells
                    paid += Decimal(str(r[col])).quantize(Decimal("0.01"))
        assert paid == calc_total
        assert not list((home / "tmp").glob(".web-*"))  # the server kept no copy of what it sent
        with page.expect_download() as dl:
            page.click("#dl-rejected")
        rej = tmp_path / "rejected.csv"
        dl.value.save_as(rej)
        text = rej.read_text(encoding="utf-8-sig")
        assert "6," in text and "7," in text and IDS[2] not in text

        # 5. a second tab and a concurrent `cpi-link run` on the next month: paid once
        tab2 = ctx.new_page()
        tab2.goto(f"{desk.base}/month?month=2025-07")
        tab2.set_input_files("#roster-file", str(roster))
        tab2.set_input_files("#standards-file", str(standards))
        tab2.click("#check-button")
        tab2.wait_for_selector("#check-result", timeout=90_000)
        tab2.click("#to-pay")
        tab2.wait_for_selector("#pay-button")
        import subprocess

        env = {**os.environ, "CPI_LINK_HOME": str(home)}
        from desk_helpers import CPI_LINK

        run = subprocess.Popen([CPI_LINK, "run", "--offline", "--since", "2025-07", "--roster", str(roster), "--standards",
                                str(standards), "--format", "json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
        tab2.click("#pay-button")
        out, err = run.communicate(timeout=120)
        assert run.returncode in (0, 4), err  # it paid, or the page held the lock
        from playwright.sync_api import Error as PlaywrightError

        for _ in range(60):
            try:
                tab2.reload()
                if tab2.locator("#paid").count():
                    break
            except PlaywrightError:  # the tab's own poll reloaded it at that moment (the task ended): look again
                pass
            tab2.wait_for_timeout(1000)
        assert tab2.locator("#paid-total").inner_text() == EXPECTED_TOTAL
        page.goto(f"{desk.base}/pay?month=2025-07")
        assert page.locator("#paid-total").inner_text() == EXPECTED_TOTAL
        again = cli_run(home, "run", "--offline", "--since", "2025-07", "--roster", str(roster), "--standards", str(standards),
                        "--format", "json")
        assert again.returncode == 0, again.stderr
        assert {m["status"] for m in json.loads(again.stdout)} == {"already_done"}
        rows = _ledger_rows(home, tmp_path)
        per_month = {}
        for r in rows:
            per_month.setdefault(r["index_month"], []).append(r["person_id"])
        assert {m: sorted(v) for m, v in per_month.items()} == {"2025-06": sorted(IDS), "2025-07": sorted(IDS)}
        assert sum(Decimal(r["amount"]) for r in rows) == 2 * Decimal(EXPECTED_TOTAL)

        # 6. history: both months, searchable by name and by masked ID, doctor's verdict
        page.goto(f"{desk.base}/history")
        assert page.locator("tr[data-month='2025-06']").count() == 1 and page.locator("tr[data-month='2025-07']").count() == 1
        assert "正常：未发现问题" in page.locator("#doctor").inner_text()
        page.fill("#search", "李秀英")
        page.press("#search", "Enter")
        found = page.locator("#found").inner_text()
        assert found.count("李秀英") == 2 and IDS[1] not in found and "140105********0222" in found
        page.fill("#search", "140105********0133")
        page.press("#search", "Enter")
        assert page.locator("#found").inner_text().count("张建国") == 2
        shot(page, "history")
        html = page.content() + tab2.content()
        assert not any(pid in html for pid in IDS)  # masked on every page
        # one row's full ID and account on the officer's request (显示): in that answer only, gone on reload
        page.locator("#found button").first.click()
        page.wait_for_selector("#revealed")
        assert IDS[0] in page.locator("#revealed").inner_text() and "6200000000000000001" in page.locator("#revealed").inner_text()
        assert page.locator("#found button").count() == 1  # the other row stays masked
        page.reload()
        assert IDS[0] not in page.content()
        ctx.close()
    finally:
        log = desk.stop()
    assert "Traceback" not in log


def bad_id_not_shown(text: str) -> bool:
    from desk_helpers import bad_checksum

    return bad_checksum(IDS[2]) not in text

