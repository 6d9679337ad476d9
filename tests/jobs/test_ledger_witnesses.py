"""Issue 30: a ledger that cannot be fooled. Every payment has two witnesses, the journal and the
paid run folder (sealed with its journal entry); each case below is tried as a cron operator or an
attacker with write access to the home would, through real `cpi-link` processes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from decimal import Decimal
from pathlib import Path

from calc_helpers import STANDARDS, make_id, make_job, put_figures

A = make_id("140105", "19500101", "001")
B = make_id("140802", "19500101", "002")
C = make_id("140213", "19500101", "003")
ROSTER = f"person_id,name,category,region_code\n{A},甲,urban_dibao,140105\n{B},乙,rural_dibao,140802\n{C},丙,urban_tekun,140213\n"
# calc_helpers.STANDARDS: A 140105 -> 140100 urban 870 until 2024-01, its own row 900 from 2024-02;
# B 140802 -> province rural 4800/12 = 400; C 140213 -> 140200 urban 770. Scheme t: cpi 3.5 / food 6.0.
JAN = "73.00"  # 2024-01 at 3.6%: 870x3.6%=31.32->31, 400x3.6%=14.4->14, 770x3.6%=27.72->28
FEB = "74.00"  # 2024-02 at 3.6%: 900x3.6%=32.4->32, 14, 28
MAR = "124.00"  # 2024-03 at 6.0% (food): 900x6%=54, 400x6%=24, 770x6%=46.2->46


@pytest.fixture
def job(tmp_path, home):
    return make_job(tmp_path, home, ROSTER)


def cpi(job, *args, preexec=None):
    env = dict(os.environ, CPI_LINK_HOME=str(job["home"]), COLUMNS="200", NO_COLOR="1")
    for k in ("CPI_LINK_CRASH_AT", "CPI_LINK_SIGTERM_AT", "CPI_LINK_SIGINT_AT", "CPI_LINK_ANCHOR"):
        env.pop(k, None)
    return subprocess.run([sys.executable, "-m", "cpi_link", *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=180, preexec_fn=preexec)


def run(job, *extra, preexec=None):
    return cpi(job, "--config", job["cfg"], "run", "--roster", job["roster"], "--standards", job["std"], "--scheme", "t",
               "--offline", "--format", "json", *extra, preexec=preexec)


def paid(job, *extra):
    r = run(job, *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def months(out):
    return [(m["month"], m["status"], m["total_amount"]) for m in out]


def runs_of(home, month):
    d = home / "runs" / month
    return sorted(p for p in d.iterdir() if not p.name.startswith(".")) if d.exists() else []


def manifest(folder):
    return json.loads((folder / "manifest.json").read_text())


def two_months(job):
    paid(job)
    put_figures(job["home"], "2024-02", cpi="103.6", food="101.0")
    assert months(paid(job)) == [("2024-02", "paid", FEB)]


def refused(r, *words):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "cpi-link doctor" in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr, (w, r.stderr)


# -- 1. two witnesses: the journal and the sealed run folder -----------------------------------------

def test_paid_folder_is_sealed_with_its_journal_entry(job):
    out = paid(job)
    folder = job["home"] / "runs" / "2024-01" / out[0]["run_id"]
    man = manifest(folder)
    seal = man["ledger_seal"]
    lines = (job["home"] / "ledger" / "journal.jsonl").read_text().splitlines()
    entry = json.loads(lines[seal["seq"] - 1])
    assert seal["hash"] == entry["hash"] and seal["entry"] == entry
    info = entry["runs"][out[0]["run_id"]]
    assert info["payments_sha256"] == man["outputs"]["payments.parquet"]["sha256"]
    assert (info["month"], info["paid_rows"], info["total_amount"]) == ("2024-01", 3, JAN)


def test_preview_then_run_then_lost_ledger_never_pays_twice(job):
    c = cpi(job, "--config", job["cfg"], "calc", "--month", "2024-01", "--scheme", "t", "--roster", job["roster"],
            "--standards", job["std"], "--format", "json")
    assert c.returncode == 0, c.stderr
    out = paid(job)
    folder = Path(out[0]["run_dir"])
    assert folder.parent == job["home"] / "runs" / "2024-01" and folder.name.startswith(out[0]["run_id"])
    man = manifest(folder)
    assert man["paid_by"] == "run" and "ledger_seal" in man  # run wrote its own folder, never adopted the preview's
    previews = [p for p in (job["home"] / "runs" / "2024-01").iterdir() if p != folder and not p.name.startswith(".")]
    assert all("paid_by" not in manifest(p) and "ledger_seal" not in manifest(p) for p in previews)
    shutil.rmtree(job["home"] / "ledger")
    refused(run(job, "--since", "2024-01"), "ledger")
    d = cpi(job, "doctor")
    assert d.returncode == 2 and "ledger folder is missing" in d.stderr
    assert manifest(folder)["paid_by"] == "run"  # still a paid folder


def test_ledger_restored_from_an_older_backup_stops_and_is_repaired_from_the_folders(job):
    paid(job)
    backup = job["tmp"] / "ledger-backup"
    shutil.copytree(job["home"] / "ledger", backup)
    put_figures(job["home"], "2024-02", cpi="103.6", food="101.0")
    assert months(paid(job)) == [("2024-02", "paid", FEB)]
    shutil.rmtree(job["home"] / "ledger")
    shutil.copytree(backup, job["home"] / "ledger")  # the journal's last entry and its month record gone
    refused(run(job), "sealed by journal entry 3", "holds 2 entries")
    assert len(runs_of(job["home"], "2024-02")) == 1 and not (job["home"] / "unrecorded").exists()
    d = cpi(job, "doctor", "--format", "json")
    assert d.returncode == 2
    d = cpi(job, "doctor", "--repair", "--format", "json")
    assert d.returncode == 0, d.stderr
    repaired = [p["repaired"] for p in json.loads(d.stdout)["problems"]]
    assert any(r.startswith("put back from the run folder") for r in repaired), repaired
    assert any(r.startswith("rebuilt from journal entry 3") for r in repaired), repaired
    assert cpi(job, "doctor").returncode == 0
    assert months(paid(job, "--since", "2024-01")) == [("2024-01", "already_done", JAN), ("2024-02", "already_done", FEB)]
    assert len(runs_of(job["home"], "2024-02")) == 1


def test_emptied_journal_pays_nothing_again(job):
    two_months(job)
    led = job["home"] / "ledger"
    (led / "journal.jsonl").write_bytes(b"")
    refused(run(job, "--since", "2024-01"))
    for f in (led / "months").glob("*.json"):
        f.unlink()  # and the records: only the sealed folders remember
    refused(run(job, "--since", "2024-01"), "sealed by journal entry", "holds 0 entries")
    assert cpi(job, "doctor").returncode == 2
    assert [len(runs_of(job["home"], m)) for m in ("2024-01", "2024-02")] == [1, 1]


def test_forged_record_chained_to_the_head_is_refused(job):
    paid(job)
    put_figures(job["home"], "2024-02", cpi="103.6", food="101.0")
    led = job["home"] / "ledger"
    head = json.loads((led / "journal.jsonl").read_text().splitlines()[-1])["hash"]
    rec = json.loads((led / "months" / "2024-01.json").read_text())
    forged = dict(rec, month="2024-02", run_id="2024-02-forged", run_dir=str(job["home"] / "runs" / "2024-02" / "x"),
                  payment_files=rec["payment_files"], chain_prev=head)
    (led / "months" / "2024-02.json").write_text(json.dumps(forged, ensure_ascii=False, indent=2) + "\n")
    refused(run(job), "2024-02", "no run folder proves it")
    assert runs_of(job["home"], "2024-02") == []
    d = cpi(job, "doctor")
    assert d.returncode == 2 and "no run folder proves it" in d.stderr
    (led / "months" / "2024-02.json").unlink()
    assert months(paid(job)) == [("2024-02", "paid", FEB)]  # the month is paid, once, when the forgery is gone


def test_amount_set_to_zero_and_entry_rehashed_is_caught_by_the_seal(job):
    from cpi_link.jobs.ledger import entry_hash

    out = paid(job)
    led = job["home"] / "ledger"
    f = led / "payments" / "2024-01" / f"{out[0]['run_id']}.parquet"
    t = pq.read_table(f)
    i = t.schema.get_field_index("amount")
    t = t.set_column(i, t.schema.field(i), pa.array([Decimal(0)] * t.num_rows, t.schema.field(i).type))
    pq.write_table(t, f)
    j = led / "journal.jsonl"
    lines = j.read_text().splitlines()
    e = json.loads(lines[-1])
    from cpi_link.core.atomic import sha256_file

    e["payment_files"] = {k: sha256_file(led / k) for k in e["payment_files"]}
    e["hash"] = entry_hash(e)  # the public recipe
    lines[-1] = json.dumps(e, ensure_ascii=False, separators=(",", ":"))
    j.write_text("\n".join(lines) + "\n")
    refused(run(job, "--since", "2024-01"), "sealed by journal entry 2")
    refused(run(job, "--redo", "2024-01", "--reason", "again"))
    assert cpi(job, "doctor").returncode == 2
    assert len(runs_of(job["home"], "2024-01")) == 1


def test_outputs_replaced_by_another_months_are_refused_by_report_run_and_doctor(job):
    two_months(job)
    jan, feb = runs_of(job["home"], "2024-01")[0], runs_of(job["home"], "2024-02")[0]
    man, other = manifest(jan), manifest(feb)
    for name in ("payments.parquet", "summary.parquet", "rejected.parquet"):
        shutil.copy(feb / name, jan / name)
        man["outputs"][name] = other["outputs"][name]
    man["counts"] = other["counts"]
    (jan / "manifest.json").write_text(json.dumps(man, ensure_ascii=False, indent=2) + "\n")
    r = cpi(job, "report", jan, "--bank", "generic-csv", "--bank-out", job["tmp"] / "bank.csv")
    assert r.returncode == 2 and "differ from what the ledger's journal entry" in r.stderr, r.stderr
    assert not (job["tmp"] / "bank.csv").exists()
    refused(run(job), "payments or totals differ")
    d = cpi(job, "doctor")
    assert d.returncode == 2 and str(jan) in d.stderr


def test_swapped_month_folders_are_reported(job):
    two_months(job)
    jan, feb = runs_of(job["home"], "2024-01")[0], runs_of(job["home"], "2024-02")[0]
    tmp = job["tmp"] / "swap"
    os.rename(jan, tmp)
    os.rename(feb, jan)
    os.rename(tmp, feb)
    d = cpi(job, "doctor")
    assert d.returncode == 2 and "swapped or replaced" in d.stderr, d.stderr
    refused(run(job), "swapped or replaced")


def test_report_refuses_a_paid_folder_the_ledger_never_recorded(job):
    r = run(job, "--since", "2024-01")
    assert r.returncode == 0
    folder = runs_of(job["home"], "2024-01")[0]
    man = manifest(folder)
    man.pop("ledger_seal")
    man["run_id"] = "2024-01-notrecorded"
    (folder / "manifest.json").write_text(json.dumps(man, ensure_ascii=False, indent=2) + "\n")
    r = cpi(job, "report", folder)
    assert r.returncode == 2 and "does not record run" in r.stderr


def test_anchor_outside_home_catches_a_cut_journal(job):
    anchor = job["tmp"] / "elsewhere" / "anchor.json"
    anchor.parent.mkdir()
    paid(job, "--anchor", anchor)
    put_figures(job["home"], "2024-02", cpi="103.6", food="101.0")
    paid(job, "--anchor", anchor)
    a = json.loads(anchor.read_text())
    led = job["home"] / "ledger"
    assert a["seq"] == 3 and a["hash"] == json.loads((led / "journal.jsonl").read_text().splitlines()[-1])["hash"]
    # the last entry, its record, and the seal in its folder removed: only the anchor remembers
    lines = (led / "journal.jsonl").read_text().splitlines()
    (led / "journal.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    (led / "months" / "2024-02.json").unlink()
    feb = runs_of(job["home"], "2024-02")[0]
    man = manifest(feb)
    man.pop("ledger_seal")
    (feb / "manifest.json").write_text(json.dumps(man, ensure_ascii=False, indent=2) + "\n")
    refused(run(job, "--anchor", anchor), "anchor")
    d = cpi(job, "doctor", "--anchor", anchor)
    assert d.returncode == 2 and "anchor" in d.stderr


# -- 3. appends whole or absent ------------------------------------------------------------------------

def _cut_last_append(job, keep_seal: bool):
    """The journal's last line cut mid-record, as a full disk or a kill leaves it (and the seal that follows
    it not yet written, unless keep_seal)."""
    if not keep_seal:
        feb = runs_of(job["home"], "2024-02")[0]
        man = manifest(feb)
        man.pop("ledger_seal")
        (feb / "manifest.json").write_text(json.dumps(man, ensure_ascii=False, indent=2) + "\n")
    j = job["home"] / "ledger" / "journal.jsonl"
    j.write_bytes(j.read_bytes()[:-200])


def test_torn_journal_line_is_rolled_back_and_the_month_completed(job):
    two_months(job)
    _cut_last_append(job, keep_seal=False)
    d = cpi(job, "doctor")
    assert d.returncode == 0 and "cut short" in d.stdout and "next run or cpi-link doctor --repair rolls it back" in d.stdout
    out = paid(job, "--since", "2024-01")
    assert months(out) == [("2024-01", "already_done", JAN), ("2024-02", "already_done", FEB)]
    assert list((job["home"] / "ledger").glob("journal.torn-*"))
    assert "ledger_seal" in manifest(runs_of(job["home"], "2024-02")[0])
    assert cpi(job, "doctor").returncode == 0
    assert len(runs_of(job["home"], "2024-02")) == 1


def test_cut_journal_with_the_seal_written_is_put_back_by_doctor_repair(job):
    two_months(job)
    _cut_last_append(job, keep_seal=True)
    refused(run(job, "--since", "2024-01"), "sealed by journal entry 3")
    d = cpi(job, "doctor", "--repair", "--format", "json")
    assert d.returncode == 0, d.stderr
    assert cpi(job, "doctor").returncode == 0
    assert months(paid(job, "--since", "2024-01")) == [("2024-01", "already_done", JAN), ("2024-02", "already_done", FEB)]


def _fsize(limit):
    def set_limit():
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return set_limit


def test_file_size_limit_at_the_journal_append_is_never_a_permanent_stop(job):
    # enough paid months that the journal outgrows every other file (payments files carry their
    # columns' descriptions: about 15 KB each)
    for m in [f"2024-{i:02d}" for i in range(2, 13)]:
        put_figures(job["home"], m, cpi="103.6", food="101.0")
    assert [s for _m, s, _t in months(paid(job, "--since", "2024-01"))] == ["paid"] * 12
    put_figures(job["home"], "2025-01", cpi="103.6", food="101.0")
    j = job["home"] / "ledger" / "journal.jsonl"
    biggest_other = max(p.stat().st_size for p in job["home"].rglob("*") if p.is_file() and p != j)
    size = j.stat().st_size
    assert size > biggest_other + 3000, (size, biggest_other)  # so the limit bites at the journal, not before
    r = run(job, preexec=_fsize(size + 100))
    assert r.returncode == 2 and "journal.jsonl" in r.stderr and "bug" not in r.stderr, r.stderr
    assert j.stat().st_size == size  # the cut line was taken back at once
    out = paid(job, "--since", "2025-01")
    assert months(out) == [("2025-01", "already_done", FEB)]  # completed from its record, paid once
    assert cpi(job, "doctor").returncode == 0
    assert len(runs_of(job["home"], "2025-01")) == 1


# free bytes left: the run folder's writes fail up to about 44 KiB, the ledger's steps (payment file, record,
# journal line, seal) in the 4 KiB pages after it, and from about 60 KiB the run completes
LEVELS = [0, 16384] + list(range(36 * 1024, 80 * 1024, 4096))  # up past the last write of a paid run: raised when its files grow

SWEEP = r'''
import json, os, shutil, subprocess, sys
mnt, src, levels, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
out = []
for free in levels:
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt], check=True)
    home = os.path.join(mnt, "home")
    shutil.copytree(src, home, symlinks=True)
    filler = os.path.join(mnt, "filler")
    with open(filler, "wb", buffering=0) as fh:
        for chunk in (1 << 20, 4096):
            try:
                while True:
                    fh.write(b"\0" * chunk)
            except OSError:
                pass
    size = os.path.getsize(filler)
    os.truncate(filler, max(0, size - free))
    env = dict(os.environ, CPI_LINK_HOME=home)
    first = subprocess.run(args, env=env, capture_output=True, text=True)
    os.unlink(filler)
    second = subprocess.run(args + ["--since", "2024-02"], env=env, capture_output=True, text=True)
    doctor = subprocess.run(args[:3] + ["doctor"], env=env, capture_output=True, text=True)
    visible = sorted(p for p in os.listdir(os.path.join(home, "runs", "2024-02")) if not p.startswith(".")) \
        if os.path.isdir(os.path.join(home, "runs", "2024-02")) else []
    out.append({"free": free, "first": [first.returncode, first.stderr], "second": [second.returncode, second.stdout, second.stderr],
                "doctor": [doctor.returncode, doctor.stderr], "visible": visible})
    subprocess.run(["umount", mnt], check=True)
print(json.dumps(out))
'''


@pytest.mark.slow
def test_full_disk_at_every_step_of_run_is_completed_by_the_next_run(job):
    """A tmpfs of its own (a user and mount namespace), filled to leave 0 to 68 KiB free: every step
    of `run` (run folder, ledger payment file, record, journal line, seal, log) meets a full disk at some level."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-r", "-m", "true"]).returncode != 0:
        pytest.skip("no user and mount namespaces here for a small tmpfs")
    paid(job)
    put_figures(job["home"], "2024-02", cpi="103.6", food="101.0")
    mnt = job["tmp"] / "mnt"
    mnt.mkdir()
    script = job["tmp"] / "sweep.py"
    script.write_text(SWEEP)
    args = [sys.executable, "-m", "cpi_link", "--config", str(job["cfg"]), "run", "--roster", str(job["roster"]),
            "--standards", str(job["std"]), "--scheme", "t", "--offline", "--format", "json"]
    levels = LEVELS
    r = subprocess.run(["unshare", "-r", "-m", sys.executable, script, str(mnt), str(job["home"]), json.dumps(levels),
                        json.dumps(args)], capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, r.stderr
    firsts = set()
    for lv in json.loads(r.stdout):
        code, err = lv["first"]
        assert code in (0, 2) and "Traceback" not in err and "bug" not in err, lv
        firsts.add(code)
        code, out, err = lv["second"]
        assert code == 0, lv
        assert months(json.loads(out)) in ([("2024-02", "paid", FEB)], [("2024-02", "already_done", FEB)]), lv
        assert lv["doctor"][0] == 0, lv
        assert len(lv["visible"]) == 1, lv
    assert firsts == {0, 2}  # the sweep reached past the last write


# -- 4. the lock and the home ----------------------------------------------------------------------------

def test_lock_survives_its_files_being_deleted(job):
    from cpi_link.core.paths import Home
    from cpi_link.jobs.ledger import RunLock

    with RunLock(Home(job["home"])):  # held by this process, as a running job holds it
        for p in job["home"].glob("run.lock*"):
            p.unlink()
        r = run(job)
        assert r.returncode == 4 and "holds the lock" in r.stderr, r.stderr
    assert months(paid(job)) == [("2024-01", "paid", JAN)]


def test_set_aside_folders_unique_and_private_under_umask_000(job):
    def crash_env(point):
        def pre():
            os.umask(0)
        env = dict(os.environ, CPI_LINK_HOME=str(job["home"]), CPI_LINK_CRASH_AT=point)
        return subprocess.run([sys.executable, "-m", "cpi_link", "--config", job["cfg"], "run", "--roster", job["roster"],
                               "--standards", job["std"], "--scheme", "t", "--offline"], env=env, capture_output=True,
                              preexec_fn=pre, timeout=180)

    for _ in range(2):  # the same run stopped twice before its record: two folders of one name set aside
        assert crash_env("before_record").returncode < 0
    r = run(job, preexec=lambda: os.umask(0))
    assert r.returncode == 0, r.stderr
    aside = job["home"] / "unrecorded"
    folders = [p for p in aside.iterdir() if p.is_dir()]
    notes = list(aside.glob("*.why.txt"))
    assert len(folders) == 2 and len(notes) == 2
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in notes)
    assert (job["home"] / "store" / ".store.lock").stat().st_mode & 0o777 == 0o600
    assert len(runs_of(job["home"], "2024-01")) == 1


