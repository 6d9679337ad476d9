"""A month is paid to people, not to a file (issue 29): a second sheet or a corrected roster for a
paid month is reported (roster_changed) and paid once by --supplement; `run` says what it did
before a month stops it, and warns once about unverified rules. Every run is a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from calc_helpers import STANDARDS, make_id, put_figures, write_scheme

A = make_id("140105", "19500101", "001")  # urban_dibao 140105 -> 140100 urban 870
C = make_id("140202", "19500101", "003")  # urban_tekun 140213 -> 140200 urban 770
B = make_id("140802", "19500101", "002")  # rural_dibao 140802 -> province rural 4800/12 = 400
E = make_id("140105", "19600101", "005")  # rural_dibao 140105 -> 140100 rural 620
HEADER = ["身份证号", "姓名", "类别", "行政区划代码", "银行账号"]
CITY = [[A, "甲", "城市低保", "140105", "6222020200110001"], [C, "丙", "城市特困", "140213", "6222020200110003"]]
RURAL = [[B, "乙", "农村低保", "140802", "6222020200110002"], [E, "戊", "农村低保", "140105", "6222020200110005"]]
# 2024-01 at 3.6% (CPI 103.6): A 870 x 3.6% = 31.32 -> 31; C 770 x 3.6% = 27.72 -> 28; city 59.00.
# B 400 x 3.6% = 14.4 -> 14; E 620 x 3.6% = 22.32 -> 22; rural 36.00.


@pytest.fixture
def office(tmp_path, home):
    cfg = tmp_path / "cfg"
    (cfg / "schemes").mkdir(parents=True)
    write_scheme(cfg / "schemes", name="t")
    (tmp_path / "std.csv").write_text(STANDARDS, encoding="utf-8")
    return {"cfg": cfg, "std": tmp_path / "std.csv", "home": home, "tmp": tmp_path}


def workbook(path: Path, sheets: dict[str, list[list[str]]]) -> Path:
    """An officer's workbook: a title row, then the header, one sheet per programme (openpyxl)."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        ws.append([f"2024年1月{name}花名册"])
        ws.append(HEADER)
        for r in rows:
            ws.append(r)
    wb.save(path)
    return path


def cpi_link(office, *args, env_extra=None):
    env = dict(os.environ, CPI_LINK_HOME=str(office["home"]), CPI_LINK_LANG="en", COLUMNS="200", **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "cpi_link", "--config", str(office["cfg"]), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=300)


def run(office, roster, *extra):
    return cpi_link(office, "run", "--roster", roster, "--standards", office["std"], "--scheme", "t", "--offline",
                    "--format", "json", *extra)


def paid_people(home: Path, month: str) -> list[tuple[str, str]]:
    """(person_id, amount) of every payment the ledger holds for the month, over all its runs."""
    led = home / "ledger"
    rec = json.loads((led / "months" / f"{month}.json").read_text())
    out = []
    for f in rec["payment_files"]:
        t = pq.read_table(led / f, columns=["person_id", "amount"])
        out += [(p, str(a)) for p, a in zip(t.column("person_id").to_pylist(), t.column("amount").to_pylist())]
    return sorted(out)


