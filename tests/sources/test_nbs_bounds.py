"""Issue 22, bounded requests: a deadline on the whole request, a cap on the decoded body (gzip bombs
included), HOME/raw capped and rotated. Servers on 127.0.0.1 only."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tracemalloc
import zlib

import pytest
from werkzeug import Response

from cpi_link.core.errors import SourceUnavailable
from cpi_link.sources import nbs
from nbs_support import (  # noqa: F401  (home22 is a fixture)
    C16,
    CFOOD,
    CONFIG,
    NATIONAL_FIXTURES,
    PREFIX,
    DripServer,
    config_with,
    home22,
    json_resp,
    point_env,
)

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """~1.6 MB of gzip that decodes to 1.6 GiB: 100 gzip members of 16 MiB of spaces each."""
    member = gzip.compress(b" " * (16 * MiB), compresslevel=9)
    return member * 100


@pytest.mark.parametrize("where", ["body", "headers"])
def test_a_dripping_server_is_cut_at_the_deadline(tmp_path, monkeypatch, where):
    # one byte every 0.5 s: each read succeeds, so only a deadline on the whole request ends it
    with DripServer(where) as drip:
        home = point_env(monkeypatch, tmp_path, drip.base)
        monkeypatch.setenv("CPI_LINK_NBS_TIMEOUT", "2")
        monkeypatch.setenv("CPI_LINK_NBS_TRIES", "1")
        with pytest.raises(SourceUnavailable) as ei:
            nbs.fetch(CONFIG, home, ["000000"], "2020-11", "2020-12")
    msg = ei.value.message
    assert ei.value.exit_status == 3
    assert "no complete answer within 2s" in msg and "deadline on the whole request" in msg and "Nothing was stored" in msg
    # the deadline ended it (the drip itself would run 30 s and end in another error), after one try
    assert drip.handled == 1


def test_tries_multiply_the_deadline_and_nothing_else(tmp_path, monkeypatch):
    with DripServer("body") as drip:
        home = point_env(monkeypatch, tmp_path, drip.base)
        monkeypatch.setenv("CPI_LINK_NBS_TIMEOUT", "1")
        monkeypatch.setenv("CPI_LINK_NBS_TRIES", "2")
        with pytest.raises(SourceUnavailable, match="after 2 tries: no complete answer within 1s"):
            nbs.fetch(CONFIG, home, ["000000"], "2020-11", "2020-12")
        assert drip.handled == 2  # two requests, each ended by its own deadline


def test_a_whole_fetch_has_a_deadline_too(tmp_path, monkeypatch):
    # five tries of 2 s each would be 10 s; the fetch's own deadline (3 s) ends it first
    with DripServer("body") as drip:
        home = point_env(monkeypatch, tmp_path, drip.base)
        monkeypatch.setenv("CPI_LINK_NBS_TIMEOUT", "2")
        monkeypatch.setenv("CPI_LINK_NBS_TRIES", "5")
        monkeypatch.setenv("CPI_LINK_NBS_FETCH_DEADLINE", "3")
        with pytest.raises(SourceUnavailable, match=r"after 2 tries: the whole fetch ran out of its deadline \(http.fetch_deadline_seconds = 3s\)"):
            nbs.fetch(CONFIG, home, ["000000"], "2020-11", "2020-12")
        assert drip.handled == 2


def test_a_gzip_bomb_stops_at_the_cap_with_little_memory(home22, httpserver, bomb):
    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_response(
        Response(bomb, headers={"Content-Encoding": "gzip"}, content_type="application/json")
    )
    tracemalloc.start()
    try:
        with pytest.raises(SourceUnavailable) as ei:
            nbs.fetch(CONFIG, home22, ["000000"], "2020-11", "2020-12")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    msg = ei.value.message
    assert ei.value.exit_status == 3 and "over the cap http.max_body_bytes = 4,194,304" in msg and "after 1 try" in msg
    assert peak < 32 * MiB, peak  # the cap is 4 MiB; 1.6 GiB decoded would be fatal
    assert not home22.raw_dir.exists() or not any(home22.raw_dir.iterdir())


def test_a_gzip_bomb_through_the_command_line_stays_under_500_mb(tmp_path, httpserver, bomb):
    """A real process: its peak resident memory (VmHWM) while refusing the bomb, exit 3."""
    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_response(
        Response(bomb, headers={"Content-Encoding": "gzip"}, content_type="application/json")
    )
    env = {
        **os.environ, "CPI_LINK_NBS_URL": httpserver.url_for(PREFIX), "CPI_LINK_NBS_ALLOW_HTTP": "1", "CPI_LINK_HOME": str(tmp_path / "home"),
        "CPI_LINK_NBS_MIN_GAP": "0", "CPI_LINK_NBS_BACKOFF": "0", "CPI_LINK_NBS_WARM_UP": "0", "NO_COLOR": "1",
    }
    env.pop("CPI_LINK_CONFIG", None)
    code = (
        "import resource, sys\n"
        "from cpi_link.cli import app\n"
        "sys.argv = ['cpi-link', 'fetch', '--region', '000000', '--since', '2020-11', '--until', '2020-12']\n"
        "try:\n    app()\n"
        # VmHWM: this process's own peak since exec (ru_maxrss also counts the parent's RSS at fork, i.e. pytest's)
        "finally:\n    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')]\n"
        "    print('MAXRSS_KB', hwm[0].split()[1] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 3, p.stderr
    assert "over the cap" in p.stderr and "Traceback" not in p.stderr
    kb = int(p.stderr.rsplit("MAXRSS_KB", 1)[1].split()[0])
    print(f"gzip bomb (1.6 MB -> 1.6 GiB): exit 3, peak RSS {kb / 1024:.0f} MiB")
    assert kb < 500 * 1024, kb


def test_a_declared_100_mb_body_is_refused_before_reading(home22, httpserver):
    # werkzeug sends the declared length; the client refuses on the header without reading the body
    def handler(request):
        r = Response(iter([b" " * MiB] * 100), content_type="application/json")
        r.headers["Content-Length"] = str(100 * MiB)
        return r

    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_handler(handler)
    with pytest.raises(SourceUnavailable, match="declares 104,857,600 bytes, over the cap"):
        nbs.fetch(CONFIG, home22, ["000000"], "2020-11", "2020-12")


def test_an_undeclared_100_mb_body_is_cut_at_the_cap(home22, httpserver):
    sent = []

    def chunks():
        for _ in range(100):
            sent.append(1)
            yield b" " * MiB

    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_handler(
        lambda r: Response(chunks(), content_type="application/json")  # chunked: no Content-Length
    )
    tracemalloc.start()
    try:
        with pytest.raises(SourceUnavailable, match="ran past 4,[0-9,]+ bytes, over the cap"):
            nbs.fetch(CONFIG, home22, ["000000"], "2020-11", "2020-12")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * MiB
    assert len(sent) < 100  # the rest was never asked for


def test_the_cap_is_configurable(tmp_path, monkeypatch, httpserver):
    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_response(
        Response(b'{"data": [], "success": true}' + b" " * 5000, content_type="application/json")
    )
    home = point_env(monkeypatch, tmp_path, httpserver.url_for("").rstrip("/"), warm_up=False)
    cfg = config_with(tmp_path, max_body_bytes=4096)
    with pytest.raises(SourceUnavailable, match="over the cap http.max_body_bytes = 4,096"):
        nbs.fetch(cfg, home, ["000000"], "2020-11", "2020-12")
    monkeypatch.setenv("CPI_LINK_NBS_MAX_BODY", "8192")  # the environment overrides the file
    assert nbs.fetch(cfg, home, ["000000"], "2020-11", "2020-12").observations == []


def test_a_normal_gzip_answer_is_stored_as_before(home22, httpserver):
    def handler(request):
        cid = json.loads(request.get_data())["cid"]
        body = json_resp(NATIONAL_FIXTURES[cid]).get_data()
        return Response(zlib.compress(body), headers={"Content-Encoding": "deflate"}, content_type="application/json")

    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_handler(handler)
    out = nbs.fetch(CONFIG, home22, ["000000"], "2020-11", "2020-12")
    assert {(o.indicator, o.month, str(o.value)) for o in out.observations} == {
        ("cpi", "2020-11", "99.5"), ("cpi", "2020-12", "100.2"), ("food", "2020-11", "98.0"), ("food", "2020-12", "101.2"),
    }
    # the archive keeps the decoded JSON, named by its sha256
    assert all(p.endswith(".json") for p in out.raw_files) and len(out.raw_files) == 2


def test_raw_archive_is_capped_and_the_oldest_rotated_out(tmp_path, monkeypatch, httpserver):
    httpserver.expect_request(f"{PREFIX}/stream/esData", method="POST").respond_with_handler(
        lambda r: json_resp(NATIONAL_FIXTURES[json.loads(r.get_data())["cid"]])
    )
    home = point_env(monkeypatch, tmp_path, httpserver.url_for("").rstrip("/"), warm_up=False)
    raw = home.raw_dir
    raw.mkdir(parents=True)
    old = []
    for i in range(10):  # ten old archives of 100 kB: 1 MB, over a 350 kB cap
        p = raw / f"2020010{i}T000000Z-{i:012d}.json"
        p.write_bytes(b" " * 100_000)
        p.with_name(p.name[:-5] + ".meta.json").write_text("{}")
        old.append(p)
    cfg = config_with(tmp_path, raw_max_bytes=350_000)
    out = nbs.fetch(cfg, home, ["000000"], "2020-11", "2020-12")
    left = sorted(raw.glob("*.json"))
    total = sum(p.stat().st_size for p in left)
    assert total <= 350_000
    assert all(os.path.exists(p) for p in out.raw_files)  # this fetch's own archives stay
    kept_old = [p for p in old if p.exists()]
    assert kept_old == old[-len(kept_old):] and len(kept_old) < 10  # the oldest went first
    assert all(p.with_name(p.name[:-5] + ".meta.json").exists() == p.exists() for p in old)
