"""Issue 32: what `run` reports for a completed month, offered and paid from the page (补充发放 for a
roster with people not yet paid, 补发 for raised standards) through the same jobs API, once under
double clicks; a check kept across a restart of `cpi-link serve`; one row's full ID shown on request.

Amounts (shanxi-proportional, the scheme these tests make the default: standard x 3.6%, rounded to
the yuan per person; CPI 103.6 for 2025-06; 140105's SAMPLE standards: urban 775 a month, rural
7260 a year = 605 a month):
  urban: 775 x 3.6% = 27.90 -> 28 yuan a person; rural: 605 x 3.6% = 21.78 -> 22 yuan a person
  the month: 张建国 1 x 28 + 李秀英 3 x 28 + 王桂兰 2 x 22 = 28 + 84 + 44 = 156.00 yuan
  the supplement: 陈新来 (urban, 2 persons) 2 x 28 = 56.00 yuan
  urban raised to 800: 800 x 3.6% = 28.80 -> 29, one yuan more a person: 张 1 + 李 3 + 陈 2 = 6.00 yuan
"""

from __future__ import annotations

import json
import re
import shutil
import time
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from desk_helpers import (IDS, browser, cli_run, copy_sample_standards, post_check, session, shot,  # noqa: F401 (fixture)
                          start_desk, wait_for_page, write_roster)

pytestmark = pytest.mark.slow

NEW_ID = "140105198003150317"  # 陈新来: region 140105, born 1980-03-15, GB 11643 check digit worked below


def _check_digit_ok(pid: str) -> bool:
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(c) * x for c, x in zip(pid[:17], w)) % 11] == pid[17]


@pytest.fixture
def office(tmp_path, home):
    """A config folder whose default scheme is shanxi-proportional, and 2025-06's Shanxi figures."""
    from conftest import REPO

    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    src = config / "sources.toml"
    src.write_text('default_scheme = "shanxi-proportional"\n' + src.read_text(encoding="utf-8"), encoding="utf-8")
    figs = tmp_path / "山西.csv"
    figs.write_text("地区代码,月份,指标,指数\n140000,2025-06,居民消费价格指数,103.6\n140000,2025-06,食品,101.0\n", encoding="utf-8")
    r = cli_run(home, "--config", str(config), "fetch", "--source", "file", "--file", str(figs))
    assert r.returncode == 0, r.stderr
    return config


def _roster_with_newcomer(path: Path) -> None:
    import openpyxl

    write_roster(path, "2025年6月")
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    ws.insert_rows(7)  # before the 合计 row
    for col, v in enumerate([NEW_ID, "陈新来", "城市低保", "140105", "城市", 2, "6200000000000000005"], start=1):
        ws.cell(row=7, column=col, value=v)
    wb.save(path)


def _raised_standards(src: Path, dest: Path) -> Path:
    out = src.read_text(encoding="utf-8").splitlines()
    out.append('140105,2025-01,800,,7260,"SAMPLE raised urban standard, back-dated"')
    dest.write_text("\n".join(out) + "\n", encoding="utf-8")
    return dest


