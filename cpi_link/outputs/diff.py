"""`cpi-link diff RUN_A RUN_B`: what changed between two runs (usually two months) for the officer.

Built on the two run folders' payments.parquet, reading only the columns a change is explained
by, joined on the normalised person_id in one Arrow hash join (a run pays each person at most
once). For each person paid in both runs whose amount changed, the reasons are named from the
columns that differ: standard, rate, category, persons, area, standard region, and the scheme's
rules (same standard and rate but a different per-person amount: rounding, minimum or
multiplier). Every list is a table of the changed rows only; texts are made for the rows shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cpi_link.core.i18n import N_, _

REASON_TEXT = {
    "standard": N_("the monthly standard changed"),
    "rate": N_("the rate changed"),
    "category": N_("the category changed"),
    "persons": N_("the number of persons changed"),
    "area": N_("urban/rural changed"),
    "standard_region": N_("a different standard row applies"),
    "rules": N_("the rules changed (rounding, minimum or multiplier)"),
}
REASONS = list(REASON_TEXT)  # bit i of a row's reason mask: REASONS[i]
# each reason's part of a changed row's detail, in English in CSV and JSON, in the reader's language in the table
DETAIL_TEXT = {
    "standard": N_("standard {a} -> {b}"),
    "rate": N_("rate {a}% -> {b}%"),
    "category": N_("category {a} -> {b}"),
    "persons": N_("persons {a} -> {b}"),
    "area": N_("area {a} -> {b}"),
    "standard_region": N_("standard row {a} -> {b}"),
    "rules": N_("per person {a} -> {b} at the same standard and rate"),
}

_TEXT = ["person_id", "name", "category", "region_code", "area", "standard_region"]
_MONEY = ["standard", "rate_pct", "amount_per_person", "amount"]  # read as int64 hundredths
# one row per person in the CSV: whole on every row (both months, both amounts, the difference)
CSV_COLUMNS = ["change", "person_id", "name", "category", "region_code", "month_a", "month_b", "amount_a", "amount_b",
               "difference", "reasons", "detail"]
CHANGES = ("added", "removed", "changed")


@dataclass
class Side:
    path: Path
    manifest: dict
    table: object  # pyarrow Table: _TEXT as strings, persons, source_row, _MONEY as int64 hundredths

    @property
    def month(self) -> str:
        return self.manifest.get("index_month", "")

    def summary(self) -> dict:
        import pyarrow.compute as pc

        d = self.manifest.get("decision")
        d = d[0] if isinstance(d, list) and len(d) == 1 else (d if isinstance(d, dict) else {})
        sch = self.manifest.get("scheme", {})
        t = self.table
        return {"run_id": self.manifest.get("run_id", ""), "run_dir": str(self.path), "month": self.month,
                "triggered": bool(self.manifest.get("triggered")), "indicator": d.get("indicator"), "rate_pct": d.get("rate_pct"),
                "version": " + ".join([sch.get("version", "")] + list(sch.get("overlays", []))),
                "rows": t.num_rows, "persons": int(pc.sum(t.column("persons")).as_py() or 0),
                "amount": yuan(int(pc.sum(t.column("amount")).as_py() or 0))}


_FEW = ["category", "region_code", "area", "standard_region"]  # read as dictionaries: compared by code


def read_side(path: Path | str) -> Side:
    """A run folder checked against its manifest (exit 2 otherwise), its payments' key columns only."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from cpi_link.core.errors import UsageError
    from cpi_link.core.money import fen_from_decimal128
    from cpi_link.outputs.report import read_manifest

    p = Path(path)
    manifest = read_manifest(p)
    try:
        f = pq.ParquetFile(p / "payments.parquet", read_dictionary=_FEW)
        have = set(f.schema_arrow.names)
        t = f.read(columns=[c for c in _TEXT + _MONEY + ["persons", "source_row"] if c in have and c != "name"])
    except Exception as exc:  # pyarrow raises several kinds
        raise UsageError(_("{path}: cannot read the run's Parquet files ({error})").format(
            path=p, error=f"{type(exc).__name__}: {exc}")) from None
    cols = {}
    for c in _TEXT:
        if c == "name":
            continue
        a = t.column(c).combine_chunks() if c in have else pa.nulls(t.num_rows, pa.string())
        cols[c] = a if c == "person_id" or pa.types.is_dictionary(a.type) else pc.dictionary_encode(a)
    for c in _MONEY:  # hundredths (fen; for rate_pct hundredths of a percent), nulls (a programme's standard) -1
        if c not in have:
            cols[c] = pa.array(np.full(t.num_rows, -1, np.int64))
            continue
        a = t.column(c).combine_chunks()
        if not (pa.types.is_decimal128(a.type) and a.type.scale == 2):
            a = a.cast(pa.decimal128(38, 2))
        fen = fen_from_decimal128(a)
        if a.null_count:
            fen[~_np(a.is_valid())] = -1
        cols[c] = pa.array(fen)
    cols["persons"] = pc.fill_null(t.column("persons").cast(pa.int64()), 0).combine_chunks()
    cols["source_row"] = t.column("source_row").cast(pa.int64()).combine_chunks()
    return Side(p, manifest, pa.table(cols))


