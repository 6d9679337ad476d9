"""The amount chain of SPEC 5.4, per person in integer fen, vectorised: raw (the method's exact
value) -> rounding -> minimum -> multiplier. The one implementation: calc's batches, oneoff's
programmes, estimate and scheme examples all call per_person_fen.

Inputs are numpy arrays of one entry per case (a row, or a group of rows that share them):
std12 = the monthly standard in fen x 12 (an annual standard in fen is exact there), rate_h = the
rate in hundredths of a percent, fixed = the method "fixed"'s amount in fen for the case's category
and area (fixed_fen gives it), unused by the other methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Protocol

import numpy as np

from cpi_link.core.errors import ConfigError
from cpi_link.core.money import round_ratio, yuan_to_fen

AREAS = ("urban", "rural")  # area index 0 and 1, as calc's batches code them


class AmountRules(Protocol):
    """What the amount chain reads of the rules in force: schemes.Rules, or a programme's rules
    (jobs.oneoff.ProgrammeRules)."""

    @property
    def method(self) -> str: ...  # proportional | tiered_fraction | per_point | fixed
    @property
    def tiers(self) -> tuple: ...  # ((from_pct, fraction), ...) ascending, for tiered_fraction
    @property
    def per_point(self) -> Decimal | None: ...  # yuan per started percentage point
    @property
    def rounding(self) -> str: ...
    @property
    def minimum(self) -> Decimal: ...  # yuan
    @property
    def multiplier(self) -> Decimal: ...
    @property
    def amounts_fen(self) -> Mapping[str, int | Mapping[str, int]]: ...  # fixed: category -> fen, or by area


def rate_hundredths(rate_pct: Decimal) -> int:
    """A YoY rate in hundredths of a percent (3.5 -> 350); published rates have one decimal."""
    h = rate_pct * 100
    if h != h.to_integral_value():
        raise ConfigError(f"rate {rate_pct}% has more than two decimals")
    return int(h)


def raw_amount(rules: AmountRules, std12: np.ndarray, rate_h: np.ndarray, fixed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | int]:
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
    if rules.method == "fixed":
        if fixed is None:
            raise ConfigError("method fixed needs the amounts by category")
        return np.asarray(fixed, dtype=np.int64), 1
    raise ConfigError(f"unknown method {rules.method!r}")


def per_person_fen(rules: AmountRules, std12: np.ndarray, rate_h: np.ndarray, fixed: np.ndarray | None = None) -> np.ndarray:
    """amount_per_person in fen: rounding of raw, floored at the minimum, times the multiplier (a
    fractional multiplier rounds the product to the fen, half up)."""
    num, den = raw_amount(rules, std12, rate_h, fixed)
    rounded = round_ratio(num, den, rules.rounding)
    floored = np.maximum(rounded, yuan_to_fen(Decimal(rules.minimum), "minimum"))
    mult = Fraction(str(rules.multiplier))
    return round_ratio(floored * mult.numerator, mult.denominator, "fen_half_up") if mult != 1 else floored


def fixed_fen(rules: AmountRules, categories: list[str], area: int) -> np.ndarray:
    """Method fixed: the amount in fen per category (in the order given) for one area (0 urban,
    1 rural); 0 for categories the rules give no amount. `rules.amounts_fen` maps a category to
    fen, or to {"urban": fen, "rural": fen} for a by_area category."""
    amounts = rules.amounts_fen
    out = np.zeros(len(categories), np.int64)
    for i, c in enumerate(categories):
        a = amounts.get(c)
        if isinstance(a, Mapping):
            a = a.get(AREAS[area])
        if a is not None:
            out[i] = a
    return out


def amounts_in_fen(amounts: Mapping) -> dict:
    """A scheme's fixed amounts (yuan, or {"urban": yuan, "rural": yuan}) in fen."""
    return {c: {k: yuan_to_fen(Decimal(v), f"amounts.{c}") for k, v in a.items()} if isinstance(a, Mapping)
            else yuan_to_fen(Decimal(a), f"amounts.{c}") for c, a in amounts.items()}
