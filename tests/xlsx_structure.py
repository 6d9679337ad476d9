"""What WPS (and Apple Numbers, LibreOffice, a bank's importer) need from an XLSX, read from the
file's own bytes: no ZIP64 record anywhere (WPS refuses those files), and no formula cell without
its cached value (shown as 0 outside Excel). Shared by the structure test and `make print-check`."""

from __future__ import annotations

import re
import struct
import zipfile
from pathlib import Path

ZIP64_EOCD = b"PK\x06\x06"  # ZIP64 end of central directory record
ZIP64_LOCATOR = b"PK\x06\x07"
ZIP64_EXTRA = 0x0001  # extra-field id of a ZIP64 size/offset block
_CELL = re.compile(rb"<c\b[^>]*?(?:/>|>(.*?)</c>)", re.S)


def _extra_ids(extra: bytes) -> list[int]:
    ids, i = [], 0
    while i + 4 <= len(extra):
        hid, size = struct.unpack_from("<HH", extra, i)
        ids.append(hid)
        i += 4 + size
    return ids


def problems(path: Path) -> list[str]:
    """Every way the file breaks the rules above (empty: none)."""
    out = []
    data = Path(path).read_bytes()
    tail = data[-(65536 + 22 + 20 + 56):]  # the end records sit within the last comment's reach
    if ZIP64_EOCD in tail or ZIP64_LOCATOR in tail:
        out.append("ZIP64 end-of-central-directory record")
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            if ZIP64_EXTRA in _extra_ids(info.extra):
                out.append(f"{info.filename}: ZIP64 extra field in the central directory")
            # the local header's own extra field (zipfile keeps only the central one)
            off = info.header_offset
            n_name, n_extra = struct.unpack_from("<HH", data, off + 26)
            local_extra = data[off + 30 + n_name: off + 30 + n_name + n_extra]
            if ZIP64_EXTRA in _extra_ids(local_extra):
                out.append(f"{info.filename}: ZIP64 extra field in the local header")
            if info.flag_bits & 0x08 and ZIP64_EXTRA in _extra_ids(local_extra):
                out.append(f"{info.filename}: ZIP64 data descriptor")
            if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                xml = z.read(info)
                for m in _CELL.finditer(xml):
                    body = m.group(1) or b""
                    if b"<f" in body and b"<v>" not in body and b"<v " not in body:
                        ref = re.search(rb'r="([A-Z]+\d+)"', m.group(0))
                        out.append(f"{info.filename} {ref.group(1).decode() if ref else '?'}: formula without a cached value")
    return out


def shared_or_inline(path: Path) -> str:
    """'shared' when the text cells use xl/sharedStrings.xml, 'inline' when any is an inline string."""
    with zipfile.ZipFile(path) as z:
        inline = any(b't="inlineStr"' in z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/"))
    return "inline" if inline else "shared"
