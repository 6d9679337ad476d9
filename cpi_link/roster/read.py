"""Reading roster files as text columns, in batches: CSV (UTF-8, BOM, GB18030), spreadsheets
(XLSX/XLSM/XLS/ODS, read with python-calamine: core.sheets) and Parquet.

`open_roster` finds the header (SPEC 5.1: among the first 30 rows, by the known column names; rows
above it, titles and notes, are skipped) and raises InputError for header problems before any
batch. `RosterFile.batches` gives (table of the ROSTER_COLUMNS present, mask of ID cells that were
numbers, or None). A table may also hold `file_row` (the row a person sees: spreadsheet row or CSV
line) and, for spreadsheet cells that stand for no value, `cell_reason`/`cell_detail` (roster.check).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cpi_link.core.errors import InputError
from cpi_link.core.i18n import _
from cpi_link.core.inputs import check_input
from cpi_link.core.sheets import cell_text
from cpi_link.roster.schema import (FEW_VALUED, header_cells, header_matcher, locate_header, map_header, no_header_error,
                                    norm_header)

# An extra bool column of a raw batch, present when some bank_account cell was a number (XLSX, a
# float Parquet column): check_batch rejects those of more than 15 digits (bank_account_lost_precision).
NUMERIC_BANK = "numeric_bank_account"

_CSV_BLOCK = 2 << 20  # 8 MB blocks cost 200 MB more peak memory at 5M rows, for no speed
_SNIFF = 4 << 20
# A CSV line longer than this is refused naming the line (pyarrow parses blocks of _CSV_BLOCK bytes).
MAX_CSV_FIELD_BYTES = _CSV_BLOCK
SPREADSHEETS = ("xlsx", "xls", "ods")


def raw_batches(path: Path | str, batch_rows: int = 1_000_000, sheet: str | int | None = None
                ) -> Iterator[tuple[pa.Table, np.ndarray | None]]:
    """The roster's cells as text, in batches (see the module doc). Header problems raise
    InputError here, before the first batch."""
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    return open_roster(path, sheet).batches(batch_rows)


def iter_id_column(path: Path | str, batch_rows: int = 1_000_000) -> Iterator[pa.Array] | None:
    """The raw person_id column alone, in batches (CSV and Parquet; None for spreadsheets, which are
    read once). For calculate's first, cheap pass over the roster."""
    path = check_path(path)
    if file_format(path) in SPREADSHEETS:
        return None
    r = open_roster(path)
    return (raw.column("person_id") for raw, _ in r.batches(batch_rows, only=("person_id",)))


@dataclass
class RosterFile:
    """A roster whose header was found: what it is and how to read its batches."""

    path: Path
    format: str
    header: list[str]
    mapping: dict[str, int]
    header_row: int  # the header's row as a person sees it (spreadsheet row / CSV line); 1 for Parquet
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    skip_rows: int = 1  # CSV lines before the data (blank lines, titles, the header)
    header_end: int = 1  # CSV: the line the header ends on
    rows_read: int = 0  # data rows the batches gave so far (all of them once read to the end)
    hidden_rows: list = field(default_factory=list)  # data rows (source_row) hidden in the sheet (XLSX)
    line_scan: object = None  # a Future of core.atomic.sha256_and_line_breaks of this CSV, when it was hashed
    cells: list = field(default_factory=list)  # how each header cell was read (schema.header_cells)
    tables: list = field(default_factory=list)  # later tables on the sheet: their header rows and cells
    csv_gaps: list = field(default_factory=list)  # CSV: the records (1-based, after the header) that were a later table's header
    _sheet: object = field(default=None, repr=False)
    _special: object = field(default=None, repr=False)

    def info(self) -> dict:
        """How the file was read; `hidden_rows` (data rows hidden in the sheet) once the batches were read."""
        return {"path": str(self.path), "format": self.format, "encoding": self.encoding, "sheet": self.sheet,
                "header_row": self.header_row, "header_end": self.header_end, "hidden_rows": len(self.hidden_rows),
                "columns": {key: self.header[i] for key, i in self.mapping.items()}, "header_cells": self.cells,
                **({"tables": self.tables} if self.tables else {})}

    def batches(self, batch_rows: int, only: tuple[str, ...] | None = None):
        if self.format == "csv":
            return _csv_batches(self, batch_rows, only)
        if self.format == "parquet":
            return _parquet_batches(self.path, batch_rows, only)
        return _sheet_batches(self, batch_rows)

    def exact_file_rows(self, source_rows, file_rows):
        """file_row of rows (source_row -> the file_row the batches gave), exactly: a CSV's blank
        lines and quoted line breaks counted (read again only for such a file)."""
        if self.format != "csv":
            return file_rows
        return csv_lines_of_rows(self.path, self, source_rows)


def open_roster(path: Path | str, sheet: str | int | None = None, opened=None) -> RosterFile:
    """The roster with its header found (InputError, exit 2, for header problems). opened: a Future
    of its core.sheets.Sheet, when a spreadsheet's parse was started early (open_sheet_early)."""
    path = check_path(path)
    fmt = file_format(path)
    if fmt in SPREADSHEETS:
        return _open_spreadsheet(path, fmt, sheet, opened)
    if sheet is not None:
        raise InputError(_("{path}: --sheet is for spreadsheets (XLSX, XLS, ODS); this is a {kind} file").format(path=path, kind=fmt.upper()))
    if fmt == "parquet":
        header = parquet_header(path)
        return RosterFile(path, fmt, header, map_header(header, path, refs=header), 1,
                          cells=header_cells(header, refs=header))
    return _open_csv(path)