def _ledger(home: Path, config: Path, tmp_path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    out = tmp_path / f"ledger-{len(list(tmp_path.glob('ledger-*')))}.parquet"
    r = cli_run(home, "--config", str(config), "ledger", "export", "--out", str(out))
    assert r.returncode == 0, r.stderr
    return pq.read_table(out).to_pylist()




def test_a_supplement_and_a_top_up_offered_and_paid_once_in_the_browser(browser, office, tmp_path, home):
    assert _check_digit_ok(NEW_ID)
    roster, roster2 = tmp_path / "花名册.xlsx", tmp_path / "花名册-补充.xlsx"
    write_roster(roster, "2025年6月")
    _roster_with_newcomer(roster2)
    standards = copy_sample_standards(tmp_path / "standards.csv")
    raised = _raised_standards(standards, tmp_path / "standards-2025.csv")
    desk = start_desk(home, {"CPI_LINK_CONFIG": str(office)})
    try:
        ctx = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
        ctx.set_default_timeout(120_000)  # a loaded CI box answers slowly; nothing here is timed
        page = ctx.new_page()
        page.goto(desk.url)

        def check(r: Path, s: Path) -> None:
            page.goto(f"{desk.base}/month?month=2025-06")
            page.set_input_files("#roster-file", str(r))
            page.set_input_files("#standards-file", str(s))
            page.click("#check-button")
            page.wait_for_selector("#check-result")
            page.click("#to-pay")

        check(roster, standards)
        page.dblclick("#pay-button")
        page.wait_for_selector("#paid")
        assert page.locator("#paid-total").inner_text() == "156.00"
        assert page.locator("#supplement-form").count() == 0 and page.locator("#topup-form").count() == 0

        # a roster with one more household: offered as `run` reports roster_changed, paid once
        check(roster2, standards)
        counts = page.locator("#supplement-counts").inner_text()
        assert "1 " in counts and "56.00" in counts, counts
        assert page.locator("#topup-form").count() == 0
        csrf = page.locator("input[name=csrf]").first.get_attribute("value")
        shot(page, "pay-supplement")
        page.dblclick("#supplement-button")
        page.wait_for_selector("#supplement-form", state="detached")
        for _ in range(3):  # a third click, a second tab: the ledger has the roster's people, nothing more is paid
            ctx.request.post(f"{desk.base}/pay/supplement", form={"month": "2025-06", "csrf": csrf})
        _wait_idle(page, desk, "supplement")
        assert page.locator("#supplement-form").count() == 0
        rows = _ledger(home, office, tmp_path)
        assert sorted(r["person_id"] for r in rows) == sorted(IDS + [NEW_ID])
        assert sum(Decimal(r["amount"]) for r in rows) == Decimal("212.00")  # 156.00 + 56.00
        assert _bank_file(page, "#dl-bank-1", tmp_path / "supplement-bank.csv") == [("陈新来", Decimal("56.00"))]

        # back-dated standards: offered as `run` reports standards_changed, the increases paid once
        check(roster2, raised)
        counts = page.locator("#topup-counts").inner_text()
        assert "6.00" in counts and "3 " in counts, counts  # +6.00 yuan over 3 rows (张, 李, 陈)
        assert page.locator("#supplement-form").count() == 0
        shot(page, "pay-topup")
        page.dblclick("#topup-button")
        page.wait_for_selector("#topup-form", state="detached")
        for _ in range(3):
            ctx.request.post(f"{desk.base}/pay/topup", form={"month": "2025-06", "csrf": csrf})
        _wait_idle(page, desk, "topup")
        assert page.locator("#topup-form").count() == 0
        rows = _ledger(home, office, tmp_path)
        assert sum(Decimal(r["amount"]) for r in rows) == Decimal("218.00")  # 212.00 + 6.00
        assert sorted(_bank_file(page, "#dl-bank-2", tmp_path / "topup-bank.csv")) == sorted(
            [("张建国", Decimal("1.00")), ("李秀英", Decimal("3.00")), ("陈新来", Decimal("2.00"))])
        top = sorted((r["person_id"], r["amount"]) for r in rows if r["kind"] == "topup")
        assert top == sorted([(IDS[0], Decimal("1.00")), (IDS[1], Decimal("3.00")), (NEW_ID, Decimal("2.00"))])
        # `run` with the same files finds nothing left to pay
        again = cli_run(home, "--config", str(office), "run", "--offline", "--since", "2025-06",
                        "--roster", str(roster2), "--standards", str(raised), "--supplement", "--topup", "--format", "json")
        assert again.returncode == 0, again.stderr
        assert {m["status"] for m in json.loads(again.stdout)} == {"already_done"}
        ctx.close()
    finally:
        log = desk.stop()
    assert "Traceback" not in log


def _bank_file(page, button: str, dest: Path) -> list[tuple[str, Decimal]]:
    """The generic-csv bank file of one later run, downloaded from the pay page: (name, yuan) per line."""
    import csv
    import io

    with page.expect_download() as dl:
        page.click(button)
    dl.value.save_as(dest)
    return [(r["户名"], Decimal(r["金额"])) for r in csv.DictReader(io.StringIO(dest.read_bytes().decode("gb18030")))]


def _wait_idle(page, desk, what: str) -> None:
    """Wait (over HTTP, not in the tab) until the payment under way is done, then load the pay page in
    the tab; the tab's own poll may be reloading it at that moment, so a navigation it cut is tried again."""
    from playwright.sync_api import Error as PlaywrightError

    for _ in range(240):
        if 'class="task running"' not in page.context.request.get(f"{desk.base}/pay?month=2025-06").text():
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"the {what} did not finish")
    for attempt in range(5):
        try:
            page.goto(f"{desk.base}/pay?month=2025-06")
            page.wait_for_selector("#paid")
            return
        except PlaywrightError:
            if attempt == 4:
                raise
            page.wait_for_timeout(1000)



def _check_by_post(desk, roster: Path, standards: Path) -> tuple[requests.Session, str]:
    s, csrf, page = post_check(desk, roster, standards)
    assert 'class="task failed"' not in page, page
    return s, csrf


