"""An analyst's glob over HOME/runs gives the ledger's totals (issue 29): trial calcs go to
HOME/trials with paid = false in the manifest and every Parquet file's metadata; summary and
rejected carry index_month and run_id; every Python and SQL block of docs/analysts.md, and the
README's analyst blocks, is run as written (DuckDB and polars included) and gives the ledger's totals. Issue 34: every Parquet
file cpi-link writes describes each column as field metadata and in its `columns` key. Every
command is a real subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq

from calc_helpers import STANDARDS, make_id, put_figures, write_scheme
from conftest import REPO

A = make_id("140105", "19500101", "001")  # urban_dibao 140105 -> 140100 urban 870
B = make_id("140802", "19500101", "002")  # rural_dibao 140802 -> province rural 400
C = make_id("140202", "19500101", "003")  # urban_tekun 140213 -> 140200 urban 770
D = make_id("140105", "19700101", "004")
HEAD = "person_id,name,category,region_code\n"


def cpi_link(home, cfg, *args):
    env = dict(os.environ, CPI_LINK_HOME=str(home), CPI_LINK_LANG="en")
    r = subprocess.run([sys.executable, "-m", "cpi_link", "--config", str(cfg), *map(str, args)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout) if r.stdout.lstrip().startswith(("[", "{")) else r.stdout


def test_a_glob_over_runs_equals_the_ledger(tmp_path, home, monkeypatch):
    cfg = tmp_path / "cfg"
    (cfg / "schemes").mkdir(parents=True)
    write_scheme(cfg / "schemes", name="t")
    std = tmp_path / "std.csv"
    std.write_text(STANDARDS, encoding="utf-8")
    put_figures(home, "2024-01", cpi="103.6", food="101.0")  # 3.6%
    put_figures(home, "2024-02", cpi="103.4", food="106.5")  # 6.5% (food)
    roster = tmp_path / "roster.csv"
    roster.write_text(HEAD + f"{A},甲,urban_dibao,140105\n{B},乙,rural_dibao,140802\n{A[:-1]}0,错,urban_dibao,140105\n",
                      encoding="utf-8")
    common = ["--standards", std, "--scheme", "t", "--format", "json"]

    # a trial first, with more people than will be paid: it must never count
    bigger = tmp_path / "bigger.csv"
    bigger.write_text(roster.read_text(encoding="utf-8") + f"{C},丙,urban_tekun,140213\n{D},丁,urban_dibao,140105\n",
                      encoding="utf-8")
    trial = cpi_link(home, cfg, "calc", "--month", "2024-01", "--roster", bigger, *common)
    trial_dir = Path(trial["run_dir"])
    assert trial_dir.parent == home / "trials" / "2024-01"
    assert json.loads((trial_dir / "manifest.json").read_text())["paid"] is False
    for name in ("payments.parquet", "rejected.parquet", "summary.parquet"):
        assert pq.read_schema(trial_dir / name).metadata[b"paid"] == b"false", name

    # paid: 2024-01 A 870 x 3.6% = 31.32 -> 31, B 400 x 3.6% = 14.4 -> 14 (45.00; the bad ID rejected);
    # 2024-02 A 900 x 6.5% = 58.5 -> 59, B 400 x 6.5% = 26 (85.00)
    months = cpi_link(home, cfg, "run", "--roster", roster, "--offline", "--since", "2024-01", *common)
    assert [(m["month"], m["status"], m["total_amount"]) for m in months] == [("2024-01", "paid", "45.00"),
                                                                            ("2024-02", "paid", "85.00")]
    # a supplement for 2024-01: D (870 x 3.6% = 31.32 -> 31); A already paid
    late = tmp_path / "late.csv"
    late.write_text(HEAD + f"{A},甲,urban_dibao,140105\n{D},丁,urban_dibao,140105\n", encoding="utf-8")
    sup = cpi_link(home, cfg, "calc", "--supplement", "--month", "2024-01", "--roster", late, *common)
    assert (sup["paid_rows"], sup["total_amount"]) == (1, "31.00")
    assert Path(sup["run_dir"]).parent == home / "runs" / "2024-01"

    # every Parquet file under runs/ says paid = true; summary and rejected carry the month and the run
    for p in (home / "runs").glob("2*/*/*.parquet"):
        meta = pq.read_schema(p).metadata
        assert meta[b"paid"] == b"true", p
        if p.name != "payments.parquet":
            t = pq.read_table(p)
            assert set(t.column("index_month").to_pylist()) <= {p.parent.parent.name}, p
            assert set(t.column("run_id").to_pylist()) <= {p.parent.name.split(".")[0], meta[b"run_id"].decode()}, p
    rej = pq.read_table(next(iter(sorted((home / "runs" / "2024-01").glob("*/rejected.parquet")))))
    assert rej.num_rows >= 1 and rej.column("index_month").to_pylist()[0] == "2024-01"

    # ... equal to the ledger's records and its export
    totals = {"2024-01": (3, Decimal("76.00")), "2024-02": (2, Decimal("85.00"))}
    for m, (rows, yuan) in totals.items():
        rec = json.loads((home / "ledger" / "months" / f"{m}.json").read_text())
        assert (rec["paid_rows"], Decimal(rec["total_fen"]) / 100) == (rows, yuan)
    out = tmp_path / "paid.parquet"
    cpi_link(home, cfg, "ledger", "export", "--out", out)
    exp = pq.read_table(out).group_by("index_month").aggregate([([], "count_all"), ("amount", "sum")]).to_pylist()
    assert {r["index_month"]: (r["count_all"], r["amount_sum"]) for r in exp} == totals

    check_docs_blocks(home, tmp_path, monkeypatch, totals)
    check_descriptions(home, tmp_path)


def doc_blocks(lang: str, page: str = "docs/analysts.md") -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", (REPO / page).read_text(encoding="utf-8"), re.S)


def check_docs_blocks(home, here, monkeypatch, totals):
    """Every Python block of docs/analysts.md, as written, from the folder holding paid.parquet;
    each that computes `totals` gets the ledger's. Every SQL block in DuckDB (HOME replaced)."""
    monkeypatch.chdir(here)
    ran = []
    readme = doc_blocks("python", "README.md")
    assert len(readme) == 3 and all("totals" in b for b in readme)  # DuckDB, polars, pandas
    for block in doc_blocks("python") + readme:
        scope = {"HOME": str(home)}
        exec(block, scope)  # duckdb and polars are test dependencies: every block runs
        ran.append(block)
        if "totals" in scope:
            assert scope["totals"] == totals, block
        if "described" in scope:  # pyarrow's field metadata
            assert set(scope["described"]) == set(pq.read_schema("paid.parquet").names)
            assert scope["described"]["amount"].startswith("yuan for the row")
        if "columns" in scope:  # polars: the file's `columns` entry
            assert scope["columns"]["person_id"]["personal_data"] is True
    assert sum("totals" in b for b in ran) >= 7  # pyarrow, DuckDB, polars and pandas; the README's three
    import duckdb

    con = duckdb.connect()
    sql = doc_blocks("sql")
    assert len(sql) >= 6
    for block in sql:
        r = con.execute(block.replace("'HOME/", f"'{home}/"))
        names = [d[0] for d in r.description]
        rows = [dict(zip(names, row)) for row in r.fetchall()]
        assert rows, block
        if "yuan" in names and "index_month" in names:  # the officer's totals, however grouped
            by_month = {}
            for row in rows:
                by_month[row["index_month"]] = by_month.get(row["index_month"], 0) + row["yuan"]
            assert by_month == {m: yuan for m, (_n, yuan) in totals.items()}, block
        if "description" in names:  # DESCRIBE beside the `columns` entry: every column described
            assert all(row["description"] for row in rows), rows
            assert {row["column_name"]: row["personal_data"] for row in rows}["name"] == "true"


