"""Several rosters read as one (issue 29, SPEC 5.1): `--roster` given more than once and `--sheet all`
pay one person once across them, at the highest amount; every rejected row names its file and
sheet; the manifest and the ledger name every source. Every run is a real subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from calc_helpers import make_id, put_figures
from test_paid_people import A, B, C, CITY, E, HEADER, RURAL, cpi_link, office, paid_people, workbook  # noqa: F401 (office: the fixture)

# 2024-01 at 3.6% (CPI 103.6), per person: A 870 x 3.6% = 31.32 -> 31; C 770 x 3.6% = 27.72 -> 28;
# B 400 x 3.6% = 14.4 -> 14; E 620 x 3.6% = 22.32 -> 22 (test_paid_people). City 59.00, rural 36.00.
BAD = make_id("140105", "19700101", "009")[:-1] + "0"  # a wrong check character (the right one is not 0)


def csv_roster(path: Path, rows: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(r) for r in [HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def month_run(office, *args):
    return cpi_link(office, "run", *args, "--standards", office["std"], "--scheme", "t", "--offline", "--format", "json",
                    "--since", "2024-01")


def test_one_person_on_two_rosters_is_paid_once_at_the_higher_amount(office):
    put_figures(office["home"], "2024-01", cpi="103.6", food="101.0")
    assert make_id("140105", "19700101", "009")[-1] != "0"
    city = csv_roster(office["tmp"] / "城市.csv", [*CITY, [BAD, "错", "城市低保", "140105", ""]])
    # A again on the second roster, as a household of 2: 31 x 2 = 62.00 > 31.00 on the first
    other = office["tmp"] / "第二批.xlsx"
    workbook(other, {"补报": [[A, "甲", "城市低保", "140105", "6222020200110001"], RURAL[0]]})
    import openpyxl

    wb = openpyxl.load_workbook(other)
    ws = wb["补报"]
    ws["F2"] = "保障人数"
    ws["F3"], ws["F4"] = 2, 1
    wb.save(other)
    out = office["tmp"] / "out"
    r = cpi_link(office, "calc", "--month", "2024-01", "--roster", city, "--roster", other, "--standards", office["std"],
                 "--scheme", "t", "--out", out, "--format", "json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    # paid: A 62.00 (the second roster's row), C 28.00, B 14.00 = 104.00; rejected: A's row on the first, BAD
    assert (res["paid_rows"], res["total_amount"]) == (3, "104.00")
    pay = pq.read_table(out / "payments.parquet").to_pylist()
    assert sorted((p["person_id"], str(p["amount"])) for p in pay) == sorted([(A, "62.00"), (C, "28.00"), (B, "14.00")])
    rej = sorted(pq.read_table(out / "rejected.parquet").to_pylist(), key=lambda x: x["source_row"])
    # data rows are numbered on across the rosters: 城市.csv rows 1-3, then 第二批.xlsx rows 4-5
    assert [(x["reason"], x["file"], x["sheet"], x["file_row"], x["source_row"]) for x in rej] == [
        ("duplicate_person", "城市.csv", None, 2, 1), ("invalid_id", "城市.csv", None, 4, 3)]
    assert rej[0]["detail"] == "the same person is paid on data row 1 of 第二批.xlsx, sheet 补报 (the highest amount)"
    # the manifest lists every file and sheet with its sha256 and rows
    import hashlib

    man = json.loads((out / "manifest.json").read_text())
    [entry] = [i for i in man["inputs"] if i["role"] == "roster"]
    assert [(Path(s["path"]).name, s["sheet"], s["rows"], s["sha256"]) for s in entry["sources"]] == [
        ("城市.csv", None, 3, hashlib.sha256(city.read_bytes()).hexdigest()),
        ("第二批.xlsx", "补报", 2, hashlib.sha256(other.read_bytes()).hexdigest())]
    assert entry["rows"] == 5 and entry["sources"][1]["header_row"] == 2
    assert man["counts"]["input_rows"] == man["counts"]["paid_rows"] + man["counts"]["rejected_rows"] == 5
    # the officer's workbook lists each rejected row with its file (and sheet) and its row there
    book = office["tmp"] / "发放表.xlsx"
    r = cpi_link(office, "report", out, "--xlsx", book)
    assert r.returncode == 0, r.stderr
    ws = openpyxl.load_workbook(book)["未发放名单"]
    assert [c.value for c in ws[2]][:3] == ["序号", "名册文件（工作表）", "名册行号"]
    assert [(row[1].value, row[2].value) for row in ws.iter_rows(min_row=3)] == [("城市.csv", 2), ("城市.csv", 4)]
    assert "第二批.xlsx" in ws["G3"].value and "补报" in ws["G3"].value  # the row paid instead, in Chinese
    # validate finds the same rows, naming the file of each
    r = cpi_link(office, "validate", "--roster", city, "--roster", other, "--month", "2024-01", "--standards",
                 office["std"], "--scheme", "t", "--format", "json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert {k: (v["rows"], v["example_file_rows"], v["example_places"]) for k, v in rep["problems"].items()} == {
        "duplicate_person": (1, [2], [{"file": "城市.csv", "sheet": None}]),
        "invalid_id": (1, [4], [{"file": "城市.csv", "sheet": None}])}
    r = cpi_link(office, "validate", "--roster", city, "--roster", other, "--scheme", "t")
    assert r.returncode == 0, r.stderr
    assert "2 rosters read as one" in r.stdout and "城市.csv" in r.stdout and "补报" in r.stdout


def test_sheet_all_reads_the_city_and_rural_sheets_and_skips_the_notes(office):
    put_figures(office["home"], "2024-01", cpi="103.6", food="101.0")
    book = workbook(office["tmp"] / "花名册.xlsx", {"城市低保": CITY, "农村低保": [*RURAL, [BAD, "错", "农村低保", "140105", ""]]})
    import openpyxl

    wb = openpyxl.load_workbook(book)
    notes = wb.create_sheet("非名单")
    notes.append(["填表说明：身份证号填18位，保障人数填整数。"])
    notes.append(["联系人：民政局社会救助科"])
    wb.active = 2  # the notes sheet is the active one: --sheet all does not depend on it
    wb.save(book)
    # without --sheet: two sheets look like a roster, an error naming them
    r = cpi_link(office, "calc", "--month", "2024-01", "--roster", book, "--standards", office["std"], "--scheme", "t")
    assert r.returncode == 2 and "城市低保" in r.stderr and "农村低保" in r.stderr
    out = office["tmp"] / "out"
    r = cpi_link(office, "calc", "--month", "2024-01", "--roster", book, "--sheet", "all", "--standards", office["std"],
                 "--scheme", "t", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "roster 1 of 2: 花名册.xlsx, sheet '城市低保'" in r.stdout
    assert "sheet '非名单' of 花名册.xlsx not read: no roster header among its first 30 rows" in r.stdout
    man = json.loads((out / "manifest.json").read_text())
    [entry] = [i for i in man["inputs"] if i["role"] == "roster"]
    assert [(s["sheet"], s["rows"]) for s in entry["sources"]] == [("城市低保", 2), ("农村低保", 3)]
    assert entry["skipped_sheets"] == [{"path": str(book), "sheet": "非名单", "reason": "no_header"}]
    assert man["counts"]["total_amount"] == "95.00"  # 59.00 city + 36.00 rural
    [bad] = pq.read_table(out / "rejected.parquet").to_pylist()
    # title row 1, header row 2, the rural sheet's third person on row 5
    assert (bad["reason"], bad["file"], bad["sheet"], bad["file_row"]) == ("invalid_id", "花名册.xlsx", "农村低保", 5)
    # the same in Chinese: the sheets named, the notes sheet said
    r = cpi_link(office, "--lang", "zh", "validate", "--roster", book, "--sheet", "all", "--scheme", "t")
    assert r.returncode == 0, r.stderr
    assert "非名单" in r.stdout and "农村低保" in r.stdout
    # one roster sheet among notes: read alone, the notes still said
    del wb["农村低保"]
    one = office["tmp"] / "城市.xlsx"
    wb.save(one)
    r = cpi_link(office, "validate", "--roster", one, "--sheet", "all", "--scheme", "t", "--format", "json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert (rep["sheet"], rep["rows"], rep["skipped_sheets"]) == (
        "城市低保", 2, [{"path": str(one), "sheet": "非名单", "reason": "no_header"}])
    # a workbook with no roster sheet: exit 2 naming each sheet and why
    empty = office["tmp"] / "说明.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    wb.active.append(["只有说明"])
    wb.save(empty)
    r = cpi_link(office, "calc", "--month", "2024-01", "--roster", empty, "--sheet", "all", "--standards", office["std"],
                 "--scheme", "t")
    assert r.returncode == 2 and "说明.xlsx" in r.stderr and "'说明'" in r.stderr and "Traceback" not in r.stderr


def test_run_with_two_rosters_then_supplement_pays_everyone_once(office):
    put_figures(office["home"], "2024-01", cpi="103.6", food="101.0")
    city = csv_roster(office["tmp"] / "城市.csv", CITY)
    rural = workbook(office["tmp"] / "农村.xlsx", {"农村低保": RURAL})
    r = month_run(office, "--roster", city)
    assert r.returncode == 0, r.stderr
    assert [(m["status"], m["total_amount"]) for m in json.loads(r.stdout)] == [("paid", "59.00")]
    # both rosters: the rural people are not yet paid; nothing is paid without --supplement
    r = month_run(office, "--roster", city, "--roster", rural)
    assert r.returncode == 0, r.stderr
    [m] = json.loads(r.stdout)
    assert (m["status"], m["not_yet_paid"], m["not_yet_paid_amount"], m["different_amount"], m["no_longer_listed"]) == \
        ("roster_changed", 2, "36.00", 0, 0)
    r = month_run(office, "--roster", city, "--roster", rural, "--supplement")
    assert r.returncode == 0, r.stderr
    [m] = json.loads(r.stdout)
    assert (m["status"], m["kind"], m["paid_rows"], m["total_amount"]) == ("paid", "supplement", 2, "36.00")
    rej = pq.read_table(Path(m["run_dir"]) / "rejected.parquet").to_pylist()
    assert sorted((x["reason"], x["file"], x["person_id"]) for x in rej) == sorted(
        [("already_paid", "城市.csv", A), ("already_paid", "城市.csv", C)])
    everyone = sorted([(A, "31.00"), (C, "28.00"), (B, "14.00"), (E, "22.00")])
    assert paid_people(office["home"], "2024-01") == everyone
    rec = json.loads((office["home"] / "ledger" / "months" / "2024-01.json").read_text())
    assert [Path(s["path"]).name for s in rec["roster_sources"]] == ["城市.csv"]
    assert [(Path(s["path"]).name, s["sheet"]) for s in rec["supplements"][0]["roster_sources"]] == [
        ("城市.csv", None), ("农村.xlsx", None)]
    # the two again, in either order, with --supplement too: the same roster, nobody paid twice
    for args in (("--roster", city, "--roster", rural), ("--roster", rural, "--roster", city, "--supplement")):
        r = month_run(office, *args)
        assert r.returncode == 0, r.stderr
        assert [m["status"] for m in json.loads(r.stdout)] == ["already_done"]
    assert paid_people(office["home"], "2024-01") == everyone
    assert json.loads((office["home"] / "ledger" / "months" / "2024-01.json").read_text())["total_fen"] == 5900 + 3600
    r = cpi_link(office, "doctor")  # the records naming their sources are whole and witnessed
    assert r.returncode == 0, r.stdout + r.stderr
