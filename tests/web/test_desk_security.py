"""Issue 32: nobody but the officer gets into `cpi-link serve`: the per-start token (then a
cookie) on every URL, the CSRF token on every POST, the upload cap, loopback only, another Host
refused; uploads kept under home, 0600; bad input answered with the CLI's words, never a traceback."""

from __future__ import annotations

import re
import stat

import pytest
import requests

from desk_helpers import start_desk


@pytest.fixture
def desk(home):
    d = start_desk(home, {"CPI_LINK_WEB_UPLOAD_MAX_MB": "1"})
    yield d
    d.stop()


def _session(desk) -> tuple[requests.Session, str]:
    s = requests.Session()
    r = s.get(desk.url)  # the printed address: token -> cookie -> the page
    assert r.status_code == 200 and r.url == desk.base + "/figures"
    csrf = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
    return s, csrf


def test_every_url_needs_the_start_token(desk):
    for path in ("/", "/figures", "/month", "/pay", "/history", "/static/htmx.min.js", "/download/workbook?month=2025-06"):
        r = requests.get(desk.base + path, allow_redirects=False)
        assert r.status_code == 403, path
        assert "cpi-link serve" in r.text
    assert requests.get(desk.base + "/figures?token=" + "x" * len(desk.token), allow_redirects=False).status_code == 403
    r = requests.get(desk.url, allow_redirects=False)
    assert r.status_code == 303 and "token" not in r.headers["Location"]
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_another_host_name_is_refused(desk):
    s, _csrf = _session(desk)
    r = s.get(desk.base + "/figures", headers={"Host": "evil.example:80"})
    assert r.status_code == 400  # a page another site's name resolves to 127.0.0.1 gets nothing


def test_a_post_without_the_csrf_token_is_refused(desk, home, tmp_path):
    s, csrf = _session(desk)
    form = tmp_path / "figures.csv"
    form.write_text("地区代码,月份,指标,指数\n140000,2025-06,CPI,103.6\n", encoding="utf-8")
    for headers, data in (({}, {}), ({"X-CSRF-Token": "wrong"}, {}), ({}, {"csrf": csrf[:-1] + "x"})):
        r = s.post(desk.base + "/figures/upload", files={"file": form.open("rb")}, data=data, headers=headers, allow_redirects=False)
        assert r.status_code == 403
        assert "安全令牌" in r.text
    assert not (home / "uploads").exists()
    r = s.post(desk.base + "/pay", data={"month": "2025-06"}, allow_redirects=False)
    assert r.status_code == 403 and not (home / "ledger").exists()


def test_uploads_are_capped_kept_under_home_0600_and_checked_as_fetch_checks_them(desk, home, tmp_path):
    s, csrf = _session(desk)
    big = tmp_path / "big.csv"
    big.write_bytes(b"a" * (2 * 1048576))
    r = s.post(desk.base + "/figures/upload", files={"file": big.open("rb")}, data={"csrf": csrf}, allow_redirects=False)
    assert r.status_code == 413 and "1 MB" in r.text
    assert not (home / "uploads").exists()

    bad = tmp_path / "山西价格.csv"
    bad.write_text("地区代码,月份,指标,指数\n140000,2025-06,CPI,abc\n", encoding="utf-8")
    r = s.post(desk.base + "/figures/upload", files={"file": bad.open("rb")}, data={"csrf": csrf})
    assert r.status_code == 200
    message = re.search(r'id="figures-result">([^<]*)<', r.text).group(1)
    assert "山西价格.csv" in message and "abc" in message  # fetch --source file's words, naming the file and the cell
    assert "Traceback" not in r.text

    good = tmp_path / "山西价格2.csv"
    good.write_text("地区代码,月份,指标,指数\n140000,2025-06,CPI,103.6\n140000,2025-06,食品,101.0\n", encoding="utf-8")
    r = s.post(desk.base + "/figures/upload", files={"file": good.open("rb")}, data={"csrf": csrf})
    assert "新增 2" in r.text
    saved = sorted((home / "uploads").rglob("*.csv"))
    assert sorted(p.name for p in saved) == ["山西价格.csv", "山西价格2.csv"]
    for p in saved:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
        assert stat.S_IMODE(p.parent.stat().st_mode) == 0o700

    r = s.post(desk.base + "/figures/upload", files={"file": ("../../etc/passwd", b"x")}, data={"csrf": csrf})
    assert "passwd" in r.text and not list(home.rglob("passwd"))  # not a file the page reads: refused by its name


def test_a_non_loopback_bind_is_exit_2(cli):
    for host in ("0.0.0.0", "192.168.1.10", "::"):
        r = cli("serve", "--host", host, "--no-browser", "--port", "0")
        assert r.exit_code == 2, r.output
        assert "127.0.0.1" in r.stderr


def test_a_port_out_of_range_is_exit_2(home):
    """--port 70000 was taken modulo 65536 by the socket: the page started on port 4464, said as if asked for."""
    import os
    import subprocess

    from desk_helpers import CPI_LINK

    env = {**os.environ, "CPI_LINK_HOME": str(home)}
    for port in ("70000", "-1"):
        try:
            r = subprocess.run([CPI_LINK, "serve", "--port", port, "--no-browser"], env=env, capture_output=True, text=True,
                               timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"--port {port}: the page started")
        assert r.returncode == 2, r.stdout + r.stderr
        assert f"--port {port}" in r.stderr and "65535" in r.stderr and "http://" not in r.stdout


def test_chinese_by_default_with_an_english_switch(desk):
    s, _csrf = _session(desk)
    assert "<h1>价格数据</h1>" in s.get(desk.base + "/figures").text
    r = s.get(desk.base + "/figures?lang=en")
    assert "<h1>Price figures</h1>" in r.text