def check_descriptions(home, here):
    """Issue 34: every Parquet file under HOME (run folders, trials, the ledger, the figures store)
    and the export: each field has a description and personal_data as field metadata, read back
    by pyarrow, and the file's `columns` entry describes every column. The payments file keeps
    its types (plain strings, decimal128, the required columns not null)."""
    import pyarrow as pa

    from cpi_link.calc.encoding import PERSONAL

    files = [p for p in home.rglob("*.parquet")] + [here / "paid.parquet"]
    kinds = {p.name if "ledger" not in p.parts else "ledger" for p in files}
    assert {"payments.parquet", "rejected.parquet", "summary.parquet", "ledger", "paid.parquet",
            "observations.parquet"} <= kinds, kinds
    for p in files:
        schema = pq.read_schema(p)
        columns = json.loads(schema.metadata[b"columns"])
        for f in schema:
            assert f.metadata and f.metadata[b"description"], (p, f.name)
            personal = f.name in PERSONAL  # IDs, names, bank accounts, remarks
            assert f.metadata[b"personal_data"] == (b"true" if personal else b"false"), (p, f.name)
            assert columns[f.name]["description"] == f.metadata[b"description"].decode(), (p, f.name)
    pay = pq.read_schema(next(iter(sorted((home / "runs" / "2024-01").glob("*/payments.parquet")))))
    assert pay.field("amount").type == pa.decimal128(18, 2) and not pay.field("amount").nullable
    assert pay.field("category").type == pa.string() and pay.field("rate_pct").type == pa.decimal128(7, 2)
    assert pay.field("bank_account").nullable and not pay.field("person_id").nullable
    assert pay.metadata[b"paid"] == b"true" and pay.metadata[b"index_month"] == b"2024-01"
