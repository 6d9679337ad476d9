"""Issue 34: tables at 80 columns (cron mail) wrap their text and keep money and months whole.

Every rich table the command line prints is rendered in a real subprocess at COLUMNS=80, in
English and in Chinese, and at COLUMNS=250: at 80 no table line is wider than 80 cells, nothing
is cut with an ellipsis, and every yuan amount and month the wide table shows is printed whole.
(`doctor`, `scheme show`, `ledger export`, `fetch` and `plot` print no table; `sources discover` asks the portal.)"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from collections import Counter

import pytest

from calc_helpers import make_id, put_figures, write_scheme
from conftest import REPO

P1, P2, P3 = (make_id("140105", "19600101", f"{i:03d}") for i in range(1, 4))
# 2024-01 (cli_setup: rate 3.6): 870 x 3.6% = 31.32 -> 31, twice; 140213 rural 5000 / 12 x 3.6% = 15 x 3 = 45: 107.00
ROSTER = [(P1, "urban_dibao", "140105", "1"), (P2, "rural_dibao", "140213", "3"), (P3, "城市低保", "140105", "1")]

BOX = tuple("│┃┏┡└┌├╭╰┗┣┠")
YUAN = re.compile(r"(?<![\d.])-?\d[\d,]*\.\d{2}(?!\d)")
MONTH = re.compile(r"(?<!\d)\d{4}-\d{2}(?![\d])")


def test_money_and_months_stay_whole_at_80_columns(monkeypatch):
    from rich.table import Table

    from cpi_link.cli.common import stdout_console

    monkeypatch.setenv("COLUMNS", "80")
    t = Table(title="wide")
    for name in ("month", "scheme and version", "region", "detail"):
        t.add_column(name)
    for name in ("baseline yuan", "alternative yuan", "difference"):
        t.add_column(name, justify="right", no_wrap=True)
    t.add_row("2019-11", "national-2016-1835 + national-2020-temporary", "140105 小店区 太原市 山西省",
              "rate 19.1% -> 21.9%; standard 870.00 -> 900.00", "1159683412.00", "1259683412.00", "100000000.00")
    con = stdout_console()
    with con.capture() as cap:
        con.print(t)
    out = cap.get()
    assert max(len(line) for line in out.splitlines()) <= 80
    for whole in ("2019-11", "1159683412.00", "1259683412.00", "100000000.00", "870.00", "900.00", "19.1%"):
        assert whole in out, out


def test_numbers_inside_text_columns_stay_whole(monkeypatch):
    """A text column narrower than a number in it is widened to the number, the others wrap."""
    from rich.table import Table

    from cpi_link.cli.common import stdout_console

    monkeypatch.setenv("COLUMNS", "80")
    t = Table()
    for name in ("month", "scheme", "detail", "note"):
        t.add_column(name)
    for name in ("baseline yuan", "alternative yuan"):
        t.add_column(name, justify="right")
    t.add_row("2019-11", "national-2016-1835 + national-2020-temporary",
              "standard 366.67 -> 600.00; rate 19.1% -> 6.3%; standard row 140000 -> 141100",
              "paid 14869008.00 yuan for 2019-11", "1159683412.00", "1259683412.00")
    con = stdout_console()
    with con.capture() as cap:
        con.print(t)
    out = cap.get()
    assert max(len(line) for line in out.splitlines()) <= 80 and "…" not in out, out
    for whole in ("366.67", "600.00", "19.1%", "140000", "141100", "14869008.00", "1159683412.00", "1259683412.00"):
        assert whole in out, out
    assert out.count("2019-11") == 2, out


def test_simulate_table_at_80_columns(tmp_path, cli, cli_setup):
    cfg, std = cli_setup
    roster = tmp_path / "r.csv"
    roster.write_text("身份证号,姓名,类别,行政区划代码,城乡,保障人数\n"
                      + "".join(f"{p},某{i},{c},{r},,{n}\n" for i, (p, c, r, n) in enumerate(ROSTER)), encoding="utf-8")
    cli.env["COLUMNS"] = "80"
    r = cli("--config", cfg, "simulate", "--scheme", "t", "--baseline", "t", "--since", "2024-01", "--until", "2024-02",
            "--roster", roster, "--standards", std)
    assert r.exit_code == 0, r.stderr
    table = [line for line in r.stdout.splitlines() if line[:1] in "│┃┏┡└"]
    assert table and max(len(line) for line in table) <= 80
    assert "2024-01" in r.stdout and "2024-02" in r.stdout and r.stdout.count("107.00") >= 2


# -- every table of the command line, in a real process --------------------------------------------

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The bundled config plus scheme t and a what-if scheme; a home with two calc run folders;
    a roster of 300 rows of 99 persons (the sample roster's rows, new IDs) and a counts file of
    millions of persons, so totals run to 10 digits."""
    root = tmp_path_factory.mktemp("narrow")
    cfg = root / "cfg"
    shutil.copytree(REPO / "config", cfg)
    write_scheme(cfg / "schemes")
    shanxi = (cfg / "schemes" / "shanxi.toml").read_text(encoding="utf-8")
    fixed = ('amounts = { urban_dibao = "30", rural_dibao = "20", urban_tekun = "30", rural_tekun = "30", '
             'unemployment_insurance = "30", special_care = "30" }')
    assert fixed in shanxi
    (cfg / "schemes" / "sx.toml").write_text(shanxi.replace(fixed, fixed + '\nfunding = { central = "0.6", province = "0.4" }', 1),
                                             encoding="utf-8")  # estimate's by-funder table
    national = (cfg / "schemes" / "national.toml").read_text(encoding="utf-8")
    (root / "food45.toml").write_text(national.replace('food = "6.0"', 'food = "4.5"').replace(
        'scheme = "national"', 'scheme = "national-food45"', 1), encoding="utf-8")
    rows = list(csv.reader((REPO / "data" / "sample" / "roster.csv").open(encoding="utf-8-sig")))
    with (root / "roster.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(rows[0])
        for i in range(300):
            r = list(rows[1 + i % (len(rows) - 1)])
            r[0], r[5] = make_id("140105", "19600101", f"{i:03d}"), "99"
            w.writerow(r)
    (root / "counts.csv").write_text("region_code,category,area,persons\n140105,urban_dibao,urban,9876543\n"
                                     "140802,rural_dibao,rural,8765432\n140213,urban_tekun,urban,123456\n", encoding="utf-8")
    home = root / "home"
    put_figures(home, "2024-01", cpi="103.6", food="101.0")
    put_figures(home, "2024-02", cpi="102.0", food="101.0")
    world = {"root": root, "cfg": cfg, "home": home, "std": REPO / "data" / "sample" / "standards.csv"}
    for month in ("2019-11", "2022-07"):
        r = cpi_link(world, "en", 250, "calc", "--scheme", "national", "--month", month, "--roster", root / "roster.csv",
                     "--standards", world["std"], "--out", root / month)
        assert r.returncode == 0, r.stderr
    return world


def cpi_link(world, lang, columns, *args, home=None):
    env = dict(os.environ, CPI_LINK_HOME=str(home or world["home"]), CPI_LINK_LANG=lang, COLUMNS=str(columns), NO_COLOR="1")
    env.pop("CPI_LINK_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "cpi_link", "--config", str(world["cfg"]), *map(str, args)],
                          cwd=world["root"], env=env, capture_output=True, text=True, timeout=300)


ROSTER_ARGS = ("--roster", "{root}/roster.csv", "--standards", "{std}")
TABLES = {  # name: (arguments, runs in a fresh copy of the home, prints money or months)
    "series": (("series", "--region", "000000", "--since", "2019-10", "--until", "2019-12"), False, True),
    "trigger": (("trigger", "--scheme", "national", "--since", "2019-01", "--until", "2020-06"), False, True),
    "calc": (("calc", "--scheme", "national", "--month", "2019-11", *ROSTER_ARGS, "--out", "{root}/calc-{tag}"), False, True),
    "validate": (("validate", "--month", "2019-11", "--scheme", "national", *ROSTER_ARGS), False, False),
    "validate_columns": (("validate", "--roster", "{root}/roster.csv", "--columns"), False, False),
    "run": (("run", "--scheme", "t", "--offline", "--since", "2024-01", *ROSTER_ARGS), True, True),
    "report": (("report", "{root}/2019-11"), False, True),
    "diff": (("diff", "{root}/2019-11", "{root}/2022-07"), False, True),
    "simulate": (("simulate", "--scheme", "{root}/food45.toml", "--baseline", "national", "--since", "2019-01",
                  "--until", "2019-12", *ROSTER_ARGS), False, True),
    "estimate": (("estimate", "--counts", "{root}/counts.csv", "--month", "2019-11", "--scheme", "national",
                  "--standards", "{std}"), False, True),
    "estimate_funders": (("estimate", "--counts", "{root}/counts.csv", "--month", "2019-11", "--scheme", "sx", "--rate", "12.5",
                          "--standards", "{std}"), False, True),
    "trigger_provenance": (("trigger", "--scheme", "national", "--month", "2019-11", "--provenance"), False, True),
    "trigger_stored_months": (("trigger", "--scheme", "national", "--stored-months"), False, True),
    "report_files": (("report", "{root}/2019-11", "--xlsx", "{root}/book-{tag}.xlsx", "--public", "{root}/public-{tag}.xlsx",
                      "--bank", "generic-csv", "--bank-out", "{root}/bank-{tag}.csv"), False, True),
    "diff_summary": (("diff", "{root}/2019-11", "{root}/2022-07", "--summary"), False, True),
    "simulate_totals": (("simulate", "--scheme", "{root}/food45.toml", "--baseline", "national", "--since", "2019-01",
                         "--until", "2019-12", "--totals", *ROSTER_ARGS), False, True),
    "scheme_list": (("scheme", "list"), False, True),
    "scheme_check": (("scheme", "check", "national"), False, True),
    "programme_list": (("programme", "list"), False, True),
    "programme_show": (("programme", "show", "shanxi-2021-spring-festival"), False, False),
    "oneoff": (("oneoff", "--programme", "shanxi-2021-spring-festival", *ROSTER_ARGS), True, True),
    "sources": (("sources", "show"), False, False),
}


def render(world, name, lang, columns):
    args, fresh, _ = TABLES[name]
    tag = f"{lang}{columns}"
    home = None
    if fresh:
        home = world["root"] / f"home-{name}-{tag}"
        shutil.copytree(world["home"], home)
    args = [a.format(root=world["root"], std=world["std"], tag=tag) for a in args]
    r = cpi_link(world, lang, columns, *args, home=home)
    assert r.returncode == 0, (name, lang, columns, r.stdout, r.stderr)
    return r.stdout


_WIDE: dict[str, str] = {}


def wide_tables(world, name) -> Counter:
    """The yuan amounts and months of the command's tables at 250 columns (English; the numbers
    are the same in Chinese), where nothing wraps."""
    if name not in _WIDE:
        _WIDE[name] = render(world, name, "en", 250)
    return numbers("\n".join(line for line in _WIDE[name].splitlines() if line.startswith(BOX)))


def numbers(text: str) -> Counter:
    return Counter(YUAN.findall(text) + MONTH.findall(text))


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_table_keeps_money_and_months_whole_at_80_columns(world, name, lang):
    from rich.cells import cell_len

    narrow = render(world, name, lang, 80)
    table = [line for line in narrow.splitlines() if line.startswith(BOX)]
    assert table, narrow
    assert max(cell_len(line) for line in table) <= 80, narrow
    assert "…" not in narrow, narrow
    shown = wide_tables(world, name)
    if TABLES[name][2]:
        assert shown, _WIDE[name]
    missing = shown - numbers(narrow)
    assert not missing, (missing, narrow)
