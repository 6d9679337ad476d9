"""Spreadsheets as officers save them (XLSX, XLSM, XLS, ODS), read with python-calamine.

Every row and column is read whatever size the file claims (a `<dimension>` tag of `A1`, as
streaming writers leave it, is ignored). The sheet: `--sheet NAME|N` when given (hidden sheets only
this way); otherwise, among the visible sheets, the one that looks like the table asked for
(`looks_like`), an error listing them when several do, and the active visible sheet (else the first
visible) when none does. Cells come back as calamine gives them (str, float, int, bool, dates);
`formula_cells` adds what calamine does not say: XLSX cells holding a formula without a stored
value, and error cells (`#N/A`), which calamine reads as empty.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from cpi_link.core.errors import InputError
from cpi_link.core.i18n import N_, _
from cpi_link.core.sheetscan import col_index, sheet_part, merged_text

# A sheet part (or shared strings, or an ODS content.xml) larger than this when expanded is refused
# before anything expands it: a 1M-row, 10-column roster is about 400 MB of XML; an "XLSX bomb" of
# a few MB can claim gigabytes.
MAX_PART_BYTES = 1 << 30
# what open_sheet's callers look for ("several visible sheets each look like a roster"), for the catalog
WHAT = (N_("roster"), N_("table"))
HEADER_SCAN_ROWS = 30  # the header row is looked for among a sheet's first rows (SPEC 5.1)
# calamine holds a sheet as a dense grid (about 36 bytes a cell, empty or not): one cell at XFD1048576
# in a file of 1 KB asks for 17 billion. A small sheet part is measured first and refused past this.
MAX_CELLS = 60_000_000
_MEASURED_PART = 8 << 20  # parts up to this size (expanded) are measured before calamine parses them

SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")


def spreadsheet_kind(path: Path) -> str | None:
    """"xlsx", "xls" or "ods" from the file's first bytes (and its suffix), None for other files."""
    with open(path, "rb") as fh:
        magic = fh.read(8)
    suffix = path.suffix.lower()
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    if magic.startswith(b"PK\x03\x04"):
        if suffix == ".ods":
            return "ods"
        try:
            with zipfile.ZipFile(path) as z:
                if "mimetype" in z.namelist() and b"opendocument.spreadsheet" in z.read("mimetype")[:100]:
                    return "ods"
        except (zipfile.BadZipFile, OSError):
            pass
        return "xlsx"
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".xls", ".ods"):
        return suffix[1:]
    return None


@dataclass
class Sheet:
    """One chosen worksheet: its name, position, and the cells calamine does not give (formula_cells)."""

    path: Path
    name: str
    index: int
    kind: str
    _sheet: object = field(repr=False, default=None)
    _book: object = field(repr=False, default=None)
    _scan: object = field(repr=False, default=None)

    def _loaded(self):
        # parsed on first use (calamine parses the whole sheet, without the GIL): a caller can
        # start scan() first, to run beside it
        if self._sheet is None:
            if self.kind == "xlsx":
                _check_extent(self.path, self.kind, self.index, self.label)
            try:
                self._sheet = self._book.get_sheet_by_name(self.name)
            except Exception as exc:  # noqa: BLE001 - calamine's own error types
                raise InputError(_("{where}: cannot be read ({why})").format(where=self.label, why=_calamine_text(exc))) from None
        return self._sheet

    @property
    def label(self) -> str:
        return _("{path}, sheet {name}").format(path=self.path, name=repr(self.name))

    def rows(self) -> Iterator[list]:
        """Every row from row 1 (lists of equal length), the first list element in column `first_col`."""
        sheet = self._loaded()
        try:
            yield from sheet.iter_rows()
        except Exception as exc:  # noqa: BLE001 - calamine raises its own types, and ValueError on bad XML
            raise InputError(_("{where}: cannot be read ({why})").format(where=self.label, why=_calamine_text(exc))) from None

    def merged_cells(self, columns, first_row: int) -> list[tuple[int, int, str]]:
        """(row, column, "merged:C3:C5"), 0-based, for the cells of `columns` from row `first_row`
        that a merged range covers but does not start at (calamine reads them as empty; XLSX and XLS:
        calamine's ranges; ODS: SheetScan finds them)."""
        sheet = self._loaded()
        ranges = getattr(sheet, "merged_cell_ranges", None) or []
        height = sheet.height + (sheet.start[0] if sheet.start else 0)
        out = []
        for (r0, c0), (r1, c1) in ranges:
            what = merged_text(r0, c0, r1, c1)
            for c in columns:
                if c0 <= c <= c1:
                    out += [(r, c, what) for r in range(max(r0, first_row), min(r1, height - 1) + 1) if (r, c) != (r0, c0)]
        return out

    def release(self) -> None:
        """Free the parsed sheet (it is parsed again if read again)."""
        self._sheet = None

    def raw_rows(self):
        """calamine's row iterator itself (rows(), without a generator around it, for the big reads)."""
        return self._loaded().iter_rows()

    @property
    def first_col(self) -> int:
        start = self._loaded().start
        return start[1] if start else 0

    def scan(self):
        """The cells calamine reads as empty but are not, and the hidden rows: a core.sheetscan.SheetScan,
        its thread started on the first call."""
        if self._scan is None:
            from cpi_link.core.sheetscan import SheetScan

            self._scan = SheetScan(self.path, self.kind, self.index)
        return self._scan


