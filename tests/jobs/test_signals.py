"""Issue 18: SIGTERM, a closed pipe and a full disk end as SPEC 7 says, never as "a bug"."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys

from test_ledger import JAN, job, run_args, visible_runs  # noqa: F401  (job is a fixture)


def _env(job, **extra):
    env = dict(os.environ, CPI_LINK_HOME=str(job["home"]), **extra)
    env.pop("CPI_LINK_CRASH_AT", None)
    return env


def test_sigterm_mid_run_is_interrupted_130_logged_and_leaves_nothing(job):
    # a real SIGTERM to the process after the payments file is written, before the run folder exists
    r = subprocess.run([sys.executable, "-m", "cpi_link", *map(str, run_args(job))], capture_output=True, text=True,
                       timeout=120, env=_env(job, CPI_LINK_SIGTERM_AT="write_payments.parquet"))
    assert r.returncode == 130, r.stderr
    assert "interrupted" in r.stderr and "bug" not in r.stderr and r.stdout == ""
    assert visible_runs(job["home"], "2024-01") == []
    assert not [p for p in (job["home"] / "runs" / "2024-01").iterdir() if p.name.startswith((".tmp-", ".spill-"))]
    assert not list((job["home"] / "ledger" / "months").glob("*.json"))
    log = "".join(p.read_text() for p in (job["home"] / "logs").glob("*.log"))
    assert "interrupted (SIGTERM)" in log
    r = subprocess.run([sys.executable, "-m", "cpi_link", *map(str, run_args(job))], capture_output=True, text=True,
                       timeout=120, env=_env(job))
    assert r.returncode == 0 and json.loads(r.stdout)[0]["total_amount"] == JAN


def test_sigterm_at_the_ledger_step_pays_nothing_half(job):
    r = subprocess.run([sys.executable, "-m", "cpi_link", *map(str, run_args(job))], capture_output=True, text=True,
                       timeout=120, env=_env(job, CPI_LINK_SIGTERM_AT="before_record"))
    assert r.returncode == 130, r.stderr
    assert not list((job["home"] / "ledger" / "months").glob("*.json"))
    r = subprocess.run([sys.executable, "-m", "cpi_link", *map(str, run_args(job))], capture_output=True, text=True,
                       timeout=120, env=_env(job))
    assert r.returncode == 0 and [m["status"] for m in json.loads(r.stdout)] == ["paid"]
    assert len(visible_runs(job["home"], "2024-01")) == 1


def test_closed_stdout_pipe_is_a_quiet_exit(job):
    p = subprocess.Popen([sys.executable, "-m", "cpi_link", "--config", str(job["cfg"]), "series", "--format", "json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(job))
    p.stdout.close()  # like `| head -0`: the reader is gone before anything is written
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 0, err
    assert "bug" not in err and "Traceback" not in err


def _file_size_limit(limit: int):
    def pre():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return pre


def test_disk_limit_while_writing_outputs_is_exit_2_naming_the_cause(job):
    out = job["tmp"] / "out"
    args = ["--config", job["cfg"], "calc", "--month", "2024-01", "--scheme", "t", "--roster", job["roster"],
            "--standards", job["std"], "--out", out]
    r = subprocess.run([sys.executable, "-m", "cpi_link", *map(str, args)], capture_output=True, text=True, timeout=120,
                       env=_env(job), preexec_fn=_file_size_limit(1500))
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "too large" in r.stderr or "disk" in r.stderr
    assert "bug" not in r.stderr
    assert not (out / "manifest.json").exists()
    assert not out.exists() or all(p.name.startswith(".") for p in out.iterdir())


def test_system_error_messages_name_path_and_cause():
    import errno

    from cpi_link.cli.common import system_error

    assert system_error(OSError(errno.ENOSPC, "No space left on device", "/h/runs/x")) == (
        "/h/runs/x: the disk is full (No space left on device); nothing was half-written")
    assert "read-only" in system_error(OSError(errno.EROFS, "Read-only file system", "/h"))
    assert "disk is full" in system_error(OSError("Error writing bytes to file. Detail: [errno 28] No space left on device"))
    assert system_error(OSError(errno.ENOENT, "No such file")) is None


def test_failed_fetch_is_a_logged_warning_when_the_store_has_the_figures(job):
    import shutil

    from cpi_link.core.paths import bundled_config_dir

    text = (bundled_config_dir() / "sources.toml").read_text(encoding="utf-8")
    text = text.replace('fallback = "legacy"', 'fallback = "none"')
    text = "\n".join("tries = 1" if line.startswith("tries =") else
                     "min_gap_seconds = 0" if line.startswith("min_gap_seconds") else line for line in text.splitlines())
    (job["cfg"] / "sources.toml").write_text(text + "\n", encoding="utf-8")
    args = [a for a in run_args(job) if a != "--offline"]
    shutil.rmtree(job["home"] / "logs", ignore_errors=True)
    # nothing listens on port 9 of 127.0.0.1: the portal is unreachable at once
    r = subprocess.run([sys.executable, "-m", "cpi_link", *map(str, args)], capture_output=True, text=True, timeout=120,
                       env=_env(job, CPI_LINK_NBS_URL="http://127.0.0.1:9", CPI_LINK_NBS_ALLOW_HTTP="1"))
    assert r.returncode == 0, r.stderr
    assert "fetch failed" in r.stderr and json.loads(r.stdout)[0]["status"] == "paid"
    log = "".join(p.read_text() for p in (job["home"] / "logs").glob("*.log"))
    assert "WARNING fetch failed" in log and "total=73.00 yuan" in log
    assert log.splitlines()[0][:4].isdigit()  # each line starts with its timestamp


def test_ctrl_c_while_a_parquet_file_is_written_is_interrupted_not_a_bug(job):
    out = job["tmp"] / "out"
    args = ["--config", job["cfg"], "calc", "--month", "2024-01", "--scheme", "t", "--roster", job["roster"],
            "--standards", job["std"], "--out", out]
    r = subprocess.run([sys.executable, "-m", "cpi_link", *map(str, args)], capture_output=True, text=True, timeout=120,
                       env=_env(job, CPI_LINK_SIGINT_AT="write_rejected.parquet"))
    assert r.returncode == 130 and "interrupted (Ctrl-C)" in r.stderr and "bug" not in r.stderr
    assert not out.exists()  # made for this run, removed with it


def test_full_disk_at_the_ledger_step_is_exit_2_and_the_rerun_pays_once(cli, job, monkeypatch):
    import errno

    from cpi_link.jobs.ledger import Ledger

    real = Ledger._write_payments

    def full(self, key, run_id, run_dir, table=None):
        raise OSError(errno.ENOSPC, "No space left on device", str(self.dir / "payments" / key))

    monkeypatch.setattr(Ledger, "_write_payments", full)
    r = cli(*run_args(job))
    assert r.exit_code == 2 and "the disk is full" in r.stderr and "ledger/payments/2024-01" in r.stderr
    assert "bug" not in r.stderr
    assert len(visible_runs(job["home"], "2024-01")) == 1  # whole, not recorded: not paid
    monkeypatch.setattr(Ledger, "_write_payments", real)
    out = cli.json(*run_args(job))
    assert [(m["status"], m["total_amount"]) for m in out] == [("paid", JAN)]
    assert len(visible_runs(job["home"], "2024-01")) == 1  # the same run folder, now recorded
    assert cli("doctor").exit_code == 0
