"""What calamine does not say of a sheet's cells, read from the file itself: formulas without a
stored value, error cells (`#N/A`: calamine reads both as empty) and rows hidden in Excel. One
SheetScan per sheet runs in a daemon thread beside calamine's parse; XLSX is streamed and published
row by row, XLS (BIFF8 records, via olefile) and ODS (content.xml) once they are read.
"""

from __future__ import annotations

import re
import struct
import zipfile
from pathlib import Path


_CELL_REF = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]+)(\d+)"([^>]*)>')
_FORMULA = re.compile(rb'<(?:\w+:)?f[\s>/]')
_ERROR_T = re.compile(rb'\bt="e"')
_VALUE = re.compile(rb'<(?:\w+:)?v>([^<]*)<')


def sheet_part(z: zipfile.ZipFile, index: int) -> str | None:
    """The zip member of the index-th sheet of xl/workbook.xml (via its relationship id)."""
    wb = z.read("xl/workbook.xml")
    sheets = re.findall(rb'<(?:\w+:)?sheet\b[^>]*>', wb)
    if index >= len(sheets):
        return None
    m = re.search(rb'\br:id="([^"]+)"', sheets[index]) or re.search(rb':id="([^"]+)"', sheets[index])
    if not m:
        return None
    rels = z.read("xl/_rels/workbook.xml.rels")
    for rel in re.findall(rb"<Relationship\b[^>]*>", rels):
        if re.search(rb'\bId="' + re.escape(m.group(1)) + rb'"', rel):
            t = re.search(rb'\bTarget="([^"]+)"', rel)
            if t:
                target = t.group(1).decode()
                return target.lstrip("/") if target.startswith("/") else "xl/" + target
    return None


class SheetScan:
    """The cells calamine reads as empty but are not, and the hidden rows, of one sheet, found by a
    daemon thread. `wait(row)` blocks until every sheet row up to `row` (1-based) was scanned;
    `found` then holds (row, column, what), 0-based row and column: what is "formula" (no stored
    value), an error text ("#N/A"), "merged:C3:C5" for a cell a merged range covers (ODS: XLSX and
    XLS merges come from calamine, core.sheets.Sheet.merged_cells), or "hidden" with column -1.
    kind: "xlsx", "xls" or "ods";
    index: the sheet's position in the workbook (calamine's sheets_metadata)."""

    def __init__(self, path: Path, kind: str, index: int):
        import threading

        self.found: list[tuple[int, int, str]] = []  # appended by the thread only
        self._upto = 0
        self._done = False
        self._cond = threading.Condition()
        scan = {"xlsx": _scan_xlsx, "xls": _scan_xls, "ods": _scan_ods}.get(kind)
        if scan is None:
            self._done = True
        else:
            threading.Thread(target=self._run, args=(scan, path, index), name="sheet-scan", daemon=True).start()

    def wait(self, row: int) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._done or self._upto >= row)

    def _publish(self, upto: int, cells: dict) -> None:
        with self._cond:
            self.found += [(r, c, what) for (r, c), what in cells.items()]
            self._upto = max(self._upto, upto)
            self._cond.notify_all()

    def _run(self, scan, path: Path, index: int) -> None:
        import os
        import threading

        try:  # a lower priority: calamine's parse and the main thread come first on a busy machine
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (AttributeError, OSError):
            pass
        try:
            scan(path, index, self._publish)
        except Exception:  # noqa: BLE001 - a damaged file: calamine says what is wrong with it
            pass
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()


XLSX_CHUNK = 4 << 20  # bytes of sheet XML inflated at a time (published row by row as they pass)

# The end of a cell element or the start of a row: a chunk of sheet XML is cut there, so that no
# cell is seen in two halves (an optional namespace prefix: .NET writers use <x:c>).
_BOUNDARY = re.compile(rb'</(?:\w+:)?c>|<(?:\w+:)?row[\s>]')
_LAST_ROW = re.compile(rb'<(?:\w+:)?row\b[^>]*?\br="(\d+)"')