def _worksheets(path: Path):
    """(calamine book, kind, [(index, name, visible)] of its worksheets); InputError (exit 2) for an
    unreadable workbook or one without worksheets."""
    import python_calamine as cal

    kind = spreadsheet_kind(path) or "xlsx"
    if kind in ("xlsx", "ods"):
        check_part_sizes(path, kind)
    if kind == "ods":
        _check_ods_extent(path)  # calamine expands every table of an ODS when it opens the file
    try:
        book = cal.CalamineWorkbook.from_path(str(path))
        meta = list(book.sheets_metadata)
    except Exception as exc:  # noqa: BLE001 - PasswordError, ZipError, XmlError, CalamineError...
        raise InputError(_("{path}: not a readable {kind} workbook ({why})").format(
            path=path, kind=kind.upper(), why=_calamine_text(exc))) from None
    sheets = [(i, m.name, m.visible == cal.SheetVisibleEnum.Visible) for i, m in enumerate(meta)
              if m.typ == cal.SheetTypeEnum.WorkSheet]
    if not sheets:
        raise InputError(_("{path}: the workbook has no worksheets").format(path=path))
    return book, kind, sheets


def _head(s: "Sheet") -> list[list]:
    """A sheet's first HEADER_SCAN_ROWS rows (where a header is looked for)."""
    head = []
    for row in s.rows():
        head.append(row)
        if len(head) >= HEADER_SCAN_ROWS:
            break
    return head


# `--sheet all`: every visible sheet that looks like the table asked for
ALL_SHEETS = "all"


def sheets_like(path: Path, looks_like: Callable[[list[list]], bool],
                keep_first: bool = False) -> tuple[list[str], list[dict], Sheet | None]:
    """`--sheet all`: (the names of the visible sheets that look like the table, in workbook order;
    the other sheets as {sheet, reason}: hidden, empty, or no header among the first rows; with
    keep_first, the first of them still parsed, to be read without parsing it again, else None).
    calamine parses a whole sheet to give its first rows: the others are released once looked at."""
    book, kind, sheets = _worksheets(path)
    found, skipped, kept = [], [], None
    for i, n, v in sheets:
        if not v:
            skipped.append({"sheet": n, "reason": "hidden"})
            continue
        s = Sheet(path, n, i, kind, None, book)
        head = _head(s)
        if looks_like(head):
            found.append(n)
            if keep_first and kept is None:
                kept = s
            else:
                s.release()
        else:
            s.release()
            empty = not any(str(c).strip() for r in head for c in r)
            skipped.append({"sheet": n, "reason": "empty" if empty else "no_header"})
    return found, skipped, kept


def open_sheet(path: Path, sheet: str | int | None = None,
               looks_like: Callable[[list[list]], bool] | None = None, what: str = "table") -> Sheet:
    """The worksheet to read (see the module doc). InputError (exit 2) naming the file otherwise."""
    book, kind, sheets = _worksheets(path)

    def load(i: int, name: str) -> Sheet:
        return Sheet(path, name, i, kind, None, book)

    names = ", ".join(repr(n) + ("" if v else _(" (hidden)")) for _i, n, v in sheets)
    if sheet is not None:
        text = str(sheet).strip()
        for i, n, _v in sheets:
            if n == text or n.strip().lower() == text.lower():
                return load(i, n)
        if text.isdigit() and 1 <= int(text) <= len(sheets):
            i, n, _v = sheets[int(text) - 1]
            return load(i, n)
        raise InputError(_("{path}: no sheet {sheet}; --sheet takes a name or a number from 1: the sheets are {names}").format(
            path=path, sheet=repr(text), names=names))
    visible = [(i, n) for i, n, v in sheets if v]
    if not visible:
        raise InputError(_("{path}: every sheet is hidden ({names}); name the one to read with --sheet").format(path=path, names=names))
    if looks_like is not None and len(visible) > 1:
        found = []
        for i, n in visible:
            s = load(i, n)
            if looks_like(_head(s)):
                found.append(s)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            listed = ", ".join(repr(s.name) for s in found)
            msg = _("{path}: {n} visible sheets each look like a {what} ({listed}); name the one to read "
                    "with --sheet NAME (or its number from 1)").format(path=path, n=len(found), what=_(what), listed=listed)
            if what == "roster":  # rosters may be read together (calc.handle)
                msg += _("; --sheet all reads them all as one roster")
            raise InputError(msg)
    active = _active_sheet(path, kind, [n for _i, n, _v in sheets])
    for i, n in visible:
        if n == active:
            return load(i, n)
    return load(*visible[0])