# --------------------------------------------------------------------------------------------
# Files


def check_path(path: Path | str) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(_("{path}: no such roster file").format(path=path))
    if path.is_dir():
        raise InputError(_("{path}: is a folder, not a roster file").format(path=path))
    check_input(path, "roster")  # a FIFO or a device: refused before anything opens it
    try:
        size = path.stat().st_size
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise InputError(_("{where}: cannot be read ({why})").format(where=path, why=exc.strerror)) from None
    if size == 0:
        raise InputError(_("{path}: the roster file is empty").format(path=path))
    return path


def file_format(path: Path) -> str:
    """"parquet", "xlsx", "xls", "ods" or "csv" (any other file is read as text)."""
    from cpi_link.core.sheets import spreadsheet_kind

    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1" or path.suffix.lower() == ".parquet":
        return "parquet"
    return spreadsheet_kind(path) or "csv"


def _sniff_encoding(path: Path) -> str:
    from cpi_link.core.tabular import detect_encoding

    with open(path, "rb") as fh:
        head = fh.read(_SNIFF)
        if head.startswith(b"\xef\xbb\xbf"):
            return "utf-8-sig"
        if b"\x00" in head[:65536]:
            raise InputError(_("{path}: contains NUL bytes; this is not a text CSV file (UTF-16 or binary?)").format(path=path))
        sample, line0 = head, 1
        while sample.isascii():  # decide on the first non-ASCII bytes; preceding ASCII is neutral
            line0 += sample.count(b"\n")
            sample = fh.read(_SNIFF)
            if not sample:
                return "utf-8"
        # from the start of the line holding the first non-ASCII byte (messages name the file's line)
        import re

        first = re.search(rb"[\x80-\xff]", sample).start()
        cut = sample.rfind(b"\n", 0, first) + 1
        return detect_encoding(sample[cut:cut + 65536], path, line0 + sample.count(b"\n", 0, cut))


def _open_csv(path: Path) -> RosterFile:
    encoding = _sniff_encoding(path)
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    import codecs

    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)
    if not text.strip():
        raise InputError(_("{path}: the roster file is empty").format(path=path))
    from cpi_link.core.sheets import HEADER_SCAN_ROWS
    from cpi_link.core.sheetscan import col_letters

    matcher = header_matcher()
    best = None  # (score, delimiter, records, (first, last, header, named))
    for delimiter in (",", "\t", ";"):
        records = _records(text, delimiter)
        if not records:
            continue
        found = locate_header([cells for _s, _e, cells in records], HEADER_SCAN_ROWS)
        score = matcher.score(found[2])
        if best is None or score > best[0]:
            best = (score, delimiter, records, found)
    if best is None:
        raise InputError(_("{path}: the roster file is empty").format(path=path))
    _score, delimiter, records, (first, last, header, named) = best
    looked = [cells for _s, _e, cells in records[:HEADER_SCAN_ROWS]]
    err = no_header_error(path, looked, records[0][0]) if records[0][0] == 1 else None
    if err is not None:
        raise err
    start, end = records[first][0], records[last][1]
    if not any(header):
        raise InputError(_("{path}: the first line is empty; the roster needs a header row").format(path=path))
    where = (_("{path} (header on line {line})").format(path=path, line=start) if start == end else
             _("{path} (header on lines {first}-{last})").format(path=path, first=start, last=end)) if end > 1 else None
    refs = [f"{col_letters(i)}{records[r][0]}" for i, r in enumerate(named)]
    mapping = map_header(header, path, where, refs)
    # pyarrow's skip_rows counts lines (quotes in them are not parsed): every line up to the header's end
    return RosterFile(path, "csv", header, mapping, start, encoding=encoding, delimiter=delimiter,
                      skip_rows=end, header_end=end, cells=header_cells(header, refs))