def _names(side: Side, idx: np.ndarray):
    """The payments' names of rows idx (-1: null), read when rows are shown: only the row groups
    that hold them (a table shows a few rows), each read once."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if getattr(side, "_name_groups", None) is None:
        f = pq.ParquetFile(side.path / "payments.parquet")
        md = f.metadata
        side._name_file, side._name_groups = f, {}
        side._name_starts = np.cumsum([0] + [md.row_group(i).num_rows for i in range(md.num_row_groups)])
    cache, starts = side._name_groups, side._name_starts
    missing = idx < 0
    at = np.where(missing, 0, idx)
    g = np.searchsorted(starts, at, side="right") - 1
    groups = np.unique(g[~missing]).tolist()
    new = [x for x in groups if x not in cache]
    if new:
        got = side._name_file.read_row_groups(new, columns=["name"]).column("name")
        for x in new:
            n = int(starts[x + 1] - starts[x])
            cache[x], got = got.slice(0, n), got.slice(n)
    if not groups:
        return pa.nulls(len(idx), pa.string())
    shift = np.zeros(len(starts), np.int64)  # a row group's first row among those taken from
    sizes = np.array([starts[x + 1] - starts[x] for x in groups], np.int64)
    shift[groups] = starts[groups] - np.concatenate([[0], np.cumsum(sizes)[:-1]])
    names = pa.chunked_array([c for x in groups for c in cache[x].chunks], pa.string())
    return names.take(pa.array(at - shift[g], mask=missing)).combine_chunks()


@dataclass
class Diff:
    a: Side
    b: Side
    sides: tuple  # (A, B) as Side.summary gives them
    totals: dict
    rows: dict  # per row shown (added, removed, changed): numpy arrays ia, ib (-1: absent), change, reasons


def _codes(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Two dictionary columns as codes over one list of values (equal values, equal codes)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    x, y = x.combine_chunks(), y.combine_chunks()
    values = pc.unique(pa.concat_arrays([x.dictionary.cast(pa.string()), y.dictionary.cast(pa.string())]))

    def code(d):
        at = np.append(_np(pc.fill_null(pc.index_in(d.dictionary.cast(pa.string()), value_set=values), -1)), -1)
        return at[_np(pc.fill_null(d.indices, -1)).astype(np.int64)]

    return code(x), code(y)


def diff_runs(path_a: Path | str, path_b: Path | str) -> Diff:
    """The two runs matched by person_id (one hash lookup of B's IDs among A's): `rows` lists the
    people added, removed and changed (in that order, each by its source_row in its run), with a
    bit mask over REASONS for each change."""
    from cpi_link.core.threads import in_thread

    later = in_thread(read_side, path_b)  # the two runs read and checked side by side (pyarrow releases the GIL)
    a = read_side(path_a)
    b = later.result()
    ta, tb = a.table, b.table
    ia_m, ib_m = _match(ta.column("person_id"), tb.column("person_id"))
    in_a = np.zeros(tb.num_rows, bool)
    in_a[ib_m] = True
    in_b = np.zeros(ta.num_rows, bool)
    in_b[ia_m] = True
    added = np.flatnonzero(~in_a)
    removed = np.flatnonzero(~in_b)
    col = {c: (_np(ta.column(c)), _np(tb.column(c))) for c in _MONEY + ["persons"]}
    for c in _FEW:
        col[c] = _codes(ta.column(c), tb.column(c))
    amt_a, amt_b = col["amount"][0], col["amount"][1]
    differs = amt_a[ia_m] != amt_b[ib_m]
    ia_c, ib_c = ia_m[differs], ib_m[differs]
    mask = np.zeros(len(ia_c), np.int32)
    for k, w in enumerate(REASONS[:-1]):
        x, y = col["rate_pct" if w == "rate" else w]
        mask |= (x[ia_c] != y[ib_c]).astype(np.int32) << k
    same_basis = (mask & ((1 << REASONS.index("standard")) | (1 << REASONS.index("rate")))) == 0
    app = col["amount_per_person"]
    mask |= (same_basis & (app[0][ia_c] != app[1][ib_c])).astype(np.int32) << REASONS.index("rules")

    src_a, src_b = _np(ta.column("source_row")), _np(tb.column("source_row"))
    added = added[np.argsort(src_b[added], kind="stable")]
    removed = removed[np.argsort(src_a[removed], kind="stable")]
    order = np.argsort(src_b[ib_c], kind="stable")
    ia_c, ib_c, mask = ia_c[order], ib_c[order], mask[order]
    none = np.full(len(added) + len(removed), -1, np.int64)
    rows = {
        "ia": np.concatenate([none[:len(added)], removed, ia_c]),
        "ib": np.concatenate([added, none[:len(removed)], ib_c]),
        "change": np.concatenate([np.zeros(len(added), np.int8), np.ones(len(removed), np.int8), np.full(len(ia_c), 2, np.int8)]),
        "reasons": np.concatenate([np.zeros(len(added) + len(removed), np.int32), mask]),
    }
    by_reason = {w: int(((mask >> k) & 1).sum()) for k, w in enumerate(REASONS)}
    sa, sb = a.summary(), b.summary()
    total_a, total_b = int(amt_a.sum()), int(amt_b.sum())
    totals = {
        "amount_a": sa["amount"], "amount_b": sb["amount"], "difference": yuan(total_b - total_a),
        "added": len(added), "removed": len(removed), "changed": len(ia_c), "unchanged": int(len(ia_m) - len(ia_c)),
        "added_amount": yuan(int(amt_b[added].sum())), "removed_amount": yuan(int(amt_a[removed].sum())),
        "changed_amount": yuan(int((amt_b[ib_c] - amt_a[ia_c]).sum())),
        "changed_by_reason": {w: n for w, n in sorted(by_reason.items()) if n},
    }
    return Diff(a, b, (sa, sb), totals, rows)


def _match(ida, idb) -> tuple[np.ndarray, np.ndarray]:
    """(rows of A, rows of B) of the people in both runs, by person_id (a run pays a person at
    most once). Rows at the same place with the same ID match at once (two months of one roster
    list their people in the same order); only the others are looked up by hash."""
    import pyarrow.compute as pc

    n = min(len(ida), len(idb))
    same = _np(pc.fill_null(pc.equal(ida[:n], idb[:n]), False)) if n else np.zeros(0, bool)
    pos = np.flatnonzero(same)
    if len(pos) == len(ida) == len(idb):
        return pos, pos
    rest_a = np.concatenate([np.flatnonzero(~same), np.arange(n, len(ida))])
    rest_b = np.concatenate([np.flatnonzero(~same), np.arange(n, len(idb))])
    at = pc.index_in(idb.take(rest_b), value_set=ida.take(rest_a))
    hit = _np(at.is_valid())
    ia = np.concatenate([pos, rest_a[_np(at.fill_null(0))[hit].astype(np.int64)]])
    ib = np.concatenate([pos, rest_b[hit]])
    return ia, ib


def _np(a) -> np.ndarray:
    import pyarrow as pa

    if isinstance(a, pa.ChunkedArray):
        a = a.combine_chunks()
    return a.to_numpy(zero_copy_only=False)


def yuan(fen: int) -> str:
    from cpi_link.core.money import fen_to_yuan_str

    return fen_to_yuan_str(int(fen))


def _yuan_col(fen: np.ndarray):
    """int64 fen as yuan strings ("53.00", "-2.50"), vectorised."""
    import pyarrow as pa

    from cpi_link.core.money import decimal128_from_fen

    return decimal128_from_fen(np.ascontiguousarray(fen, np.int64), 38).cast(pa.string()) if len(fen) else pa.array([], pa.string())


def _pct(h: int) -> str:
    from decimal import Decimal

    from cpi_link.core.decimals import fmt_pct

    return fmt_pct(Decimal(int(h)) / 100)


def selected(d: Diff, change: str | None = None, limit: int | None = None) -> dict:
    """The rows of one `change` (or all), `limit` at most."""
    rows = d.rows
    if change is not None:
        keep = np.flatnonzero(rows["change"] == CHANGES.index(change))
        rows = {k: v[keep] for k, v in rows.items()}
    return rows if limit is None else {k: v[:limit] for k, v in rows.items()}


def _slice(rows: dict, start: int, n: int) -> dict:
    return {k: v[start:start + n] for k, v in rows.items()}


def _pair(d: Diff, rows: dict, c: str):
    """Column c of the A and B rows (null where the side is absent)."""
    import pyarrow as pa

    def take(side: Side, idx: np.ndarray):
        if c == "name":
            return _names(side, idx)
        return side.table.column(c).take(pa.array(np.where(idx < 0, 0, idx), mask=idx < 0))

    return take(d.a, rows["ia"]), take(d.b, rows["ib"])


def columns(d: Diff, rows: dict, mask_ids: bool = True) -> dict:
    """CSV_COLUMNS (and `persons`) of `rows` as Arrow arrays, made column by column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from cpi_link.core.privacy import mask_id_array

    n = len(rows["ia"])

    only = "b" if (rows["ib"] >= 0).all() else "a" if (rows["ia"] >= 0).all() and (rows["ib"] < 0).all() else None

    def either(c: str):
        if only is not None:  # every row on one side (a batch of changed or of removed rows): one take, not two
            side, idx = (d.b, rows["ib"]) if only == "b" else (d.a, rows["ia"])
            v = _names(side, idx) if c == "name" else side.table.column(c).take(pa.array(idx))
            v = v.cast(pa.string()) if pa.types.is_dictionary(v.type) else v
            if not v.null_count or only == "a":
                return v.combine_chunks() if isinstance(v, pa.ChunkedArray) else v
        x, y = _pair(d, rows, c)
        if pa.types.is_dictionary(x.type):
            x, y = x.cast(pa.string()), y.cast(pa.string())
        return pc.coalesce(y, x)

    fa, fb = (np.where(i < 0, 0, v) for i, v in zip((rows["ia"], rows["ib"]),
                                                      (_np(x.fill_null(0)) for x in _pair(d, rows, "amount"))))
    masks = rows["reasons"]
    uniq = np.unique(masks)
    names = pa.array([";".join(w for k, w in enumerate(REASONS) if m >> k & 1) for m in uniq.tolist()], pa.string())
    pid = either("person_id")
    return {
        "change": pa.array(list(CHANGES), pa.string()).take(pa.array(rows["change"].astype(np.int32))),
        "person_id": mask_id_array(pid) if mask_ids else pid,
        **{c: either(c) for c in ("name", "category", "region_code")},
        "persons": either("persons"),
        "month_a": pa.array([d.a.month] * n, pa.string()), "month_b": pa.array([d.b.month] * n, pa.string()),
        "amount_a": _yuan_col(fa), "amount_b": _yuan_col(fb), "difference": _yuan_col(fb - fa),
        "reasons": names.take(pa.array(np.searchsorted(uniq, masks))),
        "detail": _details(d, rows),
    }


