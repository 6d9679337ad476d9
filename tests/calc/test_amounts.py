"""Each method and rounding mode, worked by hand (SPEC 5.4 order), through the real `calc`."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calc_helpers import make_id, put_figures, write_scheme

TIERS = 'tiers = [{ from = "3.0", fraction = "1/12" }, { from = "5.0", fraction = "1/8" }]'

CASES = [
    # id, scheme options, figures (index values), urban standard, expected amount per person
    # Wuhan (Hubei 3.0/5.5): 870 x 5.5% = 47.85 -> 48
    ("wuhan", dict(trigger='cpi = "3.0", food = "5.5"'), dict(cpi="103.5", food="105.5"), "870", "48.00"),
    # Jiangsu tiers, not rounded: 900/12 = 75 at CPI 3.3; 900/8 = 112.5 at CPI 5.3
    ("jiangsu-low", dict(trigger='cpi = "3.0"', rate="cpi", method="tiered_fraction", rounding="fen_half_up", extra=TIERS),
     dict(cpi="103.3"), "900", "75.00"),
    ("jiangsu-high", dict(trigger='cpi = "3.0"', rate="cpi", method="tiered_fraction", rounding="fen_half_up", extra=TIERS),
     dict(cpi="105.3"), "900", "112.50"),
    # Qingdao: 5 yuan per started point of SCPI: 3.2 -> 4 points = 20; 3.0 -> 3 points = 15
    ("qingdao-3.2", dict(rate="scpi", method="per_point", extra='per_point = "5"'), dict(cpi="103.6", food="100.0", scpi="103.2"), "870", "20.00"),
    ("qingdao-3.0", dict(rate="scpi", method="per_point", extra='per_point = "5"'), dict(cpi="103.6", food="100.0", scpi="103.0"), "870", "15.00"),
    # Guilin floor 10: 200 x 3.5% = 7.00 -> raised to 10
    ("floor", dict(rate="cpi", minimum="10"), dict(cpi="103.5", food="100.0"), "200", "10.00"),
    # 见角进元: 870 x 3.6% = 31.32 -> 32
    ("yuan-ceil", dict(rounding="yuan_ceil"), dict(cpi="103.6", food="100.0"), "870", "32.00"),
    # jiao half up: 875 x 3.7% = 32.375 -> 32.4; fen half up -> 32.38
    ("jiao", dict(rounding="jiao_half_up"), dict(cpi="103.7", food="100.0"), "875", "32.40"),
    ("fen", dict(rounding="fen_half_up"), dict(cpi="103.7", food="100.0"), "875", "32.38"),
    # binary floating point says 875 * 0.036 = 31.499999999999996; exactly it is 31.50 -> 32
    ("float-trap", dict(), dict(cpi="103.6", food="100.0"), "875", "32.00"),
    # 375 x 3.6% = 13.50 -> 14 (float: 13.499999999999998)
    ("float-trap-2", dict(), dict(cpi="103.6", food="100.0"), "375", "14.00"),
    # doubling: 870 x 3.6% = 31.32 -> 31, x 2 = 62
    ("multiplier", dict(multiplier="2"), dict(cpi="103.6", food="100.0"), "870", "62.00"),
    # floor before multiplier: 200 x 3.5% = 7 -> floor 10 -> x 2 = 20
    ("floor-then-multiplier", dict(rate="cpi", minimum="10", multiplier="2"), dict(cpi="103.5", food="100.0"), "200", "20.00"),
    # fractional multiplier: 31 x 1.5 = 46.50
    ("multiplier-1.5", dict(multiplier="1.5"), dict(cpi="103.6", food="100.0"), "870", "46.50"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_method_and_rounding(tmp_path, cli, home, case):
    _, opts, figures, standard, expected = case
    cfg = tmp_path / "cfg"
    (cfg / "schemes").mkdir(parents=True)
    write_scheme(cfg / "schemes", **opts)
    put_figures(home, "2024-01", **figures)
    (tmp_path / "std.csv").write_text(f"region_code,effective_from,urban_monthly,rural_monthly\n140100,2020-01,{standard},300\n")
    pid = make_id("140105", "19500101", "001")
    (tmp_path / "r.csv").write_text(f"person_id,name,category,region_code,persons\n{pid},甲,urban_dibao,140105,2\n")
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", tmp_path / "r.csv", "--standards", tmp_path / "std.csv",
            "--scheme", "t", "--out", tmp_path / "o", "--format", "json")
    assert r.exit_code == 0, r.stderr
    (row,) = pq.read_table(tmp_path / "o" / "payments.parquet").to_pylist()
    assert str(row["amount_per_person"]) == expected
    assert row["amount"] == Decimal(expected) * 2  # a household of two


def _rules(method, **kw):
    base = dict(method=method, tiers=((Decimal("3.0"), Fraction(1, 12)), (Decimal("5.0"), Fraction(1, 8))),
                per_point=Decimal("5"))
    base.update(kw)
    return SimpleNamespace(**base)


@settings(max_examples=200, deadline=None)
@given(
    std_fen=st.integers(min_value=0, max_value=2_000_000),
    r1=st.integers(min_value=0, max_value=3000),
    r2=st.integers(min_value=0, max_value=3000),
    method=st.sampled_from(["proportional", "tiered_fraction", "per_point"]),
    rounding=st.sampled_from(["yuan_half_up", "yuan_ceil", "jiao_half_up", "fen_half_up"]),
)
def test_amounts_never_fall_as_the_rate_rises(std_fen, r1, r2, method, rounding):
    from cpi_link.rules.amounts import raw_amount as _raw_amount
    from cpi_link.core.money import round_ratio

    lo, hi = sorted((r1, r2))
    rules = _rules(method)
    std12 = np.array([std_fen * 12], dtype=np.int64)
    out = []
    for rate in (lo, hi):
        num, den = _raw_amount(rules, std12, np.array([rate], dtype=np.int64))
        out.append(int(round_ratio(num, den, rounding)[0]))
    assert 0 <= out[0] <= out[1]
    # and the exact half-up rule, checked against Decimal for the proportional method
    if method == "proportional" and rounding == "yuan_half_up":
        from decimal import ROUND_HALF_UP

        exact = (Decimal(std_fen) / 100) * (Decimal(hi) / 100) / 100
        assert out[1] == int(exact.quantize(Decimal("1"), rounding=ROUND_HALF_UP)) * 100
