"""Exact money: integer fen, ratios rounded explicitly, decimal128 for Parquet.

Amounts are computed as an integer numerator over an integer denominator (both in fen), then
rounded by the scheme's declared mode. Nothing passes through binary floating point, and
Python's built-in rounding (half to even) is never used.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import numpy as np

from cpi_link.core.errors import InputError

# rounding mode -> (unit in fen, kind)
ROUNDING = {
    "yuan_half_up": (100, "half_up"),
    "yuan_ceil": (100, "ceil"),
    "jiao_half_up": (10, "half_up"),
    "fen_half_up": (1, "half_up"),
}


def round_ratio(num: np.ndarray, den: np.ndarray | int, mode: str) -> np.ndarray:
    """Round num/den (fen, non-negative) to the mode's unit; returns int64 fen."""
    unit, kind = ROUNDING[mode]
    num = np.asarray(num, dtype=np.int64)
    den = np.asarray(den, dtype=np.int64)
    if np.any(num < 0):
        raise ValueError("amounts below zero cannot be rounded half up here")
    step = den * unit
    if kind == "half_up":
        q = (2 * num + step) // (2 * step)
    else:  # ceil
        q = (num + step - 1) // step
    return (q * unit).astype(np.int64)


def round_fraction(value: Fraction, mode: str) -> int:
    """Scalar twin of round_ratio for one exact amount in fen (funding shares)."""
    return int(round_ratio(np.array([value.numerator]), value.denominator, mode)[0])


def yuan_to_fen(d: Decimal, what: str = "amount") -> int:
    fen = d * 100
    if fen != fen.to_integral_value():
        raise ValueError(f"{what} {d} is not a whole number of fen")
    return int(fen)


def fen_to_decimal(fen: int) -> Decimal:
    return (Decimal(int(fen)) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def fen_to_yuan_str(fen: int) -> str:
    return format(fen_to_decimal(fen), "f")


class AmountOverflow(InputError, OverflowError):
    """An amount that does not fit its decimal column: bad input (exit 2), never written."""


def check_fen(fen: np.ndarray, precision: int = 18, what: str = "an amount") -> None:
    """InputError (exit 2) unless every value fits decimal(precision, 2): checked before any
    amount is written, so an absurd input is refused, never wrapped."""
    if len(fen) == 0:
        return
    lo, hi = int(np.min(fen)), int(np.max(fen))
    limit = 10 ** precision - 1
    if lo < -limit or hi > limit:
        digits = len(str(abs(lo if lo < -limit else hi) // 100))  # the digits, not the number: it could look like an ID
        raise AmountOverflow(f"{what} of {digits} digits of yuan does not fit decimal({precision},2) (at most "
                             f"{precision - 2}); check the standards, the scheme and the persons")


def decimal128_from_fen(fen: np.ndarray, precision: int = 18, what: str = "an amount"):
    """An Arrow decimal128(precision, 2) array whose unscaled values are exactly the given fen
    (each checked to fit, check_fen)."""
    import pyarrow as pa

    fen = np.ascontiguousarray(fen, dtype=np.int64)
    check_fen(fen, precision, what)
    words = np.empty((len(fen), 2), dtype=np.int64)  # little-endian 128-bit two's complement
    words[:, 0] = fen
    words[:, 1] = fen >> 63
    return pa.Array.from_buffers(pa.decimal128(precision, 2), len(fen), [None, pa.py_buffer(words)])


def small_decimal_from_fen(fen: np.ndarray, precision: int = 18, valid: np.ndarray | None = None):
    """The same values as decimal128_from_fen, as Arrow's narrower decimal (small_decimal_type):
    decimal32 up to 9 digits, else decimal64, whose storage is the int32/int64 itself (no copy for
    int64); null where the bool `valid` is false. A Parquet writer with store_decimal_as_integer
    writes the same bytes for either (DECIMAL on INT32/INT64), converting no 128-bit value: calc's
    payments writer takes these."""
    import pyarrow as pa

    fen = np.asarray(fen)
    check_fen(fen if valid is None else fen[valid], precision)
    values = np.ascontiguousarray(fen, dtype=np.int32 if precision <= 9 else np.int64)
    if precision <= 9 and len(values) and not np.array_equal(values, fen):
        raise OverflowError(f"an amount does not fit decimal32({precision}, 2)")
    bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(small_decimal_type(precision), len(values), [bitmap, pa.py_buffer(values)],
                                 null_count=0 if valid is None else int(len(valid) - valid.sum()))


def small_decimal_type(precision: int = 18):
    """The Arrow type small_decimal_from_fen gives for `precision`."""
    import pyarrow as pa

    return pa.decimal32(precision, 2) if precision <= 9 else pa.decimal64(precision, 2)


def fen_from_decimal128(arr) -> np.ndarray:
    """The inverse, for reading outputs back (tests, reports)."""
    import pyarrow as pa

    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    assert arr.type.scale == 2
    buf = arr.buffers()[1]
    words = np.frombuffer(buf, dtype=np.int64, count=2 * (arr.offset + len(arr)))[2 * arr.offset :]
    return words[0::2].copy()


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL = ("", "拾", "佰", "仟")
_BIG = ("", "万", "亿", "万亿")


def _group_words(g: int) -> str:
    out, zero = "", False
    for pos in (3, 2, 1, 0):
        d = g // 10**pos % 10
        if d == 0:
            zero = bool(out)
        else:
            out += ("零" if zero else "") + _DIGITS[d] + _SMALL[pos]
            zero = False
    return out


def rmb_upper(fen: int) -> str:
    """An amount in words as written on Chinese financial papers (人民币大写, 《支付结算办法》):
    53800 -> 人民币伍佰叁拾捌元整, 100005 -> 人民币壹仟元零伍分, 5 -> 人民币伍分. Exact from integer
    fen (a few lines here rather than cn2an and its dependency for this one use)."""
    fen = int(fen)
    if fen < 0:
        return "负" + rmb_upper(-fen)
    yuan, jiao, f = fen // 100, fen // 10 % 10, fen % 10
    groups = []
    while yuan:
        groups.append(yuan % 10000)
        yuan //= 10000
    if len(groups) > len(_BIG):
        raise ValueError("amount too large for words")
    words, pending = "", False
    for i in range(len(groups) - 1, -1, -1):
        g = groups[i]
        if g == 0:
            pending = bool(words)
            continue
        if words and (pending or g < 1000 or groups[i + 1] % 10 == 0):  # 壹佰万零肆仟: the gap said once
            words += "零"
        words += _group_words(g) + _BIG[i]
        pending = False
    if words:
        words += "元"
    if jiao == 0 and f == 0:
        return "人民币" + (words or "零元") + "整"
    if jiao:
        words += _DIGITS[jiao] + "角"
    elif words:
        words += "零"
    if f:
        words += _DIGITS[f] + "分"
    return "人民币" + words


def split_by_funder(total_fen: int, funding: dict) -> list[dict]:
    """Each funder's share in fen, half up; the last funder takes what rounding left, so the
    shares add up to the total exactly."""
    out, given = [], 0
    items = list(funding.items())
    for i, (funder, share) in enumerate(items):
        fen = total_fen - given if i == len(items) - 1 else round_fraction(Fraction(total_fen) * Fraction(str(share)), "fen_half_up")
        given += fen
        out.append({"funder": funder, "share": format(Decimal(str(share)).normalize(), "f"), "amount": fen_to_yuan_str(fen)})
    return out
