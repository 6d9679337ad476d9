"""`cpi-link simulate`: an alternative scheme's cost against a baseline, worked by hand (issue 8)."""

from __future__ import annotations

from pathlib import Path

from calc_helpers import STANDARDS, make_id, put_figures, write_scheme

# Two schemes on region 140000, both CPI 3.5; food threshold 6.0 (base) vs 5.5 (alt).
# Figures:  2024-01 CPI 102.0 food 105.8 -> base: 5.8 < 6.0 not triggered; alt: 5.8 >= 5.5 triggered at 5.8
#           2024-02 CPI 102.0 food 106.2 -> both triggered at 6.2
#           2024-03 CPI 101.0 food 104.0 -> neither
# Roster: A urban_dibao 140105 (1 person), B rural_dibao 140105 household of 2.
# Standards (calc_helpers.STANDARDS): 140105 has its own row from 2024-02 (urban 900, rural 700);
#   in 2024-01 it falls back to 140100 (urban 870, rural 620).
# 2024-01 alt:  A 870 x 5.8% = 50.46 -> 50;  B 620 x 5.8% = 35.96 -> 36 x 2 = 72;  total 122.00
# 2024-02 both: A 900 x 6.2% = 55.80 -> 56;  B 700 x 6.2% = 43.40 -> 43 x 2 = 86;  total 142.00
# Totals: base 142.00, alt 264.00, difference 122.00.


def setup(home: Path, tmp_path: Path):
    base = write_scheme(tmp_path, name="base", trigger='cpi = "3.5", food = "6.0"')
    alt = write_scheme(tmp_path, name="alt", trigger='cpi = "3.5", food = "5.5"')
    put_figures(home, "2024-01", cpi="102.0", food="105.8")
    put_figures(home, "2024-02", cpi="102.0", food="106.2")
    put_figures(home, "2024-03", cpi="101.0", food="104.0")
    std = tmp_path / "standards.csv"
    std.write_text(STANDARDS, encoding="utf-8")
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "person_id,name,category,region_code,area,persons\n"
        f"{make_id('140105', '19500101', '001')},甲,urban_dibao,140105,,1\n"
        f"{make_id('140105', '19500101', '002')},乙,rural_dibao,140105,,2\n",
        encoding="utf-8",
    )
    return base, alt, std, roster


def test_simulate_hand_worked(cli, home, tmp_path):
    base, alt, std, roster = setup(home, tmp_path)
    data = cli.json("simulate", "--scheme", alt, "--baseline", base, "--since", "2024-01", "--until", "2024-03",
                    "--roster", roster, "--standards", std, "--format", "json")
    by = {r["month"]: r for r in data["months"]}
    assert by["2024-01"]["baseline_triggered"] is False and by["2024-01"]["baseline_amount"] == "0.00"
    assert by["2024-01"]["alternative_triggered"] is True and by["2024-01"]["alternative_rate_pct"] == "5.8"
    assert by["2024-01"]["alternative_amount"] == "122.00" and by["2024-01"]["difference"] == "122.00"
    assert by["2024-02"]["baseline_amount"] == by["2024-02"]["alternative_amount"] == "142.00"
    assert by["2024-02"]["difference"] == "0.00" and by["2024-02"]["alternative_persons"] == 3
    assert not by["2024-03"]["baseline_triggered"] and not by["2024-03"]["alternative_triggered"]
    assert data["totals"] == {"months": 3, "baseline_triggered_months": 1, "alternative_triggered_months": 2,
                              "baseline_amount": "142.00", "alternative_amount": "264.00", "difference": "122.00"}
    assert data["baseline"]["scheme"] == "base" and data["alternative"]["scheme"] == "alt"
    # nothing of the simulation is left in home
    assert not (home / "runs").exists() or not any((home / "runs").rglob("manifest.json"))


def test_simulate_table_and_csv(cli, home, tmp_path):
    base, alt, std, roster = setup(home, tmp_path)
    args = ["simulate", "--scheme", alt, "--baseline", base, "--since", "2024-01", "--until", "2024-03",
            "--roster", roster, "--standards", std]
    r = cli(*args)
    assert r.exit_code == 0 and "264.00" in r.stdout and "122.00" in r.stdout
    r = cli(*args, "--format", "csv")
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("month,baseline_triggered,baseline_rate_pct,baseline_amount")
    # issue 34: months only, booleans as in JSON; the totals are a row of their own with --totals
    assert len(lines) == 1 + 3 and lines[2].startswith("2024-02,true,6.2,142.00,true,6.2,142.00,0.00")
    r = cli(*args, "--format", "csv", "--totals")
    assert r.stdout.splitlines() == ["months,baseline_triggered_months,alternative_triggered_months,baseline_amount,"
                                     "alternative_amount,difference", "3,1,2,142.00,264.00,122.00"]


def test_simulate_missing_month_exits_3_naming_it(cli, home, tmp_path):
    base, alt, std, roster = setup(home, tmp_path)
    r = cli("simulate", "--scheme", alt, "--baseline", base, "--since", "2024-02", "--until", "2024-04",
            "--roster", roster, "--standards", std, "--format", "json")
    assert r.exit_code == 3
    assert "2024-04" in r.stderr and "2024-02" not in r.stderr.split("\n", 1)[1]
    assert r.stdout == ""


def test_simulate_missing_month_in_chinese(cli, home, tmp_path):
    """Issue 34: the missing-figures error of a Chinese simulate was English ("1 of 3 months cannot be simulated",
    "(baseline base)")."""
    base, alt, std, roster = setup(home, tmp_path)
    r = cli("--lang", "zh", "simulate", "--scheme", alt, "--baseline", base, "--since", "2024-02", "--until", "2024-04",
            "--roster", roster, "--standards", std)
    assert r.exit_code == 3
    assert "3 个月中有 1 个月缺少数据，无法测算" in r.stderr and "2024-04 (现行方案 base)" in r.stderr
    assert "2024-04 (备选方案 alt)" in r.stderr and "cannot be simulated" not in r.stderr and "baseline" not in r.stderr
