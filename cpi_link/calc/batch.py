"""One roster batch through the month's checks and amounts, Arrow-native: coverage, area,
standards and decision looked up once per distinct region, amounts once per (region, area) pair,
in int64 fen (rules.amounts). The streaming around it is in calc.stream."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from cpi_link.core.money import round_ratio
if TYPE_CHECKING:
    from cpi_link.calc.month import MonthPlan

from cpi_link.rules.amounts import fixed_fen, per_person_fen, rate_hundredths

REJECT_ORIG = ["person_id", "name", "category", "region_code", "area", "persons", "bank_account"]


_NEW_REASONS = (None, "category_not_covered", "missing_field", "unknown_region", "not_triggered", "unknown_region",
                "unknown_region")
_PAID_KEEP = ["source_row", "person_id", "name", "persons", "bank_account", "id_flag", "person_key",
              "township", "village", "remark", "region_code_full"]  # the last four: roster.schema.CARRIED_COLUMNS
ORIG_COLUMNS = ["orig_" + c for c in REJECT_ORIG] + ["file_row"]  # what a rejected row keeps of its batch


def as_numpy(a) -> np.ndarray:
    """A pyarrow numeric/bool array without nulls as numpy."""
    return a.to_numpy(zero_copy_only=False)


def compute_batch_arrow(batch, plan: MonthPlan):
    """One checked roster batch -> (payable rows before dedup, rejected rows, positions of the
    payable rows in the batch). Both are pyarrow Tables; the payable rows carry no original
    fields (take them from the batch by position when a payable row is later rejected)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    batch = _record_batch(batch)  # one chunk per column: selecting, filtering and to_numpy stay simple
    n = batch.num_rows
    rules, month = plan.rules, plan.month
    ok = as_numpy(pc.is_null(batch.column("reason")))
    code = np.zeros(n, dtype=np.int8)

    def reject(mask: np.ndarray, c: int) -> None:
        nonlocal ok
        m = mask & ok
        if m.any():
            code[m] = c
            ok = ok & ~m

    if plan.outside is not None:  # a programme's region first: outside it nothing else matters
        oidx, ocodes = _distinct(batch.column("region_code"), ok)
        why = [plan.outside(c) for c in ocodes] + [None]
        out_of = np.array([w is not None for w in why])
        reject(out_of[oidx] & (oidx >= 0), 5)
    # coverage: category code -> basis 0 urban, 1 rural, 2 by_area, -1 not covered
    keys = list(rules.categories)
    basis_of = np.array([{"urban": 0, "rural": 1, "by_area": 2}[rules.categories[k]] for k in keys] + [-1], dtype=np.int8)
    cidx = _index_in(batch.column("category"), keys)
    basis = basis_of[cidx]
    reject(basis < 0, 1)
    aidx = _index_in(batch.column("area"), ["urban", "rural"]).astype(np.int8)
    by_area = basis == 2
    reject(by_area & (aidx < 0), 2)
    area = np.where(by_area, aidx, basis)

    # standards and decisions: once per distinct region code
    ridx, codes = _distinct(batch.column("region_code"), ok)
    u = len(codes)
    u12 = np.zeros(u + 1, np.int64)
    r12 = np.zeros(u + 1, np.int64)
    ann = np.full(u + 1, -1, np.int64)
    has = np.zeros(u + 1, bool)
    std_region: list = [None] * (u + 1)
    for i, rc in enumerate(codes):
        if rc not in plan._std_cache:
            plan._std_cache[rc] = plan.standards.in_force(rc, month)
        s = plan._std_cache[rc]
        if s is not None:
            u12[i], r12[i], std_region[i], has[i] = s.urban12, s.rural12, s.region_code, True
            ann[i] = s.rural12 if s.rural_basis == "annual" else -1
    reject(~has[ridx], 3)
    present = np.zeros(u + 1, bool)
    present[ridx[ok]] = True
    rate_u = np.zeros(u + 1, np.int64)
    trig = np.zeros(u + 1, bool)
    ind_u: list = [None] * (u + 1)
    unknown = np.zeros(u + 1, bool)
    for i in np.flatnonzero(present[:u]):
        d = plan.decision_for(plan.deciding_region(codes[i]))
        if d is None:  # a prefecture scheme, and no such prefecture
            unknown[i] = True
        elif d.triggered:
            trig[i], rate_u[i], ind_u[i] = True, rate_hundredths(d.rate_pct), d.indicator
    if unknown.any():
        reject(unknown[ridx], 6)
    reject(~trig[ridx], 4)

    pay = ok
    pidx = np.flatnonzero(pay)
    every = len(pidx) == n
    pr = ridx[pidx]
    parea = area[pidx]
    # a payable row's standard, rate and amount per person depend only on its (region, urban or
    # rural): worked out once per pair (g = 2 x region + area) and spread to the rows by index
    g = pr * 2 + parea
    gr, ga = np.arange(2 * (u + 1)) // 2, np.arange(2 * (u + 1)) % 2
    std12_g = np.where(ga == 0, u12[gr], r12[gr])
    annual_g = np.where(ga == 0, -1, ann[gr])
    rate_g = rate_u[gr]
    akey = "pair"
    if rules.method == "fixed":
        # the amount depends on the category too: once per (pair, category) group
        k = len(keys) + 1
        fixed_ca = np.stack([np.append(fixed_fen(rules, keys, a), 0) for a in (0, 1)])
        ag = np.arange(2 * (u + 1) * k)
        per_person_g = per_person_fen(rules, std12_g[ag // k], rate_g[ag // k], fixed_ca[(ag // k) % 2, ag % k])
        agroup = g * k + cidx[pidx]
        akey = "agroup"
    else:
        per_person_g = per_person_fen(rules, std12_g, rate_g)
        agroup = g
    persons = as_numpy(pc.fill_null(batch.column("persons"), 0))[pidx].astype(np.int64)
    # only what payable rows need (pending batches hold it), as one RecordBatch: its take and
    # to_numpy skip the chunked-array paths of a Table's (a third of the copy's time)
    paid = Payable(
        _record_batch(batch.select(_PAID_KEEP + ORIG_COLUMNS)), pidx,
        {"cat": cidx[pidx], "region": pr, "area": parea, "pair": g, "persons": persons,
         "amount_fen": per_person_g[agroup] * persons, **({"agroup": agroup} if akey == "agroup" else {})},
        {  # column: (the per-row index it is looked up by, that index -> dictionary entry (-1: null), dictionary)
           # or, for amounts: (that index, that index -> amount in hundredths, _Amounts)
            "category": ("cat", *_strings(keys)),
            "region_code": ("region", *_strings(codes + [None])),
            "area": ("area", *_strings(["urban", "rural"])),
            "indicator": ("region", *_strings(ind_u)),
            "rate_pct": ("region", *_decimals(rate_u, 7)),  # hundredths of a percent: scale 2
            "standard": ("pair", *_decimals(round_ratio(std12_g, 12, "fen_half_up"))),
            "standard_annual": ("pair", *_decimals(annual_g, nulls=True)),  # -1: none
            "standard_region": ("region", *_strings(std_region)),
            "amount_per_person": (akey, *_decimals(per_person_g)),
        })

    if every:
        return paid, rejected_rows(batch.column("source_row").slice(0, 0), pa.array([], pa.string()),
                                pa.array([], pa.string()), batch.slice(0, 0))
    ridx_rej = np.flatnonzero(~pay)
    # only the columns the rejected rows need: filtering every column cost more than the rest here
    rej = batch.select(["source_row", "reason", "detail", "category", "region_code"] + ORIG_COLUMNS).filter(pa.array(~pay))
    reason, detail = rej.column("reason").cast(pa.string()), rej.column("detail").cast(pa.string())
    new = code[ridx_rej]
    if new.any():
        names = pa.array(list(_NEW_REASONS), pa.string())
        reason = pc.if_else(pa.array(new > 0), names.take(pa.array(new)), reason)
        for c, text in (
            (1, lambda t: pc.binary_join_element_wise("category ", _text(t.column("category")),
                                                      f" is not covered by {rules.version} in {month}", "")),
            (2, lambda t: pa.scalar("area (城乡) is needed for this category and is empty")),
            (3, lambda t: pa.array([_no_standard(c, month) for c in codes + [None]], pa.string())
                .take(pa.array(ridx[ridx_rej][new == 3]))),
            (4, lambda t: pa.scalar(f"the mechanism did not start for this region in {month}")),
            (6, lambda t: pc.binary_join_element_wise(
                "no prefecture ", pc.utf8_slice_codeunits(_text(t.column("region_code")), 0, 4),
                "00 has figures: the rules decide per prefecture and none is known for this code", "")),
            (5, lambda t: pa.array([plan.outside(c) for c in _text(t.column("region_code")).to_pylist()], pa.string())),
        ):
            m = new == c
            if m.any():  # the message built for those rows only
                mask = pa.array(m)
                detail = pc.replace_with_mask(detail, mask, text(rej.filter(mask)).cast(pa.string()))
    return paid, rejected_rows(rej.column("source_row"), reason, detail, rej)


def _no_standard(code: str | None, month: str) -> str | None:
    """The unknown_region detail for a region code: why the code is not valid, or no standard."""
    from cpi_link.core.regions import problem

    if code is None:
        return None
    return problem(code, month) or f"no standard for region {code} (or its prefecture/province) in force in {month}"


def _array(col):
    """A column as one Array (a ChunkedArray of one chunk without copying)."""
    import pyarrow as pa

    if isinstance(col, pa.ChunkedArray):
        return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    return col


def _index_in(col, values: list) -> np.ndarray:
    """Per row: the position of the row's string in `values`, -1 for other strings and nulls.
    A dictionary column (roster.CHECKED_SCHEMA) is looked up once per dictionary entry."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = _array(col)
    value_set = pa.array(values, pa.string())
    if pa.types.is_dictionary(col.type):
        per_entry = np.append(as_numpy(pc.fill_null(pc.index_in(col.dictionary, value_set=value_set), -1)), -1)
        return per_entry[as_numpy(pc.fill_null(col.indices, -1))]  # a null row: the appended -1
    return as_numpy(pc.fill_null(pc.index_in(col, value_set=value_set), -1))


def _distinct(col, rows: np.ndarray) -> tuple[np.ndarray, list]:
    """The distinct strings of `col` on the rows where the bool mask `rows`, and per row (every
    row) the position of its string among them, -1 for other strings and nulls."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = _array(col)
    if pa.types.is_dictionary(col.type):
        idx = as_numpy(pc.fill_null(col.indices, -1))
        seen = np.zeros(len(col.dictionary) + 1, bool)  # the last: null rows (-1)
        seen[idx[rows]] = True
        used = np.flatnonzero(seen[:-1])
        at = np.full(len(col.dictionary) + 1, -1, np.int64)
        at[used] = np.arange(len(used))
        return at[idx], col.dictionary.take(pa.array(used)).to_pylist()
    uniq = pc.unique(col.filter(pa.array(rows))).drop_null()
    if not len(uniq):
        return np.full(len(col), -1, np.int64), []
    return as_numpy(pc.fill_null(pc.index_in(col, value_set=uniq), -1)), uniq.to_pylist()


def _text(col):
    """A string or dictionary column as plain strings, nulls as ""."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(col.type):
        col = col.cast(pa.string())
    return pc.fill_null(col, "")


def _strings(values: list) -> tuple[np.ndarray, "object"]:
    """(position -> entry, dictionary) for a few strings, each listed once (None -> a null row):
    a dictionary with repeats makes the Parquet writer give up dictionary encoding."""
    import pyarrow as pa

    uniq = list(dict.fromkeys(v for v in values if v is not None))
    at = {v: i for i, v in enumerate(uniq)}
    return np.array([-1 if v is None else at[v] for v in values], np.int32), pa.array(uniq, pa.string())


class _Amounts(NamedTuple):
    """A looked-up column whose rows get the amount itself (_decimals), not a dictionary entry."""

    precision: int  # of the decimal(precision, 2): money.small_decimal_from_fen
    nulls: bool  # -1 is a null (else every amount is >= 0)


def _decimals(fen: np.ndarray, precision: int = 18, nulls: bool = False) -> tuple[np.ndarray, _Amounts]:
    """(position -> amount in hundredths, _Amounts) for a column looked up by position: each row
    gets its amount as decimal32/64 (money.small_decimal_from_fen); -1 is a null where `nulls`.
    The Parquet writer took a plain decimal64 column faster than a dictionary one (5M rows: 0.14
    -> 0.10 s for standard_annual) and still dictionary-encodes it in the file."""
    return np.ascontiguousarray(fen, dtype=np.int64), _Amounts(precision, nulls)


def _record_batch(t):
    """A Table as one RecordBatch (its chunks combined; one chunk per column is not copied)."""
    import pyarrow as pa

    if isinstance(t, pa.RecordBatch):
        return t
    batches = t.combine_chunks().to_batches()
    if len(batches) == 1:
        return batches[0]
    return pa.RecordBatch.from_arrays([pa.array([], f.type) for f in t.schema], schema=t.schema)


class Payable:
    """The payable rows of one batch, not yet copied out of it: their positions in the batch (pidx),
    per-row numpy arrays (`rows`: indices and amounts) and the few-valued columns as lookups through
    those indices (`looked_up`: see compute_batch_arrow). `table(sel)` copies the rows once, when it
    is known where they go (written, held or rejected)."""

    def __init__(self, batch, pidx: np.ndarray, rows: dict, looked_up: dict):
        self.batch, self.pidx, self.rows, self.looked_up = batch, pidx, rows, looked_up

    @property
    def num_rows(self) -> int:
        return len(self.pidx)

    def column_np(self, name: str) -> np.ndarray:
        if name in self.rows:
            return self.rows[name]
        return as_numpy(self.batch.column(name))[self.pidx]

    def subset(self, sel: np.ndarray) -> "Payable":
        """The rows where the bool mask `sel` (or at the positions `sel`)."""
        return Payable(self.batch, self.pidx[sel], {k: v[sel] for k, v in self.rows.items()}, self.looked_up)

    def table(self, sel: np.ndarray | None = None, orig: bool = False):
        """Rows (all, or where the bool mask `sel`) as a Table: roster fields, computed fields, and
        with orig=True the original fields (for rows that may yet be rejected)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from cpi_link.core.money import small_decimal_from_fen

        p = self if sel is None else self.subset(np.flatnonzero(sel))
        n = len(p.pidx)
        cols = _PAID_KEEP + (ORIG_COLUMNS if orig else [])
        flag = p.batch.column("id_flag")
        no_flag = flag.null_count == len(flag)  # the usual batch: no ID was converted, nothing to copy
        rb = p.batch.select([c for c in cols if c != "persons" and not (no_flag and c == "id_flag")])
        if n != p.batch.num_rows:  # (every row payable: no copy)
            # the positions come from flatnonzero: the bounds check (per column) only cost time
            rb = pc.take(rb, pa.array(p.pidx), boundscheck=False)
        arrays = dict(zip(rb.schema.names, rb.columns))
        if no_flag:
            arrays["id_flag"] = pa.nulls(n, pa.string())
        arrays["persons"] = _wrap(p.rows["persons"], pa.int64())
        for name, (by, entry, values) in p.looked_up.items():
            at = entry[p.rows[by]]
            null = at < 0
            valid = ~null if null.any() else None
            if isinstance(values, _Amounts):  # the amount itself, per row
                arrays[name] = small_decimal_from_fen(at, values.precision, valid if values.nulls else None)
            else:
                arrays[name] = pa.DictionaryArray.from_arrays(_wrap(at, pa.int32(), valid), values)
        arrays["amount_fen"] = _wrap(p.rows["amount_fen"], pa.int64())
        names = cols + list(p.looked_up) + ["amount_fen"]
        return pa.Table.from_arrays([arrays[c] for c in names], names=names)


def _wrap(values: np.ndarray, type_, valid: np.ndarray | None = None):
    """A numpy array as a pyarrow array of `type_` without a copy (pa.array converts; its mask
    path is slower than packing the bits), null where the bool `valid` is false."""
    import pyarrow as pa

    values = np.ascontiguousarray(values, dtype={"int32": np.int32, "int64": np.int64}[str(type_)])
    bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(type_, len(values), [bitmap, pa.py_buffer(values)],
                                 null_count=0 if valid is None else int(len(valid) - valid.sum()))


def rejected_rows(source_row, reason, detail, t):
    import pyarrow as pa

    names = ["source_row", "file_row", "reason", "detail", *REJECT_ORIG]
    cols = [source_row, t.column("file_row"), reason, detail, *[t.column("orig_" + c) for c in REJECT_ORIG]]
    return pa.Table.from_arrays([c.cast(pa.string()) if i > 1 else c for i, c in enumerate(cols)], names=names)
