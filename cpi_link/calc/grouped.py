"""Pricing rows that stand for many people through the batch engine: estimate's headcounts and
simulate's roster grouped by what an amount depends on (category, region, area, persons).

Each group is one checked roster row (roster.check.check_batch: the one category and area
table) priced by calc.batch.compute_batch_arrow with the month's plan, so a group costs exactly
what calc pays its members, rounding per person included."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# a well-formed ID for rows that stand for no one person (check_batch checks every row's ID)
_PLACEHOLDER_ID = "110101198001010010"


def group_rows(category, region_code, area, persons, file_row=None):
    """Rows of text (lists or string arrays; persons per row as text, "1" for a headcount) as one
    CHECKED_SCHEMA table: category and area words normalised, bad values marked with a reason."""
    import pyarrow as pa

    from cpi_link.roster.check import check_batch

    n = len(category)
    cols = {
        "person_id": pa.array([_PLACEHOLDER_ID] * n, pa.string()) if n else pa.array([], pa.string()),
        "name": pa.array(["-"] * n, pa.string()),
        "category": _text(category), "region_code": _text(region_code), "area": _text(area), "persons": _text(persons),
    }
    if file_row is not None:
        cols["file_row"] = pa.array(np.asarray(file_row, np.int64))
    return check_batch(pa.table(cols), 1)


def _text(values):
    import pyarrow as pa

    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values if values.type == pa.string() else values.cast(pa.string())
    return pa.array(list(values), pa.string())


@dataclass
class Priced:
    """Per group row: `amount_fen` (per_person x the row's persons; 0 when not paid) and `paid`;
    `rejected` holds the others' calc reasons (not_triggered included) by `source_row`."""

    amount_fen: np.ndarray
    paid: np.ndarray
    rejected: object  # pyarrow Table: source_row, reason, detail (calc.batch)
    first_row: int

    def reasons(self) -> tuple[list, list]:
        """(reason, detail) per row, None for paid rows."""
        n = len(self.paid)
        reason: list = [None] * n
        detail: list = [None] * n
        rej = self.rejected
        for r, why, text in zip(rej.column("source_row").to_pylist(), rej.column("reason").to_pylist(),
                                rej.column("detail").to_pylist()):
            reason[int(r) - self.first_row], detail[int(r) - self.first_row] = why, text
        return reason, detail


def price(checked, plan) -> Priced:
    """The batch engine on a table of group rows (CHECKED_SCHEMA; rows already carrying a reason
    keep it). MissingFigures (a prefecture's figures) propagates."""
    from cpi_link.calc.batch import compute_batch_arrow

    n = checked.num_rows
    amount = np.zeros(n, np.int64)
    paid = np.zeros(n, bool)
    if n == 0:
        return Priced(amount, paid, checked.select(["source_row", "reason", "detail"]), 1)
    payable, rej = compute_batch_arrow(checked, plan)
    amount[payable.pidx] = payable.rows["amount_fen"]
    paid[payable.pidx] = True
    return Priced(amount, paid, rej, int(checked.column("source_row")[0].as_py()))
