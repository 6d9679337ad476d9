"""Reading and checking recipient rosters (SPEC 5.1), streamed in batches and checked by column.

Formats: CSV (UTF-8, UTF-8 with BOM, or GB18030; comma, tab or semicolon separated), XLSX (first
sheet) and Parquet. Every column is read as text. Each batch is a pyarrow Table (ROSTER_SCHEMA):
the normalised fields, the row's original text (orig_*), and a `reason` when the row failed a check
done here; the calculator adds the checks that need the month's rules (category_not_covered,
unknown_region, duplicate_person, a missing area for a by_area category).

Reason precedence when a row has several problems (the first one wins, `detail` explains it):
  1. the person_id: id_lost_precision, invalid_id, or missing_field when it is empty;
  2. missing_field: name, category, region_code (not 6 digits counts as missing), then an area
     value that is not urban/rural;
  3. unknown_category;
  4. bad_persons.

Row numbers (`source_row`) are 1-based over data rows, after the header, continuing across
batches; blank lines (CSV) and wholly empty rows (XLSX) are not data rows and are not counted.
A file that cannot be read, is empty, has no header, lacks a required column or has a required
column twice raises InputError (exit 2). A header with no data rows gives one empty batch.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cpi_link.core.atomic import sha256_file
from cpi_link.core.categories import CATEGORY_NAMES
from cpi_link.core.errors import InputError
from cpi_link.roster.ids import R_BAD_PERSONS, R_MISSING, R_OK, R_UNKNOWN_CAT, REASONS, normalise_ids, offsets_of
from cpi_link.core.privacy import mask_id

ROSTER_COLUMNS = ["person_id", "name", "category", "region_code", "area", "persons", "bank_account"]
REQUIRED_COLUMNS = ("person_id", "name", "category", "region_code")

# Accepted header spellings (compared trimmed, BOM removed, case-insensitively).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "person_id": ("person_id", "身份证号", "身份证号码", "公民身份号码"),
    "name": ("name", "姓名"),
    "category": ("category", "类别", "保障类别"),
    "region_code": ("region_code", "行政区划代码", "地区代码"),
    "area": ("area", "城乡", "城乡类别"),
    "persons": ("persons", "保障人数"),
    "bank_account": ("bank_account", "银行账号"),
}
_ALIAS_TO_KEY = {a.lower(): k for k, names in HEADER_ALIASES.items() for a in names}

AREA_VALUES = {"urban": "urban", "rural": "rural", "城市": "urban", "城镇": "urban", "农村": "rural"}

ROSTER_SCHEMA = pa.schema(
    [
        ("source_row", pa.int64()),
        ("person_id", pa.string()),
        ("name", pa.string()),
        ("category", pa.string()),
        ("region_code", pa.string()),
        ("area", pa.string()),
        ("persons", pa.int64()),
        ("bank_account", pa.string()),
        ("id_flag", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
    ]
    + [(f"orig_{c}", pa.string()) for c in ROSTER_COLUMNS]
    + [("person_key", pa.int64())]  # ids.key17 of person_id (0 where it is null): finding the same person twice
)

# What check_batch gives (check_batches, calc's pipeline): ROSTER_SCHEMA with the few-valued
# columns, as read and as normalised, kept as dictionaries: no string is copied per row.
# iter_roster casts to ROSTER_SCHEMA (plain strings) for its pandas users.
_DICT = pa.dictionary(pa.int32(), pa.string())
_DICT_COLUMNS = ("category", "region_code", "area", "reason", "detail",
                 "orig_category", "orig_region_code", "orig_area", "orig_persons")
CHECKED_SCHEMA = pa.schema([pa.field(f.name, _DICT) if f.name in _DICT_COLUMNS else f for f in ROSTER_SCHEMA])

_CSV_BLOCK = 2 << 20  # 8 MB blocks cost 200 MB more peak memory at 5M rows, for no speed
_SNIFF = 4 << 20
_MAX_PERSONS_DIGITS = 6


# --------------------------------------------------------------------------------------------
# Public API


def roster_info(path: Path | str) -> dict:
    """Path, format, encoding (CSV only), sha256 and the header mapping {column: header text}."""
    path = _check_path(path)
    fmt = _format(path)
    if fmt == "csv":
        encoding, delimiter, header = _csv_header(path)
    elif fmt == "xlsx":
        encoding, header = None, _xlsx_header(path)
    else:
        encoding, header = None, _parquet_header(path)
    mapping = _map_header(header, path)
    return {
        "path": str(path),
        "format": fmt,
        "encoding": encoding,
        "sha256": sha256_file(path),
        "columns": {key: header[i] for key, i in mapping.items()},
    }


def iter_roster(path: Path | str, batch_rows: int = 1_000_000) -> Iterator[pa.Table]:
    """Stream the roster as checked batches of at most `batch_rows` rows (see the module doc)."""
    return (t.cast(ROSTER_SCHEMA) for t in check_batches(raw_batches(path, batch_rows)))


def raw_batches(path: Path | str, batch_rows: int = 1_000_000) -> Iterator[tuple[pa.Table, np.ndarray | None]]:
    """The roster's cells as text, in batches: (table of the ROSTER_COLUMNS present, mask of ID
    cells that were numbers or None). Header problems raise InputError before the first batch."""
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    path = _check_path(path)
    fmt = _format(path)
    return {"csv": _csv_batches, "xlsx": _xlsx_batches, "parquet": _parquet_batches}[fmt](path, batch_rows)


def roster_format(path: Path | str) -> str:
    """csv, xlsx or parquet (by content, then by suffix)."""
    return _format(_check_path(path))


def check_batches(raw: Iterator[tuple[pa.Table, np.ndarray | None]], known_ids=None) -> Iterator[pa.Table]:
    """check_batch over raw batches (CHECKED_SCHEMA), numbering data rows from 1; one empty table for no rows.

    known_ids: optional first data row -> ids.CheckedIds or None (calc's first pass checked the IDs)."""
    first_row = 1
    yielded = False
    for table, numeric_id in raw:
        if table.num_rows == 0:
            continue
        checked = check_batch(table, first_row, numeric_id, known_ids(first_row) if known_ids else None)
        first_row += table.num_rows
        yielded = True
        yield checked
    if not yielded:
        yield CHECKED_SCHEMA.empty_table()


def iter_id_column(path: Path | str, batch_rows: int = 1_000_000) -> Iterator[pa.Array] | None:
    """The raw person_id column alone, in batches (CSV and Parquet; None for XLSX, which is small
    and slow to read twice). For calculate's first, cheap pass over the roster."""
    path = _check_path(path)
    fmt = _format(path)
    if fmt == "xlsx":
        return None
    read = {"csv": _csv_batches, "parquet": _parquet_batches}[fmt]
    return (raw.column("person_id") for raw, _ in read(path, batch_rows, only=("person_id",)))


def read_roster(path: Path | str) -> pa.Table:
    """The whole roster as one checked table (for small files and tests)."""
    return pa.concat_tables(list(iter_roster(path)))


# --------------------------------------------------------------------------------------------
# Checking one batch of raw text columns


def check_batch(raw: pa.Table, first_row: int, numeric_id: np.ndarray | None = None, known=None) -> pa.Table:
    """Check a batch whose columns are the ROSTER_COLUMNS present, as strings (nulls allowed);
    a CHECKED_SCHEMA table.

    `numeric_id`: optional bool mask of rows whose ID cell was a number (XLSX/Parquet float).
    `known`: the ids.CheckedIds of these same IDs (checked by calc's first pass), or None.
    """
    n = raw.num_rows
    orig = {}
    few = {}  # the few-valued columns, checked once per distinct value (_Few)
    for c in ROSTER_COLUMNS:
        if c in raw.column_names:
            col = raw.column(c)
            col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
            if c in FEW_VALUED:
                few[c] = _Few(col)
                orig[c] = few[c].original
            else:
                orig[c] = col if col.type == pa.string() else col.cast(pa.string())
        else:
            orig[c] = pa.nulls(n, pa.string())
            if c in FEW_VALUED:
                few[c] = _Few(orig[c])
                orig[c] = few[c].original

    def trimmed(c: str) -> pa.Array:
        a = orig[c]
        a = pc.fill_null(a, "") if a.null_count else a
        t = pc.utf8_trim_whitespace(a)
        # nothing trimmed (the usual column): keep the original, so a batch holds its text once
        return a if _text_bytes(t) == _text_bytes(a) else t

    def empty(a: pa.Array) -> np.ndarray:
        """Bool per row: the (null-free) string is empty; read off the offsets."""
        offsets = offsets_of(a)
        return offsets[1:] == offsets[:-1]

    def nonempty_or_null(a: pa.Array) -> pa.Array:
        e = empty(a)
        return pc.if_else(pa.array(e), pa.scalar(None, pa.string()), a) if e.any() else a

    # person_id
    ids = known.for_column(orig["person_id"]) if known is not None else None
    if ids is None:
        ids = normalise_ids(orig["person_id"])
    reason = ids.reason  # normalise_ids and for_column give this batch its own arrays: marked in place
    detail = ids.detail
    if numeric_id is not None and numeric_id.any():
        lost = numeric_id
        reason[lost] = REASONS.index("id_lost_precision")
        detail[lost] = "the ID cell is a number, not text, so its last digits are lost; format the column as text and retype it"
        person_id = pc.if_else(pa.array(lost), pa.scalar(None, pa.string()), ids.person_id)
        flag = pc.if_else(pa.array(lost), pa.scalar(None, pa.string()), ids.flag)
        key = np.where(lost, 0, ids.key)
    else:
        person_id, flag, key = ids.person_id, ids.flag, ids.key

    def mark(mask: np.ndarray | None, code: int, messages) -> None:
        """Set reason `code` where `mask` (None: no row) and no earlier-precedence reason is set."""
        if mask is None:
            return
        hit = mask & (reason == R_OK)
        if not hit.any():
            return
        reason[hit] = code
        if callable(messages):
            rows = np.flatnonzero(hit)
            detail[rows] = np.array([messages(int(r)) for r in rows] + [None], dtype=object)[:-1]
        else:
            detail[hit] = messages

    # name
    name = trimmed("name")
    mark(empty(name), R_MISSING, "name is empty")

    # category: a code (any case) or a Chinese name/alias
    cat = few["category"]
    cat_empty_v = empty(cat.values)
    keys = list(CATEGORY_NAMES)
    ci = _np_filled(pc.index_in(pc.ascii_lower(cat.values), value_set=pa.array(keys)), len(keys))
    codes = list(dict.fromkeys(CATEGORY_NAMES.values()))
    category = cat.dictionary(np.array([codes.index(CATEGORY_NAMES[k]) for k in keys] + [-1])[ci], codes)
    mark(cat.rows(cat_empty_v), R_MISSING, "category is empty")

    # region_code: 6 digits
    reg = few["region_code"]
    ok_v = (pc.equal(pc.binary_length(reg.values), 6).to_numpy(zero_copy_only=False)
            & pc.ascii_is_decimal(reg.values).to_numpy(zero_copy_only=False))
    reg_empty_v = empty(reg.values)
    mark(reg.rows(reg_empty_v), R_MISSING, "region_code is empty")
    mark(
        reg.rows(~ok_v & ~reg_empty_v),
        R_MISSING,
        lambda r: f"region_code '{_short(reg.text(r))}' is not a 6-digit code",
    )
    region_code = reg.dictionary(np.where(ok_v, np.arange(len(ok_v)), -1), reg.values)

    # area: optional; a value that is not urban/rural counts as missing
    ar = few["area"]
    area_keys = list(AREA_VALUES)
    ai = _np_filled(pc.index_in(pc.ascii_lower(ar.values), value_set=pa.array(area_keys)), len(area_keys))
    area_codes = ["urban", "rural"]
    area = ar.dictionary(np.array([area_codes.index(AREA_VALUES[k]) for k in area_keys] + [-1])[ai], area_codes)
    mark(
        ar.rows((ai == len(area_keys)) & ~empty(ar.values)),
        R_MISSING,
        lambda r: f"area '{_short(ar.text(r))}' is not urban/rural (城市/城镇/农村)",
    )

    # unknown category (after every missing_field)
    mark(
        cat.rows((ci == len(keys)) & ~cat_empty_v),
        R_UNKNOWN_CAT,
        lambda r: f"category '{_short(cat.text(r))}' is not a code or Chinese name of SPEC 5.2",
    )

    # persons: empty -> 1; a whole number >= 1 ("2.0" too)
    per = few["persons"]
    persons_v = _persons(per.values, empty(per.values))
    persons_np = persons_v[per.idx]
    p_bad = per.rows(persons_v < 1)
    mark(
        p_bad,
        R_BAD_PERSONS,
        lambda r: f"persons '{_short(per.text(r))}' is not a whole number of at least 1",
    )
    persons = pa.array(persons_np, pa.int64(), mask=p_bad)

    bank = nonempty_or_null(trimmed("bank_account"))

    # reason and detail as dictionaries: null on the (many) rows without a problem, no string per row
    bad = reason != R_OK
    n_bad = int(bad.sum())
    valid = pa.py_buffer(np.packbits(bad, bitorder="little"))  # the validity bitmap: bad rows only

    def indices(values: np.ndarray) -> pa.Array:
        return pa.Array.from_buffers(pa.int32(), n, [valid, pa.py_buffer(values)], null_count=n - n_bad)

    reason_arr = pa.DictionaryArray.from_arrays(indices(reason.astype(np.int32)),
                                                pa.array([r or "" for r in REASONS], pa.string()))
    at = np.zeros(n, np.int32)
    at[bad] = np.arange(n_bad, dtype=np.int32)
    detail_arr = pa.DictionaryArray.from_arrays(indices(at), pa.array(detail[bad].tolist(), pa.string()))
    columns = [
        pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(np.arange(first_row, first_row + n, dtype=np.int64))]),
        person_id,
        nonempty_or_null(name),
        category,
        region_code,
        area,
        persons,
        bank,
        flag,
        reason_arr,
        detail_arr,
    ] + [orig[c] for c in ROSTER_COLUMNS] + [pa.array(key)]
    return pa.Table.from_arrays(columns, schema=CHECKED_SCHEMA)


