"""Spreadsheet formula injection: one rule for every CSV, TXT and XLSX cell the tool writes.

A cell starting like a formula (=, +, -, @, a tab or a line break) is opened by Excel and WPS as one;
written with a leading ' (CSV, TXT) or Excel's quote prefix (XLSX) it shows as the text it is. A
number ("-12.50") is left alone, and an account's digits are never changed.
"""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def formula_like(s: str) -> bool:
    if s[:1] not in FORMULA_START:
        return False
    if s[:1] in "-+":
        from decimal import Decimal, InvalidOperation

        try:
            return not Decimal(s).is_finite()
        except InvalidOperation:
            return True
    return True


def neutral(s: str) -> str:
    """The text to write in a CSV or TXT cell: a leading ' before anything a spreadsheet would run."""
    return "'" + s if formula_like(s) else s