def open_sheet_early(path: Path, sheet: str | int | None, looks_like=None, what: str = "table"):
    """open_sheet(...) and calamine's parse of that sheet, in a daemon thread, as a Future of the
    Sheet: a caller starts it before its own heavy imports (calamine parses without the GIL)."""
    from cpi_link.core.threads import in_thread

    def run() -> Sheet:
        sh = open_sheet(path, sheet, looks_like, what)
        sh.scan()  # beside the parse: the XML is inflated once more, on the other core
        sh._loaded()
        return sh

    return in_thread(run)


def check_part_sizes(path: Path, kind: str) -> None:
    """Refuse a workbook whose XML parts claim more than MAX_PART_BYTES expanded (before expanding)."""
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if info.file_size > MAX_PART_BYTES and info.filename.endswith(".xml"):
                    raise InputError(_(
                        "{path}: the part {part} expands to {size} bytes, beyond the cap of {cap} bytes (a damaged or "
                        "hostile file?); not read. Split the file, or save it as CSV").format(
                            path=path, part=info.filename, size=f"{info.file_size:,}", cap=f"{MAX_PART_BYTES:,}"))
    except zipfile.BadZipFile:
        raise InputError(_("{path}: not a readable {kind} workbook (a damaged zip file)").format(path=path, kind=kind.upper())) from None
    except OSError as exc:
        raise InputError(_("{where}: cannot be read ({why})").format(where=path, why=exc.strerror)) from None


def _calamine_text(exc: Exception) -> str:
    # calamine's messages may quote cell text: keep them short and never with long digit runs
    from cpi_link.core.privacy import mask_digits

    text = mask_digits(str(exc).splitlines()[0] if str(exc) else "")
    name = type(exc).__name__
    if "password" in text.lower() or name == "PasswordError":
        return _("it is password-protected; save a copy without the password")
    return f"{name}: {text[:120]}" if text else name


def _active_sheet(path: Path, kind: str, names: list[str]) -> str | None:
    """The name of the workbook's active sheet (XLSX: workbookView activeTab; ODS: ActiveTable), or None."""
    try:
        with zipfile.ZipFile(path) as z:
            if kind == "xlsx":
                wb = z.read("xl/workbook.xml")[:1 << 20]
                m = re.search(rb'<(?:\w+:)?workbookView\b[^>]*\bactiveTab="(\d+)"', wb)
                tab = int(m.group(1)) if m else 0
                # activeTab counts every sheet in <sheets>, chart sheets too
                all_names = re.findall(rb'<(?:\w+:)?sheet\b[^>]*\bname="([^"]*)"', wb)
                if tab < len(all_names):
                    return _xml_text(all_names[tab].decode("utf-8"))
            elif kind == "ods" and "settings.xml" in z.namelist():
                s = z.read("settings.xml")[:4 << 20]
                m = re.search(rb'config:name="ActiveTable"[^>]*>([^<]*)<', s)
                if m:
                    return m.group(1).decode("utf-8")
    except (zipfile.BadZipFile, OSError, KeyError, UnicodeDecodeError):
        pass
    return None