def _records(text: str, delimiter: str) -> list:
    """The first CSV records of `text`: (first line, last line, cells), blank lines as []."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    out = []
    start = 1
    try:
        for cells in reader:
            out.append((start, reader.line_num, cells))
            start = reader.line_num + 1
            if len(out) >= 32:  # the header's search (30 rows) and a header of up to 3 rows
                break
    except csv.Error:
        pass
    return out


def csv_header(path: Path) -> tuple[str, str, list[str]]:
    """(encoding, delimiter, header cells) of a CSV roster (its header found as open_roster does)."""
    r = _open_csv(path)
    return r.encoding, r.delimiter, r.header


def _csv_batches(r: RosterFile, batch_rows: int, only: tuple[str, ...] | None = None):
    """The CSV's data rows in batches, read by pyarrow with only the columns wanted. A line repeating
    a header in the ID column (another table: _tables_at, as for sheets) switches the read, from
    that batch on, to every column, so each table is read by its own header."""
    import pyarrow.csv as pacsv

    path, encoding, delimiter, header, mapping = r.path, r.encoding, r.delimiter, r.header, r.mapping
    names = [f"c{i}" for i in range(len(header))]
    keys = [k for k in mapping if only is None or k in only]
    state = {"pos": [mapping[k] for k in keys], "id_col": mapping["person_id"], "words": _header_words(r)}
    bad_rows: list[tuple[int | None, int, int]] = []
    # file_row as if each data row were one line after the header: exact_file_rows corrects the
    # rows that need it (rejected ones) when the file has blank lines or quoted line breaks
    first_line = r.header_end + 1

    def on_invalid(row) -> str:
        if row.text is not None and not row.text.strip(" \t\r\n\x1a"):
            return "skip"  # the DOS end-of-file mark (Ctrl-Z) on a line of its own
        bad_rows.append((row.number, row.expected_columns, row.actual_columns, row.text))
        return "error"

    def read(every: bool):
        wanted = names if every else [f"c{mapping[k]}" for k in keys]
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(
                column_names=names,
                skip_rows=r.skip_rows,
                encoding="utf8" if encoding in ("utf-8", "utf-8-sig") else encoding,
                block_size=_CSV_BLOCK,
            ),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                # few-valued columns as dictionaries: check_batch checks each distinct value once
                column_types={c: pa.dictionary(pa.int32(), pa.string())
                              if not every and keys[wanted.index(c)] in FEW_VALUED else pa.string() for c in wanted},
                include_columns=wanted,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        return (b if every else b.rename_columns(keys) for b in reader)

    def tables_of(t: pa.Table, lines: np.ndarray) -> tuple[pa.Table, np.ndarray]:
        """(the data rows of t, every column read, each table's columns as keys; their indices in t)."""
        hit = state["words"].rows(t.column(f"c{state['id_col']}"))
        if len(hit) and only is None:  # the lines a person sees of the rows that may be a header (blank lines counted)
            near = np.unique(np.minimum((hit[:, None] + np.arange(3)).ravel(), t.num_rows - 1))
            lines = lines.copy()
            lines[near] = _record_lines(path, r, records + 1 + near)
        segs = _tables_at(hit, t.num_rows, lambda k: [t.column(c)[k].as_py() for c in names], lines, r, keys, state,
                          lambda at: _("{path} (header on line {line})").format(path=path, line=at))
        empty = pa.array([""] * t.num_rows, pa.string())
        parts = [pa.table({k: t.column(f"c{p}").slice(lo, hi - lo) if p < len(names) else empty.slice(lo, hi - lo)
                           for k, p in zip(keys, pos)}) for lo, hi, pos in segs]
        kept = np.concatenate([np.arange(lo, hi, dtype=np.int64) for lo, hi, _p in segs])
        return pa.concat_tables(parts), kept

    every = False  # every column read: from the first batch holding a repeated header on
    done = 0  # data rows given
    records = 0  # CSV records after the header read (data rows and later tables' header rows)
    gaps: list[int] = []  # the records (1-based) that were a later table's header
    try:
        while True:
            restart = False
            skip = records
            for t in _rebatch(read(every), batch_rows):
                if skip:  # read again with every column: the records already given are passed over
                    if t.num_rows <= skip:
                        skip -= t.num_rows
                        continue
                    t, skip = t.slice(skip), 0
                if not every:
                    if len(state["words"].rows(t.column("person_id"))):
                        every = restart = True
                        break
                    kept = None
                else:
                    lines = first_line + records + np.arange(t.num_rows, dtype=np.int64)
                    t, kept = tables_of(t, lines)
                    dropped = np.setdiff1d(np.arange(len(lines)), kept, assume_unique=True)
                    gaps += (records + 1 + dropped).tolist()
                    if only is None:
                        r.csv_gaps = gaps
                _refuse_swallowed_rows(r, t, done)
                if only is None:
                    rows = np.arange(t.num_rows, dtype=np.int64) if kept is None else kept
                    t = t.append_column("file_row", pa.array(first_line + records + rows))
                records += t.num_rows if kept is None else len(lines)
                done += t.num_rows
                if only is None:
                    r.rows_read = done
                if t.num_rows:
                    yield t.combine_chunks() if kept is not None else t, None
            if not restart:
                break
    except (pa.ArrowInvalid, pa.ArrowException, UnicodeDecodeError) as exc:
        raise InputError(_csv_error(path, encoding, exc, bad_rows, delimiter, header)) from None


def _refuse_swallowed_rows(r: RosterFile, t: pa.Table, done: int) -> None:
    """InputError naming the line when a quoted field holds a line break and then what looks like
    another row (core.tabular.swallowed_row): that person would be neither paid nor rejected."""
    from cpi_link.core.tabular import swallowed_message, swallowed_row

    for name, col in zip(t.column_names, t.columns):
        chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
        if not any(_holds_line_break(c) for c in chunks):
            continue  # the usual column: no value holds a line break
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        if isinstance(col, pa.DictionaryArray):
            values = col.dictionary
            hit_values = pc.match_substring(values, "\n")  # a quoted line break (CRLF or LF)
            if not pc.any(hit_values).as_py():
                continue
            text = values.to_pylist()
            idx = pc.fill_null(col.indices, -1).to_numpy(zero_copy_only=False)
            bad = np.flatnonzero(pc.fill_null(hit_values, False).to_numpy(zero_copy_only=False))
            rows = np.flatnonzero(np.isin(idx, bad)).tolist()
            cells = {i: text[idx[i]] for i in rows}
        else:
            hits = pc.match_substring(col, "\n")
            if not pc.any(hits).as_py():
                continue
            rows = np.flatnonzero(pc.fill_null(hits, False).to_numpy(zero_copy_only=False)).tolist()
            cells = {i: col[i].as_py() for i in rows}
        for i in rows:
            if swallowed_row(cells[i], r.delimiter, len(r.header)):
                line = int(csv_lines_of_rows(r.path, r, np.array([done + i + 1]))[0])
                title = r.header[r.mapping[name]] if name in r.mapping else name
                raise InputError(swallowed_message(r.path, line, f"{name} ({title})" if title != name else name))


def _holds_line_break(a: pa.Array) -> bool:
    """Whether a value of a string (or dictionary) array may hold a line break: one memchr over the
    array's own bytes of its data buffer rather than a kernel call per value; a false alarm (an
    unused dictionary value) only costs the exact look that follows."""
    if isinstance(a, pa.DictionaryArray):
        a = a.dictionary
    if len(a) == 0:
        return False
    if not (pa.types.is_string(a.type) or pa.types.is_large_string(a.type)):
        return True  # not text as the CSV reader gives it: left to the exact look
    offsets, data = a.buffers()[1:3]
    if data is None:
        return False
    wide = pa.types.is_large_string(a.type)
    ends = np.frombuffer(offsets, np.int64 if wide else np.int32, count=len(a) + 1, offset=a.offset * (8 if wide else 4))
    return memoryview(data)[int(ends[0]):int(ends[-1])].tobytes().find(b"\n") >= 0


def _csv_error(path: Path, encoding: str, exc: Exception, bad_rows, delimiter: str, header=()) -> str:
    # Arrow's own messages quote the offending line, which may hold an ID: never pass them on.
    if bad_rows:
        number, expected, actual, text = bad_rows[0]
        if number is None:
            number = _find_line(path, encoding, text)
        where = _("line {line}").format(line=number) if number is not None else _("a line")
        if text and header_matcher().score(next(csv.reader([text], delimiter=delimiter), [])) >= 2:
            # another table's header (an export of other columns joined below): not a stray separator
            return _("{path}: {where} repeats the header with {actual} fields where the first table's header has "
                     "{expected}; give every table the same columns and run again").format(
                path=path, where=where, actual=actual, expected=expected)
        return _("{path}: {where} has {actual} fields but the header has {expected}; fix the row (a stray separator "
                 "or quote?) and run again").format(path=path, where=where, actual=actual, expected=expected)
    text = str(exc)
    if isinstance(exc, UnicodeDecodeError) or "UTF8" in text or "decode" in text.lower():
        bad = first_bad_byte(path, encoding, delimiter, header)
        if bad:
            return _("{path}: {where} is not {encoding} text (mixed encodings?); save the whole file again as CSV "
                     "UTF-8").format(path=path, where=bad, encoding=encoding)
        return _("{path}: not readable as {encoding} text throughout (mixed encodings?); save it again as CSV "
                 "UTF-8").format(path=path, encoding=encoding)
    line = _long_line(path)
    if line is not None:
        return _("{path}: line {line} is longer than {mib} MiB (a field that long is refused: an unclosed quote?); "
                 "fix that line and run again").format(path=path, line=line, mib=MAX_CSV_FIELD_BYTES >> 20)
    return _("{path}: not a readable CSV file ({why})").format(path=path, why=type(exc).__name__)


def first_bad_byte(path: Path, encoding: str, delimiter: str = ",", header=()) -> str | None:
    """'line L, column C (header), byte B of the line' for the first byte that is not `encoding`
    text (error path only: the file is decoded again in chunks)."""
    import codecs

    dec = codecs.getincrementaldecoder("utf-8" if encoding == "utf-8-sig" else encoding)()
    offset = 0  # bytes given to the decoder before this chunk
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(8 << 20)
            held = dec.getstate()[0]  # bytes of a cut character the decoder still holds
            try:
                dec.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                pos = max(0, offset - len(held) + exc.start)
                break
            if not chunk:
                return None
            offset += len(chunk)
    with open(path, "rb") as fh:
        before = fh.read(pos)
    line = before.count(b"\n") + 1
    start = before.rfind(b"\n") + 1
    col = before[start:].count(delimiter.encode()) + 1
    name = f" ({header[col - 1]})" if 0 < col <= len(header) and header[col - 1] else ""
    return _("line {line}, column {column}{name}, byte {byte} of the line").format(
        line=line, column=col, name=name, byte=pos - start + 1)


def _long_line(path: Path) -> int | None:
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, 1):
            if len(line) > MAX_CSV_FIELD_BYTES:
                return n
    return None


