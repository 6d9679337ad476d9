"""procenv: the CLI's allocator/thread settings respect what the user set and never fail."""

import os

from cpi_link.cli import procenv


def test_tune_sets_defaults_once_and_keeps_user_values(monkeypatch):
    monkeypatch.setattr(procenv, "_done", False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")  # the user's choice stays
    monkeypatch.delenv("MIMALLOC_ALLOW_THP", raising=False)
    procenv.tune()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "4"
    assert os.environ["MIMALLOC_ALLOW_THP"] == "0"
    monkeypatch.setenv("MIMALLOC_ALLOW_THP", "1")
    procenv.tune()  # a second call changes nothing
    assert os.environ["MIMALLOC_ALLOW_THP"] == "1"


def test_the_command_line_leaves_with_its_output_and_exit_status(tmp_path):
    """cli.main ends with os._exit (no interpreter teardown): stdout and stderr still arrive whole,
    and the exit status is the command's."""
    import subprocess
    import sys

    env = dict(os.environ, CPI_LINK_HOME=str(tmp_path / "home"))
    ok = subprocess.run([sys.executable, "-m", "cpi_link", "--version"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and ok.stdout.startswith("cpi-link ")
    bad = subprocess.run([sys.executable, "-m", "cpi_link", "calc", "--month", "2019-13", "--roster", "nowhere.csv"],
                         capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "2019-13" in bad.stderr


def test_calc_as_a_program_writes_the_same_files(tmp_path, home, cli, cli_setup):
    """The `cpi-link` program (procenv's allocator settings and quick exit): CSV, Parquet and XLSX
    rosters, a month that triggers and one that does not, every output format and an input error,
    each in its own process. The files equal those of calc run in-process."""
    import csv
    import io
    import json
    import subprocess
    import sys

    import openpyxl
    import pyarrow as pa
    import pyarrow.parquet as pq
    from calc_helpers import make_id

    cfg, std = cli_setup
    a, b = make_id("140105", "19500101", "011"), make_id("140105", "19620315", "022")
    rows = [["person_id", "name", "category", "region_code", "persons"], [a, "甲", "urban_dibao", "140105", "1"],
            [b, "乙", "rural_dibao", "140105", "2"], [a, "甲", "rural_dibao", "140105", "1"],  # a duplicate
            ["12345", "丙", "urban_dibao", "140105", "1"], [b[:17] + "0" if b[17] != "0" else b[:17] + "1", "丁",
                                                           "martian", "140105", "x"]]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    roster_csv = tmp_path / "roster.csv"
    roster_csv.write_text(buf.getvalue(), encoding="utf-8")
    pq.write_table(pa.table({h: [r[i] for r in rows[1:]] for i, h in enumerate(rows[0])}), tmp_path / "roster.parquet")
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    wb.save(tmp_path / "roster.xlsx")

    def run(*args):
        """The CLI in a fresh process: its stdout, stderr and status."""
        env = dict(os.environ, CPI_LINK_HOME=str(home), COLUMNS="200", NO_COLOR="1")
        return subprocess.run([sys.executable, "-m", "cpi_link", "--config", str(cfg), *map(str, args)],
                              capture_output=True, text=True, env=env)

    month = ["--scheme", "t", "--standards", std]
    for roster in ("roster.csv", "roster.parquet", "roster.xlsx"):
        out = tmp_path / f"out-{roster}"
        p = run("calc", "--month", "2024-01", "--roster", tmp_path / roster, *month, "--out", out, "--format", "json")
        assert p.returncode == 0, p.stderr[-2000:]
        res = json.loads(p.stdout)
        # by hand: 870 x 3.6% = 31.32 -> 31 (urban); 620 x 3.6% = 22.32 -> 22, x 2 persons; a's rural row
        # (22) is dropped for a's urban row (31); "12345" and the wrong check character are invalid
        assert (res["paid_rows"], res["total_amount"]) == (2, "75.00"), res
        assert res["rejected_by_reason"] == {"duplicate_person": 1, "invalid_id": 2}, res
        same = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", tmp_path / roster, *month,
                   "--out", tmp_path / f"in-{roster}", "--format", "json")
        assert same.exit_code == 0, same.stderr
        for name in ("payments.parquet", "rejected.parquet", "summary.parquet"):
            assert pq.read_table(out / name).equals(pq.read_table(tmp_path / f"in-{roster}" / name)), (roster, name)
    p = run("calc", "--month", "2024-02", "--roster", roster_csv, *month, "--out", tmp_path / "feb")
    assert p.returncode == 0 and "not triggered" in p.stdout.lower(), p.stdout + p.stderr[-2000:]
    p = run("calc", "--month", "2024-01", "--roster", roster_csv, *month, "--out", tmp_path / "csv-out", "--format", "csv")
    assert p.returncode == 0 and p.stdout.strip(), p.stderr[-2000:]
    p = run("calc", "--month", "2024-01", "--roster", tmp_path / "nowhere.csv", *month, "--out", tmp_path / "x")
    assert p.returncode == 2 and "nowhere.csv" in p.stderr
