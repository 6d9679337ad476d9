"""Issue 34: tables at 80 columns (cron mail) wrap their text and keep money and months whole."""

from __future__ import annotations

from calc_helpers import make_id

P1, P2, P3 = (make_id("140105", "19600101", f"{i:03d}") for i in range(1, 4))
# 2024-01 (cli_setup: rate 3.6): 870 x 3.6% = 31.32 -> 31, twice; 140213 rural 5000 / 12 x 3.6% = 15 x 3 = 45: 107.00
ROSTER = [(P1, "urban_dibao", "140105", "1"), (P2, "rural_dibao", "140213", "3"), (P3, "城市低保", "140105", "1")]


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
    for whole in ("2019-11", "1159683412.00", "1259683412.00", "100000000.00"):
        assert whole in out, out


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
