"""The amount chain of SPEC 5.4, per person in integer fen: raw (the method's exact value) ->
rounding -> minimum -> multiplier. One implementation, used by calc, oneoff and estimate."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np

from cpi_link.core.errors import ConfigError
from cpi_link.core.money import yuan_to_fen


def rate_hundredths(rate_pct: Decimal) -> int:
    """A YoY rate in hundredths of a percent (3.5 -> 350); published rates have one decimal."""
    h = rate_pct * 100
    if h != h.to_integral_value():
        raise ConfigError(f"rate {rate_pct}% has more than two decimals")
    return int(h)



def raw_amount(rules, std12: np.ndarray, rate_h: np.ndarray) -> tuple[np.ndarray, np.ndarray | int]:
    """The method's exact value in fen as numerator/denominator (std12 is fen x 12)."""
    if rules.method == "proportional":
        # standard x rate / 100  ->  (std12 / 12) x (rate_h / 100) / 100
        return std12 * rate_h, 120_000
    if rules.method == "tiered_fraction":
        num = np.zeros(len(std12), dtype=np.int64)
        den = np.ones(len(std12), dtype=np.int64)
        for from_pct, frac in rules.tiers:  # ascending: later tiers overwrite, so the highest reached wins
            m = rate_h >= rate_hundredths(Decimal(from_pct))
            frac = Fraction(frac)
            num = np.where(m, std12 * frac.numerator, num)
            den = np.where(m, 12 * frac.denominator, den)
        return num, den
    if rules.method == "per_point":
        points = (rate_h + 99) // 100  # every started percentage point: 3.2 -> 4, 3.0 -> 3
        return points * yuan_to_fen(Decimal(rules.per_point), "per_point"), 1
    raise ConfigError(f"unknown method {rules.method!r}")
