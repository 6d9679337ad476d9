"""Published decimals: parse exactly, never through binary floating point."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

HUNDRED = Decimal(100)


def parse_decimal(text: object, what: str = "value") -> Decimal:
    """Parse a decimal from its text. Floats are refused: they have already lost the published digits."""
    if isinstance(text, float):
        raise ValueError(f"{what} arrived as a binary float ({text!r}); give it as text")
    if isinstance(text, Decimal):
        d = text
    else:
        s = unicodedata.normalize("NFKC", str(text)).strip().replace(",", "")  # full-width digits too
        if s.endswith("%"):
            s = s[:-1].strip()
        try:
            d = Decimal(s)
        except InvalidOperation:
            raise ValueError(f"{what} {text!r} is not a number") from None
    if not d.is_finite():
        raise ValueError(f"{what} {text!r} is not a finite number")
    return d


_PLAIN = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


def plain_decimal(text: object, what: str = "value") -> Decimal:
    """A decimal as an officer types it in a table: digits with at most one '.', full-width forms
    read as ASCII; no thousands separators ('4,5' is 4.5 or 45?), exponents or other forms."""
    s = "".join(unicodedata.normalize("NFKC", str(text)).split())
    if not _PLAIN.fullmatch(s):
        raise ValueError(f"{what} {text!r} is not a plain decimal number")
    return Decimal(s)


def fmt_pct(d: Decimal | None) -> str | None:
    """A percentage or index as published: at least one decimal, no trailing noise ('3.5', '6.0', '-0.2')."""
    if d is None:
        return None
    q = d.normalize()
    if q == 0:
        return "0.0"
    if q.as_tuple().exponent >= 0:
        q = q.quantize(Decimal("0.1"))
    return format(q, "f")