def csv_lines_of_rows(path: Path, r: "RosterFile", source_rows: np.ndarray) -> np.ndarray:
    """The line on which each data row (1-based) starts, counted as pyarrow reads records: blank
    lines skipped, a quoted line break inside a record. When the file has exactly one line per data
    row after the header (its line breaks counted: one pass at memory speed), that is the answer;
    otherwise (rare) the records are counted with the csv module."""
    want = np.asarray(source_rows, dtype=np.int64)
    for g in r.csv_gaps:  # a later table's header lines are records but not data rows (sorted)
        want = want + (want >= g)
    simple = want + r.header_end
    if not len(want):
        return simple
    if r.line_scan is not None:  # counted while the file was hashed
        _sha, breaks, tail = r.line_scan.result()
    else:
        from cpi_link.core.atomic import sha256_and_line_breaks

        _sha, breaks, tail = sha256_and_line_breaks(path, digest=False)
    # line breaks among the blank characters at the very end move no row
    stripped = tail.rstrip(b" \t\r\n")
    breaks -= tail[len(stripped):].count(b"\n")
    # every line break before the last row's end separates two lines: header_end - 1 + rows of them
    if r.rows_read and breaks == r.header_end - 1 + r.rows_read + len(r.csv_gaps):
        return simple
    return _record_lines(path, r, want)


