"""`cpi-link simulate`: what a roster would cost under an alternative scheme, month by month,
side by side with a baseline scheme.

Every figure comes from the real engine: `calculate_month` writes a full run folder for each
scheme and month into a private temp folder (deleted afterwards), and the totals are read from
its results, so a simulation can never disagree with what `calc` would pay. The same roster and
standards are used for every month (a what-if on today's recipients, not a reconstruction of
who was paid then).

A month whose figures are missing under either scheme is an error (exit 3) naming every such
month: missing is not "not triggered".
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path



@dataclass
class SchemeMonth:
    triggered: bool
    indicator: str | None
    rate_pct: str | None
    version: str
    paid_rows: int
    persons: int
    total_fen: int


def _one(res) -> SchemeMonth:
    d = res.decision
    if isinstance(d, list):  # decided per prefecture: report whether any triggered
        ind = rate = None
        version = d[0]["version"] if d else ""
    else:
        ind, rate, version = d.get("indicator"), d.get("rate_pct"), d.get("version", "")
    return SchemeMonth(bool(res.triggered), ind, rate, version, res.paid_rows, res.persons, res.total_fen)


def simulate(months: list[str], schemes: dict[str, object], roster: Path, standards, store, home, sheet=None) -> dict:
    """schemes: label ('baseline'/'alternative') -> Scheme. Returns {month: {label: SchemeMonth}}.
    sheet: the worksheet of a spreadsheet roster (--sheet).
    Raises MissingFigures naming every month that cannot be decided under any of the schemes."""
    from cpi_link.calc.handle import open_roster
    from cpi_link.core.errors import MissingFigures
    from cpi_link.jobs.pipeline import calculate_month

    results: dict[str, dict[str, SchemeMonth]] = {}
    missing: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="cpi-link-simulate-"))
    try:
        # opened and hashed once for every month and scheme
        handle = open_roster(roster, tmp, sheet=sheet, early=False)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        for m in months:
            results[m] = {}
            for k, (label, sch) in enumerate(schemes.items()):
                try:
                    res = calculate_month(m, handle, sch, store, standards, home, out_dir=tmp / f"{k}-{m}")
                except MissingFigures as exc:
                    missing.append(f"{m} ({label} {sch.name}): {exc.message}")
                    continue
                results[m][label] = _one(res)
                shutil.rmtree(res.run_dir, ignore_errors=True)  # nothing but totals is kept
    finally:
        handle.close()
        shutil.rmtree(tmp, ignore_errors=True)
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


