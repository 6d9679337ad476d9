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


def formula_like_mask(arr):
    """formula_like of every value of a pyarrow string array, as a numpy bool array (null: False).
    Read from each value's first byte; a value starting with + or - is checked as text only when it
    is not plainly a number ("-12.50"), so a column of amounts costs no Python per value."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    if pa.types.is_dictionary(arr.type):
        if not len(arr.dictionary):  # every value null: nothing to look up
            return np.zeros(len(arr), bool)
        return formula_like_mask(arr.dictionary)[arr.indices.fill_null(0).to_numpy(zero_copy_only=False)] & \
            arr.is_valid().to_numpy(zero_copy_only=False)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        raise TypeError(f"formula_like_mask: a string array, not {arr.type}")
    n = len(arr)
    _validity, offsets, data = arr.buffers()
    off = np.frombuffer(offsets, np.int64 if pa.types.is_large_string(arr.type) else np.int32,
                        count=arr.offset + n + 1)[arr.offset:]
    first = np.zeros(n, np.uint8)
    some = off[1:] > off[:-1]
    if some.any():
        first[some] = np.frombuffer(data, np.uint8)[off[:-1][some]]
    hit = np.isin(first, np.frombuffer("".join(FORMULA_START).encode(), np.uint8))
    if arr.null_count:
        hit &= arr.is_valid().to_numpy(zero_copy_only=False)
    signed = np.flatnonzero(hit & ((first == ord("+")) | (first == ord("-"))))
    if len(signed):
        vals = arr.take(pa.array(signed))
        number = pc.match_substring_regex(vals, r"^[+-][0-9]+(\.[0-9]+)?$").to_numpy(zero_copy_only=False)
        hit[signed[number]] = False
        rest = signed[~number]
        if len(rest):
            hit[rest] = [formula_like(s) for s in arr.take(pa.array(rest)).to_pylist()]
    return hit