def _scan_xlsx(path: Path, index: int, publish) -> None:
    """Stream the index-th sheet's XML; after each chunk, publish(rows fully scanned, {(row, col): what})
    (see SheetScan). Only chunks holding a formula, an error cell or a hidden row are searched
    further: a plain roster's sheet is only inflated and looked through once."""
    with zipfile.ZipFile(path) as z:
        part = sheet_part(z, index)
        if part is None or part not in z.namelist():
            return
        tail = b""
        last = 0  # the highest row number seen: rows out of order are only trusted at the end
        ordered = True
        sequential = None  # cells without their reference (r="E5"): each tag is counted in order
        place = [-1, 0]  # sequential: (row, next column), 0-based
        with z.open(part) as fh:
            while True:
                chunk = fh.read(XLSX_CHUNK)
                data = tail + chunk
                if chunk:
                    ends = [m.end() if m.group().startswith(b"</") else m.start() for m in _last_matches(data)]
                    cut = max(ends) if ends else 0
                else:
                    cut = len(data)
                part_data, tail = data[:cut], data[cut:]
                out: dict = {}
                if sequential is None:
                    first = _ANY_CELL.search(part_data)
                    if first is not None:
                        sequential = _REF.search(first.group(0)) is None
                if sequential:
                    _scan_in_order(part_data, place, out)
                    publish(max(place[0], 0), out)  # the rows before the one being read are whole
                    if not chunk:
                        return
                    continue
                if _may_hold_special(part_data):
                    _scan_cells(part_data, out)
                if b'hidden="' in part_data:
                    _scan_hidden(part_data, out)
                rows = [int(m.group(1)) for m in _LAST_ROW.finditer(part_data[-65536:])]
                for r in rows:
                    ordered = ordered and r > last
                    last = max(last, r)
                # rows before the last row tag are whole; the rest waits for the end when out of order
                publish((last - 1) if ordered else 0, out)
                if not chunk:
                    return


def _last_matches(data: bytes):
    """The last boundary (see _BOUNDARY) in data, searched from its end in growing windows."""
    size = 4096
    while True:
        found = list(_BOUNDARY.finditer(data, max(0, len(data) - size)))
        if found or size >= len(data):
            return found[-1:]
        size *= 16


_CELL_END = re.compile(rb'</(?:\w+:)?c>')
_ROW_TAG = re.compile(rb'<(?:\w+:)?row\b[^>]*>')
_HIDDEN = re.compile(rb'\bhidden="(?:1|true)"')
_ROW_NUMBER = re.compile(rb'\br="(\d+)"')


def _scan_hidden(data: bytes, out: dict) -> None:
    """Rows hidden in Excel (<row r="5" hidden="1">): (row, -1) -> "hidden" (calamine reads them as any row)."""
    for m in _ROW_TAG.finditer(data):
        if _HIDDEN.search(m.group(0)):
            r = _ROW_NUMBER.search(m.group(0))
            if r:
                out[(int(r.group(1)) - 1, -1)] = "hidden"


def _may_hold_special(data: bytes) -> bool:
    # substring tests, not a regex: a plain roster's sheet is scanned at memory speed
    return b"<f" in data or b'"e"' in data or b":f>" in data


def _scan_cells(data: bytes, out: dict) -> None:
    for m in _CELL_REF.finditer(data):
        if m.group(3).endswith(b"/"):
            continue  # <c r="A1" s="1"/>: an empty styled cell
        close = _CELL_END.search(data, m.end())
        body = data[m.end():close.start() if close else len(data)]
        is_error = bool(_ERROR_T.search(m.group(0)))
        has_formula = bool(_FORMULA.search(body))
        if not (is_error or has_formula):
            continue
        v = _VALUE.search(body)
        row, col = int(m.group(2)) - 1, col_index(m.group(1))
        if is_error:
            out[(row, col)] = v.group(1).decode("utf-8", "replace") if v else "#VALUE!"
        elif v is None or (v.group(1) == b"" and b't="str"' not in m.group(0)):  # <v/>, or <v></v> for a number
            out[(row, col)] = "formula"


