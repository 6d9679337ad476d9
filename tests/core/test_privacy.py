"""Personal data (issue 7): no resident ID in logs, errors or the terminal; private folders; --out
cannot escape; CSV output neutralises formula injection."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path

import pytest

from calc_helpers import STANDARDS, make_id, put_figures, write_scheme

IDS = [make_id("140105", "19500101", "001"), make_id("140802", "19600202", "002"), make_id("140202", "19700303", "003"),
       make_id("140105", "19800404", "004")]
BAD_CHECK = IDS[3][:-1] + ("0" if IDS[3][-1] != "0" else "1")  # a wrong check character: invalid_id
LOST = "1.40105E+17"
ROSTER = "person_id,name,category,region_code,area,persons,bank_account\n" + "".join([
    f"{IDS[0]},甲,urban_dibao,140105,,1,6222000011112222\n",
    f"{IDS[1]},乙,rural_dibao,140802,,2,\n",
    f"{IDS[2]},丙,martian,140213,,1,\n",        # unknown_category
    f"{IDS[0]},甲2,urban_dibao,140105,,1,\n",    # duplicate_person
    f"{BAD_CHECK},丁,urban_dibao,140105,,1,\n",  # invalid_id
    f"{IDS[1]},乙,hiv_child,140802,,1,\n",       # category_not_covered
    f"{IDS[2]},丙,urban_dibao,310101,,x,\n",     # bad_persons
    f"{LOST},戊,urban_dibao,140105,,1,\n",       # id_lost_precision
    f"{IDS[2][:15]},己,urban_dibao,140105,,1,\n",  # 15 characters: invalid
])
SECRETS = IDS + [BAD_CHECK, IDS[2][:15]]


def leaks(text: str) -> list[str]:
    """IDs in text, whole or by their first 14 digits (region + birth date + 2 of the sequence)."""
    return [s for s in SECRETS if s in text or s[:14] in text]


@pytest.fixture
def job(tmp_path, home):
    cfg = tmp_path / "cfg"
    (cfg / "schemes").mkdir(parents=True)
    write_scheme(cfg / "schemes", name="t")
    put_figures(home, "2024-01", cpi="103.6", food="101.0")
    put_figures(home, "2024-02", cpi="103.0", food="106.0")
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    (tmp_path / "std.csv").write_text(STANDARDS, encoding="utf-8")
    return {"cfg": cfg, "roster": tmp_path / "roster.csv", "std": tmp_path / "std.csv", "home": home, "tmp": tmp_path}


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_no_ids_in_terminal_or_logs(cli, job):
    before = _tree(job["tmp"])
    c = ["--config", job["cfg"]]
    common = ["--roster", job["roster"], "--standards", job["std"], "--scheme", "t"]
    texts = []
    for fmt in ("table", "json", "csv"):
        for args in (["calc", "--month", "2024-01", *common, "--out", job["tmp"] / f"out-{fmt}"],
                     ["validate", "--month", "2024-01", *common]):
            r = cli(*c, *args, "--format", fmt)
            assert r.exit_code == 0, r.stderr
            texts += [r.stdout, r.stderr]
    r = cli(*c, "run", *common, "--offline", "--since", "2024-01")
    assert r.exit_code == 0, r.stderr
    texts += [r.stdout, r.stderr]
    # errors: a supplement for a month not yet run, a second run, a run already done
    for args in (["calc", "--supplement", "--month", "2024-02", *common], ["run", *common, "--offline", "--since", "2024-01"]):
        r = cli(*c, *args)
        texts += [r.stdout, r.stderr]
    logs = list((job["home"] / "logs").rglob("*"))
    assert logs
    texts += [p.read_text(errors="replace") for p in logs if p.is_file()]
    assert not leaks("\n".join(texts))
    # and nothing was written outside HOME and the --out folders
    new = _tree(job["tmp"]) - before
    assert all(p.split(os.sep)[0] in ("home", "out-table", "out-json", "out-csv") for p in new), sorted(new)


def test_run_folders_are_private(cli, job):
    r = cli("--config", job["cfg"], "run", "--roster", job["roster"], "--standards", job["std"], "--scheme", "t", "--offline",
            "--since", "2024-01", "--format", "json")
    assert r.exit_code == 0, r.stderr
    out = job["tmp"] / "given"
    r = cli("--config", job["cfg"], "calc", "--month", "2024-01", "--roster", job["roster"], "--standards", job["std"],
            "--scheme", "t", "--out", out)
    assert r.exit_code == 0, r.stderr
    checked = 0
    for root in (job["home"] / "runs", job["home"] / "ledger", out):
        for p in [root, *root.rglob("*")]:
            mode = stat.S_IMODE(p.stat().st_mode)
            if p.is_dir():
                assert mode == 0o700, (p, oct(mode))
            else:
                assert mode == 0o600, (p, oct(mode))
            checked += 1
    assert checked > 10
    assert stat.S_IMODE(job["home"].stat().st_mode) == 0o700


@pytest.mark.parametrize("out", ["nonempty", "file", "../escape/../../x"])
def test_out_is_a_plain_new_folder(cli, job, out):
    target = job["tmp"] / "work" / out
    (job["tmp"] / "work").mkdir()
    if out == "nonempty":
        target.mkdir()
        (target / "keep.txt").write_text("mine")
    elif out == "file":
        target.write_text("mine")
    before = _tree(job["tmp"])
    r = cli("--config", job["cfg"], "calc", "--month", "2024-01", "--roster", job["roster"], "--standards", job["std"],
            "--scheme", "t", "--out", target)
    if out in ("nonempty", "file"):
        assert r.exit_code == 2 and "not an empty folder" in r.stderr
        assert _tree(job["tmp"]) == before  # nothing written, the user's file untouched
        assert (target / "keep.txt" if out == "nonempty" else target).read_text() == "mine"
    else:
        # a path with .. is the user's own choice of folder: written there and nowhere else
        assert r.exit_code == 0, r.stderr
        resolved = target.resolve()
        new = {p for p in _tree(job["tmp"]) - before if not p.startswith("home")}
        assert new and all((job["tmp"] / p).resolve().is_relative_to(resolved.parent) for p in new)
        assert (resolved / "manifest.json").exists()


def test_run_names_are_generated_not_taken_from_input(cli, job):
    evil = job["tmp"] / "..;rm -rf ~;..csv"
    evil.write_text(ROSTER, encoding="utf-8")
    r = cli("--config", job["cfg"], "calc", "--month", "2024-01", "--roster", evil, "--standards", job["std"],
            "--scheme", "t", "--format", "json")
    assert r.exit_code == 0, r.stderr
    run_dir = Path(json.loads(r.stdout)["run_dir"])
    run_dir = run_dir if run_dir.is_absolute() else job["home"] / run_dir
    assert run_dir.parent == job["home"] / "trials" / "2024-01"
    assert run_dir.name.startswith("2024-01-") and all(c.isalnum() or c in "-." for c in run_dir.name)
    # --month is checked before it becomes a folder name
    r = cli("--config", job["cfg"], "calc", "--month", "../../x", "--roster", evil, "--standards", job["std"], "--scheme", "t")
    assert r.exit_code == 2


def test_headerless_roster_error_does_not_show_the_id(cli, job):
    f = job["tmp"] / "noheader.csv"
    f.write_text(ROSTER.split("\n", 1)[1], encoding="utf-8")
    r = cli("validate", "--roster", f)
    assert r.exit_code == 2
    assert not leaks(r.stderr)


def test_csv_output_neutralises_formulas(cli, job, tmp_path):
    from cpi_link.cli.common import _csv_cell

    for cell in ("=1+1", "+1+1", "-1+1", "@SUM(A1)", "=HYPERLINK(\"http://x\",\"y\")", "-cmd"):
        assert _csv_cell(cell) == "'" + cell
    for cell in ("-3.5", "103.5", "0", "甲", ""):
        assert _csv_cell(cell) == cell
    # end to end: a figures file whose name is a formula; series --format csv carries it in source_ref
    figs = tmp_path / "=HYPERLINK(1).csv"
    figs.write_text("region_code,month,indicator,value\n140000,2024-03,cpi,101.0\n", encoding="utf-8")
    assert cli("fetch", "--source", "file", "--file", figs).exit_code == 0
    r = cli("series", "--region", "140000", "--since", "2024-03", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout)))
    cells = [c for row in rows[1:] for c in row]
    assert any("HYPERLINK" in c for c in cells)
    assert not [c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not c[1:].replace(".", "").isdigit())]
