"""Issue 18: every month paid once: arrears, a tamper-evident ledger, a damaged home refused."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from datetime import date

import pyarrow.parquet as pq
import pytest

from calc_helpers import STANDARDS, make_id, make_job, put_figures

A = make_id("140105", "19500101", "001")
B = make_id("140802", "19500101", "002")
C = make_id("140213", "19500101", "003")
ROSTER = f"person_id,name,category,region_code\n{A},甲,urban_dibao,140105\n{B},乙,rural_dibao,140802\n{C},丙,urban_tekun,140213\n"
# Standards (calc_helpers.STANDARDS): A 140105 -> 140100 urban 870 until 2024-01, own row 900 from 2024-02;
# B 140802 -> province rural 4800/12 = 400; C 140213 -> 140200 urban 770. Scheme t: cpi 3.5 / food 6.0.
JAN = "73.00"  # 2024-01 at 3.6: 870x3.6%=31.32->31, 400x3.6%=14.4->14, 770x3.6%=27.72->28; 31+14+28 = 73


@pytest.fixture
def job(tmp_path, home):
    return make_job(tmp_path, home, ROSTER)


def run_args(job, *extra):
    return ["--config", job["cfg"], "run", "--roster", job["roster"], "--standards", job["std"], "--scheme", "t",
            "--offline", "--format", "json", *extra]


def sub(job, *args, env_extra=None, **kw):
    env = dict(os.environ, CPI_LINK_HOME=str(job["home"]), **(env_extra or {}))
    env.pop("CPI_LINK_CRASH_AT", None) if not env_extra or "CPI_LINK_CRASH_AT" not in env_extra else None
    return subprocess.run([sys.executable, "-m", "cpi_link", *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=120, **kw)


def visible_runs(home, month, folder="runs"):
    d = home / folder / month
    return sorted(p.name for p in d.iterdir() if not p.name.startswith(".")) if d.exists() else []


def ledger_ids(home, month):
    led = home / "ledger"
    rec = json.loads((led / "months" / f"{month}.json").read_text())
    return sorted(i for f in rec["payment_files"] for i in pq.read_table(led / f).column("person_id").to_pylist())


# -- 1. arrears ------------------------------------------------------------------------------------

def test_two_months_arriving_at_once_are_both_paid_in_order(cli, job):
    first = cli.json(*run_args(job))  # empty ledger: the latest month with figures
    assert [(m["month"], m["status"], m["total_amount"]) for m in first] == [("2024-01", "paid", JAN)]
    put_figures(job["home"], "2024-02", cpi="103.6", food="101.0")
    put_figures(job["home"], "2024-03", cpi="100.0", food="106.0")
    out = cli.json(*run_args(job))  # default --since: the month after 2024-01
    # 2024-02 at 3.6 (A's own row 900 from 2024-02): 900x3.6%=32.4->32 + 14 + 28 = 74
    # 2024-03 at 6.0 (food at its threshold): 900x6%=54, 400x6%=24, 770x6%=46.2->46 = 124
    assert [(m["month"], m["status"], m["total_amount"]) for m in out] == [("2024-02", "paid", "74.00"),
                                                                          ("2024-03", "paid", "124.00")]
    assert all(m["stale_figures"] is True for m in out)  # 2024 figures are long overdue by the calendar
    assert ledger_ids(job["home"], "2024-02") == sorted([A, B, C])


def test_stale_figures_by_the_publication_calendar():
    from cpi_link.jobs.monthly import expected_latest_month

    # no date on file for November 2026: national releases fall on the 9th-16th, so its figures are
    # overdue only after 16 December (issue 33: a warning before the release teaches people to ignore it)
    assert expected_latest_month(date(2026, 12, 1)) == "2026-10"
    assert expected_latest_month(date(2026, 12, 16)) == "2026-10"
    assert expected_latest_month(date(2026, 12, 17)) == "2026-11"
    # a date on file decides: 2019-09 was released on 2019-10-15, a Tuesday
    assert expected_latest_month(date(2019, 10, 15)) == "2019-08"
    assert expected_latest_month(date(2019, 10, 16)) == "2019-09"


def test_stale_run_warns_on_stderr(cli, job):
    r = cli(*run_args(job))
    assert r.exit_code == 0 and "stale figures" in r.stderr and "2024-01" in r.stderr
    # issue 34: said when, in Beijing time as people read it (was the machine's ISO time with its offset)
    assert re.search(r"^warning: \d{4}-\d{2}-\d{2} \d{2}:\d{2} stale figures", r.stderr, re.M), r.stderr
    # nothing due: the warning is the month's reason in JSON, English in both languages; said in Chinese on stderr
    zh, en = cli("--lang", "zh", *run_args(job)), cli("--lang", "en", *run_args(job))
    assert zh.stdout == en.stdout and json.loads(zh.stdout)[0]["reason"].startswith("stale figures: the latest month"), zh.stdout
    assert "数据可能过期" in zh.stderr and "stale figures" not in zh.stderr


# -- 2. tamper-evident ledger ------------------------------------------------------------------------

def test_deleted_record_is_refused_reported_and_rebuilt(cli, job):
    cli.json(*run_args(job))
    (job["home"] / "ledger" / "months" / "2024-01.json").unlink()
    r = cli(*run_args(job, "--since", "2024-01"))
    assert r.exit_code == 2 and "cpi-link doctor" in r.stderr and "2024-01" in r.stderr
    d = cli("doctor", "--format", "json")
    assert d.exit_code == 2
    assert any("2024-01" in p["path"] and "missing" in p["problem"] for p in json.loads(d.stdout)["problems"])
    d = cli("doctor", "--repair", "--format", "json")
    assert d.exit_code == 0, d.stderr
    assert [p["repaired"] for p in json.loads(d.stdout)["problems"]][0].startswith("rebuilt from journal")
    out = cli.json(*run_args(job, "--since", "2024-01"))
    assert [m["status"] for m in out] == ["already_done"]  # nobody paid twice
    assert len(visible_runs(job["home"], "2024-01")) == 1


def test_missing_ledger_folder_beside_paid_runs_is_refused(cli, job):
    import shutil

    cli.json(*run_args(job))
    shutil.rmtree(job["home"] / "ledger")
    r = cli(*run_args(job, "--since", "2024-01"))
    assert r.exit_code == 2 and "ledger" in r.stderr and "cpi-link doctor" in r.stderr
    assert not (job["home"] / "ledger").exists()
    d = cli("doctor")
    assert d.exit_code == 2 and "ledger folder is missing" in d.stderr


def test_edited_record_and_broken_chain_are_refused(cli, job):
    cli.json(*run_args(job))
    p = job["home"] / "ledger" / "months" / "2024-01.json"
    rec = json.loads(p.read_text())
    p.write_text(json.dumps(dict(rec, total_fen=1), ensure_ascii=False, indent=2) + "\n")
    r = cli(*run_args(job, "--since", "2024-01"))
    assert r.exit_code == 2 and "differs from the one the journal proves" in r.stderr
    p.write_text(json.dumps(rec, ensure_ascii=False, indent=2) + "\n")  # restored byte for byte: accepted again
    assert cli(*run_args(job, "--since", "2024-01")).exit_code == 0
    j = job["home"] / "ledger" / "journal.jsonl"
    lines = j.read_text().splitlines()
    j.write_text("\n".join(lines[1:]) + "\n")  # the first entry removed
    r = cli(*run_args(job, "--since", "2024-01"))
    assert r.exit_code == 2 and "hash chain broken" in r.stderr
    assert "hash chain broken" in cli("doctor").stderr


def test_deleted_payment_file_is_refused(cli, job):
    cli.json(*run_args(job))
    for f in (job["home"] / "ledger" / "payments" / "2024-01").glob("*.parquet"):
        f.unlink()
    r = cli(*run_args(job, "--since", "2024-01"))
    assert r.exit_code == 2 and "payment file" in r.stderr


def test_empty_record_is_a_damaged_ledger_not_a_bug(cli, job):
    cli.json(*run_args(job))
    (job["home"] / "ledger" / "months" / "2024-01.json").write_text("{}")
    r = cli(*run_args(job, "--since", "2024-01"))
    assert r.exit_code == 2 and "bug" not in r.stderr and "2024-01" in r.stderr
    assert cli("doctor").exit_code == 2


def test_legacy_ledger_without_journal_is_accepted_and_starts_the_chain(cli, job):
    cli.json(*run_args(job))
    led = job["home"] / "ledger"
    (led / "journal.jsonl").unlink()
    p = led / "months" / "2024-01.json"
    rec = json.loads(p.read_text())
    for k in ("chain_prev", "decision", "standards_sha256"):
        rec.pop(k)
    p.write_text(json.dumps(rec, ensure_ascii=False, indent=2) + "\n")  # as a ledger from before wrote it
    m = job["home"] / "runs" / "2024-01" / rec["run_id"] / "manifest.json"
    man = json.loads(m.read_text())
    man.pop("paid_by")
    man.pop("ledger_seal")
    m.write_text(json.dumps(man, ensure_ascii=False, indent=2) + "\n")  # and its run folder
    assert "no journal yet" in cli("doctor").stdout
    out = cli.json(*run_args(job, "--since", "2024-01"))
    assert [m["status"] for m in out] == ["already_done"]
    first = json.loads((led / "journal.jsonl").read_text().splitlines()[0])
    assert first["event"] == "legacy" and "2024-01" in first["records"]
    assert cli("doctor").exit_code == 0


def test_lost_store_file_with_backup_stops_calc_trigger_and_run(cli, job):
    put_figures(job["home"], "2024-01", cpi="103.0", food="101.0")  # an officer's revision: now not triggered
    (job["home"] / "store" / "observations.parquet").unlink()
    for args in (["trigger", "--month", "2024-01", "--scheme", "t"],
                 ["calc", "--month", "2024-01", "--scheme", "t", "--roster", job["roster"], "--standards", job["std"]],
                 run_args(job)[2:]):
        r = cli("--config", job["cfg"], *args)
        assert r.exit_code == 2 and "observations.parquet" in r.stderr and "doctor --repair" in r.stderr, args
    assert not (job["home"] / "runs").exists() or not visible_runs(job["home"], "2024-01")
    assert cli("doctor", "--repair").exit_code == 0
    out = cli.json(*run_args(job))
    assert [m["status"] for m in out] == ["not_triggered"]  # the revised figure, not the bundled or first one


# -- 3. one current run per month --------------------------------------------------------------------

@pytest.mark.parametrize("point", ["before_ledger", "before_record", "after_record", "write_payments.parquet",
                                   "before_rename"])
def test_crash_at_each_commit_step_then_rerun_leaves_one_current_run(job, point):
    r = sub(job, *run_args(job), env_extra={"CPI_LINK_CRASH_AT": point})
    assert r.returncode == -signal.SIGKILL
    r = sub(job, *run_args(job, "--since", "2024-01"))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [(m["month"], m["status"], m["total_amount"]) for m in out] == (
        [("2024-01", "already_done", JAN)] if point == "after_record" else [("2024-01", "paid", JAN)])
    assert len(visible_runs(job["home"], "2024-01")) == 1
    assert ledger_ids(job["home"], "2024-01") == sorted([A, B, C])
    assert not [p for p in (job["home"] / "runs" / "2024-01").iterdir() if p.name.startswith((".tmp-", ".spill-"))]
    assert sub(job, "doctor").returncode == 0


def test_unrecorded_run_folder_of_other_inputs_is_moved_aside(job):
    r = sub(job, *run_args(job), env_extra={"CPI_LINK_CRASH_AT": "before_ledger"})
    assert r.returncode == -signal.SIGKILL
    assert len(visible_runs(job["home"], "2024-01")) == 1  # looks paid, is not
    job["roster"].write_text(ROSTER.rsplit("\n", 2)[0] + "\n", encoding="utf-8")  # C left the roster: a new run id
    r = sub(job, *run_args(job))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["total_amount"] == "45.00"  # 31 + 14
    assert len(visible_runs(job["home"], "2024-01")) == 1
    assert len([p for p in (job["home"] / "unrecorded").iterdir() if p.is_dir()]) == 1  # outside any runs/** glob


def test_rerun_calc_reuses_the_same_run_folder(cli, job):
    args = ["--config", job["cfg"], "calc", "--month", "2024-01", "--scheme", "t", "--roster", job["roster"],
            "--standards", job["std"], "--format", "json"]
    a, b = cli.json(*args), cli.json(*args)
    assert a["run_dir"] == b["run_dir"] and visible_runs(job["home"], "2024-01", "trials") == [a["run_id"]]


def test_three_concurrent_calcs_on_one_home_all_succeed(job):
    args = ["--config", job["cfg"], "calc", "--month", "2024-01", "--scheme", "t", "--roster", job["roster"],
            "--standards", job["std"], "--format", "json"]
    env = dict(os.environ, CPI_LINK_HOME=str(job["home"]))
    procs = [subprocess.Popen([sys.executable, "-m", "cpi_link", *map(str, args)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]
    assert [rc for rc, _, _ in results] == [0, 0, 0], [e for _, _, e in results]
    outs = [json.loads(o) for _, o, _ in results]
    assert {o["total_amount"] for o in outs} == {JAN}
    assert len(visible_runs(job["home"], "2024-01", "trials")) == 1  # the same inputs: one trial folder, reused
    assert not [p for p in (job["home"] / "trials" / "2024-01").iterdir() if p.name.startswith((".tmp-", ".spill-"))]


def test_out_inside_a_sticky_world_writable_folder_changes_nothing_outside(cli, job):
    shared = job["tmp"] / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    (shared / "other.txt").write_text("x")
    r = cli("--config", job["cfg"], "calc", "--month", "2024-01", "--scheme", "t", "--roster", job["roster"],
            "--standards", job["std"], "--out", shared / "run")
    assert r.exit_code == 0, r.stderr
    assert oct(os.stat(shared).st_mode & 0o7777) == "0o1777"
    assert sorted(p.name for p in shared.iterdir()) == ["other.txt", "run"]
    assert sorted(p.name for p in (shared / "run").iterdir()) == ["manifest.json", "payments.parquet", "rejected.parquet",
                                                                  "summary.parquet"]
    assert oct(os.stat(shared / "run" / "payments.parquet").st_mode & 0o777) == "0o600"


def test_symlinked_out_is_followed(cli, job):
    target = job["tmp"] / "target"
    target.mkdir()
    link = job["tmp"] / "link"
    link.symlink_to(target)
    r = cli("--config", job["cfg"], "calc", "--month", "2024-01", "--scheme", "t", "--roster", job["roster"],
            "--standards", job["std"], "--out", link)
    assert r.exit_code == 0, r.stderr
    assert (target / "manifest.json").exists() and link.is_symlink()
    dangling = job["tmp"] / "dangling"
    dangling.symlink_to(job["tmp"] / "nowhere" / "x")
    r = cli("--config", job["cfg"], "calc", "--month", "2024-01", "--scheme", "t", "--roster", job["roster"],
            "--standards", job["std"], "--out", dangling)
    assert r.exit_code == 2 and "symlink" in r.stderr


def test_emptied_ledger_folder_beside_paid_runs_is_refused(cli, job):
    import shutil

    cli.json(*run_args(job))
    for p in (job["home"] / "ledger").iterdir():
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    r = cli(*run_args(job, "--since", "2024-01"))
    assert r.exit_code == 2 and "journal" in r.stderr and "cpi-link doctor" in r.stderr
    assert cli("doctor").exit_code == 2