_ANY_CELL = re.compile(rb'<(?:\w+:)?c(?=[\s/>])[^>]*>')
_ROW_OR_CELL = re.compile(rb'<(?:\w+:)?(row|c)(?=[\s/>])([^>]*)>')
_REF = re.compile(rb'\br="([A-Z]*)(\d*)"')


def _scan_in_order(data: bytes, place: list, out: dict) -> None:
    """_scan_cells and _scan_hidden for a sheet whose cells (and maybe rows) leave out their reference:
    a row without r is the one after the last, a cell without r the one after the last in its row."""
    for m in _ROW_OR_CELL.finditer(data):
        attrs = m.group(2)
        ref = _REF.search(attrs)
        if m.group(1) == b"row":
            place[0] = int(ref.group(2)) - 1 if ref and ref.group(2) else place[0] + 1
            place[1] = 0
            if _HIDDEN.search(attrs):
                out[(place[0], -1)] = "hidden"
            continue
        if ref and ref.group(1):
            place[1] = col_index(ref.group(1))
        row, col = place[0], place[1]
        place[1] += 1
        if attrs.endswith(b"/"):
            continue
        close = _CELL_END.search(data, m.end())
        body = data[m.end():close.start() if close else len(data)]
        is_error = b't="e"' in attrs
        if not (is_error or _FORMULA.search(body)):
            continue
        v = _VALUE.search(body)
        if is_error:
            out[(row, col)] = v.group(1).decode("utf-8", "replace") if v else "#VALUE!"
        elif v is None or (v.group(1) == b"" and b't="str"' not in attrs):
            out[(row, col)] = "formula"


def merged_text(r0: int, c0: int, r1: int, c1: int) -> str:
    """ "merged:C3:C5": what a cell covered by the merged range (r0, c0)-(r1, c1), 0-based, holds."""
    return f"merged:{col_letters(c0)}{r0 + 1}:{col_letters(c1)}{r1 + 1}"


def col_letters(col: int) -> str:
    """0 -> A, 26 -> AA."""
    out = ""
    col += 1
    while col:
        col, r = divmod(col - 1, 26)
        out = chr(65 + r) + out
    return out