def _record_lines(path: Path, r: "RosterFile", want: np.ndarray) -> np.ndarray:
    """The line on which each CSV record after the header (1-based) starts: records counted with
    the csv module up to the last one asked for (the rare file: blank lines, quoted line breaks)."""
    simple = want + r.header_end
    last = int(want.max())
    starts = np.zeros(last + 1, dtype=np.int64)
    enc = "utf-8-sig" if r.encoding == "utf-8-sig" else r.encoding
    with open(path, encoding=enc, errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=r.delimiter)
        line, row = 1, 0
        for cells in reader:
            if line > r.header_end and cells:
                row += 1
                starts[row] = line
                if row >= last:
                    break
            line = reader.line_num + 1
    out = starts[np.minimum(want, last)]
    return np.where(out > 0, out, simple)


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


# Spreadsheets (core.sheets)


def _open_spreadsheet(path: Path, fmt: str, sheet, opened=None) -> RosterFile:
    from cpi_link.core.sheets import HEADER_SCAN_ROWS, open_sheet
    from cpi_link.roster.schema import looks_like_roster

    matcher = header_matcher()
    sh = opened.result() if opened is not None else open_sheet(path, sheet, looks_like=looks_like_roster, what="roster")
    # formulas without a stored value, error cells and hidden rows, found in the sheet's XML in a
    # thread while calamine parses the sheet (it releases the GIL) and the rows are read
    special = sh.scan()
    from cpi_link.core.sheetscan import col_letters

    head = []
    for row in sh.rows():
        head.append(row)
        if len(head) >= HEADER_SCAN_ROWS + 2:  # a header of up to 3 rows starting on the last row searched
            break
    if not any(str(v).strip() for r in head[:HEADER_SCAN_ROWS] for v in r):
        raise InputError(_("{where}: the sheet is empty (its first {n} rows hold nothing)").format(where=sh.label, n=HEADER_SCAN_ROWS))
    err = no_header_error(sh.label, head[:HEADER_SCAN_ROWS])
    if err is not None:
        raise err
    first, last, header, named = locate_header(head, HEADER_SCAN_ROWS)
    where = (_("{where} (header on row {row})").format(where=sh.label, row=first + 1) if first == last else
             _("{where} (header on rows {first}-{last})").format(where=sh.label, first=first + 1, last=last + 1))
    refs = [f"{col_letters(sh.first_col + i)}{r + 1}" for i, r in enumerate(named)]
    from cpi_link.core.sheetscan import hidden_columns

    hidden = hidden_columns(path, sh.kind, sh.index)  # read and reported like hidden rows
    # a hidden and a visible column for one field: the column-twice error names both, the hidden one said
    mapping = map_header(header, path, where, [ref + (_(" (hidden column)") if sh.first_col + i in hidden else "")
                                                for i, ref in enumerate(refs)])
    cells = header_cells(header, refs)
    for c in cells:
        if col_index_of(c["cell"]) in hidden:
            c["hidden"] = True
    return RosterFile(path, fmt, header, mapping, first + 1, sheet=sh.name, header_end=last + 1, _sheet=sh,
                      _special=special, cells=cells)


def col_index_of(ref: str) -> int:
    """The 0-based column of a cell reference (`D4` -> 3)."""
    from cpi_link.core.sheetscan import col_index

    return col_index(ref.rstrip("0123456789").encode())


def xlsx_header(path: Path) -> list[str]:
    return open_roster(path).header


def _kind_of(v) -> str | None:
    """What a cell holds when it is neither text nor a number (None for text and numbers); the
    texts are roster.reasons.CELL_KINDS (shown in the reader's language)."""
    if isinstance(v, bool):
        return f"{'TRUE' if v else 'FALSE'} (a yes/no cell)"
    if hasattr(v, "isoformat"):
        return f"a date/time ({v.isoformat()})"
    if hasattr(v, "total_seconds"):
        return f"a duration ({v})"
    return None


_SHEET_CHUNK = 16384  # rows taken from calamine at once, as one 2-D object array (memory, cache)