def records(d: Diff, change: str | None = None, limit: int | None = None, mask_ids: bool = True, batch: int = 65_536):
    """The rows as dicts (JSON, the table), in batches: CSV_COLUMNS, `persons`, `amount` (the side
    present; A for a changed row) and `reasons` as a list."""
    rows = selected(d, change, limit)
    for start in range(0, len(rows["ia"]), batch):
        cols = {k: v.to_pylist() for k, v in columns(d, _slice(rows, start, batch), mask_ids).items()}
        for i in range(len(cols["change"])):
            r = {k: v[i] for k, v in cols.items()}
            r["amount"] = r["amount_b"] if r["change"] == "added" else r["amount_a"]
            r["reasons"] = r["reasons"].split(";") if r["reasons"] else []
            yield r


def detail_text(detail: str) -> str:
    """A changed row's detail (English, as CSV and JSON give it) in the reader's language."""
    from cpi_link.core.i18n import is_zh, translate_template

    if not detail or not is_zh():
        return detail
    longest_first = sorted(DETAIL_TEXT.values(), key=len, reverse=True)  # "standard row ..." before "standard ..."
    return "；".join(translate_template(p, longest_first) or p for p in detail.split("; "))


def _details(d: Diff, rows: dict):
    """The detail text of each row ("" for added and removed), reason by reason over the columns."""
    import pyarrow as pa
    import pyarrow.compute as pc

    m = rows["reasons"]
    n = len(m)
    out = pa.array([""] * n, pa.string())
    if not m.any():
        return out

    def money(col):
        return _yuan_col(_np(pc.fill_null(col, 0)))

    def pct(col):
        v = _np(pc.fill_null(col, 0))
        u = np.unique(v)
        return pa.array([_pct(x) for x in u.tolist()], pa.string()).take(pa.array(np.searchsorted(u, v)))

    def text(col):
        return pc.fill_null(col.cast(pa.string()), "")

    parts = {"standard": ("standard", money), "rate": ("rate_pct", pct), "category": ("category", text),
             "persons": ("persons", text), "area": ("area", text), "standard_region": ("standard_region", text),
             "rules": ("amount_per_person", money)}
    sep = pa.array([""] * n, pa.string())
    for k, w in enumerate(REASONS):
        hit = (m >> k & 1).astype(bool)
        if not hit.any():
            continue
        c, fmt = parts[w]
        x, y = (fmt(v) for v in _pair(d, rows, c))
        head, rest = DETAIL_TEXT[w].split("{a}")
        mid, tail = rest.split("{b}")
        piece = pc.binary_join_element_wise(sep, head, x, mid, y, tail, "")
        out = pc.if_else(pa.array(hit), pc.binary_join_element_wise(out, piece, ""), out)
        sep = pc.if_else(pa.array(hit), pa.scalar("; "), sep)
    return out
