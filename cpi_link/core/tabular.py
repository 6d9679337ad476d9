"""Reading small tables officers type (figures, standards): CSV in UTF-8/BOM/GB18030, or a
spreadsheet (XLSX/XLSM/XLS/ODS, core.sheets).

Everything comes back as text; numbers are parsed exactly by the caller. Big rosters use
cpi_link.roster, which streams with pyarrow.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from cpi_link.core.errors import InputError
from cpi_link.core.i18n import _
from cpi_link.core.inputs import check_input, read_input
from cpi_link.core.months import NumberCell
from cpi_link.core.sheets import cell_text
from cpi_link.core.sheetscan import col_letters


def _looks_like_utf8_text(text: str) -> bool:
    # Short GB18030 text can also be valid UTF-8 (食品 = CA B3 C6 B7 decodes as 'ʳƷ'), so a
    # UTF-8 reading is trusted only when its non-ASCII characters are ones a Chinese table holds.
    for ch in text:
        o = ord(ch)
        if o < 0x80:
            continue
        if not (
            0x4E00 <= o <= 0x9FFF  # CJK unified ideographs
            or 0x3400 <= o <= 0x4DBF  # extension A
            or 0x20000 <= o <= 0x3FFFF  # extensions B..
            or 0x3000 <= o <= 0x303F  # CJK punctuation
            or 0xFF00 <= o <= 0xFFEF  # full-width forms
            or 0x2000 <= o <= 0x206F  # general punctuation
            or 0x00A0 <= o <= 0x00FF  # Latin-1
            or 0x2E80 <= o <= 0x2FDF  # radicals
            or 0xF900 <= o <= 0xFAFF  # compatibility ideographs
            or o == 0xFEFF
        ):
            return False
    return True


def _cjk_share(text: str) -> float:
    wide = [c for c in text if ord(c) >= 0x80]
    if not wide:
        return 0.0
    cjk = sum(1 for c in wide if 0x4E00 <= ord(c) <= 0x9FFF or 0x3000 <= ord(c) <= 0x303F or 0xFF00 <= ord(c) <= 0xFFEF)
    return cjk / len(wide)


def detect_encoding(data: bytes, path: Path | str = "", line0: int = 1) -> str:
    """UTF-8 with BOM, UTF-8, or GB18030 (a superset of GBK/GB2312), decided from the bytes.

    `data` may be a sample of a big file; a character cut at its end is tolerated. line0: the line
    of the file on which `data` starts (it starts at a line's beginning), for the messages.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if b"\x00" in data[:65536]:
        raise InputError(_("{path}: contains NUL bytes; this is not a text CSV file (UTF-16 or binary?)").format(path=path))
    utf8 = _decode_prefix(data, "utf-8")
    if utf8 is not None and _looks_like_utf8_text(utf8):
        return "utf-8"
    if utf8 is None:
        _reject_mixed(data, path, line0)
    gb = _decode_prefix(data, "gb18030")
    if utf8 is not None:
        # Valid UTF-8 with unusual characters (Cyrillic, emoji…) stays UTF-8 unless the GB18030
        # reading is plainly Chinese and the UTF-8 one plainly is not.
        if gb is not None and _cjk_share(gb) >= 0.9 and _cjk_share(utf8) < 0.5:
            return "gb18030"
        return "utf-8"
    if gb is not None:
        return "gb18030"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(_("{path}: {where} is not UTF-8 or GB18030 text; save it as CSV UTF-8 or GB18030").format(
            path=path, where=byte_place(data, exc.start, line0))) from None
    return "utf-8"


def byte_place(data: bytes, pos: int, line0: int = 1) -> str:
    """'line L, byte B of the line' of data[pos] (data starting on line line0)."""
    line = line0 + data.count(b"\n", 0, pos)
    return _("line {line}, byte {byte} of the line").format(line=line, byte=pos - (data.rfind(b"\n", 0, pos) + 1) + 1)


def _reject_mixed(data: bytes, path, line0: int = 1) -> None:
    """UTF-8 Chinese text followed by bytes that are not UTF-8: mixed encodings, not GB18030.

    Decoding such a file as GB18030 would silently turn its UTF-8 names into mojibake. Pure GB18030
    Chinese text practically never forms two UTF-8 CJK characters before its first invalid byte.
    """
    try:
        data.decode("utf-8")
        return
    except UnicodeDecodeError as exc:
        bad = exc.start
    if bad >= len(data) - 4:
        return  # a character cut at the end of a sample
    head = data[: data.rfind(b"\n", 0, bad) + 1].decode("utf-8")  # the whole lines before the bad byte
    if sum(1 for ch in head if 0x4E00 <= ord(ch) <= 0x9FFF) >= 2 and _looks_like_utf8_text(head):
        line = line0 + data.count(b"\n", 0, bad)
        raise InputError(_("{path}: mixed encodings in one file: the lines before line {line} are UTF-8 but line {line} "
                           "is not; save the whole file as UTF-8 or GB18030").format(path=path, line=line))


def _decode_prefix(data: bytes, encoding: str) -> str | None:
    # A sample may end inside a multi-byte character: only that (an incomplete sequence at the very
    # end) is forgiven; an invalid byte anywhere means the encoding is wrong.
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        if exc.start < len(data) - 4 or not ("end of data" in exc.reason or "incomplete" in exc.reason):
            return None
        start = exc.start
    try:
        return data[:start].decode(encoding)
    except UnicodeDecodeError:
        return None


def is_xlsx(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def read_table(path: Path | str, sheet: str | int | None = None,
               aliases: dict[str, tuple[str, ...]] | None = None,
               units: dict[str, tuple[str, ...]] | None = None) -> tuple[list[str], list[list[str]]]:
    """Return (header, rows) as strings; rows keep their order (data row 1 is rows[0]).

    A spreadsheet (XLSX/XLSM/XLS/ODS, core.sheets) or a CSV. With `aliases` (the table's column
    names) the header is the row among the first 10 that matches them (rows above it, titles, are
    skipped) and the sheet is the visible one that has such a header."""
    return read_table_with_rows(path, sheet, aliases, units)[:2]


def read_table_with_rows(path: Path | str, sheet: str | int | None = None,
                         aliases: dict[str, tuple[str, ...]] | None = None,
                         units: dict[str, tuple[str, ...]] | None = None):
    """(header, rows, file_rows, where): read_table's with the row number a person sees for each
    row (spreadsheet row or CSV line) and the place read ("file" or "file, sheet 'X'")."""
    from cpi_link.core.sheets import open_sheet, spreadsheet_kind

    path = check_input(path, "table")
    matcher = HeaderMatcher(aliases, units) if aliases else None
    if spreadsheet_kind(path) is not None:
        looks = (lambda head: any(matcher.score(r) >= 2 for r in head)) if matcher else None
        sh = open_sheet(path, sheet, looks_like=looks)
        lines: list[tuple[int, list[str]]] = []
        for n, raw in enumerate(sh.rows(), start=1):
            # a number keeps that it was one (a month typed as 2019.10 is the number 2019.1)
            cells = [NumberCell(cell_text(v)) if isinstance(v, float) else cell_text(v, dates="month").strip() for v in raw]
            if any(cells):
                lines.append((n, cells))
        where = sh.label
        if not lines:
            raise InputError(_("{where}: the sheet is empty").format(where=where))
    else:
        where = str(path)
        lines = _csv_lines(path)
    at = matcher.find_header([c for _n, c in lines[:10]]) if matcher else 0
    header = lines[at][1]
    body = lines[at + 1:]
    if spreadsheet_kind(path) is not None:
        _refuse_empty_looking_cells(sh, header, lines[at][0], where)
    return header, [c for _n, c in body], [n for n, _c in body], where


def _refuse_empty_looking_cells(sh, header: list[str], header_row: int, where: str) -> None:
    """An error cell (#N/A), a formula without a stored value or a cell inside merged cells (but
    their first) in the table reads as empty: in a standards or figures file that is never taken
    as "no value" (exit 2 naming the cell)."""
    scan = sh.scan()
    scan.wait(1 << 31)
    found = scan.found + sh.merged_cells(range(sh.first_col, sh.first_col + len(header)), header_row)
    bad = sorted((r + 1, c, what) for r, c, what in found if what != "hidden" and r + 1 >= header_row)
    if not bad:
        return
    row, col, what = bad[0]
    i = col - sh.first_col
    name = f" ({header[i]})" if 0 <= i < len(header) and header[i] else ""
    if what == "formula":
        msg = _("{where}: row {row}, column {column}{name} holds a formula without a stored value; open the file in "
                "Excel or WPS so it calculates, save, run again")
    elif what.startswith("merged:"):
        msg = _("{where}: row {row}, column {column}{name} is inside the merged cells {error}, which hold one value in "
                "their first cell only; unmerge them, fill in every row, save, run again")
        what = what[7:]
    else:
        msg = _("{where}: row {row}, column {column}{name} holds the error {error}; fix the cell, save, run again")
    raise InputError(msg.format(where=where, row=row, column=col_letters(col), name=name, error=what))


_ID_LIKE = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)|(?<!\d)\d{15}(?!\d)")


def swallowed_row(cell: str, delimiter: str, columns: int) -> bool:
    """True when a quoted cell holds a line break followed by what looks like another row (an
    18- or 15-digit ID, or nearly as many separators as the header has): a stray quote that joined
    the next line into this field, so a person would vanish into someone's name."""
    if "\n" not in cell and "\r" not in cell:
        return False
    for rest in re.split(r"\r\n|\r|\n", cell)[1:]:
        if _ID_LIKE.search(rest) or (columns > 2 and rest.count(delimiter) >= columns - 2):
            return True
    return False


def swallowed_message(path, line: int, column: str) -> str:
    return _("{path}: line {line}: the {column} field opens a quote that runs on over the next line, which looks like "
             "another row (a stray \" at the start of the field?); remove the quote or close it, save, run again").format(
        path=path, line=line, column=column)


def _csv_lines(path: Path) -> list[tuple[int, list[str]]]:
    data = read_input(path, "table").rstrip(b"\x1a")  # DOS end-of-file mark (Ctrl-Z)
    if not data.strip():
        raise InputError(_("{path}: the file is empty").format(path=path))
    enc = detect_encoding(data, path)
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(_("{path}: {where} is not valid {encoding} text (mixed encodings in one file?)").format(
            path=path, where=byte_place(data, exc.start), encoding=enc)) from None
    delimiter = _guess_delimiter(text[:8192])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    out: list[tuple[int, list[str]]] = []
    try:
        start = 1
        width = 0
        for r in reader:
            if any(c.strip() for c in r):
                width = width or len(r)  # the first row with text: the header, or a title above it
                for i, c in enumerate(r):
                    if swallowed_row(c, delimiter, max(width, len(r))):
                        raise InputError(swallowed_message(path, start, _("column {n}").format(n=i + 1)))
                out.append((start, [c.strip() for c in r]))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(_("{path}: line {line}: not readable as CSV ({error})").format(path=path, line=reader.line_num, error=exc)) from None
    if not out:
        raise InputError(_("{path}: the file is empty").format(path=path))
    return out


def _guess_delimiter(sample: str) -> str:
    """The separator of the first lines: the one most of the first non-empty lines hold (a title
    line above the header has none)."""
    lines = [ln for ln in sample.splitlines()[:12] if ln.strip()]
    for d in (",", "\t", ";"):
        if sum(1 for ln in lines if d in ln) * 2 >= len(lines):
            return d
    for d in (",", "\t", ";"):
        if any(d in ln for ln in lines):
            return d
    return ","


def header_name(h: object) -> str:
    """A header cell as compared (SPEC 5.1): NFKC (full-width -> half-width), no spaces or line
    breaks anywhere, no BOM, lower case."""
    import unicodedata

    text = unicodedata.normalize("NFKC", "" if h is None else str(h))
    return _SPACES.sub("", text.replace("\ufeff", "").replace("\u200b", "")).lower()


_SPACES = re.compile(r"\s+")
_UNIT = re.compile(r"^(.+?)[(\[【]([^()\[\]【】]+)[)\]】]$")


class HeaderMatcher:
    """Header cells -> canonical columns: by name (header_name), or by name and a trailing unit in
    brackets that the column takes (`保障人数(人)`; a unit may also name another column:
    `农村低保标准（元/年）` is the annual one). A cell that only resembles a name (a known name with
    another unit, `保障人数（户）`; a shortened name, `身份证`; a cell holding one of a column's
    hint words, `保障人口数`) is a look-alike: an error naming the cell and the accepted names, so
    a column is never silently ignored. `others`: names of columns known not to be read (序号, 备注)."""

    def __init__(self, aliases: dict[str, tuple[str, ...]], units: dict[str, tuple[str, ...]] | None = None,
                 hints: dict[str, tuple[str, ...]] | None = None, others: tuple[str, ...] = (),
                 unit_keys: dict[tuple[str, str], str] | None = None, repeatable: tuple[str, ...] = ()):
        self.aliases = aliases
        self.names = {header_name(a): k for k, names in aliases.items() for a in names}
        self.units = {k: {header_name(u) for u in us} for k, us in (units or {}).items()}
        self.unit_keys = {(k, header_name(u)): k2 for (k, u), k2 in (unit_keys or {}).items()}
        self.hints = [(header_name(h), k) for k, hs in (hints or {}).items() for h in hs]
        self.others = {header_name(o) for o in others}
        self.repeatable = repeatable  # columns that may appear more than once: key, key_2, key_3...

    def match(self, cell: object) -> tuple[str | None, str | None]:
        """(column, None) for a match, (None, column) for a look-alike, (None, None) otherwise."""
        n = header_name(cell)
        if not n:
            return None, None
        if n in self.names:
            return self.names[n], None
        if n in self.others:
            return None, None
        m = _UNIT.match(n)
        if m:
            base, unit = m.group(1), m.group(2)
            key = self.names.get(base)
            if key is not None:
                if (key, unit) in self.unit_keys:
                    return self.unit_keys[key, unit], None
                return (key, None) if unit in self.units.get(key, ()) else (None, key)
            if base in self.others:
                return None, None
            n = base
        if len(n) >= 2:
            for name, key in self.names.items():
                if len(name) > len(n) and (name.startswith(n) or name.endswith(n)):
                    return None, key
        for hint, key in self.hints:
            if hint in n:
                return None, key
        return None, None

    def score(self, row: list) -> int:
        """How many distinct columns a row's cells give (to find the header row)."""
        return len({k for k in (self.match(c)[0] for c in row) if k is not None})

    def find_header(self, rows: list[list], scan: int = 30) -> int:
        """The index of the header among the first `scan` rows: the first giving at least two
        columns (else the one giving most), else the first non-empty row."""
        best, best_score = None, 0
        for i, row in enumerate(rows[:scan]):
            sc = self.score(row)
            if sc >= 2:
                return i
            if sc > best_score:
                best, best_score = i, sc
        if best is not None:
            return best
        for i, row in enumerate(rows):
            if any(header_name(c) for c in row):
                return i
        return 0

    def read_cells(self, header: list) -> list[str | None]:
        """Per header cell: the column it gives, or None (not used)."""
        return [self.match(c)[0] for c in header]

    def columns(self, header: list, where, required: tuple[str, ...], refs: list[str] | None = None) -> dict[str, int]:
        """{column: position}; InputError naming the cell for a column twice, a look-alike, or a
        missing required column. refs: each cell's place as a person sees it (`D4`)."""
        out: dict[str, int] = {}

        def cell_name(i: int) -> str:
            ref = refs[i] if refs is not None and i < len(refs) else col_letters(i)
            return _("cell {cell} {text!r}").format(cell=ref, text=_show(header[i]))

        for i, cell in enumerate(header):
            key, lookalike = self.match(cell)
            if key is not None and key in self.repeatable and key in out:
                k = 2
                while f"{key}_{k}" in out:
                    k += 1
                out[f"{key}_{k}"] = i
            elif key is not None:
                if key in out:
                    raise InputError(_("{where}: {first} and {second} both give the column {key}; keep one of them").format(
                        where=where, first=cell_name(out[key]), second=cell_name(i), key=key))
                out[key] = i
            elif lookalike is not None:
                raise InputError(_("{where}: {cell} looks like the column {key} but is not one of its names ({names}{units}); "
                                   "rename it to one of them, or, if it holds something else, to a name that does not look "
                                   "like it").format(where=where, cell=cell_name(i), key=lookalike,
                                                     names=" / ".join(self.aliases[lookalike]), units=self._units_text(lookalike)))
        missing = [k for k in required if k not in out]
        if missing:
            cells = [_show(h) for h in header[:12] if header_name(h)]
            shown = ", ".join(cells) + (", …" if len(header) > 12 else "")
            wanted = "; ".join(f"{k} ({' / '.join(self.aliases[k][1:]) or k})" for k in missing)
            raise InputError(_("{where}: missing required column(s) {wanted}; the header has: {shown}").format(
                where=where, wanted=wanted, shown=shown or _("(nothing)")))
        return out

    def _units_text(self, key: str) -> str:
        units = sorted(set(self.units.get(key, ())) | {u for (k, u) in self.unit_keys if k == key})
        return _("; a unit may follow in brackets: {units}").format(units=" / ".join(units)) if units else ""


def _show(h: object) -> str:
    # a file saved without its header has a person's data where the header should be: never an ID
    from cpi_link.core.privacy import mask_digits

    text = mask_digits(("" if h is None else str(h)).replace("\n", " ").strip())
    return text if len(text) <= 30 else text[:29] + "…"


def find_columns(header: list[str], aliases: dict[str, tuple[str, ...]], required: tuple[str, ...], path,
                 units: dict[str, tuple[str, ...]] | None = None, refs: list[str] | None = None, **more) -> dict[str, int]:
    """Map canonical column names to positions, accepting English or Chinese headers (HeaderMatcher;
    `more`: its hints, others and unit_keys)."""
    return HeaderMatcher(aliases, units, **more).columns(header, path, required, refs)
