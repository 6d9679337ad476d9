"""Reading small tables officers type (figures, standards): CSV in UTF-8/BOM/GB18030, or XLSX.

Everything comes back as text; numbers are parsed exactly by the caller. Big rosters use
cpi_link.roster, which streams with pyarrow.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from cpi_link.core.errors import InputError


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


def detect_encoding(data: bytes, path: Path | str = "") -> str:
    """UTF-8 with BOM, UTF-8, or GB18030 (a superset of GBK/GB2312), decided from the bytes.

    `data` may be a leading sample of a big file; a character cut at its end is tolerated.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if b"\x00" in data[:65536]:
        raise InputError(f"{path}: contains NUL bytes; this is not a text CSV file (UTF-16 or binary?)")
    utf8 = _decode_prefix(data, "utf-8")
    if utf8 is not None and _looks_like_utf8_text(utf8):
        return "utf-8"
    if utf8 is None:
        _reject_mixed(data, path)
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
        raise InputError(
            f"{path}: not readable as UTF-8 or GB18030 text (bad byte at offset {exc.start}); "
            "save it as CSV UTF-8 or GB18030"
        ) from None
    return "utf-8"


def _reject_mixed(data: bytes, path) -> None:
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
        line = data[:bad].count(b"\n") + 1
        raise InputError(
            f"{path}: mixed encodings in one file: the lines before line {line} are UTF-8 but line {line} is not; "
            "save the whole file as UTF-8 or GB18030"
        )


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


def read_table(path: Path | str) -> tuple[list[str], list[list[str]]]:
    """Return (header, rows) as strings; rows keep their order (data row 1 is rows[0])."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a file")
    if path.suffix.lower() in (".xlsx", ".xlsm") or is_xlsx(path):
        return _read_xlsx(path)
    data = path.read_bytes()
    if not data.strip():
        raise InputError(f"{path}: the file is empty")
    enc = detect_encoding(data, path)
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}: line {line} is not valid {enc} text (mixed encodings in one file?)") from None
    sample = text[:4096]
    delimiter = ","
    first = sample.splitlines()[0] if sample.splitlines() else ""
    if "," not in first and "\t" in first:
        delimiter = "\t"
    elif "," not in first and ";" in first:
        delimiter = ";"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = [r for r in reader]
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc})") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise InputError(f"{path}: the file is empty")
    header = [h.strip() for h in rows[0]]
    return header, [[c.strip() for c in r] for r in rows[1:]]


def _read_xlsx(path: Path) -> tuple[list[str], list[list[str]]]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise InputError(f"{path}: not a readable XLSX workbook ({type(exc).__name__})") from None
    try:
        ws = wb.worksheets[0]
        rows: list[list[str]] = []
        for raw in ws.iter_rows(values_only=True):
            cells = ["" if v is None else _cell_text(v) for v in raw]
            if any(c.strip() for c in cells):
                rows.append([c.strip() for c in cells])
    finally:
        wb.close()
    if not rows:
        raise InputError(f"{path}: the first sheet is empty")
    return rows[0], rows[1:]


def _cell_text(v: object) -> str:
    # A float cell is shown as Excel shows it (repr gives the shortest round-tripping text, which
    # for a typed-in 103.5 is '103.5'); integers lose their '.0'.
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if hasattr(v, "strftime"):
        return v.strftime("%Y-%m")
    return str(v)


def find_columns(header: list[str], aliases: dict[str, tuple[str, ...]], required: tuple[str, ...], path) -> dict[str, int]:
    """Map canonical column names to positions, accepting English or Chinese headers."""
    norm = [h.strip().lstrip("\ufeff").lower() for h in header]
    out: dict[str, int] = {}
    for key, names in aliases.items():
        hits = [i for i, h in enumerate(norm) if h in {n.lower() for n in names}]
        if len(hits) > 1:
            raise InputError(f"{path}: column {key!r} appears {len(hits)} times in the header")
        if hits:
            out[key] = hits[0]
    missing = [k for k in required if k not in out]
    if missing:
        raise InputError(
            f"{path}: missing required column(s) {', '.join(missing)}; the header has: {', '.join(header)}"
        )
    return out