_ENTITY = re.compile(r"&(?:#x([0-9a-fA-F]+)|#(\d+)|(lt|gt|amp|quot|apos));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


def _xml_text(s: str) -> str:
    """An XML attribute's text with its character references resolved (no import: this runs
    while the main thread imports)."""
    def one(m):
        if m.group(3):
            return _NAMED[m.group(3)]
        return chr(int(m.group(1), 16) if m.group(1) else int(m.group(2)))

    return _ENTITY.sub(one, s) if "&" in s else s


def _check_extent(path: Path, kind: str, index: int, label: str) -> None:
    """InputError for a small XLSX sheet part whose cells span more than MAX_CELLS (a cell far away)."""
    try:
        with zipfile.ZipFile(path) as z:
            part = sheet_part(z, index)
            if part is None or part not in z.namelist() or z.getinfo(part).file_size > _MEASURED_PART:
                return
            data = z.read(part)
    except (zipfile.BadZipFile, OSError, KeyError):
        return  # calamine says what is wrong with the file
    rows, cols = _xlsx_extent(data)
    if rows * cols > MAX_CELLS:
        raise InputError(_too_many_cells(label, rows, cols))


def _too_many_cells(label: str, rows: int, cols: int) -> str:
    return _("{where}: its cells reach row {rows} and column {cols} ({cells} cells, beyond the cap of "
             "{cap}); a stray cell far away? Delete the empty rows and columns after the table, save, "
             "run again").format(where=label, rows=f"{rows:,}", cols=f"{cols:,}", cells=f"{rows * cols:,}",
                                 cap=f"{MAX_CELLS:,}")


def _xlsx_extent(data: bytes) -> tuple[int, int]:
    refs = re.findall(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]+)(\d+)"', data)
    if not refs:
        return 0, 0
    return max(int(r) for _c, r in refs), max(col_index(c) for c in {c for c, _r in refs}) + 1


# content.xml up to this size (expanded) is measured, as a stream, before calamine opens the file
_MEASURED_ODS = 256 << 20


def _check_ods_extent(path: Path) -> None:
    """InputError when the ODS's tables, rows and cells repeated (table:number-rows-repeated)
    counted, hold more than MAX_CELLS cells together: calamine expands them all on opening."""
    try:
        with zipfile.ZipFile(path) as z:
            if "content.xml" not in z.namelist() or z.getinfo("content.xml").file_size > _MEASURED_ODS:
                return
            with z.open("content.xml") as fh:
                tables = _ods_extents(fh)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError):
        return  # calamine says what is wrong with the file
    if sum(r * c for _n, r, c in tables) > MAX_CELLS:
        name, rows, cols = max(tables, key=lambda t: t[1] * t[2])
        raise InputError(_too_many_cells(_("{path}, sheet {name}").format(path=path, name=repr(name)), rows, cols))


def _ods_extents(stream) -> list[tuple[str, int, int]]:
    """(name, rows, columns) of each table up to its last cell with content, repeats counted; read
    with expat as a stream (no tree: a million repeated rows cost nothing)."""
    from xml.parsers import expat

    t, o = "urn:oasis:names:tc:opendocument:xmlns:table:1.0 ", "urn:oasis:names:tc:opendocument:xmlns:office:1.0 "
    cells = (t + "table-cell", t + "covered-table-cell")
    tables: list[list] = []
    st = {"row": 0, "repeat": 1, "col": 0, "last": 0, "cell": 0}

    def start(name, attrs):
        if name == t + "table":
            tables.append([attrs.get(t + "name", ""), 0, 0])
            st["row"] = 0
        elif name == t + "table-row":
            st.update(repeat=int(attrs.get(t + "number-rows-repeated", "1")), col=0, last=0)
        elif name in cells and not st["cell"]:
            st["cell"] = st["col"] + int(attrs.get(t + "number-columns-repeated", "1"))
            if attrs.get(o + "value-type") is not None:
                st["last"] = st["cell"]
            st["col"] = st["cell"]
        elif st["cell"]:
            st["last"] = st["cell"]  # content inside the cell (text:p)

    def end(name):
        if name == t + "table-row" and tables:
            if st["last"]:
                tables[-1][1] = st["row"] + st["repeat"]
                tables[-1][2] = max(tables[-1][2], st["last"])
            st["row"] += st["repeat"]
        elif name in cells:
            st["cell"] = 0

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler, parser.EndElementHandler = start, end
    try:
        parser.ParseFile(stream)
    except expat.ExpatError:
        pass  # what was read is measured; calamine says what is wrong with the file
    return [(n, r, c) for n, r, c in tables]


def cell_text(v: object, dates: str = "iso") -> str:
    """A cell's text as Excel shows it: a number to 15 significant digits, Excel's precision (103.5;
    a formula's 899.9999999999999 is 900 and its 3.0000000000000004 is 3, as the sheet shows them),
    a whole number without '.0'; a date as ISO text, or as YYYY-MM with dates="month" (a standards
    file's effective_from)."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v) if abs(v) >= 1e15 else format(v, ".15g")
    if dates == "month" and hasattr(v, "strftime") and hasattr(v, "year"):
        return v.strftime("%Y-%m")
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)
