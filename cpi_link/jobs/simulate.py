"""`cpi-link simulate`: what a roster would cost under an alternative scheme, month by month,
side by side with a baseline scheme.

The roster is read and checked once. Its payable rows are grouped by what an amount depends on
(category, region, area, persons; a person listed twice is kept apart, as calc keeps the row
with the highest amount), and each month and scheme prices the groups through calc's batch
engine (calc.grouped), so a simulation costs what `calc` would pay, with no run folder written.
The same roster and standards are used for every month (a what-if on today's recipients, not a
reconstruction of who was paid then).

A month whose figures are missing under either scheme is an error (exit 3) naming every such
month: missing is not "not triggered".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SchemeMonth:
    triggered: bool
    indicator: str | None
    rate_pct: str | None
    version: str
    paid_rows: int
    persons: int
    total_fen: int


@dataclass
class Groups:
    """A roster's payable rows grouped by what an amount depends on: `checked` holds one row per
    distinct (category, region, area, persons, born) as CHECKED_SCHEMA for the batch engine, with
    `weight` rows of people listed once; `dup_key`/`dup_group` are the rows of people listed more
    than once (their person key and group), kept apart for calc's dedup, by person and then in
    roster order (`dup_start`: where each person's rows begin). `born` is
    the birth month (YYYYMM) of people born after the first month simulated, else 0; `stopped`
    marks rows whose 备注 says the person stopped (paid only under a scheme with remark_check = false)."""

    checked: object
    weight: np.ndarray
    born: np.ndarray
    persons: np.ndarray  # int64 per group
    stopped: np.ndarray  # bool per group
    dup_key: np.ndarray
    dup_group: np.ndarray
    dup_start: np.ndarray


_BY = ("category", "region_code", "area", "persons", "born", "stopped")
_NULL = "\0"


def roster_groups(handle, first_month: str = "0000-00") -> Groups:
    """The roster of `handle` (calc.handle.open_roster) read and checked once, as calc's second pass
    reads it (the IDs checked by the handle's first pass are not checked again), its rows without
    a problem grouped by what an amount depends on."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from cpi_link.calc.grouped import group_rows
    from cpi_link.core.threads import prefetch
    from cpi_link.roster.check import check_batches

    since = int(first_month.replace("-", ""))
    roster = handle.reader()
    first = handle.take_first_pass()
    parts = []
    try:
        known = first.checked.take if first is not None else None
        for t in prefetch(check_batches(roster.batches(handle.batch_rows), known_ids=known, remark_check=handle.remark_check)):
            # rows without a problem, and those whose only problem is a 备注 saying the person stopped
            # (checked last: under a scheme that does not look at remarks they are paid)
            stopped = pc.fill_null(pc.equal(t.column("reason").cast(pa.string()), "remark_says_stopped"), False)
            keep = pc.or_(pc.is_null(t.column("reason")), stopped)
            ok, stopped = t.filter(keep), stopped.filter(keep)
            # a person born after a month is not paid for it (calc: mark_born_after): kept apart by birth month
            born = pc.cast(pc.utf8_slice_codeunits(ok.column("person_id"), 6, 12), pa.int64())
            born = pc.if_else(pc.greater(born, since), born, 0)
            # as text, a missing value as "\0" (a join matches no null): put back before the groups are checked
            parts.append(pa.table({c: pc.fill_null(ok.column(c).cast(pa.string()), _NULL) for c in _BY[:4]}
                                  | {"born": born, "stopped": stopped.cast(pa.int8()), "key": ok.column("person_key")}))
    finally:
        if first is not None:
            first.close()
    handle.check_unchanged()
    empty = pa.table({c: pa.array([], pa.string()) for c in _BY[:4]} | {"born": pa.array([], pa.int64()),
                                                                         "stopped": pa.array([], pa.int8()),
                                                                         "key": pa.array([], pa.int64())})
    rows = pa.concat_tables(parts).combine_chunks() if parts else empty
    key = rows.column("key").to_numpy()
    _uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    twice = (counts[inverse] > 1) & (key != 0)
    # one group per distinct combination; a row's group found by joining on the combination
    rows = rows.append_column("once", pa.array((~twice).astype(np.int64))).append_column("at", pa.array(np.arange(len(key))))
    grouped = rows.group_by(list(_BY), use_threads=False).aggregate([("once", "sum")])
    grouped = grouped.append_column("group", pa.array(np.arange(grouped.num_rows)))
    dup = rows.filter(pa.array(twice)).join(grouped.select(list(_BY) + ["group"]), list(_BY), use_threads=False)
    dup = dup.sort_by([("key", "ascending"), ("at", "ascending")])  # a person's rows together, in roster order
    dup_key = dup.column("key").to_numpy().astype(np.int64)
    checked = group_rows(*(pc.if_else(pc.equal(grouped.column(c), _NULL), pa.scalar(None, pa.string()), grouped.column(c)).combine_chunks()
                           for c in _BY[:4]))
    return Groups(checked, grouped.column("once_sum").to_numpy().astype(np.int64),
                  grouped.column("born").to_numpy().astype(np.int64),
                  checked.column("persons").to_numpy(zero_copy_only=False).astype(np.int64),
                  grouped.column("stopped").to_numpy().astype(bool),
                  dup_key, dup.column("group").to_numpy().astype(np.int64),
                  np.flatnonzero(np.r_[True, dup_key[1:] != dup_key[:-1]]) if len(dup_key) else np.zeros(0, np.int64))


def cost(groups: Groups, plan) -> tuple[int, int, int]:
    """(paid rows, persons, fen) of the month: each group's amount times its rows; of the rows of
    one person, the one with the highest amount (ties: the first), as calc's dedup keeps."""
    from cpi_link.calc.grouped import price

    p = price(groups.checked, plan)
    persons = groups.persons
    paid = p.paid & (groups.born <= int(plan.month.replace("-", "")))
    if plan.remark_check:
        paid &= ~groups.stopped
    w = np.where(paid, groups.weight, 0)
    rows, people, fen = int(w.sum()), int((w * persons).sum()), int((w * p.amount_fen).sum())
    if len(groups.dup_group):  # per person (rows together, in roster order): the highest paid amount, its first row
        g, start = groups.dup_group, groups.dup_start
        amount = np.where(paid[g], p.amount_fen[g], -1)  # a paid amount may be 0: -1 marks a row not paid
        best = np.maximum.reduceat(amount, start)
        person = np.repeat(np.arange(len(start)), np.diff(np.r_[start, len(g)]))
        top = np.flatnonzero((amount == best[person]) & (best[person] >= 0))
        kept = g[top[np.r_[True, person[top][1:] != person[top][:-1]]]] if len(top) else top
        rows, people, fen = rows + len(kept), people + int(persons[kept].sum()), fen + int(p.amount_fen[kept].sum())
    return rows, people, fen


def _month(groups: Groups, month: str, scheme, store, standards) -> SchemeMonth:
    from cpi_link.calc.month import month_plan

    plan, primary = month_plan(month, scheme, store, standards)
    # not started: nothing to price (calc rejects every row not_triggered)
    rows, persons, fen = cost(groups, plan) if primary is None or primary.triggered else (0, 0, 0)
    if primary is None:  # decided per prefecture: whether any triggered
        return SchemeMonth(any(d is not None and d.triggered for d in plan.decisions.values()), None, None,
                           plan.rules.version, rows, persons, fen)
    d = primary.to_json()
    return SchemeMonth(bool(primary.triggered), d.get("indicator"), d.get("rate_pct"), d.get("version", ""), rows, persons, fen)


def simulate(months: list[str], schemes: dict[str, object], handle, standards, store) -> dict:
    """schemes: label ('baseline'/'alternative') -> Scheme; handle: the roster (calc.handle.open_roster).
    Returns {month: {label: SchemeMonth}}.
    Raises MissingFigures naming every month that cannot be decided under any of the schemes."""
    from cpi_link.core.errors import MissingFigures
    from cpi_link.core.i18n import _

    groups = roster_groups(handle, min(months) if months else "0000-00")
    results: dict[str, dict[str, SchemeMonth]] = {}
    missing: list[str] = []
    for m in months:
        results[m] = {}
        for label, sch in schemes.items():
            try:
                results[m][label] = _month(groups, m, sch, store, standards)
            except MissingFigures as exc:
                said = {"baseline": _("baseline"), "alternative": _("alternative")}.get(label, label)
                missing.append((m, f"{m} ({said} {sch.name}): {exc.message}"))
    if missing:
        shown = [x for _m, x in missing[:12]] + ([_("... and {n} more").format(n=len(missing) - 12)] if len(missing) > 12 else [])
        raise MissingFigures(
            _("{n} of {total} months cannot be simulated for lack of figures (missing is not 'not triggered'; import them "
              "with cpi-link fetch --source file):").format(n=len({m for m, _x in missing}), total=len(months)) + "\n  " + "\n  ".join(shown)
        )
    return results


def simulate_json(results: dict, baseline, alternative) -> dict:
    from cpi_link.core.money import fen_to_yuan_str

    rows = []
    tb = ta = 0
    nb = na = 0
    for m, r in results.items():
        b, a = r["baseline"], r["alternative"]
        tb += b.total_fen
        ta += a.total_fen
        nb += b.triggered
        na += a.triggered
        rows.append({
            "month": m,
            "baseline_triggered": b.triggered,
            "baseline_rate_pct": b.rate_pct,
            "baseline_indicator": b.indicator,
            "baseline_persons": b.persons,
            "baseline_amount": fen_to_yuan_str(b.total_fen),
            "alternative_triggered": a.triggered,
            "alternative_rate_pct": a.rate_pct,
            "alternative_indicator": a.indicator,
            "alternative_persons": a.persons,
            "alternative_amount": fen_to_yuan_str(a.total_fen),
            "difference": fen_to_yuan_str(a.total_fen - b.total_fen),
            "baseline_version": b.version,
            "alternative_version": a.version,
        })
    return {
        "baseline": {"scheme": baseline.name, "path": str(baseline.path), "sha256": baseline.sha256},
        "alternative": {"scheme": alternative.name, "path": str(alternative.path), "sha256": alternative.sha256},
        "months": rows,
        "totals": {
            "months": len(rows),
            "baseline_triggered_months": int(nb),
            "alternative_triggered_months": int(na),
            "baseline_amount": fen_to_yuan_str(tb),
            "alternative_amount": fen_to_yuan_str(ta),
            "difference": fen_to_yuan_str(ta - tb),
        },
    }


