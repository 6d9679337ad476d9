"""Issue 30: a cron job's end is always its exit code. Closed stdout or a reader that went away is a
quiet exit with the command's own code; SIGTERM at any instant is 130, the ledger whole."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from calc_helpers import make_id, make_job

A = make_id("140105", "19500101", "001")
B = make_id("140802", "19500101", "002")
ROSTER = f"person_id,name,category,region_code\n{A},甲,urban_dibao,140105\n{B},乙,rural_dibao,140802\n"
JAN = "45.00"  # 2024-01 at 3.6%: A 870x3.6%=31.32->31, B 400x3.6%=14.4->14


@pytest.fixture
def job(tmp_path, home):
    job = make_job(tmp_path, home, ROSTER)
    cfg = job["cfg"]
    env = dict(os.environ, CPI_LINK_HOME=str(home))
    for k in ("CPI_LINK_CRASH_AT", "CPI_LINK_SIGTERM_AT", "CPI_LINK_SIGINT_AT"):
        env.pop(k, None)
    args = [sys.executable, "-m", "cpi_link", "--config", str(cfg), "run", "--roster", str(tmp_path / "roster.csv"),
            "--standards", str(tmp_path / "std.csv"), "--scheme", "t", "--offline"]
    return {"args": args, "env": env, "home": home}


def _close_stdout():
    os.close(1)


@pytest.mark.parametrize("extra", [["--quiet"], ["--format", "json"], []])
def test_closed_stdout_after_paying_is_a_quiet_exit_0(job, extra):
    r = subprocess.run(job["args"] + extra, env=job["env"], stderr=subprocess.PIPE, text=True, preexec_fn=_close_stdout,
                       timeout=180)
    assert r.returncode == 0 and "Traceback" not in r.stderr and "bug" not in r.stderr, r.stderr
    again = subprocess.run(job["args"] + ["--format", "json", "--since", "2024-01"], env=job["env"], capture_output=True,
                           text=True, timeout=180)
    assert [(m["status"], m["total_amount"]) for m in json.loads(again.stdout)] == [("already_done", JAN)]


def test_closed_stdout_keeps_a_failures_code(job):
    args = [a if a != job["args"][job["args"].index("--roster") + 1] else "/nonexistent/roster.csv" for a in job["args"]]
    r = subprocess.run(args, env=job["env"], stderr=subprocess.PIPE, text=True, preexec_fn=_close_stdout, timeout=180)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr


def test_reader_gone_is_a_quiet_exit(job):
    p = subprocess.Popen(job["args"] + ["--format", "json"], env=job["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()  # `| head` that already left
    err = p.stderr.read().decode()
    assert p.wait(timeout=180) == 0 and "Traceback" not in err, err


def _catches_sigterm(pid: int) -> bool:
    with open(f"/proc/{pid}/status") as fh:
        mask = next(int(line.split()[1], 16) for line in fh if line.startswith("SigCgt:"))
    return bool(mask & (1 << (signal.SIGTERM - 1)))


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.3, 0.6, 1.0])
def test_sigterm_at_any_instant_is_130(job, delay):
    """From the program's first line on (the interpreter's own start-up is before any of it): the delay
    counts from the moment the process catches SIGTERM, read from /proc."""
    p = subprocess.Popen(job["args"], env=job["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while p.poll() is None and not _catches_sigterm(p.pid):
        time.sleep(0.002)
    time.sleep(delay)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=180)
    assert p.returncode in (130, 0), (p.returncode, err)  # 0 only when it had already finished
    assert b"Traceback" not in err
    r = subprocess.run(job["args"] + ["--format", "json", "--since", "2024-01"], env=job["env"], capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    assert [m["total_amount"] for m in json.loads(r.stdout)] == [JAN]
    d = subprocess.run(job["args"][:3] + ["doctor"], env=job["env"], capture_output=True, text=True, timeout=180)
    assert d.returncode == 0, d.stderr


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
@pytest.mark.parametrize("until, code", [("2025-12", 0), ("2026-02", 3)])
def test_reader_gone_keeps_the_commands_code(home, fmt, until, code):
    """Output whose reader went away is quiet, with the command's own code: a table (rich) exited 1,
    "a bug", without a word, and JSON or CSV longer than the pipe's buffer exited 0 where trigger
    exits 3 naming the months without figures (the bundled national figures end at 2025-12)."""
    env = dict(os.environ, CPI_LINK_HOME=str(home))
    p = subprocess.Popen([sys.executable, "-m", "cpi_link", "trigger", "--scheme", "national", "--since", "2016-07",
                          "--until", until, "--format", fmt], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()  # `| head` that already left
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == code, err
    assert "Traceback" not in err and "bug" not in err and ("2026-02" in err) == (code == 3), err
