"""Resident identity numbers (GB 11643-1999): normalise, verify, convert 15 -> 18 digits, mask.

An ID is 6 digits of region, 8 of birth date (YYYYMMDD), 3 of sequence and a check character:
check = "10X98765432"[sum(d_i * w_i) % 11] with weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2.

`normalise_ids` works on a whole pyarrow column at once: the fixed-width ASCII bytes of the
well-formed rows are viewed as a uint8 matrix and checked with numpy (checksum, birth date). Rows
with an irregular shape (padding, full-width characters, spreadsheet-mangled numbers...) are rare
and go through the scalar `check_id`, which gives the same answers (a property test holds them to
it). Messages never contain a full ID: use `mask_id` when one must be shown.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"

FLAG_CONVERTED = "converted_from_15"
FLAG_REFORMATTED = "id_reformatted"  # written with spaces, dashes or dots between its digit groups

# Reason codes shared with cpi_link.roster (index 0 = no problem), in order of precedence.
REASONS: tuple[str | None, ...] = (
    None,
    "id_lost_precision",
    "invalid_id",
    "missing_field",
    "unknown_category",
    "bad_persons",
    "bank_account_lost_precision",
    "formula_without_value",  # a spreadsheet cell with a formula and no stored value (roster.read)
    "bad_cell",  # a date, TRUE/FALSE or an error such as #N/A where text or a number belongs
    "remark_says_stopped",  # 备注 says 死亡, 去世, 停保, 注销, 迁出 or 暂停 (roster.check)
    "total_row",  # a 合计/小计/总计 row (roster.check): never a person
    "title_row",  # a page title between tables (roster.check): never a person
)
R_OK, R_LOST, R_INVALID, R_MISSING, R_UNKNOWN_CAT, R_BAD_PERSONS, R_BANK_LOST, R_FORMULA, R_BAD_CELL = range(9)
R_STOPPED, R_TOTAL, R_TITLE = 9, 10, 11

MSG_EMPTY = "person_id is empty"
MSG_LOST = (
    "the ID went through a spreadsheet as a number (scientific notation or a trailing '.0'), "
    "so its last digits are lost; re-export the column as text"
)
MSG_SHAPE = "must be 17 digits and a check digit or X (18 characters), or a 15-digit legacy ID"
MSG_DATE_BAD = "birth date part (characters 7-14) is not a real date"
MSG_DATE_OLD = "birth date part (characters 7-14) is before 1900"
MSG_DATE_FUTURE = "birth date part (characters 7-14) is in the future"
_ZERO_HINT = "; an ID ending in zeros may have gone through a spreadsheet as a number"

_W = np.array(WEIGHTS, dtype=np.int32)
_DATE_PLACES = (10 ** np.arange(7, -1, -1)).astype(np.int32)
_CHECK_BYTES = np.frombuffer(CHECK_CHARS.encode(), dtype=np.uint8)
_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int32)
_X, _x = ord("X"), ord("x")

_RE_18 = re.compile(r"\d{17}[\dX]")
_RE_15 = re.compile(r"\d{15}")
_RE_LOST = re.compile(r"[+-]?\d+(\.\d*)?E[+-]?\d+|\d+\.0*")
# separators people put between an ID's digit groups (140105 19611021 1015, 140105-19630413-1030)
_SEP_CHARS = r"\s\-.·\u2010-\u2015\u2212\u30fb"
_RE_SEP = re.compile(rf"[{_SEP_CHARS}]+")
_RE_GROUPED = re.compile(rf"\d+(?:[{_SEP_CHARS}]+\d+)+(?:[{_SEP_CHARS}]*X)?")
# characters that look like the check character X but are not (Cyrillic Kha, multiplication sign...)
LOOKALIKE_X = {"\u0425": "Cyrillic Х (U+0425)", "\u0445": "Cyrillic х (U+0445)", "\u00d7": "the multiplication sign × (U+00D7)",
               "\u03a7": "Greek Χ (U+03A7)", "\u03c7": "Greek χ (U+03C7)", "\u2573": "the box-drawing ╳ (U+2573)"}
# Arrow (RE2) patterns for the cheap vectorised clean-up of irregular rows: invisible format
# characters (Unicode Cf: ZWSP, BOM, LRM, LRE/PDF, WJ, soft hyphen, ZWJ...) anywhere, and padding
# at either end (spaces inside are separators: the scalar check_id flags them)
_ARROW_CF = r"\p{Cf}+"
_ARROW_PAD = r"^[\s\x{3000}\x{00A0}]+|[\s\x{3000}\x{00A0}]+$"


def check_char(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("check_char needs exactly 17 ASCII digits")
    return CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, WEIGHTS)) % 11]


@dataclass(frozen=True)
class IdCheck:
    person_id: str | None  # normalised 18 characters, or None when rejected
    flag: str | None  # FLAG_CONVERTED, or None
    reason: str | None  # None, id_lost_precision, invalid_id or missing_field
    detail: str | None


def today_int() -> int:
    t = _dt.date.today()
    return t.year * 10000 + t.month * 100 + t.day


def _date_problem(ymd: str, today: int) -> str | None:
    y, m, d = int(ymd[:4]), int(ymd[4:6]), int(ymd[6:8])
    try:
        _dt.date(y, m, d)
    except ValueError:
        return MSG_DATE_BAD
    if y < 1900:
        return MSG_DATE_OLD
    if int(ymd) > today:
        return MSG_DATE_FUTURE
    return None


def _clean(text: str) -> str:
    t = unicodedata.normalize("NFKC", text)  # full-width digits, X and spaces -> ASCII
    t = "".join(ch for ch in t if unicodedata.category(ch) != "Cf").strip()  # invisible format characters
    if t.startswith("'"):  # Excel's "this is text" marker
        t = t[1:].strip()
    return t.upper()


def check_id(text: object, *, today: int | None = None) -> IdCheck:
    """Normalise and verify one ID (the scalar reference for `normalise_ids`)."""
    today = today_int() if today is None else today
    t = _clean("" if text is None else str(text))
    if not t:
        return IdCheck(None, None, "missing_field", MSG_EMPTY)
    if _RE_LOST.fullmatch(t):
        return IdCheck(None, None, "id_lost_precision", MSG_LOST)
    flag = None
    if _RE_SEP.search(t):
        joined = _RE_SEP.sub("", t)
        if not (_RE_GROUPED.fullmatch(t) and (_RE_18.fullmatch(joined) or _RE_15.fullmatch(joined))):
            digits = sum(c.isdigit() for c in t)
            return IdCheck(None, None, "invalid_id", f"{MSG_SHAPE}; written with separators, it has {digits} digits")
        t, flag = joined, FLAG_REFORMATTED
    if len(t) == 18 and t[:17].isdigit() and t[17] in LOOKALIKE_X:
        return IdCheck(None, None, "invalid_id", f"the check character is {LOOKALIKE_X[t[17]]}, which only looks like X: "
                                                 "type the letter X")
    if _RE_15.fullmatch(t):
        first17 = t[:6] + "19" + t[6:]
        t = first17 + check_char(first17)
        flag = FLAG_CONVERTED  # (it outranks id_reformatted: the ID itself was changed)
    elif not _RE_18.fullmatch(t):
        return IdCheck(None, None, "invalid_id", f"{MSG_SHAPE}; got {len(t)} characters")
    problem = _date_problem(t[6:14], today)
    if problem:
        return IdCheck(None, None, "invalid_id", problem)
    want = check_char(t[:17])
    if t[17] != want:
        hint = _ZERO_HINT if t[14:17] == "000" or t[15:18] == "000" else ""
        return IdCheck(None, None, "invalid_id", f"check character should be {want}, not {t[17]}{hint}")
    return IdCheck(t, flag, None, None)


# --------------------------------------------------------------------------------------------
# Vectorised


@dataclass
class IdColumn:
    """The result of `normalise_ids` for n rows."""

    person_id: pa.StringArray  # normalised, null when rejected
    flag: pa.StringArray  # FLAG_CONVERTED or null
    reason: np.ndarray  # int8 index into REASONS (0 = fine)
    detail: np.ndarray  # object array: str or None
    key: np.ndarray  # int64 key17 of the normalised ID (the same person, the same key); 0 when rejected


def offsets_of(arr: pa.Array) -> np.ndarray:
    """The n + 1 int32 value offsets of a (non-empty) string array, as a numpy view."""
    return np.frombuffer(arr.buffers()[1], dtype=np.int32, count=arr.offset + len(arr) + 1)[arr.offset :]


def _matrix(arr: pa.Array, width: int) -> np.ndarray:
    """View a string array whose every value is `width` bytes long (no nulls) as (n, width) uint8."""
    n = len(arr)
    if n == 0:
        return np.zeros((0, width), dtype=np.uint8)
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    start = int(offsets_of(arr)[0])
    return data[start : start + n * width].reshape(n, width)


def _check_matrix(m17: np.ndarray, today: int) -> tuple[np.ndarray, np.ndarray]:
    """For (n, 17) uint8 ASCII digits: (check character bytes, date problem code 0..3)."""
    return _check_digits(m17 - np.uint8(48), today)


_Y_PLACES = np.array([1000, 100, 10, 1], dtype=np.int32)


def _check_digits(d: np.ndarray, today: int) -> tuple[np.ndarray, np.ndarray]:
    """_check_matrix for digit values 0..9 (n, >=17): integer arithmetic throughout; einsum
    casts block by block, with no int32 copy of the matrix."""
    total = np.einsum("ij,j->i", d[:, :17], _W, dtype=np.int32, casting="unsafe")
    check = _CHECK_BYTES[total % 11]
    y = np.einsum("ij,j->i", d[:, 6:10], _Y_PLACES, dtype=np.int32, casting="unsafe")
    mo = d[:, 10] * np.uint8(10) + d[:, 11]  # < 100: no uint8 overflow
    dd = d[:, 12] * np.uint8(10) + d[:, 13]
    dim = _DAYS[np.clip(mo, 1, 12) - 1]  # months outside 1..12 are rejected below anyway
    feb29 = (mo == 2) & (dd == 29)
    if feb29.any():
        yf = y[feb29]
        dim[feb29] += (yf % 4 == 0) & ((yf % 100 != 0) | (yf % 400 == 0))
    real = (mo >= 1) & (mo <= 12) & (dd >= 1) & (dd <= dim)
    ymd = y * 10000 + mo.astype(np.int32) * 100 + dd
    date_code = np.zeros(len(d), dtype=np.int8)
    date_code[ymd > today] = 3
    date_code[y < 1900] = 2
    date_code[~real] = 1
    return check, date_code


def _key_digits(d: np.ndarray) -> np.ndarray:
    """key17 for digit values 0..9 (n, >=17)."""
    hi = np.einsum("ij,j->i", d[:, :9], _P9, dtype=np.int32, casting="unsafe")
    lo = np.einsum("ij,j->i", d[:, 9:17], _P8, dtype=np.int32, casting="unsafe")
    return hi.astype(np.int64) * 100_000_000 + lo


def _checksum_detail(check: int, given: int, tail17: bytes) -> str:
    """The invalid_id message for a wrong check character (tail17: characters 15-17)."""
    tail = tail17 + bytes([given])
    hint = _ZERO_HINT if tail[:3] == b"000" or tail[1:] == b"000" else ""
    return f"check character should be {chr(check)}, not {chr(given)}{hint}"


def _fast_18(s: pa.Array, today: int) -> "IdColumn | None":
    """The usual column: every value 18 characters, 17 digits and a digit or X. Checked in one
    pass over one digit matrix, without copying the IDs (a rejected row becomes a null slot over
    its own bytes). None when any row needs the general path (other lengths, nulls, non-digits)."""
    n = len(s)
    if n == 0 or s.null_count:
        return None
    offsets = offsets_of(s)
    if int(offsets[-1] - offsets[0]) != 18 * n or not (np.diff(offsets) == 18).all():
        return None
    m = _matrix(s, 18)
    d = m - np.uint8(48)
    last = m[:, 17]
    if (d[:, :17] > 9).any() or not ((d[:, 17] <= 9) | (last == _X) | (last == _x)).all():
        return None
    lower = last == _x
    any_lower = bool(lower.any())
    given = np.where(lower, np.uint8(_X), last) if any_lower else last
    check, date_code = _check_digits(d, today)
    reason = np.zeros(n, dtype=np.int8)
    detail = np.full(n, None, dtype=object)
    good = (date_code == 0) & (check == given)
    all_good = bool(good.all())
    if not all_good:
        bad_sum = (date_code == 0) & ~good
        for i in np.flatnonzero(bad_sum):
            detail[i] = _checksum_detail(int(check[i]), int(given[i]), m[i, 14:17].tobytes())
        bad_date = date_code != 0
        detail[bad_date] = np.array(_DATE_MSGS, dtype=object)[date_code[bad_date]]
        reason[~good] = R_INVALID
    if any_lower:  # normalise x -> X: a new buffer
        out = m.copy()
        out[:, 17] = given
        data = pa.py_buffer(out.tobytes())
        offs = pa.py_buffer(np.arange(0, 18 * (n + 1), 18, dtype=np.int32).tobytes())
        off = 0
    else:
        data, offs, off = s.buffers()[2], s.buffers()[1], s.offset
    if all_good and not any_lower:
        person_id = s
    else:
        bitmap = None if all_good else pa.py_buffer(np.packbits(good, bitorder="little").tobytes())
        if bitmap is not None and off:
            # a validity bitmap for a sliced array: build it for offset 0 over a re-based copy
            data = pa.py_buffer(m.tobytes())
            offs = pa.py_buffer(np.arange(0, 18 * (n + 1), 18, dtype=np.int32).tobytes())
            off = 0
        person_id = pa.StringArray.from_buffers(n, offs, data, bitmap, null_count=int(n - good.sum()), offset=off)
    key = _key_digits(d)
    if not all_good:
        key[~good] = 0
    return IdColumn(person_id=person_id, flag=pa.nulls(n, pa.string()), reason=reason, detail=detail, key=key)


@dataclass
class CheckedIds:
    """What normalise_ids found for one column of the usual shape (every ID 18 characters, no
    lower-case x), kept by calc's first pass so the second pass, reading the same rows again,
    does not check them twice: per row the reason (0 = fine) and key, the messages of the
    rejected rows. `for_column` rebuilds the IdColumn over the second pass's own copy."""

    reason: np.ndarray
    key: np.ndarray
    details: dict

    @staticmethod
    def of(raw: pa.Array, ids: "IdColumn") -> "CheckedIds | None":
        """For an IdColumn whose normalised IDs are `raw`'s own bytes (else None: not kept)."""
        p = ids.person_id
        if (p.offset != raw.offset or ids.flag.null_count != len(ids.flag)
                or p.buffers()[1].address != raw.buffers()[1].address
                or p.buffers()[2].address != raw.buffers()[2].address):
            return None
        bad = np.flatnonzero(ids.reason)
        return CheckedIds(ids.reason, ids.key, {int(i): ids.detail[i] for i in bad})

    def for_column(self, raw: pa.Array) -> "IdColumn | None":
        """The IdColumn of `raw` (the same IDs as when checked), or None if it cannot be rebuilt."""
        n = len(raw)
        if n != len(self.reason) or raw.offset or raw.null_count or not pa.types.is_string(raw.type):
            return None
        offsets = offsets_of(raw)
        if int(offsets[-1] - offsets[0]) != 18 * n:
            return None
        good = self.reason == R_OK
        if good.all():
            person_id = raw
        else:
            bitmap = pa.py_buffer(np.packbits(good, bitorder="little").tobytes())
            person_id = pa.StringArray.from_buffers(n, raw.buffers()[1], raw.buffers()[2], bitmap,
                                                    null_count=int(n - good.sum()))
        detail = np.full(n, None, dtype=object)
        for i, msg in self.details.items():
            detail[i] = msg
        return IdColumn(person_id=person_id, flag=pa.nulls(n, pa.string()), reason=self.reason.copy(),
                        detail=detail, key=self.key)


