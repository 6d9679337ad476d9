"""Issue 34: script outputs in every format: `trigger` over a range with a gap prints the decided months, then exits 3; --format csv is CSV."""

from __future__ import annotations

import csv
import io
import json

from calc_helpers import put_figures, write_scheme


def test_a_gap_in_the_range_still_prints_the_decided_months(tmp_path, cli, home):
    cfg = tmp_path / "cfg"
    (cfg / "schemes").mkdir(parents=True)
    write_scheme(cfg / "schemes")
    put_figures(home, "2024-01", cpi="103.6", food="101.0")  # 3.6% >= 3.5: starts
    put_figures(home, "2024-03", cpi="102.0", food="101.0")  # 2024-02 has no figures
    args = ("--config", cfg, "trigger", "--scheme", "t", "--since", "2024-01", "--until", "2024-03")
    r = cli(*args, "--format", "json")
    assert r.exit_code == 3 and "2024-02" in r.stderr
    assert [(d["month"], d["triggered"]) for d in json.loads(r.stdout)] == [("2024-01", True), ("2024-03", False)]
    r = cli(*args, "--format", "csv")
    assert r.exit_code == 3
    assert [(x["month"], x["triggered"]) for x in csv.DictReader(io.StringIO(r.stdout))] == [("2024-01", "true"), ("2024-03", "false")]
    r = cli(*args)
    assert r.exit_code == 3 and "2024-01" in r.stdout and "2024-03" in r.stdout


def test_format_csv_is_csv_on_doctor(cli):
    """Issue 34: --format csv means CSV (here: doctor's problems, none in a new home: the header)."""
    r = cli("doctor", "--format", "csv", "--encoding", "utf-8-sig")
    assert r.exit_code == 0 and r.stdout_bytes.startswith(b"\xef\xbb\xbfarea,path,problem,repaired")


def test_every_command_with_format_takes_encoding(cli):
    """Issue 34: --encoding (SPEC 6.1: utf-8, utf-8-sig, gb18030) on every command that has --format (table|json|csv);
    a value outside those is bad usage (exit 2), never a traceback."""
    from docs_reference import commands, options

    with_format = [path for path, c in commands() if "--format" in options(c)]
    assert len(with_format) >= 21, with_format
    assert [p for p, c in commands() if p in with_format and "--encoding" not in options(c)] == []
    r = cli("series", "--format", "csv", "--encoding", "gbk")
    assert r.exit_code == 2 and "gb18030" in r.stderr and "Traceback" not in r.stderr and r.stdout == ""