def test_city_sheet_then_rural_sheet_pays_rural_people_once(office):
    put_figures(office["home"], "2024-01", cpi="103.6", food="101.0")
    book = workbook(office["tmp"] / "花名册.xlsx", {"城市低保": CITY, "农村低保": RURAL})
    r = run(office, book, "--sheet", "城市低保", "--since", "2024-01")
    assert r.returncode == 0, r.stderr
    assert [(m["month"], m["status"], m["total_amount"]) for m in json.loads(r.stdout)] == [("2024-01", "paid", "59.00")]

    # the rural sheet for the paid month: reported, nothing paid, the command to pay named
    r = run(office, book, "--sheet", "农村低保", "--since", "2024-01")
    assert r.returncode == 0, r.stderr
    [m] = json.loads(r.stdout)
    assert m["status"] == "roster_changed"
    assert (m["not_yet_paid"], m["not_yet_paid_amount"], m["different_amount"], m["no_longer_listed"]) == (2, "36.00", 0, 2)
    assert "cpi-link run --supplement --since 2024-01" in r.stderr
    assert paid_people(office["home"], "2024-01") == sorted([(A, "31.00"), (C, "28.00")])

    # --supplement pays the two rural people, once, as a supplement run labelled 补充发放
    r = run(office, book, "--sheet", "农村低保", "--since", "2024-01", "--supplement")
    assert r.returncode == 0, r.stderr
    [m] = json.loads(r.stdout)
    assert (m["status"], m["kind"], m["paid_rows"], m["total_amount"]) == ("paid", "supplement", 2, "36.00")
    man = json.loads((Path(m["run_dir"]) / "manifest.json").read_text())
    assert man["kind"] == "supplement" and man["label"] == "补充发放"
    # its own workbook and bank file, labelled 补充发放
    book_out, bank_out = office["tmp"] / "补充发放.xlsx", office["tmp"] / "bank.csv"
    r = cpi_link(office, "report", m["run_dir"], "--xlsx", book_out, "--bank", "generic-csv", "--bank-out", bank_out)
    assert r.returncode == 0, r.stderr
    import openpyxl

    wb = openpyxl.load_workbook(book_out)
    assert any("补充发放" in str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value)
    lines = bank_out.read_bytes().decode("gb18030").splitlines()
    assert len(lines) == 3 and all(line.endswith("价格临时补贴（补充发放）") for line in lines[1:])
    assert sorted(line.split(",")[2] for line in lines[1:]) == ["14.00", "22.00"]
    everyone = sorted([(A, "31.00"), (C, "28.00"), (B, "14.00"), (E, "22.00")])
    assert paid_people(office["home"], "2024-01") == everyone

    # again, with either sheet, and with --supplement: nobody is paid twice
    for sheet in ("农村低保", "城市低保"):
        r = run(office, book, "--sheet", sheet, "--since", "2024-01", "--supplement")
        assert r.returncode == 0, r.stderr
        assert [m["status"] for m in json.loads(r.stdout)] == ["already_done"]
    assert paid_people(office["home"], "2024-01") == everyone
    rec = json.loads((office["home"] / "ledger" / "months" / "2024-01.json").read_text())
    assert rec["total_fen"] == 5900 + 3600 and [s["kind"] for s in rec["supplements"]] == ["supplement"]
    # each ledger payment file keeps what was paid and under what: the analysts' export reads it
    names = pq.read_schema(office["home"] / "ledger" / rec["payment_files"][1]).names
    assert {"person_id", "persons", "amount_per_person", "amount", "rate_pct", "standard", "scheme", "version",
            "index_month", "run_id"} <= set(names)


def test_a_corrected_roster_pays_the_corrected_people(office):
    put_figures(office["home"], "2024-01", cpi="103.6", food="101.0")
    bad = office["tmp"] / "roster.csv"
    typo = B[:-1] + ("0" if B[-1] != "0" else "1")  # a wrong check digit: rejected invalid_id
    bad.write_text(f"person_id,name,category,region_code\n{A},甲,urban_dibao,140105\n{typo},乙,rural_dibao,140802\n",
                   encoding="utf-8")
    r = run(office, bad, "--since", "2024-01")
    assert [(m["status"], m["total_amount"]) for m in json.loads(r.stdout)] == [("paid", "31.00")]
    fixed = office["tmp"] / "roster-fixed.csv"
    # corrected: B's ID fixed, A now listed under 140213 (another amount: listed, never paid or clawed back)
    fixed.write_text(f"person_id,name,category,region_code\n{A},甲,urban_dibao,140213\n{B},乙,rural_dibao,140802\n",
                     encoding="utf-8")
    r = run(office, fixed, "--since", "2024-01")
    [m] = json.loads(r.stdout)
    assert (m["status"], m["not_yet_paid"], m["not_yet_paid_amount"], m["different_amount"], m["no_longer_listed"]) == \
        ("roster_changed", 1, "14.00", 1, 0)
    r = run(office, fixed, "--since", "2024-01", "--supplement")
    [m] = json.loads(r.stdout)
    assert (m["status"], m["paid_rows"], m["total_amount"]) == ("paid", 1, "14.00")
    assert paid_people(office["home"], "2024-01") == sorted([(A, "31.00"), (B, "14.00")])
    # the supplement's rejected rows say who was already paid
    rej = pq.read_table(Path(m["run_dir"]) / "rejected.parquet").to_pylist()
    assert [(x["reason"], x["person_id"]) for x in rej] == [("already_paid", A)]


