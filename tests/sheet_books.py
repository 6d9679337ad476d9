"""Spreadsheets written the way officers' tools write them, shared by the tests of several stages."""

from __future__ import annotations

from pathlib import Path


def odfpy_book(path: Path, data: list[list], hidden_rows=(), hidden_column: int | None = None) -> Path:
    """An ODS with one sheet 花名册 of these rows, as odfpy writes it: 0-based row indices in
    hidden_rows hidden; column `hidden_column` hidden (table-column visibility collapse, the columns
    before it one repeated element); a text starting with "=" becomes a formula without a value."""
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableColumn, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    table = Table(name="花名册")
    if hidden_column is not None:
        table.addElement(TableColumn(numbercolumnsrepeated=hidden_column))
        table.addElement(TableColumn(visibility="collapse"))
        table.addElement(TableColumn(numbercolumnsrepeated=len(data[0]) - hidden_column - 1))
    for i, row in enumerate(data):
        tr = TableRow(visibility="collapse") if i in hidden_rows else TableRow()
        for v in row:
            if isinstance(v, str) and v.startswith("="):
                cell = TableCell(formula="of:" + v)
            else:
                cell = TableCell(valuetype="float", value=v) if isinstance(v, int) else TableCell(valuetype="string")
                cell.addElement(P(text=str(v)))
            tr.addElement(cell)
        table.addElement(tr)
    doc.spreadsheet.addElement(table)
    doc.save(str(path))
    return path
