"""Issue 34: `simulate` reads the roster once and prices grouped rows through calc's batch engine;
each month costs what `calc` pays, a person listed twice included (calc keeps the highest amount)."""

from __future__ import annotations

from pathlib import Path

from calc_helpers import make_id

P1, P2, P3, P4 = (make_id("140105", "19600101", f"{i:03d}") for i in range(1, 5))
# 2024-01 (cli_setup): CPI 3.6% starts the mechanism, rate 3.6; 2024-02 does not start.
#   P1 urban_dibao 140105 (140100's 870): 870 x 3.6% = 31.32 -> 31
#   P1 again as rural_dibao (620): 22.32 -> 22: calc keeps the highest, 31
#   P2 rural_dibao 140213, household of 3 (140200: 5000 a year): 5000 / 12 x 3.6% = 15.00 -> 15 x 3 = 45
#   P3 urban_dibao 140105: 31;  P4 dibao_edge: not covered
# 2024-01: 31 + 45 + 31 = 107.00 for 3 rows, 5 persons; 2024-02: 0.00
ROSTER = [(P1, "urban_dibao", "140105", "1"), (P1, "rural_dibao", "140105", "1"), (P2, "rural_dibao", "140213", "3"),
          (P3, "城市低保", "140105", "1"), (P4, "dibao_edge", "140105", "1")]


def test_simulate_costs_what_calc_pays(tmp_path, cli, cli_setup):
    cfg, std = cli_setup
    roster = _roster(tmp_path, ROSTER)
    paid = cli.json("--config", cfg, "calc", "--roster", roster, "--month", "2024-01", "--scheme", "t", "--standards", std,
                    "--out", tmp_path / "run", "--format", "json")
    sim = cli.json("--config", cfg, "simulate", "--scheme", "t", "--baseline", "t", "--since", "2024-01", "--until", "2024-02",
                   "--roster", roster, "--standards", std, "--format", "json")
    jan, feb = sim["months"]
    assert paid["total_amount"] == jan["baseline_amount"] == jan["alternative_amount"] == "107.00"
    assert jan["baseline_persons"] == 5 and jan["baseline_rate_pct"] == "3.6"
    assert (feb["baseline_triggered"], feb["baseline_amount"]) == (False, "0.00")
    assert sim["totals"]["baseline_amount"] == "107.00" and sim["totals"]["difference"] == "0.00"


def test_simulate_does_not_pay_people_before_their_birth(tmp_path, cli, cli_setup):
    """calc rejects a person born after the index month (invalid_id); simulate groups such people
    by birth month and leaves them out of the months before it.
    P5 born 2024-02-03: not paid for 2024-01; P6 born 2024-01-05: paid, urban_dibao 140105: 31.
    2024-01: 107 (as above) + 31 = 138.00 for 4 rows, 6 persons."""
    cfg, std = cli_setup
    p5, p6 = make_id("140105", "20240203", "005"), make_id("140105", "20240105", "006")
    rows = ROSTER + [(p5, "urban_dibao", "140105", "1"), (p6, "urban_dibao", "140105", "1")]
    roster = _roster(tmp_path, rows)
    paid = cli.json("--config", cfg, "calc", "--roster", roster, "--month", "2024-01", "--scheme", "t", "--standards", std,
                    "--out", tmp_path / "run", "--format", "json")
    sim = cli.json("--config", cfg, "simulate", "--scheme", "t", "--baseline", "t", "--since", "2024-01", "--until", "2024-02",
                   "--roster", roster, "--standards", std, "--format", "json")
    jan = sim["months"][0]
    assert paid["total_amount"] == jan["baseline_amount"] == "138.00"
    assert (paid["paid_rows"], jan["baseline_persons"]) == (4, 6)


def test_simulate_remark_check_as_the_scheme_says(tmp_path, cli, cli_setup):
    """A 备注 saying the person stopped: calc does not pay the row under scheme t, and pays it under
    a scheme with remark_check = false; simulate with t as baseline and that scheme as alternative
    costs both months as calc pays them.
    P5 urban_dibao 140105 with 备注 停保: 31 when paid. t: 107.00 (as above); nr: 107 + 31 = 138.00."""
    cfg, std = cli_setup
    _scheme_without_remark_check(cfg)
    p5 = make_id("140105", "19600101", "005")
    rows = [r + ("",) for r in ROSTER] + [(p5, "urban_dibao", "140105", "1", "停保")]
    roster = _roster(tmp_path, rows)
    totals = {}
    for name in ("t", "nr"):
        totals[name] = cli.json("--config", cfg, "calc", "--roster", roster, "--month", "2024-01", "--scheme", name,
                                "--standards", std, "--out", tmp_path / name, "--format", "json")["total_amount"]
    sim = cli.json("--config", cfg, "simulate", "--scheme", "nr", "--baseline", "t", "--since", "2024-01", "--until", "2024-01",
                   "--roster", roster, "--standards", std, "--format", "json")
    jan = sim["months"][0]
    assert (totals["t"], totals["nr"]) == (jan["baseline_amount"], jan["alternative_amount"]) == ("107.00", "138.00")
    assert sim["totals"]["difference"] == "31.00"