def _digit_rows(body: np.ndarray) -> np.ndarray:
    """Bool per row: every byte of the (n, k) uint8 matrix is an ASCII digit."""
    bad = (body - np.uint8(48)) > 9  # uint8 wraps below '0'
    if not bad.any():  # the usual case: one pass, no per-row reduction
        return np.ones(len(body), dtype=bool)
    return ~bad.any(axis=1)


_DATE_MSGS = (None, MSG_DATE_BAD, MSG_DATE_OLD, MSG_DATE_FUTURE)


def normalise_ids(raw: pa.Array | pa.ChunkedArray, *, today: int | None = None) -> IdColumn:
    """Normalise and verify a whole column of IDs (strings; nulls count as empty)."""
    today = today_int() if today is None else today
    if isinstance(raw, pa.ChunkedArray):
        raw = raw.combine_chunks() if raw.num_chunks != 1 else raw.chunk(0)
    if not pa.types.is_string(raw.type):
        raw = raw.cast(pa.string())
    n = len(raw)
    fast = _fast_18(raw, today)
    if fast is not None:
        return fast
    s = pc.fill_null(raw, "") if raw.null_count else raw
    out = np.zeros((n, 18), dtype=np.uint8)
    valid = np.zeros(n, dtype=bool)
    converted = np.zeros(n, dtype=bool)
    reformatted = np.zeros(n, dtype=bool)
    reason = np.zeros(n, dtype=np.int8)
    detail = np.full(n, None, dtype=object)

    lengths = pc.binary_length(s).to_numpy(zero_copy_only=False)
    regular = (lengths == 18) | (lengths == 15)
    s_orig = s
    if not regular.all():
        # Trim padding / invisible spaces / a leading apostrophe from the irregular rows at once.
        irr_mask = pa.array(~regular)
        fixed = pc.replace_substring_regex(s.filter(irr_mask), _ARROW_CF, "")
        fixed = pc.replace_substring_regex(fixed, _ARROW_PAD, "")
        fixed = pc.replace_substring_regex(fixed, r"^'", "", max_replacements=1)
        s = pc.replace_with_mask(s, irr_mask, fixed)
        lengths = pc.binary_length(s).to_numpy(zero_copy_only=False)
    slow = np.ones(n, dtype=bool)

    for width in (18, 15):
        idx = np.flatnonzero(lengths == width)
        if len(idx) == 0:
            continue
        full = len(idx) == n  # the usual case: every row has this width, no gather needed
        m = _matrix(s if full else s.take(pa.array(idx)), width)
        body = m if width == 15 else m[:, :17]
        ok_shape = _digit_rows(body)
        if width == 18:
            last = m[:, 17]
            ok_shape &= ((last - np.uint8(48)) <= 9) | (last == _X) | (last == _x)
        if not ok_shape.all():
            full = False
            idx, m = idx[ok_shape], m[ok_shape]
        if len(idx) == 0:
            continue
        slow[idx] = False
        if width == 15:
            m17 = np.empty((len(m), 17), dtype=np.uint8)
            m17[:, :6] = m[:, :6]
            m17[:, 6] = ord("1")
            m17[:, 7] = ord("9")
            m17[:, 8:] = m[:, 6:]
            given = None
        else:
            m17 = m[:, :17]
            given = np.where(m[:, 17] == _x, _X, m[:, 17]).astype(np.uint8)
        check, date_code = _check_matrix(m17, today)
        good = date_code == 0
        if given is not None:
            bad_sum = good & (check != given)
            good &= ~bad_sum
            for i in np.flatnonzero(bad_sum):
                detail[idx[i]] = _checksum_detail(int(check[i]), int(given[i]), m17[i, 14:17].tobytes())
            reason[idx[bad_sum]] = R_INVALID
        bad_date = date_code != 0
        reason[idx[bad_date]] = R_INVALID
        detail[idx[bad_date]] = np.array(_DATE_MSGS, dtype=object)[date_code[bad_date]]
        if full and good.all():  # (a clean column of 18-character IDs took _fast_18 already)
            out[:, :17] = m17
            out[:, 17] = check
            valid[:] = True
            converted[:] = width == 15
        else:
            gi = idx[good]
            out[gi, :17] = m17[good]
            out[gi, 17] = check[good]
            valid[gi] = True
            if width == 15:
                converted[gi] = True

    if slow.any():
        slow_idx = np.flatnonzero(slow)
        texts = s_orig.take(pa.array(slow_idx)).to_pylist()  # check_id cleans them itself
        for row, text in zip(slow_idx, texts):
            c = check_id(text, today=today)
            if c.person_id is not None:
                out[row] = np.frombuffer(c.person_id.encode("ascii"), dtype=np.uint8)
                valid[row] = True
                converted[row] = c.flag == FLAG_CONVERTED
                reformatted[row] = c.flag == FLAG_REFORMATTED
            else:
                reason[row] = REASONS.index(c.reason)
                detail[row] = c.detail

    key = np.zeros(n, dtype=np.int64)
    if valid.any():
        key[valid] = key17(out[valid, :17])
    offsets = pa.py_buffer(np.arange(0, 18 * (n + 1), 18, dtype=np.int32).tobytes())
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little").tobytes())
    person_id = pa.StringArray.from_buffers(
        n, offsets, pa.py_buffer(out.tobytes()), bitmap, null_count=int(n - valid.sum())
    )
    flag = pc.take(pa.array([None, FLAG_CONVERTED, FLAG_REFORMATTED], pa.string()),
                   pa.array(np.where(converted, 1, np.where(reformatted, 2, 0)).astype(np.int8)))
    return IdColumn(person_id=person_id, flag=flag, reason=reason, detail=detail, key=key)


