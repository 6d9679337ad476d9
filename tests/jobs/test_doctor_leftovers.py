"""Issue 30: temp folders a killed writer leaves (they may hold full IDs) and run folders set aside are
listed by `doctor` with their size; `doctor --repair` removes the temp folders of writers that have
stopped and keeps the set-aside folders for inspection. Real `cpi-link` processes, killed at a crash point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from calc_helpers import make_id, make_job

A = make_id("140105", "19500101", "001")
ROSTER = f"person_id,name,category,region_code\n{A},甲,urban_dibao,140105\n"


def cpi(job, *args, crash=None):
    env = dict(os.environ, CPI_LINK_HOME=str(job["home"]), COLUMNS="200", NO_COLOR="1")
    env.pop("CPI_LINK_CRASH_AT", None)
    if crash:
        env["CPI_LINK_CRASH_AT"] = crash
    return subprocess.run([sys.executable, "-m", "cpi_link", *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=120)


def test_doctor_lists_leftovers_with_their_size_and_repair_removes_the_temp_ones(tmp_path, home):
    job = make_job(tmp_path, home, ROSTER)
    calc = ["--config", job["cfg"], "calc", "--month", "2024-01", "--scheme", "t", "--roster", job["roster"],
            "--standards", job["std"]]
    assert cpi(job, *calc, crash="before_rename").returncode == -signal.SIGKILL  # every output written, not renamed
    temps = [p for p in (home / "trials" / "2024-01").iterdir() if p.name.startswith(".")]
    assert temps
    aside = home / "unrecorded" / "2024-01-2024-01.1-20260101T000000Z-p1-abcd0123"  # a folder run set aside
    aside.mkdir(parents=True)
    (aside / "payments.parquet").write_bytes(b"x" * 3000)
    (home / "unrecorded" / f"{aside.name}.why.txt").write_text("never recorded\n")

    r = cpi(job, "doctor", "--format", "json")
    assert r.returncode == 0, r.stderr  # leftovers are notes, not problems
    rep = json.loads(r.stdout)
    by_path = {i["path"]: i for i in rep["leftovers"]}
    for t in temps:
        item = by_path[str(t)]
        assert item["kind"] == "temp" and not item["removed"]
        assert item["bytes"] == sum(f.stat().st_size for f in t.rglob("*") if f.is_file())
    assert sum(by_path[str(t)]["bytes"] for t in temps) > 0  # the killed calc's outputs, full IDs in them
    assert by_path[str(aside)] == {"path": str(aside), "kind": "set_aside", "bytes": 3000, "removed": False}
    r = cpi(job, "doctor")
    out = " ".join(r.stdout.split())
    assert f"{temps[0]}: leftover temp folder of an interrupted run" in out and "may hold full IDs" in out
    assert f"{aside}: run folder set aside" in out and "2.9 KiB" in out

    r = cpi(job, "doctor", "--repair", "--format", "json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert all(i["removed"] for i in rep["leftovers"] if i["kind"] == "temp")
    assert not any(t.exists() for t in temps)
    assert aside.is_dir()  # kept for inspection
    assert [i["kind"] for i in json.loads(cpi(job, "doctor", "--format", "json").stdout)["leftovers"]] == ["set_aside"]
    assert cpi(job, *calc).returncode == 0  # the next calc is whole