@pytest.mark.parametrize("link", ["runs/2024-01", "logs", "ledger/payments/2024-01"])
def test_symlink_inside_home_is_refused_naming_it(job, link):
    paid(job)
    target = job["home"] / link
    outside = job["tmp"] / "outside"
    shutil.move(str(target), outside)
    target.symlink_to(outside, target_is_directory=True)
    before = sorted(p.name for p in outside.iterdir())
    r = run(job, "--since", "2024-01")
    assert r.returncode == 2 and str(target) in r.stderr and "symbolic link" in r.stderr, r.stderr
    d = cpi(job, "doctor")
    assert d.returncode == 2 and "symbolic link" in d.stderr
    assert sorted(p.name for p in outside.iterdir()) == before  # nothing written through the link by run or doctor
    assert not list(outside.glob("run-*.log"))[1:]  # nothing more written through the link


def rewrite_keeping_size(f: Path, table: pa.Table) -> None:
    """Write `table` to `f` as Parquet padded (an extra text column) to the file's old size, mtime put back."""
    st = f.stat()
    pad = 0
    for _ in range(6):
        filler = pa.array(["x" * pad] + [""] * (table.num_rows - 1))
        pq.write_table(table.append_column("filler", filler), f, compression="none", use_dictionary=False,
                       write_statistics=False)
        diff = st.st_size - f.stat().st_size
        if diff == 0:
            break
        pad += diff
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert f.stat().st_size == st.st_size and f.stat().st_mtime_ns == st.st_mtime_ns