def _sheet_batches(r: RosterFile, batch_rows: int):
    """A sheet's data rows in batches. calamine gives each row as a Python list; they are taken a
    chunk at a time (itertools.islice, no per-row Python), made one 2-D object array, and each
    column goes to Arrow whole: only cells that are not text are looked at one by one."""
    import gc
    import itertools

    import python_calamine

    sh = r._sheet
    keys = list(r.mapping)
    pos = [r.mapping[k] for k in keys]
    id_col = r.mapping["person_id"]
    it = sh.raw_rows()
    for _row in range(r.header_end):
        next(it, None)
    special = _SpecialCells(r, sh, keys, pos)
    state = {"pos": pos, "id_col": id_col, "words": _header_words(r)}  # the table being read
    n = r.header_end  # the sheet row of the last row taken
    done: list[tuple[pa.Table, np.ndarray]] = []  # converted chunks of the batch being built
    held = 0
    # The rows are short-lived lists without cycles: the cyclic GC would only rescan them (a third
    # of the reading time), so it pauses while the sheet is read.
    paused = gc.isenabled()
    gc.disable()
    try:
        while True:
            try:
                chunk = list(itertools.islice(it, min(_SHEET_CHUNK, batch_rows - held)))
            except python_calamine.CalamineError as exc:
                raise InputError(_("{where}: cannot be read ({why})").format(where=sh.label, why=type(exc).__name__)) from None
            if not chunk:
                break
            file_rows = np.arange(n + 1, n + 1 + len(chunk), dtype=np.int64)
            n += len(chunk)
            cells = np.empty((len(chunk), len(chunk[0])), dtype=object)
            cells[:] = chunk  # rows are of equal length (calamine's grid)
            del chunk
            # a wholly empty row is not a data row: looked for among the rows without an ID
            maybe = np.flatnonzero(cells[:, id_col] == "")
            if len(maybe):
                blank = np.zeros(len(cells), bool)
                blank[maybe] = (cells[maybe] == "").all(axis=1)
                if blank.any():
                    cells, file_rows = cells[~blank], file_rows[~blank]
                    if not len(cells):
                        continue
            for lo, hi, seg in _tables_in(cells, file_rows, r, keys, state):
                if hi > lo:
                    t, numeric = _convert_cells(cells[lo:hi], file_rows[lo:hi], keys, seg, special, r,
                                                r.rows_read + held + 1)
                    done.append((t, numeric))
                    held += t.num_rows
            id_col = state["id_col"]
            if held >= batch_rows:
                yield _join(r, done, held)
                done.clear()
                held = 0
        # every row was read: calamine's grid (about 400 MB at 1M rows) is freed before the last batch
        del it
        sh.release()
        if done:
            yield _join(r, done, held)
    finally:
        if paused:
            gc.enable()


def _header_words(r: RosterFile) -> "_HeaderWords":
    """Texts that, in the ID column's place, mark a row repeating a header (another table)."""
    from cpi_link.roster.schema import HEADER_ALIASES

    words = {a for names in HEADER_ALIASES.values() for a in names if not a.isascii()}
    return _HeaderWords(words | {h for h in r.header if h} | {c["text"] for c in r.cells})


_ID_SHAPED = r"^[0-9]*[Xx]?$"  # an ID, a number or empty: header_name leaves it as it is, but for the case of X


class _HeaderWords:
    """The header words of a roster, and which ID cells of a batch are one of them as the first
    header's cells are compared (core.tabular.header_name: NFKC, no spaces, full-width spaces or line
    breaks anywhere, no BOM, lower case): ` 身份证号 `, `身份证　号`, `身份\n证号` (an Alt+Enter in the
    cell) and a second CSV export's BOM mid-file all start another table. One function for sheets
    (a column of Python cells) and CSV (an Arrow column): only cells that are not ID-shaped are
    normalised one by one; an ID-shaped cell is compared as it is."""

    def __init__(self, words):
        from cpi_link.core.tabular import header_name

        self.names = frozenset(n for n in map(header_name, words) if n)
        shaped = re.compile(_ID_SHAPED)
        self.exact = self.names | {n.upper() for n in self.names if shaped.match(n)}
        # header_name of an ASCII cell is ASCII: with no ASCII name, only cells with other characters may be one
        self.ascii = any(n.isascii() for n in self.names)
        self._arrow = pa.array(sorted(self.exact), pa.string())
        self._not_id = re.compile(r"[^0-9Xx]").search

    def __or__(self, more) -> "_HeaderWords":
        return _HeaderWords(self.names | set(more))

    def rows(self, col) -> np.ndarray:
        """Indices of the cells of `col` (numpy object array, or Arrow array) that are header words."""
        from cpi_link.core.tabular import header_name

        if isinstance(col, (pa.Array, pa.ChunkedArray)):
            hit = pc.fill_null(pc.is_in(col, value_set=self._arrow), False)
            maybe = (pc.match_substring_regex(col, _ID_SHAPED) if self.ascii else pc.string_is_ascii(col))
            idx = np.flatnonzero(pc.invert(pc.fill_null(maybe, True)).to_numpy(zero_copy_only=False))
            cells = col.take(pa.array(idx)).to_pylist() if len(idx) else []
            exact = hit.to_numpy(zero_copy_only=False)
        else:
            exact = np.fromiter(map(self.exact.__contains__, col), bool, count=len(col))  # no per-row Python
            try:
                maybe = (np.fromiter(map(bool, map(self._not_id, col)), bool, count=len(col)) if self.ascii
                         else ~np.fromiter(map(str.isascii, col), bool, count=len(col)))
                idx = np.flatnonzero(maybe)
            except TypeError:  # a cell that is not text (a number, a date): none is a header word
                idx = np.flatnonzero([isinstance(c, str) and (self._not_id(c) if self.ascii else not c.isascii()) for c in col])
            cells = col[idx].tolist()
        found = idx[[header_name(c) in self.names for c in cells]] if len(idx) else idx
        return np.union1d(np.flatnonzero(exact), found).astype(np.int64)


def _tables_in(cells: np.ndarray, file_rows: np.ndarray, r: RosterFile, keys: list, state: dict):
    """[(first, end, column positions)] of the data rows of a chunk of a sheet (see _tables_at)."""
    hit = state["words"].rows(cells[:, state["id_col"]])
    sh = r._sheet
    return _tables_at(hit, len(cells), lambda k: list(cells[k]), file_rows, r, keys, state,
                      lambda at: _("{where} (header on row {row})").format(where=sh.label, row=at), sh.first_col)