def _pay_by_post(desk, s, csrf) -> str:
    s.post(desk.base + "/pay", data={"csrf": csrf, "month": "2025-06"})
    return wait_for_page(s, desk.base + "/pay?month=2025-06", ('id="paid"', 'class="task failed"'), "the payment")


def _checked_then_stopped(office, tmp_path, home) -> dict:
    """A desk on `home` checks the officer's June roster and is stopped: the check is saved under home.
    The environment to start the next desk with."""
    roster = tmp_path / "花名册.xlsx"
    write_roster(roster, "2025年6月")
    standards = copy_sample_standards(tmp_path / "standards.csv")
    env = {"CPI_LINK_CONFIG": str(office)}
    desk = start_desk(home, env)
    try:
        _check_by_post(desk, roster, standards)
    finally:
        desk.stop()
    return env


def test_a_check_survives_a_restart_and_pays_without_checking_again(office, tmp_path, home):
    env = _checked_then_stopped(office, tmp_path, home)
    saved = list((home / "web" / "checks").glob("*.json"))
    assert [p.name for p in saved] == ["2025-06.json"] and saved[0].stat().st_mode & 0o777 == 0o600
    assert (home / "web").stat().st_mode & 0o777 == 0o700
    assert not any(pid in saved[0].read_text(encoding="utf-8") for pid in IDS)

    desk = start_desk(home, env)  # a new start: a new token, the same home
    try:
        s, csrf = session(desk)
        shown = s.get(desk.base + "/pay?month=2025-06").text
        assert 'id="pay-button"' in shown and "花名册.xlsx" in shown  # the check as it was, no new upload
        page = _pay_by_post(desk, s, csrf)
        assert 'id="paid-total">156.00<' in page, page
    finally:
        log = desk.stop()
    assert "Traceback" not in log


def test_a_roster_changed_after_its_check_is_not_paid(office, tmp_path, home):
    env = _checked_then_stopped(office, tmp_path, home)
    saved = json.loads((home / "web" / "checks" / "2025-06.json").read_text(encoding="utf-8"))
    _roster_with_newcomer(Path(saved["roster"][0]))  # the file under home changed after it was checked

    desk = start_desk(home, env)
    try:
        s, csrf = session(desk)
        page = _pay_by_post(desk, s, csrf)
        assert 'class="task failed"' in page and "花名册.xlsx" in page and "重新检查" in page, page
        assert not (home / "ledger" / "months" / "2025-06.json").exists()
    finally:
        desk.stop()


def test_one_rows_full_id_is_shown_on_request_only(office, tmp_path, home):
    roster = tmp_path / "花名册.xlsx"
    write_roster(roster, "2025年6月")
    standards = copy_sample_standards(tmp_path / "standards.csv")
    desk = start_desk(home, {"CPI_LINK_CONFIG": str(office)})
    try:
        s, csrf = _check_by_post(desk, roster, standards)
        assert 'id="paid-total">156.00<' in _pay_by_post(desk, s, csrf)
        found = s.get(desk.base + "/history", params={"q": "李秀英"}).text
        assert IDS[1] not in found and "6200000000000000002" not in found
        forms = re.findall(r'name="run_id" value="([^"]+)"><input type="hidden" name="ref" value="([^"]+)"', found)
        assert len(forms) == 1
        run_id, ref = forms[0]
        r = s.post(desk.base + "/reveal", data={"month": "2025-06", "run_id": run_id, "ref": ref})  # no CSRF token
        assert r.status_code == 403 and IDS[1] not in r.text
        r = s.post(desk.base + "/reveal", data={"csrf": csrf, "month": "2025-06", "run_id": run_id, "ref": ref})
        assert r.status_code == 200 and IDS[1] in r.text and "6200000000000000002" in r.text
        assert IDS[0] not in r.text and IDS[2] not in r.text  # that row only
        assert "no-store" in r.headers["Cache-Control"]
        r = s.post(desk.base + "/reveal", data={"csrf": csrf, "month": "2025-06", "run_id": run_id, "ref": ref[:-1] + ("1" if ref[-1] == "0" else "0")})
        assert r.status_code == 404 and IDS[1] not in r.text  # a reference this start did not sign
        assert IDS[1] not in s.get(desk.base + "/history", params={"q": "李秀英"}).text  # shown in that answer only
    finally:
        log = desk.stop()
    text = (home / "logs" / "web.log").read_text(encoding="utf-8")
    assert "revealed one paid row" in text and IDS[1] not in text and "6200000000000000002" not in text
    assert "Traceback" not in log