@pytest.mark.parametrize("where", ["ledger", "run folder"])
def test_a_payment_file_with_a_person_dropped_is_refused_by_the_next_run_with_size_and_mtime_kept(job, where):
    """Commit 7c6b86c let run skip hashing a payment file whose (inode, size, mtime, ctime) stamp matched
    ledger/.verified.json, a cache anyone who can write home can forge: a person dropped from a paid
    month's payments would then be paid again by a supplement. run hashes every payment file again;
    a left-over .verified.json is removed and never read."""
    two_months(job)
    cache = job["home"] / "ledger" / ".verified.json"
    cache.write_text("{}")  # left by the earlier version
    assert "paid" not in [m["status"] for m in paid(job)]  # nothing due; the cache is gone
    assert not cache.exists()
    jan = runs_of(job["home"], "2024-01")[0]
    f = (job["home"] / "ledger" / "payments" / "2024-01" / f"{manifest(jan)['run_id']}.parquet" if where == "ledger"
         else jan / "payments.parquet")
    sha = hashlib.sha256(f.read_bytes()).hexdigest()
    t = pq.read_table(f)
    ids = t.column("person_id").to_pylist()
    assert A in ids and t.num_rows == 3
    rewrite_keeping_size(f, t.filter(pa.array([i != A for i in ids])))
    assert pq.read_table(f).num_rows == 2
    st = f.stat()  # the edited file's stamp, forged into the old cache as "hashed and found equal"
    cache.write_text(json.dumps({str(f): [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, sha]}))
    refused(run(job), str(f.parent))
    assert cpi(job, "doctor").returncode == 2