def test_run_stopped_by_a_missing_month_lists_the_months_it_did(office):
    for m, cpi in (("2024-01", "103.6"), ("2024-02", "102.0"), ("2024-03", "103.5"), ("2024-05", "103.5")):
        put_figures(office["home"], m, cpi=cpi, food="101.0")
    roster = office["tmp"] / "roster.csv"
    roster.write_text(f"person_id,name,category,region_code\n{A},甲,urban_dibao,140105\n", encoding="utf-8")
    r = run(office, roster, "--since", "2024-01")
    assert r.returncode == 3, r.stderr
    # 2024-01 at 3.6%: 31; 2024-02 not triggered; 2024-03 at 3.5% of 900 (140105's own row from 2024-02) = 31.5 -> 32
    got = [(m["month"], m["status"], m["total_amount"]) for m in json.loads(r.stdout)]
    assert got == [("2024-01", "paid", "31.00"), ("2024-02", "not_triggered", "0.00"), ("2024-03", "paid", "32.00"),
                   ("2024-04", "missing_figures", "0.00")]
    assert "2024-04" in r.stderr and "cpi for 140000" in r.stderr
    # the table says the same, in Chinese for a Chinese reader
    r = cpi_link(office, "--lang", "zh", "run", "--roster", roster, "--standards", office["std"], "--scheme", "t",
                 "--offline", "--since", "2024-01")
    assert r.returncode == 3
    for month in ("2024-01", "2024-02", "2024-03", "2024-04"):
        assert month in r.stdout
    assert "已完成" in r.stdout or "已发放" in r.stdout
    assert "缺少" in r.stderr or "没有" in r.stderr


def test_run_warns_once_about_unverified_rules(office):
    p = office["cfg"] / "schemes" / "t.toml"
    p.write_text(p.read_text(encoding="utf-8").replace("verified = true", "verified = false"), encoding="utf-8")
    for m in ("2024-01", "2024-02"):
        put_figures(office["home"], m, cpi="103.6", food="101.0")
    roster = office["tmp"] / "roster.csv"
    roster.write_text(f"person_id,name,category,region_code\n{A},甲,urban_dibao,140105\n", encoding="utf-8")
    r = run(office, roster, "--since", "2024-01")
    assert r.returncode == 0, r.stderr
    assert [m["status"] for m in json.loads(r.stdout)] == ["paid", "paid"]
    assert r.stderr.count("verified = false") == 1
    assert "t-v1: 2024-01, 2024-02" in r.stderr


def test_a_month_stopped_by_bad_input_has_no_status_word_but_its_exit_code(office, cli, monkeypatch):
    """SPEC 4.5 has no status word for a month stopped by bad input (a roster file changed while read,
    a damaged ledger, a full disk): the month done before it is listed, then the stopping month with
    status null, exit_code 2 and the reason; the command exits 2 (SPEC 7). In process: the second
    month's calc is made to fail as a roster rewritten meanwhile would."""
    from cpi_link.core.errors import InputError
    from cpi_link.jobs import monthly

    for m in ("2024-01", "2024-02"):
        put_figures(office["home"], m, cpi="103.6", food="101.0")
    roster = office["tmp"] / "roster.csv"
    roster.write_text(f"person_id,name,category,region_code\n{A},甲,urban_dibao,140105\n", encoding="utf-8")
    real = monthly.calculate_month

    def second_fails(month, *a, **kw):
        if month == "2024-02":
            raise InputError(f"{roster}: the file changed while it was being read; nothing was written, run again")
        return real(month, *a, **kw)

    monkeypatch.setattr(monthly, "calculate_month", second_fails)
    args = ["--config", office["cfg"], "run", "--roster", roster, "--standards", office["std"], "--scheme", "t",
            "--offline", "--since", "2024-01"]
    r = cli(*args, "--format", "json")
    assert r.exit_code == 2, r.stderr
    got = [(m["month"], m["status"], m["total_amount"], m.get("exit_code")) for m in json.loads(r.stdout)]
    assert got == [("2024-01", "paid", "31.00", None), ("2024-02", None, "0.00", 2)]
    assert "the file changed while it was being read" in json.loads(r.stdout)[1]["reason"]
    r = cli(*args)  # the table says it in words
    assert r.exit_code == 2
    assert "already_done" in r.stdout and "not done (exit 2)" in r.stdout and "changed while it was being read" in r.stderr
    # the month paid stays paid: the next run goes on from 2024-02
    monkeypatch.setattr(monthly, "calculate_month", real)
    r = cli(*args[:-2], "--format", "csv")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].endswith(",stale_figures,exit_code") and lines[1].startswith("2024-02,paid,")
