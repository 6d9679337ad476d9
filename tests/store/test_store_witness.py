"""Issue 30: the series store is its own witness (store/index.json records each file's sha256). A
store file replaced by an empty folder, by another valid Parquet file (other columns, or the store's
columns with other content), cut short, or with a column of another type, never falls back to the
bundled figures: `run`, `calc` and `trigger` exit 2 naming the file and `cpi-link doctor`, and
`doctor` reports it; `doctor --repair` puts back the last good copy the index records. Real
`cpi-link` processes, as a cron operator or an attacker with write access to home would meet them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from calc_helpers import make_id, make_job, put_figures

A = make_id("140105", "19500101", "001")
ROSTER = f"person_id,name,category,region_code\n{A},甲,urban_dibao,140105\n"


def sub(job, *args):
    env = dict(os.environ, CPI_LINK_HOME=str(job["home"]), COLUMNS="200", NO_COLOR="1")
    env.pop("CPI_LINK_CRASH_AT", None)
    return subprocess.run([sys.executable, "-m", "cpi_link", *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=120)


def commands(job):
    return {
        "trigger": ["--config", job["cfg"], "trigger", "--month", "2024-01", "--scheme", "t"],
        "calc": ["--config", job["cfg"], "calc", "--month", "2024-01", "--scheme", "t", "--roster", job["roster"],
                 "--standards", job["std"]],
        "run": ["--config", job["cfg"], "run", "--roster", job["roster"], "--standards", job["std"], "--scheme", "t",
                "--offline", "--since", "2024-01", "--format", "json"],
    }


@pytest.fixture
def job(tmp_path, home):
    j = make_job(tmp_path, home, ROSTER)
    put_figures(home, "2024-01", cpi="103.0", food="101.0")  # the officer's revision: 2024-01 no longer triggers
    j["obs"] = home / "store" / "observations.parquet"
    return j


def assert_refused(job, path, words):
    for name, args in commands(job).items():
        r = sub(job, *args)
        err = " ".join(r.stderr.split())
        assert r.returncode == 2, (name, r.returncode, r.stderr)
        assert str(path) in err and "cpi-link doctor" in err and words in err, (name, err)
        assert "Traceback" not in r.stderr
    assert not (job["home"] / "ledger" / "months").exists() or not list((job["home"] / "ledger" / "months").iterdir())
    r = sub(job, "doctor", "--format", "json")
    assert r.returncode == 2
    rep = json.loads(r.stdout)
    assert not rep["ok"] and any(p["path"] == str(path) and words in p["problem"] for p in rep["problems"]), rep


def assert_repaired_pays_the_revision(job, kept_glob):
    r = sub(job, "doctor", "--repair", "--format", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(list(job["obs"].parent.glob(kept_glob))) == 1  # what stood there is kept, never deleted
    r = sub(job, *commands(job)["run"])
    assert r.returncode == 0, r.stderr
    assert [m["status"] for m in json.loads(r.stdout)] == ["not_triggered"]  # the officer's figure, not the bundled one
    assert sub(job, "doctor").returncode == 0


def test_store_file_replaced_by_an_empty_folder(job):
    job["obs"].unlink()
    job["obs"].mkdir()
    assert_refused(job, job["obs"], "a folder stands where the store's file should be")
    assert_repaired_pays_the_revision(job, "observations.parquet.damaged-*")


def test_store_folder_replaced_by_a_file(job):
    """A file where the store's folder should be: exit 2 naming it (and doctor), never an unexpected
    fault from the folder's files being looked up, nor the bundled figures; fetch --source file too."""
    store = job["obs"].parent
    shutil.rmtree(store)
    store.write_bytes(b"not a folder")
    assert_refused(job, store, "not a folder")
    r = sub(job, "doctor", "--repair")
    assert r.returncode == 2 and "not a folder" in " ".join((r.stdout + r.stderr).split()) and "Traceback" not in r.stderr
    csv_in = job["roster"].parent / "figures.csv"
    csv_in.write_text("region_code,indicator,month,value\n140000,cpi,2024-02,102.0\n", encoding="utf-8")
    r = sub(job, "--config", job["cfg"], "fetch", "--source", "file", "--file", csv_in)
    assert r.returncode == 2 and "not a folder" in " ".join(r.stderr.split()), r.stderr
    assert store.read_bytes() == b"not a folder"


def test_store_file_replaced_by_another_valid_parquet_with_other_columns(job):
    pq.write_table(pa.table({"region": ["140000"], "cpi": [103.6]}), job["obs"])
    assert_refused(job, job["obs"], "another Parquet file, not the store's (its columns are region, cpi)")
    assert_repaired_pays_the_revision(job, "observations.parquet.damaged-*")


def test_store_file_replaced_by_the_stores_columns_with_other_content(job, tmp_path):
    """Another home's store file (the first figure, 103.6, which triggers): valid, right columns, but not
    the file this store's index records."""
    other = tmp_path / "other"
    put_figures(other, "2024-01", cpi="103.6", food="101.0")
    shutil.copyfile(other / "store" / "observations.parquet", job["obs"])
    assert_refused(job, job["obs"], "differs from the store's own record in index.json")
    assert_repaired_pays_the_revision(job, "observations.parquet.damaged-*")


def test_truncated_store_file(job):
    job["obs"].write_bytes(job["obs"].read_bytes()[:100])
    assert_refused(job, job["obs"], "damaged: not readable Parquet")
    assert_repaired_pays_the_revision(job, "observations.parquet.damaged-*")


