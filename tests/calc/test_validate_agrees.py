"""validate and calc are one engine: validate reports exactly the rows and reasons calc rejects."""

from __future__ import annotations

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calc_helpers import make_id

A = make_id("140105", "19600101", "011")
B = make_id("140105", "19700101", "022")


def _rejected_by_calc(cli, cfg, std, roster, out):
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
            "--out", out, "--format", "json")
    assert r.exit_code == 0, r.stderr
    rej = pq.read_table(out / "rejected.parquet")
    return sorted(zip(rej.column("source_row").to_pylist(), rej.column("reason").to_pylist()))


def _rejected_by_validate(cli, cfg, std, roster):
    rep = cli.json("--config", cfg, "validate", "--month", "2024-01", "--roster", roster, "--standards", std,
                   "--scheme", "t", "--show", "1000000", "--format", "json")
    return sorted((row, reason) for reason, p in rep["problems"].items() for row in p["example_rows"]), rep


def test_the_duplicate_kept_is_the_one_calc_pays(tmp_path, cli, cli_setup):
    """One person on rows 2 and 3: row 2 at the province standard 500 x 3.6% = 18.00 -> 18 yuan
    (140900 has no row of its own or of its prefecture), row 3 at 140100's 870 x 3.6% = 31.32 ->
    31 yuan. calc pays the highest (row 3) and rejects row 2; validate must name row 2 too."""
    cfg, std = cli_setup
    roster = tmp_path / "r.csv"
    roster.write_text(f"person_id,name,category,region_code\n{B},乙,urban_dibao,140105\n"
                      f"{A},甲,urban_dibao,140900\n{A},甲,urban_dibao,140105\n", encoding="utf-8")
    by_calc = _rejected_by_calc(cli, cfg, std, roster, tmp_path / "out")
    assert by_calc == [(2, "duplicate_person")]
    pay = pq.read_table(tmp_path / "out" / "payments.parquet")
    assert sorted(zip(pay.column("source_row").to_pylist(), map(str, pay.column("amount").to_pylist()))) == [
        (1, "31.00"), (3, "31.00")]
    by_validate, rep = _rejected_by_validate(cli, cfg, std, roster)
    assert by_validate == by_calc
    assert rep["ok_rows"] == 2


IDS = [make_id(r, f"19{y:02d}0101", f"{s:03d}") for r in ("140105", "140202") for y in (50, 60) for s in (1, 2)]
ROW = st.tuples(
    st.sampled_from(IDS + ["12345", "", "140105195001010011"]),       # valid, invalid, empty, bad check digit
    st.sampled_from(["urban_dibao", "rural_dibao", "城市低保", "special_care", "孤儿", "nonsense", ""]),
    st.sampled_from(["140105", "140202", "140900", "990101", "14010", ""]),  # county, prefecture, fallback, none
    st.sampled_from(["", "urban", "农村", "x"]),
    st.sampled_from(["", "1", "3", "0", "abc"]),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(ROW, min_size=1, max_size=12))
def test_validate_and_calc_agree_on_random_rosters(tmp_path_factory, cli, cli_setup, rows):
    cfg, std = cli_setup
    tmp = tmp_path_factory.mktemp("r")
    lines = ["person_id,name,category,region_code,area,persons"]
    lines += [f"{pid},某,{cat},{reg},{area},{persons}" for pid, cat, reg, area, persons in rows]
    roster = tmp / "r.csv"
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    by_calc = _rejected_by_calc(cli, cfg, std, roster, tmp / "out")
    by_validate, rep = _rejected_by_validate(cli, cfg, std, roster)
    assert by_validate == by_calc
    assert rep["rows"] == len(rows)


def test_validate_without_a_month_counts_duplicates_as_calc_does(tmp_path, cli, cli_setup):
    """Issue 26: without --month no amount is known, so validate cannot say which row calc keeps;
    it counts the rows calc rejects (all of a person's rows but one) and names every row of the
    person. A listed three times (rows 2, 4, 5), B twice (rows 1, 3): 2 + 1 = 3 duplicate_person rows,
    as calc --month rejects."""
    cfg, std = cli_setup
    roster = tmp_path / "r.csv"
    roster.write_text(f"person_id,name,category,region_code\n{B},乙,urban_dibao,140105\n{A},甲,urban_dibao,140900\n"
                      f"{B},乙,urban_dibao,140105\n{A},甲,urban_dibao,140105\n{A},甲,urban_dibao,140106\n",
                      encoding="utf-8")
    rep = cli.json("--config", cfg, "validate", "--roster", roster, "--format", "json")
    dup = rep["problems"]["duplicate_person"]
    assert dup["rows"] == 3 and rep["ok_rows"] == 2
    assert dup["example_rows"] == [3, 4, 5]
    assert dup["example_details"] == ["listed twice: rows 1, 3; calc keeps the highest amount",
                                      "listed 3 times: rows 2, 4, 5; calc keeps the highest amount",
                                      "listed 3 times: rows 2, 4, 5; calc keeps the highest amount"]
    by_calc = _rejected_by_calc(cli, cfg, std, roster, tmp_path / "out")
    assert [reason for _row, reason in by_calc] == ["duplicate_person"] * dup["rows"]
    r = cli("--config", cfg, "--lang", "zh", "validate", "--roster", roster)
    assert r.exit_code == 0, r.stderr
    assert "calc keeps" not in r.stdout  # the detail in the reader's language