# Columns with few distinct values: read as dictionaries where the format allows, and checked
# once per distinct value instead of once per row.
FEW_VALUED = ("category", "region_code", "area", "persons")


class _Few:
    """A few-valued text column: its distinct values (trimmed; the last one "" for empty cells)
    and each row's index into them; `original`, the column as given as dictionary<int32, string>.
    Checks are made per value; `rows` and `dictionary` spread them to the rows."""

    def __init__(self, a: pa.Array):
        if not pa.types.is_dictionary(a.type):
            a = pc.dictionary_encode(a if a.type == pa.string() else a.cast(pa.string()))
        values = a.dictionary
        if values.type != pa.string():
            values = values.cast(pa.string())
        if a.type != _DICT:
            a = pa.DictionaryArray.from_arrays(a.indices.cast(pa.int32()), values)
        self.original = a
        values = pc.fill_null(values, "") if values.null_count else values
        self.values = pc.utf8_trim_whitespace(pa.concat_arrays([values, pa.array([""], pa.string())]))
        self.idx = _np_filled(a.indices, len(values)).astype(np.intp, copy=False)
        # which values some row has (a batch sliced from a CSV block shares the block's dictionary)
        self.used = np.zeros(len(self.values), bool)
        self.used[self.idx] = True

    def rows(self, per_value: np.ndarray) -> np.ndarray | None:
        """Bool per row from a bool per value; None when no row's value is true (no gather)."""
        if not (per_value & self.used).any():
            return None
        return per_value[self.idx]

    def dictionary(self, per_value: np.ndarray, values) -> pa.DictionaryArray:
        """Per row: values[per_value[the row's value]], null where that is -1; strings not copied."""
        per_value = np.asarray(per_value, np.int32)
        values = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
        if len(per_value) == len(self.values) and (per_value[:-1] == np.arange(len(per_value) - 1)).all() \
                and not self.used[-1]:  # values kept as they are, no empty cell: the indices as read
            return pa.DictionaryArray.from_arrays(self.original.indices, values)
        rows = per_value[self.idx]
        null = rows < 0 if (per_value[self.used] < 0).any() else None
        return pa.DictionaryArray.from_arrays(pa.array(rows, mask=null), values)

    def text(self, row: int) -> str:
        return self.values[int(self.idx[row])].as_py()