# --------------------------------------------------------------------------------------------
# Keys for finding the same person twice (calculate's duplicate check)

_P9 = (10 ** np.arange(8, -1, -1)).astype(np.int32)
_P8 = (10 ** np.arange(7, -1, -1)).astype(np.int32)


def key17(m17: np.ndarray) -> np.ndarray:
    """int64 keys from (n, 17) uint8 ASCII digits: the number they spell (< 10**17, exact).

    Two int32 halves (9 and 8 digits, each < 2**31) joined in int64: no floats, no overflow."""
    return _key_digits(m17 - np.uint8(48))


def keys_of_normalised(person_id: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Keys of normalised 18-character IDs (no nulls): the 17 digits that fix the check character."""
    a = person_id.combine_chunks() if isinstance(person_id, pa.ChunkedArray) else person_id
    n = len(a)
    if n == 0:
        return np.zeros(0, np.int64)
    if a.null_count:
        raise AssertionError("a payable row has no person_id")
    offsets = offsets_of(a)
    if int(offsets[-1] - offsets[0]) != 18 * n:
        raise AssertionError("payable person_ids are not all 18 characters")
    return key17(_matrix(a, 18)[:, :17])


def candidate_keys(raw: pa.Array | pa.ChunkedArray, *, today: int | None = None) -> np.ndarray:
    """Keys of every ID in a raw column that may normalise to a valid one (others are left out).

    Cheap: well-shaped rows give their key without the checksum or the date check, so this is a
    superset of the keys `normalise_ids` would accept, and a row's key here equals the key of its
    normalised ID. Only irregular rows go through `normalise_ids`.
    """
    if isinstance(raw, pa.ChunkedArray):
        raw = raw.combine_chunks() if raw.num_chunks != 1 else raw.chunk(0)
    if not pa.types.is_string(raw.type):
        raw = raw.cast(pa.string())
    s = pc.fill_null(raw, "") if raw.null_count else raw
    lengths = pc.binary_length(s).to_numpy(zero_copy_only=False)
    parts = []
    rest = np.ones(len(s), dtype=bool)
    for width in (18, 15):
        idx = np.flatnonzero(lengths == width)
        if len(idx) == 0:
            continue
        m = _matrix(s if len(idx) == len(s) else s.take(pa.array(idx)), width)
        d = (m[:, :17] if width == 18 else m) - np.uint8(48)  # digit values; uint8 wraps below '0'
        bad = d > 9
        if bad.any():
            digits = ~bad.any(axis=1)
            idx, d = idx[digits], d[digits]
        rest[idx] = False
        if width == 15:
            d17 = np.empty((len(d), 17), dtype=np.uint8)
            d17[:, :6], d17[:, 6], d17[:, 7], d17[:, 8:] = d[:, :6], 1, 9, d[:, 6:]
            d = d17
        parts.append(_key_digits(d))
    if rest.any():
        ids = normalise_ids(raw.take(pa.array(np.flatnonzero(rest))), today=today).person_id
        ids = ids.filter(pc.is_valid(ids))
        parts.append(keys_of_normalised(ids))
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)