def col_index(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n - 1




# XLS (BIFF8): the sheet's records, walked from its BOF (BOUNDSHEET gives the offset) to its EOF.
_XLS_ERRORS = {0x00: "#NULL!", 0x07: "#DIV/0!", 0x0F: "#VALUE!", 0x17: "#REF!", 0x1D: "#NAME?", 0x24: "#NUM!",
               0x2A: "#N/A", 0x2B: "#GETTING_DATA"}
_BOUNDSHEET, _EOF, _ROW, _BOOLERR, _FORMULA_REC = 0x0085, 0x000A, 0x0208, 0x0205, 0x0006


def _xls_sheet(path: Path, index: int) -> tuple[bytes, int | None]:
    """(the workbook stream, the offset of the index-th sheet's BOF or None): BOUNDSHEET records
    of the workbook globals give where each sheet starts."""
    import olefile

    with olefile.OleFileIO(str(path)) as ole:
        stream = "Workbook" if ole.exists("Workbook") else "Book"
        data = ole.openstream(stream).read()
    unpack = struct.unpack_from
    n, pos, sheets = len(data), 0, []
    while pos + 4 <= n:
        rt, ln = unpack("<HH", data, pos)
        if rt == _BOUNDSHEET and ln >= 4:
            sheets.append(unpack("<I", data, pos + 4)[0])
        elif rt == _EOF:
            break
        pos += 4 + ln
    return data, (sheets[index] if index < len(sheets) else None)


def _scan_xls(path: Path, index: int, publish) -> None:
    """Error cells (BOOLERR records, and formulas whose stored result is an error) and hidden rows
    (ROW records with fDyZero) of the index-th sheet. A formula's stored result is always there in
    BIFF8 (an unevaluated one reads as an empty string, as calamine gives it)."""
    data, start = _xls_sheet(path, index)
    unpack = struct.unpack_from
    n = len(data)
    if start is None:
        publish(0, {})
        return
    out: dict = {}
    pos = start
    first = True
    while pos + 4 <= n:
        rt, ln = unpack("<HH", data, pos)
        body = pos + 4
        if rt == _ROW and ln >= 16:
            if unpack("<H", data, body + 12)[0] & 0x20:
                out[(unpack("<H", data, body)[0], -1)] = "hidden"
        elif rt == _BOOLERR and ln >= 8:
            if data[body + 7]:
                row, col = unpack("<HH", data, body)
                out[(row, col)] = _XLS_ERRORS.get(data[body + 6], "#VALUE!")
        elif rt == _FORMULA_REC and ln >= 20:
            if data[body + 12:body + 14] == b"\xff\xff" and data[body + 6] == 2:  # a stored error result
                row, col = unpack("<HH", data, body)
                out[(row, col)] = _XLS_ERRORS.get(data[body + 8], "#VALUE!")
        elif rt == _EOF and not first:
            break
        first = False
        pos = body + ln
    publish(1 << 31, out)


# ODS: content.xml, parsed only when it holds an error cell, a formula or a hidden row at all.
_T = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_O = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_CALCEXT = "{urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0}"


def _scan_ods(path: Path, index: int, publish) -> None:
    """Error cells (calcext:value-type="error"), formulas without a stored value (table:formula and
    no office:value-type) and hidden rows (table:visibility collapse/filter) of the index-th table."""
    import xml.etree.ElementTree as ET

    marks = (b'value-type="error"', b"table:formula=", b"table:visibility=", b"-spanned=")
    with zipfile.ZipFile(path) as z:
        with z.open("content.xml") as fh:  # looked through in chunks first: a plain roster ends here
            tail, found = b"", False
            while not found and (chunk := fh.read(8 << 20)):
                data = tail + chunk
                found = any(m in data for m in marks)
                tail = data[-64:]
        if not found:
            publish(1 << 31, {})
            return
        return _parse_ods(z, index, publish, ET)


def _parse_ods(z: zipfile.ZipFile, index: int, publish, ET) -> None:
    out: dict = {}
    with z.open("content.xml") as fh:
        _walk_ods(ET.iterparse(fh, events=("start", "end")), index, out)
    publish(1 << 31, out)


def _walk_ods(events, index: int, out: dict) -> None:
    """The rows of the index-th table: repeated rows and cells counted as calamine spreads them."""
    table, row, in_table = -1, 0, False
    for event, el in events:
        tag = el.tag
        if tag == _T + "table":
            if event == "start":
                table += 1
                in_table = table == index
                row = 0
            else:
                if in_table:
                    break
                el.clear()
            continue
        if not in_table or tag != _T + "table-row" or event != "end":
            continue
        repeat = int(el.get(_T + "number-rows-repeated", "1"))
        if el.get(_T + "visibility", "visible") != "visible":
            for r in range(row, row + min(repeat, 1 << 16)):
                out[(r, -1)] = "hidden"
        col = 0
        for cell in el:
            span = int(cell.get(_T + "number-columns-repeated", "1"))
            rows_spanned = int(cell.get(_T + "number-rows-spanned", "1"))
            cols_spanned = int(cell.get(_T + "number-columns-spanned", "1"))
            if cell.tag == _T + "table-cell" and (rows_spanned > 1 or cols_spanned > 1):
                r1, c1 = row + min(rows_spanned, 1 << 16) - 1, col + min(cols_spanned, 1 << 10) - 1
                what = merged_text(row, col, r1, c1)
                for r in range(row, r1 + 1):
                    for c in range(col, c1 + 1):
                        if (r, c) != (row, col):
                            out[(r, c)] = what
            if cell.tag == _T + "table-cell" and cell.get(_T + "formula") is not None:
                what = None
                if cell.get(_CALCEXT + "value-type") == "error":
                    what = "".join(cell.itertext()).strip() or "#VALUE!"
                elif cell.get(_O + "value-type") is None:
                    what = "formula"
                if what is not None:
                    for r in range(row, row + min(repeat, 1 << 16)):
                        for c in range(col, col + min(span, 1 << 10)):
                            out[(r, c)] = what
            col += span
        row += repeat
        el.clear()


def hidden_columns(path: Path, kind: str, index: int) -> set[int]:
    """The 0-based columns a sheet hides: XLSX `<col hidden="1">` (from the part's head, before its
    rows), XLS COLINFO records with fHidden, ODS `table:table-column table:visibility="collapse"`
    (streamed up to the table's first row). calamine does not say; a file this cannot read hides none."""
    try:
        if kind == "xlsx":
            return _hidden_xlsx(path, index)
        if kind == "xls":
            return _hidden_xls(path, index)
        if kind == "ods":
            return _hidden_ods(path, index)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, struct.error):
        pass
    return set()