def _text_bytes(a: pa.Array) -> int:
    """The bytes of text in a string array (its values end to end)."""
    if len(a) == 0:
        return 0
    offsets = offsets_of(a)
    return int(offsets[-1] - offsets[0])


def _np_filled(a: pa.Array, fill: int) -> np.ndarray:
    """An integer array with nulls replaced by `fill`, as numpy."""
    return (pc.fill_null(a, fill) if a.null_count else a).to_numpy(zero_copy_only=False)


def _persons(text: pa.Array, is_empty: np.ndarray) -> np.ndarray:
    """Persons per row as int64: empty -> 1, a whole number ("2", "2.0", "+2") -> it, else 0."""
    filled = pc.if_else(pa.array(is_empty), pa.scalar("1"), text) if is_empty.any() else text
    # the usual case, row by row: plain digits, short enough (decided without a regex)
    plain = pc.and_(pc.ascii_is_decimal(filled), pc.less_equal(pc.binary_length(filled), _MAX_PERSONS_DIGITS))
    plain_np = plain.to_numpy(zero_copy_only=False)
    if plain_np.all():
        return pc.cast(filled, pa.int64()).to_numpy(zero_copy_only=False).copy()
    out = np.zeros(len(filled), dtype=np.int64)
    if plain_np.any():
        out[plain_np] = pc.cast(filled.filter(plain), pa.int64()).to_numpy(zero_copy_only=False)
    rest = ~plain_np
    other = filled.filter(pa.array(rest))
    form = pc.match_substring_regex(other, r"^\+?0*[0-9]{1,%d}(\.0*)?$" % _MAX_PERSONS_DIGITS)
    digits = pc.replace_substring_regex(other, r"^\+|\.0*$", "")
    digits = pc.if_else(form, digits, pa.scalar("0"))
    out[rest] = pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False)
    return out


