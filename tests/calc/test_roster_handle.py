"""The roster handle (calc.handle.open_roster): every command hashes its roster once, and `run`
takes the first pass started while it loaded, as `calc` does (issue 26)."""

from __future__ import annotations

import json

import pytest

from calc_helpers import STANDARDS, make_id, put_figures, write_scheme

A = make_id("140105", "19500101", "001")
B = make_id("140802", "19500101", "002")
ROSTER = f"person_id,name,category,region_code\n{A},甲,urban_dibao,140105\n{B},乙,rural_dibao,140802\n"


@pytest.fixture
def counted(monkeypatch):
    """Count every hash of a file and every first pass made; key files spill from the first key."""
    import cpi_link.calc.dedup as dedup
    import cpi_link.calc.firstpass as fp
    import cpi_link.core.atomic as atomic

    monkeypatch.setattr(dedup, "SPILL_ROWS", 0)
    seen = {"hashed": [], "passes": []}
    for name in ("sha256_file", "sha256_and_line_breaks"):
        real = getattr(atomic, name)

        def counting(path, *a, _real=real, **k):
            seen["hashed"].append(str(path))
            return _real(path, *a, **k)

        monkeypatch.setattr(atomic, name, counting)

    class Recording(fp.FirstPass):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self.results = 0
            seen["passes"].append(self)

        def result(self):
            self.results += 1
            return super().result()

    monkeypatch.setattr(fp, "FirstPass", Recording)
    return seen


@pytest.fixture
def job(tmp_path, home):
    cfg = tmp_path / "cfg"
    (cfg / "schemes").mkdir(parents=True)
    write_scheme(cfg / "schemes", name="t")
    put_figures(home, "2024-01", cpi="103.6", food="101.0")  # paid at 3.6%
    put_figures(home, "2024-02", cpi="102.0", food="101.0")  # not triggered
    put_figures(home, "2024-03", cpi="100.0", food="106.0")  # paid at 6.0%
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    (tmp_path / "std.csv").write_text(STANDARDS, encoding="utf-8")
    return {"cfg": cfg, "roster": tmp_path / "roster.csv", "std": tmp_path / "std.csv", "tmp": tmp_path, "home": home}


def _of(seen, path) -> int:
    return seen["hashed"].count(str(path))


def test_run_hashes_the_roster_once_and_its_first_month_takes_the_early_first_pass(cli, job, counted):
    r = cli("--config", job["cfg"], "run", "--roster", job["roster"], "--standards", job["std"], "--scheme", "t",
            "--offline", "--since", "2024-01", "--format", "json")
    assert r.exit_code == 0, r.stderr
    months = [(m["month"], m["status"]) for m in json.loads(r.stdout)]
    assert months == [("2024-01", "paid"), ("2024-02", "not_triggered"), ("2024-03", "paid")]
    assert _of(counted, job["roster"]) == 1  # three months, one hash
    early, *later = counted["passes"]
    assert early.results == 1  # opened with the lock held, taken by 2024-01
    assert [p.results for p in later] == [1]  # 2024-03 starts its own; 2024-02 (not triggered) needs none
    assert all(p.done() for p in counted["passes"])
    assert not [p for p in job["home"].rglob("*") if p.name.startswith((".work-", ".first-pass-", ".spill-"))]


def test_calc_supplement_and_oneoff_hash_the_roster_once(cli, job, counted, tmp_path):
    common = ("--config", job["cfg"])
    r = cli(*common, "calc", "--month", "2024-01", "--roster", job["roster"], "--standards", job["std"], "--scheme", "t",
            "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert _of(counted, job["roster"]) == 1
    r = cli(*common, "run", "--roster", job["roster"], "--standards", job["std"], "--scheme", "t", "--offline",
            "--since", "2024-01", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert _of(counted, job["roster"]) == 2
    extra = tmp_path / "extra.csv"
    extra.write_text(ROSTER + f"{make_id('140105', '19600101', '003')},丙,urban_dibao,140105\n", encoding="utf-8")
    r = cli(*common, "calc", "--supplement", "--month", "2024-01", "--roster", extra, "--standards", job["std"],
            "--scheme", "t", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["paid_rows"] == 1  # only the person not yet paid: 870 x 3.6% = 31.32 -> 31
    assert json.loads(r.stdout)["total_amount"] == "31.00"
    assert _of(counted, extra) == 1
    prog = tmp_path / "prog.toml"
    prog.write_text('programme = "p1"\nname = "测试补助"\ndocument = "测试文件"\nverified = true\npayment_month = "2024-02"\n'
                    'method = "fixed"\ncategories = { urban_dibao = "urban", rural_dibao = "rural" }\n'
                    'amounts = { urban_dibao = "100", rural_dibao = "80" }\n', encoding="utf-8")
    r = cli(*common, "oneoff", "--programme", prog, "--roster", job["roster"], "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "180.00"
    assert _of(counted, job["roster"]) == 3


def test_a_run_written_beside_the_handle_leaves_its_work_folder_alone(tmp_path):
    """oneoff (and calc without --out) write their run into the folder that holds the handle's work
    folder; the run's start removes dead writers' leftovers there, never this process's own."""
    from cpi_link.calc.handle import open_roster
    from cpi_link.outputs.runfolder import clean_leftovers

    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    base = tmp_path / "runs" / "programme-p1"
    with open_roster(roster, base) as handle:
        handle.first_pass.result()
        keys = handle.first_pass._folder()  # where a large roster's key files go
        assert keys.parent == handle.work
        dead = base / ".work-roster-p999999999"  # a killed writer's (no such pid)
        dead.mkdir()
        clean_leftovers(base)
        assert keys.is_dir() and not dead.exists()
    assert not handle.work.exists()


def test_a_roster_changed_while_read_is_said_in_the_officers_language(tmp_path):
    """check_unchanged's exit-2 message goes through gettext: a Chinese officer reads it in Chinese,
    naming the file (not an English line among Chinese ones)."""
    import os

    from cpi_link.calc.handle import open_roster
    from cpi_link.core.errors import InputError
    from cpi_link.core.i18n import language

    roster = tmp_path / "名册.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    with open_roster(roster, tmp_path, early=False) as handle:
        handle.sha256  # hashed as the command reads it
        st = os.stat(roster)
        os.utime(roster, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # saved again meanwhile
        with language("zh"), pytest.raises(InputError) as err:
            handle.check_unchanged()
    text = err.value.message
    assert str(roster) in text
    assert "changed while it was being read" not in text and "读取" in text, text