def test_store_file_with_a_column_of_another_type(job):
    t = pq.read_table(job["obs"])
    i = t.schema.get_field_index("value")
    t = t.set_column(i, "value", pa.array([str(v) for v in t.column("value").to_pylist()]))  # text, not decimal128
    pq.write_table(t, job["obs"])
    assert_refused(job, job["obs"], "another Parquet file, not the store's")
    assert_repaired_pays_the_revision(job, "observations.parquet.damaged-*")


def test_store_without_its_index_is_refused_until_doctor_records_it(job):
    index = job["home"] / "store" / "index.json"
    index.unlink()
    assert_refused(job, job["obs"], "the store has no index.json recording its files")
    r = sub(job, "doctor", "--repair", "--format", "json")
    assert r.returncode == 0, r.stdout
    assert any(p["repaired"].startswith("recorded in a new index.json as it is") for p in json.loads(r.stdout)["problems"])
    assert json.loads(index.read_text())["files"]["observations.parquet"]["rows"] == 2
    assert [m["status"] for m in json.loads(sub(job, *commands(job)["run"]).stdout)] == ["not_triggered"]


def test_damaged_index_is_refused_and_repaired(job):
    index = job["home"] / "store" / "index.json"
    index.write_text("{not json")
    r = sub(job, *commands(job)["trigger"])
    assert r.returncode == 2 and str(index) in r.stderr and "cpi-link doctor" in r.stderr
    assert sub(job, "doctor").returncode == 2
    assert sub(job, "doctor", "--repair").returncode == 0
    assert len(list(index.parent.glob("index.json.damaged-*"))) == 1
    assert sub(job, *commands(job)["trigger"]).returncode == 0


def test_a_stop_between_the_index_and_the_file_leaves_either_accepted(job):
    """The new file's record is written first as pending: the old file (a stop before the rename) and
    the new one (a stop before the record is made final) are each accepted."""
    from cpi_link.core.atomic import sha256_file

    index = job["home"] / "store" / "index.json"
    idx = json.loads(index.read_text())
    old = idx["files"]["observations.parquet"]
    idx["pending"]["observations.parquet"] = {"sha256": "0" * 64, "size": 1, "rows": 1}
    index.write_text(json.dumps(idx))
    assert sub(job, *commands(job)["trigger"]).returncode == 0  # the old file, before the rename
    idx["pending"]["observations.parquet"], idx["files"]["observations.parquet"] = old, {"sha256": "1" * 64, "size": 1}
    index.write_text(json.dumps(idx))
    assert sha256_file(job["obs"]) == old["sha256"]
    assert sub(job, *commands(job)["trigger"]).returncode == 0  # the new file, before the record is final


def test_store_forged_with_its_index_after_payment_is_a_revision_run_sees(tmp_path, home):
    """An attacker rewrites the store and its index by the public recipe after 2024-01 was paid at
    3.6%: the paid folder and the journal keep the figures it was paid on, so run pays nothing and
    says the figures were revised after payment."""
    from cpi_link.core.atomic import sha256_file

    job = make_job(tmp_path, home, ROSTER)  # 2024-01 at CPI 103.6: triggered
    r = sub(job, *commands(job)["run"])
    assert [m["status"] for m in json.loads(r.stdout)] == ["paid"], r.stderr
    other = tmp_path / "other"
    put_figures(other, "2024-01", cpi="103.0", food="101.0")
    obs = home / "store" / "observations.parquet"
    shutil.copyfile(other / "store" / "observations.parquet", obs)
    index = home / "store" / "index.json"
    idx = json.loads(index.read_text())
    idx["files"]["observations.parquet"] = {"sha256": sha256_file(obs), "size": obs.stat().st_size, "rows": 2}
    index.write_text(json.dumps(idx))
    r = sub(job, *commands(job)["run"])
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [m["status"] for m in out] == ["revised_after_payment"] and out[0]["paid_rows"] == 0
    assert "figures revised after payment" in r.stderr


def test_store_deleted_whole_after_a_payment_stops_run_until_the_figures_are_back(tmp_path, home):
    """The journal notes that the store had its index when a month was paid: a store/ folder deleted
    whole later (the office's imported figures with it) stops run instead of deciding the next month
    on the bundled figures; importing the figures again (or restoring store/) lets it go on."""
    job = make_job(tmp_path, home, ROSTER)  # 2024-01 at CPI 103.6, imported
    r = sub(job, *commands(job)["run"])
    assert [m["status"] for m in json.loads(r.stdout)] == ["paid"], r.stderr
    journal = [json.loads(line) for line in (home / "ledger" / "journal.jsonl").read_text().splitlines()]
    assert journal[-1]["store_indexed"] is True
    shutil.rmtree(home / "store")
    r = sub(job, *commands(job)["run"])
    index = home / "store" / "index.json"
    err = " ".join(r.stderr.split())
    assert r.returncode == 2 and str(index) in err and "cpi-link doctor" in err, r.stderr
    assert "the store was deleted or replaced" in err
    r = sub(job, "doctor", "--format", "json")
    assert r.returncode == 2 and any(p["area"] == "store" and p["path"] == str(index) for p in json.loads(r.stdout)["problems"])
    figs = tmp_path / "figs.csv"
    figs.write_text("region_code,month,indicator,value\n140000,2024-01,cpi,103.6\n140000,2024-01,food,101.0\n")
    assert sub(job, "--config", job["cfg"], "fetch", "--source", "file", "--file", figs).returncode == 0
    r = sub(job, *commands(job)["run"])
    assert r.returncode == 0 and [m["status"] for m in json.loads(r.stdout)] == ["already_done"], r.stderr
    assert sub(job, "doctor").returncode == 0
