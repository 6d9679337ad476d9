"""Issue 32: what the page's tests share: a real `cpi-link serve` process, Chromium, officers' files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
CPI_LINK = str(Path(sys.executable).parent / "cpi-link")

# resident IDs of the bundled sample roster (GB 11643 checksums valid)
IDS = ["140105195811030133", "140105197506180222", "140105194909050402"]


def bad_checksum(pid: str) -> str:
    """The same ID with a wrong check digit."""
    return pid[:17] + ("1" if pid[17] != "1" else "2")


class Desk:
    def __init__(self, proc: subprocess.Popen, url: str, started_in: float):
        self.proc = proc
        self.url = url
        self.base = url.split("/?")[0]
        self.token = url.split("token=")[1]
        self.started_in = started_in

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.stdout.read() if self.proc.stdout else ""


def start_desk(home: Path, extra_env: dict | None = None, args: tuple = ()) -> Desk:
    env = {**os.environ, "CPI_LINK_HOME": str(home), **(extra_env or {})}
    env.pop("CPI_LINK_LANG", None)
    t0 = time.monotonic()
    proc = subprocess.Popen([CPI_LINK, "serve", "--port", "0", "--no-browser", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, encoding="utf-8")
    line = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:\d+/\?token=\S+", line)
        if m:
            return Desk(proc, m.group(0), time.monotonic() - t0)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"cpi-link serve printed no address: {line!r} {proc.stdout.read()!r}")


def need_chromium() -> None:
    """Debian's chromium (make test installs it with apt-get); in CI its absence is a failure."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: make test installs it (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing: run make test, which installs Debian's chromium")
    pytest.importorskip("playwright.sync_api")


@pytest.fixture
def browser():
    """Debian's headless Chromium driven by Playwright (tests import this fixture from here)."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def shot(page, name: str) -> None:
    """With CPI_LINK_SCREENSHOTS=DIR, the page's screenshot as DIR/web-NAME.png (docs/ holds them)."""
    folder = os.environ.get("CPI_LINK_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"web-{name}.png"), full_page=True)


def write_roster(path: Path, month_title: str) -> None:
    """An officer's roster as Excel makes it: a title row, the header on row 2, three people, a
    mistyped ID (row 6) and a 合计 row (row 7)."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "城乡低保"
    ws.append([f"{month_title}城乡低保花名册"])
    ws.append(["身份证号", "姓名", "保障类别", "行政区划代码", "城乡", "保障人数", "银行账号"])
    ws.append([IDS[0], "张建国", "城市低保", "140105", "城市", 1, "6200000000000000001"])
    ws.append([IDS[1], "李秀英", "城市低保", "140105", "城市", 3, "6200000000000000002"])
    ws.append([IDS[2], "王桂兰", "农村低保", "140105", "农村", 2, "6200000000000000003"])
    ws.append([bad_checksum(IDS[2]), "赵错号", "农村低保", "140105", "农村", 1, "6200000000000000004"])
    ws.append(["合计", "", "", "", "", 7, ""])
    for row in ws.iter_rows(min_row=3, max_col=1):
        for c in row:
            c.number_format = "@"
    wb.save(path)


# shanxi-2021 pays fixed amounts: 城市低保 30 yuan a person, 农村低保 20 (config/schemes/shanxi.toml)
# 张建国 1 x 30 + 李秀英 3 x 30 + 王桂兰 2 x 20 = 30 + 90 + 40 = 160.00 yuan, 6 persons, 3 rows
EXPECTED_TOTAL = "160.00"
EXPECTED_PERSONS = 6


def cli_run(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "CPI_LINK_HOME": str(home)}
    return subprocess.run([CPI_LINK, *args], env=env, capture_output=True, text=True, timeout=timeout)


def copy_sample_standards(dest: Path) -> Path:
    from conftest import REPO

    shutil.copy(REPO / "data" / "sample" / "standards.csv", dest)
    return dest


def session(desk: Desk):
    """A requests session opened by the address serve printed (token -> cookie), and the page's CSRF token."""
    import requests

    s = requests.Session()
    r = s.get(desk.url)
    assert r.status_code == 200
    return s, re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)


def wait_for_page(s, url: str, markers: tuple[str, ...], what: str) -> str:
    """The page at `url` once it holds one of `markers` (a task's result or its failure), polled for 2 minutes."""
    for _ in range(240):
        page = s.get(url).text
        if any(m in page for m in markers):
            return page
        time.sleep(0.5)
    raise AssertionError(f"{what} did not finish")


def post_check(desk: Desk, roster: Path, standards: Path, month: str = "2025-06"):
    """The month's check posted as the page's form posts it: (session, CSRF token, the month page once the
    check is done or failed)."""
    s, csrf = session(desk)
    with roster.open("rb") as r, standards.open("rb") as st:
        resp = s.post(desk.base + "/month/check", data={"csrf": csrf, "month": month},
                      files={"roster": (roster.name, r), "standards": (standards.name, st)})
    assert resp.status_code == 200
    page = wait_for_page(s, f"{desk.base}/month?month={month}", ('id="check-result"', 'class="task failed"'), "the check")
    return s, csrf, page