def _tables_at(hit: np.ndarray, n: int, row_at, file_rows, r: RosterFile, keys: list, state: dict, where_of,
               first_col: int = 0):
    """[(first, end, column positions)] of the data rows among n rows, whose ID cells at `hit` are
    header words: a row repeating a header (a second table pasted below, a 城市 block then a 农村
    block, columns in another order) starts a new table read by its own header; its header rows
    are not data rows (SPEC 5.1). The same for sheets and CSV files: row_at(k) gives row k's cells,
    file_rows the row (line) a person sees; state holds the table being read (pos, id_col, words)."""
    if not len(hit):
        return [(0, n, state["pos"])]
    from cpi_link.core.sheetscan import col_letters

    matcher = header_matcher()
    out, lo = [], 0
    for j in hit.tolist():
        if j < lo or matcher.score(row_at(j)) < 2:
            continue  # inside a header already taken, or one cell only that reads like a header
        rows = [row_at(k) for k in range(j, min(j + 3, n))]
        first, last, header, named = locate_header(rows, 1)
        refs = [f"{col_letters(first_col + i)}{file_rows[j + k]}" for i, k in enumerate(named)]
        at = int(file_rows[j])
        where = where_of(at)
        mapping = map_header(header, r.path, where, refs)
        extra = [k for k in mapping if k not in r.mapping]
        if extra:
            raise InputError(_("{where}: this table has the column(s) {columns} that the first table (header on row "
                               "{first}) lacks; give every table the same columns").format(
                where=where, columns=", ".join(extra), first=r.header_row))
        out.append((lo, j, state["pos"]))
        state["pos"] = [mapping.get(k, 1 << 30) for k in keys]  # a column this table lacks reads as empty
        state["id_col"] = mapping["person_id"]
        state["words"] = state["words"] | {h for h in header if h}
        if all(t["header_row"] != at for t in r.tables):
            r.tables.append({"header_row": at, "header_end": int(file_rows[j + last]),
                             "header_cells": header_cells(header, refs)})
        lo = j + last + 1
    out.append((lo, n, state["pos"]))
    return out


class _SpecialCells:
    """What the sheet's XML says of the cells calamine reads as empty (core.sheets.SheetScan, in its
    own thread): formulas without a stored value and error cells of the columns read, and rows
    hidden in Excel; taken a chunk of rows at a time, once the scan has passed them."""

    def __init__(self, r: RosterFile, sh, keys, pos):
        self._scan = r._special
        self._col_key = {sh.first_col + p: k for k, p in zip(keys, pos)}
        self._taken = 0  # entries of scan.found already sorted in
        # merged ranges over data cells (calamine knows them), sorted in from the start
        merged = sorted((row + 1, self._col_key[c], what) for row, c, what in sh.merged_cells(self._col_key, r.header_end))
        self._rows = np.array([m[0] for m in merged], dtype=np.int64)  # file rows of the entries not yet passed
        self._entries: list = [(k, what) for _r, k, what in merged]  # their (key or None for a hidden row, what)

    def in_rows(self, file_rows: np.ndarray):
        """([(index in file_rows, key, what)], indices of hidden rows) for a chunk's sorted file rows."""
        if self._scan is None and not len(self._rows):
            return [], None
        if self._scan is not None:
            self._scan.wait(int(file_rows[-1]))
        found = self._scan.found if self._scan is not None else []
        new = found[self._taken:len(found)]
        self._taken += len(new)
        if new:
            keep = [(r + 1, None if c == -1 else self._col_key[c], what) for r, c, what in new
                    if c == -1 or c in self._col_key]
            rows = np.concatenate([self._rows, np.array([e[0] for e in keep], dtype=np.int64)])
            entries = self._entries + [(k, what) for _, k, what in keep]
            order = np.argsort(rows, kind="stable")
            self._rows, self._entries = rows[order], [entries[i] for i in order.tolist()]
        if not len(self._rows):
            return [], None
        # entries of this chunk's rows; those of earlier rows (blank rows, the header) are dropped
        hi = int(np.searchsorted(self._rows, file_rows[-1], side="right"))
        rows, entries = self._rows[:hi], self._entries[:hi]
        self._rows, self._entries = self._rows[hi:], self._entries[hi:]
        at = np.searchsorted(file_rows, rows)
        cells, hidden = [], []
        for i, fr, (k, what) in zip(at.tolist(), rows.tolist(), entries):
            if i < len(file_rows) and file_rows[i] == fr:
                if k is None:
                    hidden.append(i)
                else:
                    cells.append((i, k, what))
        return cells, (np.array(hidden, dtype=np.int64) if hidden else None)