def test_simulate_no_remark_check_as_calc(tmp_path, cli, cli_setup):
    """Issue 27: `simulate --no-remark-check` opens the roster as `calc --no-remark-check` does: the
    row whose 备注 says 停保 (P5, 31) is costed under both schemes, 107 + 31 = 138.00, as calc pays
    it; the JSON says remark_check false under each scheme. Without the option, the table names the
    scheme whose remark_check = false."""
    cfg, std = cli_setup
    _scheme_without_remark_check(cfg)
    p5 = make_id("140105", "19600101", "005")
    rows = [r + ("",) for r in ROSTER] + [(p5, "urban_dibao", "140105", "1", "停保")]
    roster = _roster(tmp_path, rows)
    paid = cli.json("--config", cfg, "calc", "--roster", roster, "--month", "2024-01", "--scheme", "t", "--standards", std,
                    "--out", tmp_path / "run", "--format", "json", "--no-remark-check")
    sim = cli.json("--config", cfg, "simulate", "--scheme", "t", "--baseline", "t", "--since", "2024-01", "--until", "2024-01",
                   "--roster", roster, "--standards", std, "--format", "json", "--no-remark-check")
    jan = sim["months"][0]
    assert paid["total_amount"] == jan["baseline_amount"] == jan["alternative_amount"] == "138.00"
    assert sim["baseline"]["remark_check"] is False and sim["alternative"]["remark_check"] is False
    on = cli.json("--config", cfg, "simulate", "--scheme", "nr", "--baseline", "t", "--since", "2024-01", "--until", "2024-01",
                  "--roster", roster, "--standards", std, "--format", "json")
    assert "remark_check" not in on["baseline"] and on["alternative"]["remark_check"] is False
    t = cli("--config", cfg, "simulate", "--scheme", "nr", "--baseline", "t", "--since", "2024-01", "--until", "2024-01",
            "--roster", roster, "--standards", std)
    assert t.exit_code == 0, t.stderr
    assert "remark check off under nr (remark_check = false)" in " ".join(t.stdout.split())


def test_simulate_keeps_a_persons_highest_paid_row_wherever_it_is(tmp_path, cli, cli_setup):
    """A person listed three times, rows apart, the first not paid (dibao_edge is not covered) and
    the highest last: 31 is kept. A person listed twice, neither row paid: nothing.
    2024-01: 107.00 (ROSTER) + 31.00 = 138.00 for 6 persons."""
    cfg, std = cli_setup
    P5, P6 = make_id("140105", "19700101", "005"), make_id("140105", "19700101", "006")
    rows = [(P5, "dibao_edge", "140105", "1"), (P6, "dibao_edge", "140105", "1"), *ROSTER[:3],
            (P5, "rural_dibao", "140105", "1"), (P6, "dibao_edge", "140105", "2"), *ROSTER[3:], (P5, "urban_dibao", "140105", "1")]
    roster = _roster(tmp_path, rows)
    paid = cli.json("--config", cfg, "calc", "--roster", roster, "--month", "2024-01", "--scheme", "t", "--standards", std,
                    "--out", tmp_path / "run", "--format", "json")
    sim = cli.json("--config", cfg, "simulate", "--scheme", "t", "--baseline", "t", "--since", "2024-01", "--until", "2024-01",
                   "--roster", roster, "--standards", std, "--format", "json")
    (jan,) = sim["months"]
    assert paid["total_amount"] == jan["baseline_amount"] == "138.00"
    assert jan["baseline_persons"] == 6


def _roster(tmp_path, rows) -> Path:
    """A CSV roster of (id, category, region, persons[, remark]) rows, named 某0, 某1, ..."""
    remark = len(rows[0]) == 5
    lines = [f"{r[0]},某{i},{r[1]},{r[2]},,{r[3]}" + (f",{r[4]}" if remark else "") for i, r in enumerate(rows)]
    path = tmp_path / "r.csv"
    path.write_text("身份证号,姓名,类别,行政区划代码,城乡,保障人数" + (",备注" if remark else "") + "\n"
                    + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _scheme_without_remark_check(cfg) -> None:
    """Scheme nr: scheme t with remark_check = false."""
    text = (cfg / "schemes" / "t.toml").read_text(encoding="utf-8")
    (cfg / "schemes" / "nr.toml").write_text(text.replace('scheme = "t"', 'scheme = "nr"\nremark_check = false', 1),
                                             encoding="utf-8")