# the most columns a sheet has (XLSX, LibreOffice): a repeat count past it is bounded here
_MAX_COLS = 16384


def _hidden_xlsx(path: Path, index: int) -> set[int]:
    with zipfile.ZipFile(path) as z:
        part = sheet_part(z, index)
        if part is None:
            return set()
        with z.open(part) as fh:
            head = fh.read(1 << 20)
    head = head.split(b"<sheetData", 1)[0] if b"<sheetData" in head else head
    out: set[int] = set()
    for m in re.finditer(rb"<(?:\w+:)?col\b([^>]*)>", head):
        attrs = m.group(1)
        if not re.search(rb'\bhidden="(?:1|true)"', attrs):
            continue
        lo, hi = re.search(rb'\bmin="(\d+)"', attrs), re.search(rb'\bmax="(\d+)"', attrs)
        if lo and hi:
            out.update(range(int(lo.group(1)) - 1, min(int(hi.group(1)), _MAX_COLS)))
    return out


_COLINFO, _BOF = 0x007D, 0x0809


def _hidden_xls(path: Path, index: int) -> set[int]:
    """COLINFO (colFirst, colLast, coldx, ixfe, grbit: bit 0 hidden) records of the sheet, which
    come before its cells."""
    data, pos = _xls_sheet(path, index)
    out: set[int] = set()
    if pos is None:
        return out
    unpack = struct.unpack_from
    n, first = len(data), True
    while pos + 4 <= n:
        rt, ln = unpack("<HH", data, pos)
        if rt == _COLINFO and ln >= 10:
            lo, hi, _dx, _xf, grbit = unpack("<HHHHH", data, pos + 4)
            if grbit & 1:
                out.update(range(lo, min(hi, _MAX_COLS - 1) + 1))
        elif not first and rt in (_ROW, _EOF, _BOF):  # the cells begin
            break
        first = False
        pos += 4 + ln
    return out


class _OdsColumnsRead(Exception):
    """The table's columns were read (its first row started): stop parsing."""


def _hidden_ods(path: Path, index: int) -> set[int]:
    """The index-th table's collapsed columns, number-columns-repeated counted (bounded), read with
    expat as a stream that stops at the table's first row."""
    from xml.parsers import expat

    t = "urn:oasis:names:tc:opendocument:xmlns:table:1.0 "
    st = {"table": -1, "col": 0}
    out: set[int] = set()

    def start(name, attrs):
        if name == t + "table":
            st["table"] += 1
            st["col"] = 0
        elif st["table"] == index:
            if name == t + "table-column":
                repeat = min(int(attrs.get(t + "number-columns-repeated", "1")), _MAX_COLS)
                if attrs.get(t + "visibility", "visible") == "collapse":
                    out.update(range(st["col"], min(st["col"] + repeat, _MAX_COLS)))
                st["col"] = min(st["col"] + repeat, _MAX_COLS)
            elif name == t + "table-row":
                raise _OdsColumnsRead
        elif st["table"] > index:
            raise _OdsColumnsRead

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = start
    with zipfile.ZipFile(path) as z, z.open("content.xml") as fh:
        try:
            while chunk := fh.read(1 << 20):
                parser.Parse(chunk, False)
        except _OdsColumnsRead:
            pass
        except expat.ExpatError:
            return set()  # calamine says what is wrong with the file
    return out
