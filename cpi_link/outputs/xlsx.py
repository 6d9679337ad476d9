"""The one place XLSX files are opened for writing (workbook, bank files, 公示 list): xlsxwriter
with the options every file here needs to open in WPS, Excel and LibreOffice alike.

- constant_memory: rows are streamed to a temp file beside the destination, so 200k rows stay
  within a few hundred MB; its text cells are inline strings (see pyproject.toml for why not a
  shared-string table);
- use_zip64 off: WPS refuses files carrying ZIP64 records (files here stay far below 4 GB, and a
  file that would need ZIP64 fails instead of being written unreadable);
- no text is ever turned into a formula or a link: every cell holds its value.
"""

from __future__ import annotations

from pathlib import Path

OPTIONS = {
    "constant_memory": True,
    "use_zip64": False,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}


def open_workbook(path: Path):
    import xlsxwriter

    path = Path(path)
    return xlsxwriter.Workbook(str(path), {**OPTIONS, "tmpdir": str(path.parent)})
