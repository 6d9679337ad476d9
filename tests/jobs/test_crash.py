"""SIGKILL of a real `calc`/`run` at each crash point (issue 7), and store/ledger integrity.

Crash points (env CPI_LINK_CRASH_AT; cpi_link.ledger.crashpoint):
  calc: calc_after_read (roster read, nothing written), write_payments.parquet,
        write_rejected.parquet, write_summary.parquet (each output written into the temp folder),
        before_rename (every file and the manifest written, not yet renamed into place);
  ledger (tests/jobs/test_run.py covers run's before_ledger, before_record, after_record):
        before_record of a supplement (its ledger payment file written, the record not updated).
A killed calc leaves the run folder whole or absent; a killed run or supplement is completed by
the next one and nobody is paid twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from calc_helpers import STANDARDS, make_id, put_figures, write_scheme

A = make_id("140105", "19500101", "001")
B = make_id("140802", "19500101", "002")
C = make_id("140202", "19500101", "003")
D = make_id("140105", "19700101", "004")
ROSTER = (f"person_id,name,category,region_code\n{A},甲,urban_dibao,140105\n{B},乙,rural_dibao,140802\n"
          f"{C},丙,urban_tekun,140213\n,无号,urban_dibao,140105\n")
CALC_POINTS = ["calc_after_read", "write_payments.parquet", "write_rejected.parquet", "write_summary.parquet", "before_rename"]
OUTPUTS = {"payments.parquet", "rejected.parquet", "summary.parquet", "manifest.json"}


@pytest.fixture
def job(tmp_path, home):
    cfg = tmp_path / "cfg"
    (cfg / "schemes").mkdir(parents=True)
    write_scheme(cfg / "schemes", name="t")
    put_figures(home, "2024-01", cpi="103.6", food="101.0")  # 73.00 for A, B, C
    put_figures(home, "2024-02", cpi="103.0", food="106.0")  # 54 + 24 + 46 = 124.00 (A's 140105 row from 2024-02: 900)
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    (tmp_path / "std.csv").write_text(STANDARDS, encoding="utf-8")
    return {"cfg": cfg, "roster": tmp_path / "roster.csv", "std": tmp_path / "std.csv", "home": home, "tmp": tmp_path}


def cpi(job, *args, crash: str | None = None):
    env = dict(os.environ, CPI_LINK_HOME=str(job["home"]))
    env.pop("CPI_LINK_CRASH_AT", None)
    if crash:
        env["CPI_LINK_CRASH_AT"] = crash
    return subprocess.run([sys.executable, "-m", "cpi_link", "--config", str(job["cfg"]), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("point", CALC_POINTS)
def test_killed_calc_leaves_outputs_whole_or_absent(cli, job, point):
    out = job["tmp"] / "out"
    args = ["calc", "--month", "2024-01", "--scheme", "t", "--roster", job["roster"], "--standards", job["std"],
            "--format", "json"]
    r = cpi(job, *args, "--out", out, crash=point)
    assert r.returncode == -signal.SIGKILL, r.stderr
    # absent, not half: at most the killed run's hidden temp folders inside --out (never beside it)
    assert not out.exists() or all(p.name.startswith(".") for p in out.iterdir())
    assert {p.name for p in out.parent.iterdir() if p.name.startswith(".")} == set()
    # the default destination too: no trial folder under HOME/trials, only hidden leftovers
    r = cpi(job, *args, crash=point)
    assert r.returncode == -signal.SIGKILL
    runs = job["home"] / "trials"
    assert not [p for p in runs.rglob("manifest.json") if not any(s.startswith(".") for s in p.relative_to(runs).parts)]
    # every crash point is after the month's folder was made (the spill folder is in it): only hidden leftovers there
    left = list((runs / "2024-01").iterdir())
    assert left and all(p.name.startswith(".") for p in left), left
    # the next calc completes, whole
    r = cli("--config", job["cfg"], *args, "--out", out)
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    assert {p.name for p in out.iterdir()} == OUTPUTS
    assert res["total_amount"] == "73.00" and res["paid_rows"] == 3 and res["rejected_rows"] == 1
    manifest = json.loads((out / "manifest.json").read_text())
    from cpi_link.core.atomic import sha256_file

    assert all(sha256_file(out / n) == m["sha256"] for n, m in manifest["outputs"].items())


def test_run_killed_while_writing_outputs_is_completed_by_the_next(job):
    args = ["run", "--roster", job["roster"], "--standards", job["std"], "--scheme", "t", "--offline", "--since", "2024-01",
            "--format", "json"]
    r = cpi(job, *args, crash="write_rejected.parquet")
    assert r.returncode == -signal.SIGKILL
    months = job["home"] / "ledger" / "months"
    assert not months.exists() or not list(months.glob("*.json"))
    r = cpi(job, *args)
    assert r.returncode == 0, r.stderr
    assert [(m["month"], m["status"], m["total_amount"]) for m in json.loads(r.stdout)] == [
        ("2024-01", "paid", "73.00"), ("2024-02", "paid", "124.00")]
    for m in ("2024-01", "2024-02"):
        rec = json.loads((months / f"{m}.json").read_text())
        ids = [i for f in rec["payment_files"] for i in pq.read_table(job["home"] / "ledger" / f).column("person_id").to_pylist()]
        assert sorted(ids) == sorted([A, B, C])
    r = cpi(job, *args)
    assert [m["status"] for m in json.loads(r.stdout)] == ["already_done", "already_done"]


def test_supplement_killed_before_its_record_pays_nobody_twice(job):
    from cpi_link.jobs.ledger import Ledger
    from cpi_link.core.paths import Home

    r = cpi(job, "run", "--roster", job["roster"], "--standards", job["std"], "--scheme", "t", "--offline", "--since", "2024-01",
            "--format", "json")
    assert r.returncode == 0, r.stderr
    extra = job["tmp"] / "extra.csv"
    extra.write_text(f"person_id,name,category,region_code\n{A},甲,urban_dibao,140105\n{D},丁,urban_dibao,140105\n", encoding="utf-8")
    sup = ["calc", "--supplement", "--month", "2024-01", "--scheme", "t", "--roster", extra, "--standards", job["std"],
           "--format", "json"]
    r = cpi(job, *sup, crash="before_record")
    assert r.returncode == -signal.SIGKILL
    led = Ledger(Home(job["home"]))
    assert sorted(led.paid_ids("2024-01")) == sorted([A, B, C])  # the crashed supplement is not counted
    r = cpi(job, *sup)
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["paid_rows"] == 1 and res["rejected_by_reason"] == {"already_paid": 1}
    assert sorted(led.paid_ids("2024-01")) == sorted([A, B, C, D])  # each once
    rec = led.record("2024-01")
    assert len(rec["supplements"]) == 1 and rec["total_fen"] == 7300 + 3100


# -- store and ledger integrity ------------------------------------------------------------


def test_truncated_store_is_named_never_overwritten_and_doctor_repairs_it(cli, job):
    obs = job["home"] / "store" / "observations.parquet"
    bak = obs.with_name("observations.parquet.bak")
    assert bak.exists()
    good = bak.read_bytes()
    damaged = obs.read_bytes()[: obs.stat().st_size // 2]
    obs.write_bytes(damaged)
    for args in (["series", "--region", "140000"], ["trigger", "--scheme", "t", "--month", "2024-01"],
                 ["fetch", "--source", "file", "--file", job["tmp"] / "figs.csv"]):
        (job["tmp"] / "figs.csv").write_text("region_code,month,indicator,value\n140000,2024-03,cpi,101.0\n")
        r = cli("--config", job["cfg"], *args)
        assert r.exit_code == 2, (args, r.stderr)
        assert str(obs) in r.stderr and "damaged" in r.stderr and "doctor --repair" in r.stderr
        assert obs.read_bytes() == damaged  # never silently overwritten
    r = cli("doctor")
    assert r.exit_code == 2 and str(obs) in r.stderr and "--repair" in r.stderr
    r = cli("doctor", "--repair", "--format", "json")
    assert r.exit_code == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["ok"] and rep["problems"][0]["repaired"].startswith("restored from observations.parquet.bak")
    assert obs.read_bytes() == good
    kept = list(obs.parent.glob("observations.parquet.damaged-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == damaged
    assert cli("--config", job["cfg"], "trigger", "--scheme", "t", "--month", "2024-01").exit_code == 0
    assert cli("doctor").exit_code == 0


def test_garbage_store_without_backup_is_named_and_left_alone(cli, job):
    obs = job["home"] / "store" / "observations.parquet"
    obs.with_name("observations.parquet.bak").unlink()
    obs.write_bytes(b"not parquet at all")
    r = cli("--config", job["cfg"], "trigger", "--scheme", "t", "--month", "2024-01")
    assert r.exit_code == 2 and str(obs) in r.stderr
    r = cli("doctor", "--repair")
    assert r.exit_code == 2 and "no last good copy" in r.stderr
    assert obs.read_bytes() == b"not parquet at all"


def test_damaged_ledger_record_stops_run_naming_it(cli, job):
    args = ["--config", job["cfg"], "run", "--roster", job["roster"], "--standards", job["std"], "--scheme", "t", "--offline",
            "--since", "2024-01", "--format", "json"]
    assert cli(*args).exit_code == 0
    rec = job["home"] / "ledger" / "months" / "2024-01.json"
    text = rec.read_text()
    rec.write_text(text[: len(text) // 2])
    r = cli(*args)
    assert r.exit_code == 2, r.stderr
    assert str(rec) in r.stderr and "Traceback" not in r.stderr
    assert rec.read_text() == text[: len(text) // 2]  # not overwritten
    assert not list((job["home"] / "runs" / "2024-01").glob("*.2"))  # nothing recomputed behind its back
    r = cli("doctor")
    assert r.exit_code == 2 and "2024-01.json" in r.stderr and "damaged month record" in r.stderr
    rec.write_text(text)
    assert cli("doctor").exit_code == 0


def test_doctor_names_changed_run_outputs_and_damaged_ledger_payments(cli, job):
    args = ["--config", job["cfg"], "run", "--roster", job["roster"], "--standards", job["std"], "--scheme", "t", "--offline",
            "--since", "2024-01", "--format", "json"]
    out = json.loads(cli(*args).stdout)
    run_dir = Path(out[0]["run_dir"])
    run_dir = run_dir if run_dir.is_absolute() else job["home"] / run_dir
    summary = run_dir / "summary.parquet"
    os.chmod(summary, 0o600)
    summary.write_bytes(summary.read_bytes() + b"x")
    pay = next((job["home"] / "ledger" / "payments" / "2024-02").glob("*.parquet"))
    pay.write_bytes(b"PAR1")
    r = cli("doctor", "--format", "json")
    assert r.exit_code == 2
    problems = {(p["area"], Path(p["path"]).name) for p in json.loads(r.stdout)["problems"]}
    assert problems == {("run", "summary.parquet"), ("ledger", pay.name)}
    r = cli("--config", job["cfg"], "calc", "--supplement", "--month", "2024-02", "--roster", job["roster"], "--standards",
            job["std"], "--scheme", "t")
    assert r.exit_code == 2 and str(pay) in r.stderr


def test_doctor_notes_a_killed_runs_working_folders(cli, job):
    """A calc killed mid-way may leave its private working folders; doctor lists them as such."""
    month = job["home"] / "runs" / "2024-01"
    for name in (".spill-2024-01-abc", ".first-pass-def", ".tmp-2024-01-xyz-123"):
        (month / name).mkdir(parents=True)
        (month / name / "keys-0.bin").write_bytes(b"\0" * 24)
    r = cli("doctor", "--format", "json")
    assert r.exit_code == 0, r.stdout
    notes = json.loads(r.stdout)["notes"]
    for name in (".spill-2024-01-abc", ".first-pass-def", ".tmp-2024-01-xyz-123"):
        assert any(name in n and "interrupted run" in n for n in notes), (name, notes)
