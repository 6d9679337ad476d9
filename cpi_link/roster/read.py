"""Reading roster files as text columns, in batches: CSV (UTF-8, BOM, GB18030), XLSX and Parquet.
Header problems raise InputError before the first batch."""

from __future__ import annotations

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cpi_link.core.errors import InputError
from cpi_link.roster.schema import FEW_VALUED, map_header, norm_header

# An extra bool column of a raw batch, present when some bank_account cell was a number (XLSX, a
# float Parquet column): check_batch rejects those of more than 15 digits (bank_account_lost_precision).
NUMERIC_BANK = "numeric_bank_account"

_CSV_BLOCK = 2 << 20  # 8 MB blocks cost 200 MB more peak memory at 5M rows, for no speed
_SNIFF = 4 << 20


def raw_batches(path: Path | str, batch_rows: int = 1_000_000) -> Iterator[tuple[pa.Table, np.ndarray | None]]:
    """The roster's cells as text, in batches: (table of the ROSTER_COLUMNS present, mask of ID
    cells that were numbers or None). Header problems raise InputError before the first batch."""
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    path = check_path(path)
    fmt = file_format(path)
    return {"csv": _csv_batches, "xlsx": _xlsx_batches, "parquet": _parquet_batches}[fmt](path, batch_rows)


def iter_id_column(path: Path | str, batch_rows: int = 1_000_000) -> Iterator[pa.Array] | None:
    """The raw person_id column alone, in batches (CSV and Parquet; None for XLSX, which is small
    and slow to read twice). For calculate's first, cheap pass over the roster."""
    path = check_path(path)
    fmt = file_format(path)
    if fmt == "xlsx":
        return None
    read = {"csv": _csv_batches, "parquet": _parquet_batches}[fmt]
    return (raw.column("person_id") for raw, _ in read(path, batch_rows, only=("person_id",)))


# --------------------------------------------------------------------------------------------
# Files


def check_path(path: Path | str) -> Path:
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




def file_format(path: Path) -> str:
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


def csv_header(path: Path) -> tuple[str, str, list[str]]:
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
    return encoding, delimiter, [norm_header(h) for h in header]


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

    encoding, delimiter, header = csv_header(path)
    mapping = map_header(header, path)
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


def xlsx_header(path: Path) -> list[str]:
    for row in _xlsx_rows(path):
        return [norm_header(v) for v in row]
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
    header = [norm_header(v) for v in header]
    mapping = map_header(header, path)
    keys = list(mapping)
    cols: dict[str, list[str]] = {k: [] for k in keys}
    numeric: list[bool] = []
    id_pos = mapping["person_id"]
    bank_pos = mapping.get("bank_account")
    numeric_bank: list[bool] = []

    def flush():
        t = pa.table({k: pa.array(cols[k], pa.string()) for k in keys})
        if any(numeric_bank):
            t = t.append_column(NUMERIC_BANK, pa.array(numeric_bank, pa.bool_()))
        mask = np.array(numeric, dtype=bool)
        for k in keys:
            cols[k].clear()
        numeric.clear()
        numeric_bank.clear()
        return t, mask

    for row in rows:
        for k in keys:
            i = mapping[k]
            v = row[i] if i < len(row) else None
            cols[k].append(_cell_text(v))
        v = row[id_pos] if id_pos < len(row) else None
        numeric.append(isinstance(v, (int, float)) and not isinstance(v, bool))
        if bank_pos is not None:
            v = row[bank_pos] if bank_pos < len(row) else None
            numeric_bank.append(isinstance(v, (int, float)) and not isinstance(v, bool))
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


def parquet_header(path: Path) -> list[str]:
    return list(_open_parquet(path).schema_arrow.names)


def _parquet_batches(path: Path, batch_rows: int, only: tuple[str, ...] | None = None):
    pf = _open_parquet(path)
    header = list(pf.schema_arrow.names)
    mapping = map_header(header, path)
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
                if key == "bank_account" and (pa.types.is_floating(col.type) or pa.types.is_decimal(col.type)):
                    arrays[NUMERIC_BANK] = col.is_valid()
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