def _short(text: str | None, limit: int = 40) -> str:
    t = text or ""
    return t if len(t) <= limit else t[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------
# Files


def _check_path(path: Path | str) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such roster file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a roster file")
    try:
        size = path.stat().st_size
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    if size == 0:
        raise InputError(f"{path}: the roster file is empty")
    return path


check_roster_path = _check_path  # for callers that hash the roster before reading it


def _format(path: Path) -> str:
    with open(path, "rb") as fh:
        magic = fh.read(4)
    suffix = path.suffix.lower()
    if magic == b"PAR1" or suffix == ".parquet":
        return "parquet"
    if magic == b"PK\x03\x04" or suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix == ".xls" or magic == b"\xd0\xcf\x11\xe0":
        raise InputError(f"{path}: old Excel .xls is not supported; save it as .xlsx or CSV")
    return "csv"


def _norm_header(h: object) -> str:
    return ("" if h is None else str(h)).replace("\ufeff", "").strip()


def _map_header(header: list[str], path: Path) -> dict[str, int]:
    """{canonical column: position}; InputError for duplicates or a missing required column."""
    names = [_norm_header(h) for h in header]
    seen: dict[str, int] = {}
    for i, h in enumerate(names):
        if not h:
            continue
        if h.lower() in seen:
            raise InputError(f"{path}: the header has the column {h!r} twice")
        seen[h.lower()] = i
    out: dict[str, int] = {}
    for i, h in enumerate(names):
        key = _ALIAS_TO_KEY.get(h.lower())
        if key is None:
            continue
        if key in out:
            raise InputError(
                f"{path}: columns {names[out[key]]!r} and {h!r} both give {key}; keep one of them"
            )
        out[key] = i
    missing = [k for k in REQUIRED_COLUMNS if k not in out]
    if missing:
        wanted = "; ".join(f"{k} ({'/'.join(HEADER_ALIASES[k][1:])})" for k in missing)
        # a file saved without its header row has a person's data here: never print an ID
        cells = [mask_id(h) if sum(ch.isdigit() for ch in h) >= 15 else h for h in names[:12] if h]
        shown = _short(", ".join(_short(h, 30) for h in cells) + (", …" if len(names) > 12 else ""), 200) or "(nothing)"
        raise InputError(f"{path}: missing required column(s) {wanted}; the header has: {shown}")
    return out


# CSV


def _sniff_encoding(path: Path) -> str:
    from cpi_link.core.tabular import detect_encoding

    with open(path, "rb") as fh:
        head = fh.read(_SNIFF)
        if head.startswith(b"\xef\xbb\xbf"):
            return "utf-8-sig"
        if b"\x00" in head[:65536]:
            raise InputError(f"{path}: contains NUL bytes; this is not a text CSV file (UTF-16 or binary?)")
        sample = head
        while sample.isascii():  # decide on the first non-ASCII bytes; preceding ASCII is neutral
            sample = fh.read(_SNIFF)
            if not sample:
                return "utf-8"
        return detect_encoding(sample[:65536], path)


def _csv_header(path: Path) -> tuple[str, str, list[str]]:
    encoding = _sniff_encoding(path)
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    import codecs

    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    if not first.strip():
        raise InputError(f"{path}: the roster file is empty")
    if "," in first:
        delimiter = ","
    elif "\t" in first:
        delimiter = "\t"
    elif ";" in first:
        delimiter = ";"
    else:
        delimiter = ","
    header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    if not any(h.strip() for h in header):
        raise InputError(f"{path}: the first line is empty; the roster needs a header row")
    return encoding, delimiter, [_norm_header(h) for h in header]


def _rebatch(batches, batch_rows: int):
    """Regroup record batches into tables of exactly batch_rows rows (the last may be shorter)."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for b in batches:
        if b.num_rows == 0:
            continue
        pending.append(b)
        count += b.num_rows
        while count >= batch_rows:
            t = pa.Table.from_batches(pending)
            yield t.slice(0, batch_rows)
            rest = t.slice(batch_rows)
            pending = rest.to_batches() if rest.num_rows else []
            count = rest.num_rows
    if count:
        yield pa.Table.from_batches(pending)


def _csv_batches(path: Path, batch_rows: int, only: tuple[str, ...] | None = None):
    import pyarrow.csv as pacsv

    encoding, delimiter, header = _csv_header(path)
    mapping = _map_header(header, path)
    names = [f"c{i}" for i in range(len(header))]
    wanted = {f"c{i}": key for key, i in mapping.items() if only is None or key in only}
    bad_rows: list[tuple[int | None, int, int]] = []

    def on_invalid(row) -> str:
        bad_rows.append((row.number, row.expected_columns, row.actual_columns, row.text))
        return "error"

    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(
                column_names=names,
                skip_rows=1,
                encoding="utf8" if encoding in ("utf-8", "utf-8-sig") else encoding,
                block_size=_CSV_BLOCK,
            ),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                # few-valued columns as dictionaries: check_batch checks each distinct value once
                column_types={c: pa.dictionary(pa.int32(), pa.string()) if wanted.get(c) in FEW_VALUED else pa.string()
                              for c in names},
                include_columns=list(wanted),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

        def batches():
            for b in reader:
                yield b.rename_columns([wanted[c] for c in b.schema.names])

        for t in _rebatch(batches(), batch_rows):
            yield t, None
    except (pa.ArrowInvalid, pa.ArrowException, UnicodeDecodeError) as exc:
        raise InputError(_csv_error(path, encoding, exc, bad_rows, delimiter)) from None


def _csv_error(path: Path, encoding: str, exc: Exception, bad_rows, delimiter: str) -> str:
    # Arrow's own messages quote the offending line, which may hold an ID: never pass them on.
    if bad_rows:
        number, expected, actual, text = bad_rows[0]
        if number is None:
            number = _find_line(path, encoding, text)
        where = f"line {number}" if number is not None else "a line"
        return (
            f"{path}: {where} has {actual} fields but the header has {expected}; "
            "fix the row (a stray separator or quote?) and run again"
        )
    text = str(exc)
    if isinstance(exc, UnicodeDecodeError) or "UTF8" in text or "decode" in text.lower():
        return f"{path}: not readable as {encoding} text throughout (mixed encodings?); save it again as CSV UTF-8"
    return f"{path}: not a readable CSV file ({type(exc).__name__})"


def _find_line(path: Path, encoding: str, text: str | None) -> int | None:
    """The 1-based line number of the first line equal to `text` (error path only)."""
    if not text:
        return None
    try:
        with open(path, encoding=encoding, newline="") as fh:
            for number, line in enumerate(fh, 1):
                if line.rstrip("\r\n") == text:
                    return number
    except (OSError, UnicodeDecodeError):
        pass
    return None


# XLSX


def _open_xlsx(path: Path):
    import openpyxl

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException...
        raise InputError(f"{path}: not a readable XLSX workbook ({type(exc).__name__})") from None


def _xlsx_rows(path: Path):
    wb = _open_xlsx(path)
    try:
        if not wb.worksheets:
            raise InputError(f"{path}: the workbook has no sheets")
        for row in wb.worksheets[0].iter_rows(values_only=True):
            if any(v is not None and (not isinstance(v, str) or v.strip()) for v in row):
                yield row
    finally:
        wb.close()


def _xlsx_header(path: Path) -> list[str]:
    for row in _xlsx_rows(path):
        return [_norm_header(v) for v in row]
    raise InputError(f"{path}: the first sheet is empty")


def _cell_text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def _xlsx_batches(path: Path, batch_rows: int):
    rows = _xlsx_rows(path)
    header = next(rows, None)
    if header is None:
        raise InputError(f"{path}: the first sheet is empty")
    header = [_norm_header(v) for v in header]
    mapping = _map_header(header, path)
    keys = list(mapping)
    cols: dict[str, list[str]] = {k: [] for k in keys}
    numeric: list[bool] = []
    id_pos = mapping["person_id"]

    def flush():
        t = pa.table({k: pa.array(cols[k], pa.string()) for k in keys})
        mask = np.array(numeric, dtype=bool)
        for k in keys:
            cols[k].clear()
        numeric.clear()
        return t, mask

    for row in rows:
        for k in keys:
            i = mapping[k]
            v = row[i] if i < len(row) else None
            cols[k].append(_cell_text(v))
        v = row[id_pos] if id_pos < len(row) else None
        numeric.append(isinstance(v, (int, float)) and not isinstance(v, bool))
        if len(numeric) >= batch_rows:
            yield flush()
    if numeric:
        yield flush()


# Parquet


def _open_parquet(path: Path):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None


def _parquet_header(path: Path) -> list[str]:
    return list(_open_parquet(path).schema_arrow.names)


def _parquet_batches(path: Path, batch_rows: int, only: tuple[str, ...] | None = None):
    pf = _open_parquet(path)
    header = list(pf.schema_arrow.names)
    mapping = _map_header(header, path)
    src = {key: header[i] for key, i in mapping.items() if only is None or key in only}
    id_type = pf.schema_arrow.field(src["person_id"]).type
    # An int64 column holds 18 digits exactly (though never an X); a float column cannot.
    id_is_float = pa.types.is_floating(id_type) or pa.types.is_decimal(id_type)
    few = [name for key, name in src.items() if key in FEW_VALUED and pa.types.is_string(pf.schema_arrow.field(name).type)]
    try:
        if few:  # read as dictionaries straight from the file's dictionary pages
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(path, read_dictionary=few)
        for b in pf.iter_batches(batch_size=batch_rows, columns=list(src.values())):
            arrays = {}
            numeric = None
            for key, name in src.items():
                col = b.column(name)
                if key == "person_id" and id_is_float:
                    numeric = col.is_valid().to_numpy(zero_copy_only=False)
                arrays[key] = _to_text(col)
            yield pa.table(arrays), numeric
    except pa.ArrowException as exc:
        raise InputError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None


def _to_text(col: pa.Array) -> pa.Array:
    t = col.type
    if pa.types.is_dictionary(t):
        if pa.types.is_string(t.value_type):
            return col  # check_batch takes a dictionary of strings as it is
        col = col.dictionary_decode()
        t = col.type
    if pa.types.is_floating(t):
        # whole numbers as integers (a region code 140105.0 -> "140105")
        whole = pc.equal(pc.floor(col), col)
        as_int = pc.cast(pc.if_else(whole, col, 0), pa.int64(), safe=False).cast(pa.string())
        return pc.if_else(whole, as_int, col.cast(pa.string()))
    return col.cast(pa.string())