def _convert_cells(cells: np.ndarray, file_rows: np.ndarray, keys, pos, special: _SpecialCells,
                   r: RosterFile, first_source: int):
    """A chunk of rows (2-D object array of calamine's cells) -> (table, numeric-ID mask): text per
    column (a whole column at once when it is all text), cell reasons, file_row."""
    import itertools

    n = len(cells)
    arrays = {}
    reasons: dict[int, tuple[str, str]] = {}
    numeric = np.zeros(n, bool)
    bank = np.zeros(n, bool)
    for k, p in zip(keys, pos):
        if p >= cells.shape[1]:
            arrays[k] = pa.array(np.full(n, "", dtype=object), pa.string())
            continue
        col = cells[:, p]
        try:
            arrays[k] = pa.array(col, pa.string())  # the usual column: all text
            continue
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            pass
        # numbers (or dates, yes/no cells) among the text: only those cells are looked at
        at = np.flatnonzero(~np.fromiter(map(isinstance, col, itertools.repeat(str)), dtype=bool, count=n))
        others = col[at].tolist()
        types = set(map(type, others))
        if types == {float} or types == {int}:  # each distinct number converted once
            text = {v: cell_text(v) for v in set(others)}
            shown = [text[v] for v in others]
            is_number = np.ones(len(at), bool)
        else:
            shown = [cell_text(v) for v in others]
            is_number = np.fromiter((type(v) in (float, int) for v in others), dtype=bool, count=len(others))
            for i, v in zip(at.tolist(), others):
                if i not in reasons and type(v) not in (float, int):
                    what = _kind_of(v)
                    if what is not None:
                        reasons[i] = ("bad_cell", f"{k} holds {what} in the sheet, not text or a number")
        col = col.copy()
        col[at] = shown
        arrays[k] = pa.array(col, pa.string())
        if k == "person_id":
            numeric[at] = is_number
        elif k == "bank_account":  # an account that went through Excel as a number may have lost digits
            bank[at] = is_number
    found, hidden = special.in_rows(file_rows)
    for i, k, what in found:
        if what == "formula":
            reasons[i] = ("formula_without_value", f"{k} holds a formula without a stored value; open the "
                                                  "file in Excel or WPS so it calculates, save it, run again")
        elif what.startswith("merged:"):
            if i not in reasons:
                reasons[i] = ("bad_cell", f"{k} is inside the merged cells {what[7:]} (the sheet shows one value for "
                                          "all of them; only their first cell holds it): unmerge them and fill in every row")
        elif reasons.get(i, ("",))[0] != "formula_without_value":
            reasons[i] = ("bad_cell", f"{k} holds the error {what} in the sheet")
    if hidden is not None and len(hidden):
        r.hidden_rows += (hidden + first_source).tolist()
    t = pa.table(arrays).append_column("file_row", pa.array(file_rows))
    t = t.append_column(NUMERIC_BANK, pa.array(bank, pa.bool_()))
    if reasons:
        code: list = [None] * n
        detail: list = [None] * n
        for i, (c, d) in reasons.items():
            code[i], detail[i] = c, d
        t = t.append_column("cell_reason", pa.array(code, pa.string()))
        t = t.append_column("cell_detail", pa.array(detail, pa.string()))
    else:
        t = t.append_column("cell_reason", pa.nulls(n, pa.string()))
        t = t.append_column("cell_detail", pa.nulls(n, pa.string()))
    return t, numeric


def _join(r: RosterFile, done: list, held: int):
    """The converted chunks of one batch as one table (columns no cell needed, dropped)."""
    tables, masks = zip(*done)
    r.rows_read += held
    t = pa.concat_tables(tables)
    if t.column("cell_reason").null_count == t.num_rows:  # no cell stood for no value: no columns
        t = t.drop_columns(["cell_reason", "cell_detail"])
    if not pc.any(t.column(NUMERIC_BANK)).as_py():  # the usual case: no account was a number
        t = t.drop_columns([NUMERIC_BANK])
    return t.combine_chunks(), np.concatenate(masks)


# Parquet


def _open_parquet(path: Path):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(_("{path}: not a readable Parquet file ({why})").format(path=path, why=type(exc).__name__)) from None


def parquet_header(path: Path) -> list[str]:
    return list(_open_parquet(path).schema_arrow.names)


def _parquet_batches(path: Path, batch_rows: int, only: tuple[str, ...] | None = None):
    pf = _open_parquet(path)
    header = list(pf.schema_arrow.names)
    mapping = map_header(header, path)
    src = {key: header[i] for key, i in mapping.items() if only is None or key in only}
    id_type = pf.schema_arrow.field(src["person_id"]).type
    # An int64 or decimal(p, 0) column holds 18 digits exactly (though never an X); a float column
    # (or a decimal with a fraction) cannot.
    id_is_float = _inexact_number(id_type)
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
                if key == "bank_account" and _inexact_number(col.type):
                    arrays[NUMERIC_BANK] = col.is_valid()
                arrays[key] = _to_text(col)
            yield pa.table(arrays), numeric
    except pa.ArrowException as exc:
        raise InputError(_("{path}: not a readable Parquet file ({why})").format(path=path, why=type(exc).__name__)) from None


def _inexact_number(t: pa.DataType) -> bool:
    """A float type, or a decimal with a fraction: a long ID or account in it may have lost digits."""
    return pa.types.is_floating(t) or (pa.types.is_decimal(t) and t.scale != 0)


def _to_text(col: pa.Array) -> pa.Array:
    t = col.type
    if pa.types.is_dictionary(t):
        if pa.types.is_string(t.value_type):
            return col  # check_batch takes a dictionary of strings as it is
        col = col.dictionary_decode()
        t = col.type
    if pa.types.is_floating(t):
        # whole numbers as integers (a region code 140105.0 -> "140105"); inf, nan and numbers past
        # 2**53 stay as they are written ("inf", "1e+300"), never cast, so a check names them
        whole = pc.and_(pc.equal(pc.floor(col), col), pc.less_equal(pc.abs(col), float(1 << 53)))
        as_int = pc.cast(pc.if_else(whole, col, 0), pa.int64(), safe=False).cast(pa.string())
        return pc.if_else(whole, as_int, col.cast(pa.string()))
    return col.cast(pa.string())
