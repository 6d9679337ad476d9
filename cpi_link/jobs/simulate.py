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
from pathlib import Path

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
    """A roster's payable rows as group rows (CHECKED_SCHEMA) with how many rows each stands for;
    `key` is the person of a row listed twice (0: a group)."""

    checked: object
    weight: np.ndarray
    key: np.ndarray


def roster_groups(roster: Path, sheet=None) -> Groups:
    """The roster read and checked once (roster.check), its rows without a problem grouped."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from cpi_link.calc.grouped import group_rows
    from cpi_link.roster.check import check_batches
    from cpi_link.roster.read import raw_batches

    parts = []
    for t in check_batches(raw_batches(roster, sheet=sheet)):
        ok = t.filter(pc.is_null(t.column("reason")))
        parts.append(pa.table({c: ok.column(c).cast(pa.string()) if c != "persons" else ok.column(c)
                               for c in ("category", "region_code", "area", "persons")} | {"key": ok.column("person_key")}))
    rows = pa.concat_tables(parts) if parts else pa.table({"category": [], "region_code": [], "area": [], "persons": [], "key": []})
    key = rows.column("key").to_numpy()
    uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    twice = (counts[inverse] > 1) & (key != 0)
    once = rows.filter(pa.array(~twice))
    grouped = once.group_by(["category", "region_code", "area", "persons"], use_threads=False).aggregate([("key", "count")])
    dup = rows.filter(pa.array(twice))
    n_g = grouped.num_rows
    cols = {c: pa.concat_arrays([grouped.column(c).combine_chunks().cast(pa.string()), dup.column(c).combine_chunks().cast(pa.string())])
            for c in ("category", "region_code", "area", "persons")}
    checked = group_rows(cols["category"], cols["region_code"], cols["area"], cols["persons"])
    weight = np.concatenate([grouped.column("key_count").to_numpy().astype(np.int64), np.ones(dup.num_rows, np.int64)])
    keys = np.concatenate([np.zeros(n_g, np.int64), dup.column("key").to_numpy().astype(np.int64)])
    return Groups(checked, weight, keys)


def cost(groups: Groups, plan) -> tuple[int, int, int]:
    """(paid rows, persons, fen) of the month: each group's amount times its rows; of the rows of
    one person, the one with the highest amount (ties: the first), as calc's dedup keeps."""
    from cpi_link.calc.grouped import price

    p = price(groups.checked, plan)
    persons = groups.checked.column("persons").to_numpy(zero_copy_only=False).astype(np.int64)
    single = groups.key == 0
    w = np.where(p.paid & single, groups.weight, 0)
    rows, people, fen = int(w.sum()), int((w * persons).sum()), int((w * p.amount_fen).sum())
    dup = np.flatnonzero(p.paid & ~single)
    if len(dup):
        order = dup[np.lexsort((dup, -p.amount_fen[dup], groups.key[dup]))]  # per person: highest amount, first row
        first = np.ones(len(order), bool)
        first[1:] = groups.key[order][1:] != groups.key[order][:-1]
        kept = order[first]
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


def simulate(months: list[str], schemes: dict[str, object], roster: Path, standards, store, home=None, sheet=None) -> dict:
    """schemes: label ('baseline'/'alternative') -> Scheme. Returns {month: {label: SchemeMonth}}.
    sheet: the worksheet of a spreadsheet roster (--sheet).
    Raises MissingFigures naming every month that cannot be decided under any of the schemes."""
    from cpi_link.core.errors import MissingFigures

    groups = roster_groups(roster, sheet)
    results: dict[str, dict[str, SchemeMonth]] = {}
    missing: list[str] = []
    for m in months:
        results[m] = {}
        for label, sch in schemes.items():
            try:
                results[m][label] = _month(groups, m, sch, store, standards)
            except MissingFigures as exc:
                missing.append(f"{m} ({label} {sch.name}): {exc.message}")
    if missing:
        shown = missing if len(missing) <= 12 else missing[:12] + [f"... and {len(missing) - 12} more"]
        raise MissingFigures(
            f"{len({x.split(' ')[0] for x in missing})} of {len(months)} months cannot be simulated for lack of "
            "figures (missing is not 'not triggered'; import them with cpi-link fetch --source file):\n  " + "\n  ".join(shown)
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


