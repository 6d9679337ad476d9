"""One index month end to end: decide, stream the roster through calc, write the run folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from cpi_link.calc.month import MonthPlan, month_plan
from cpi_link.calc.firstpass import BATCH_ROWS, RosterInput
from cpi_link.calc.stream import StreamResult

if TYPE_CHECKING:
    import pandas as pd

@dataclass
class CalcResult:
    run_dir: object
    run_id: str
    month: str
    triggered: bool
    decision: dict
    input_rows: int
    paid_rows: int
    persons: int
    total_fen: int
    rejected_by_reason: dict
    by_category: list
    manifest: dict
    roster_sha256: str = ""  # hashed once, as the roster was read: the ledger records it


def calculate_month(
    month: str,
    roster,
    scheme,
    store,
    standards,
    home,
    out_dir=None,
    progress: Callable[[int], None] | None = None,
    exclude_paid: Callable[[pd.DataFrame], np.ndarray] | None = None,
    batch_rows: int = BATCH_ROWS,
    extra_manifest: dict | None = None,
    run_tag: str = "",
    sheet=None,
) -> CalcResult:
    """Decide, compute and write one month's run folder. Raises before writing anything on bad input.

    roster: a path, or a calc.firstpass.RosterInput opened earlier (its hash and first pass then
    ran while the caller loaded the rules). exclude_paid, when given, marks rows of people already
    paid for the month (supplements); they are rejected as `already_paid`. sheet: the worksheet of a
    spreadsheet roster given as a path (--sheet NAME|N; default: see core.sheets).
    """
    if not isinstance(roster, RosterInput):
        parent = Path(out_dir) if out_dir is not None else home.runs_dir / month
        # nothing to overlap with here: stream_month starts the first pass as it reads
        with RosterInput(roster, parent, batch_rows, first_pass=False, sheet=sheet) as opened:
            return calculate_month(month, opened, scheme, store, standards, home, out_dir, progress, exclude_paid,
                                   batch_rows, extra_manifest, run_tag)
    import hashlib
    import shutil
    import tempfile

    from cpi_link.calc.stream import stream_month
    from cpi_link.core.atomic import crashpoint
    from cpi_link.core.paths import private_dir
    from cpi_link.outputs import runfolder

    plan, primary = month_plan(month, scheme, store, standards)

    def run_id() -> str:
        # run_tag tells apart runs of the same inputs that must not share a run id (supplements)
        seed = "|".join([month, scheme.sha256, roster.sha256, standards.sha256,
                         json_dumps(primary.to_json() if primary else None), run_tag]
                        + ([f"sheet={roster.sheet}"] if roster.sheet is not None else []))  # two sheets of one file: two runs
        return f"{month}-{hashlib.sha256(seed.encode()).hexdigest()[:12]}"

    plan.run_id_of = run_id

    made_out = out_dir is not None and not Path(out_dir).exists() and not Path(out_dir).is_symlink()
    if out_dir is not None:
        base = out_dir = runfolder.prepare_out_dir(Path(out_dir))  # temp and spill inside --out: nothing outside it changes
    else:
        base = home.runs_dir / month

    compute = primary is None or primary.triggered
    # payable rows and duplicate keys spill into a private folder beside the destination (same
    # filesystem: the finished payments file is moved, not copied, into the run's temp folder)
    private_dir(base)
    runfolder.clean_leftovers(base)  # a killed run's temp and spill folders (its pid is gone)
    spill_dir = Path(tempfile.mkdtemp(prefix=runfolder.temp_name(".spill-", month) + "-", dir=base))
    try:
        r = stream_month(roster.path, plan, compute, spill_dir, batch_rows, exclude_paid=exclude_paid, progress=progress,
                         first_pass=roster.take_first_pass(batch_rows), sheet=roster.sheet)
        roster.check_unchanged()
        crashpoint("calc_after_read")  # crash tests: roster read, nothing written
        # under home: runs/MONTH/RUN_ID; the same run already there is reused (runfolder._place)
        dest = Path(out_dir) if out_dir is not None else base / plan.run_id
        return _finish_month(r, plan, primary, roster.path, roster.sha256, standards, dest, compute, extra_manifest,
                             inside=out_dir is not None)
    except BaseException:
        if made_out:  # bad input is "nothing written": the --out folder made for this run goes too
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(spill_dir, ignore_errors=True)


def _finish_month(r: StreamResult, plan: MonthPlan, primary, roster_path, roster_sha: str, standards, dest,
                  compute: bool, extra_manifest: dict | None, inside: bool = False) -> "CalcResult":
    """The manifest and the run folder, from stream_month's results (payments already written)."""
    from datetime import datetime, timezone

    from cpi_link import __version__
    from cpi_link.calc import encoding
    from cpi_link.outputs import runfolder

    month, rules, run_id = plan.month, plan.rules, plan.run_id
    input_rows, paid_rows, summary, total_fen, persons = r.input_rows, r.paid_rows, r.summary, r.total_fen, r.persons
    rej_table = r.rejected if r.rejected is not None else encoding.rejected_schema().empty_table()
    by_reason = {}
    if rej_table.num_rows:
        vc = rej_table.column("reason").value_counts()
        by_reason = {str(x["values"]): int(x["counts"]) for x in sorted(vc.to_pylist(), key=lambda x: str(x["values"]))}
    if compute and input_rows != paid_rows + rej_table.num_rows:
        raise AssertionError("accounting invariant broken: input_rows != paid_rows + rejected_rows")

    decision_json = (
        primary.to_json(provenance=True) if primary is not None
        else [plan.decisions[k].to_json(provenance=True) for k in sorted(plan.decisions)]
    )
    from cpi_link.core.money import fen_to_yuan_str

    manifest = {
        "run_id": run_id,
        "tool": "cpi-link",
        "tool_version": __version__,
        "created_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "index_month": month,
        "triggered": bool(primary.triggered) if primary is not None else any(d.triggered for d in plan.decisions.values()),
        "decision": decision_json,
        "scheme": {
            "name": rules.scheme,
            "title": rules.scheme_name,
            "path": rules.scheme_path,
            "sha256": rules.scheme_sha256,
            "version": rules.version,
            "overlays": list(rules.overlays),
            "documents": list(rules.documents),
            "verified": rules.verified,
        },
        "rules": {
            "method": rules.method, "rate": rules.rate, "rounding": rules.rounding,
            "minimum": str(rules.minimum), "multiplier": str(rules.multiplier),
            "categories": dict(rules.categories),
        },
        "inputs": [
            {"role": "roster", "path": str(roster_path.resolve()), "sha256": roster_sha, "rows": input_rows,
             **_roster_read(r.roster)},
            {"role": "standards", "path": str(Path(standards.path).resolve()), "sha256": standards.sha256,
             "rows": len(standards), "sample": bool(standards.sample)},
        ],
        "counts": {
            "input_rows": input_rows,
            "paid_rows": int(paid_rows),
            "rejected_rows": int(rej_table.num_rows),
            "persons": persons,
            "total_amount": fen_to_yuan_str(total_fen),
            "rejected_by_reason": by_reason,
        },
    }
    if extra_manifest:
        manifest.update(extra_manifest)
    tables = {
        "payments.parquet": (r.payments_path, r.payments_sha),
        "rejected.parquet": r.rejected_file or rej_table,
        "summary.parquet": encoding.summary_table(summary, encoding.file_metadata(run_id, month, rules.scheme, rules.version)),
    }
    dest = runfolder.write_run(dest, tables, manifest, inside=inside)
    by_cat = r.by_category
    return CalcResult(
        run_dir=dest, run_id=run_id, month=month, triggered=manifest["triggered"], decision=decision_json,
        input_rows=input_rows, paid_rows=int(paid_rows), persons=persons, total_fen=total_fen,
        rejected_by_reason=by_reason, by_category=by_cat, manifest=manifest, roster_sha256=roster_sha,
    )


def _roster_read(info: dict | None) -> dict:
    """What the manifest says of how the roster was read: format, sheet, the header's row."""
    if not info:
        return {}
    out = {"format": info["format"], "header_row": info["header_row"]}
    if info.get("sheet") is not None:
        out["sheet"] = info["sheet"]
    if info.get("hidden_rows"):  # rows hidden in Excel are read and paid: said, so a person can check them
        out["hidden_rows"] = info["hidden_rows"]
        out["hidden_paid_rows"] = info.get("hidden_paid_rows", 0)
    return out


def json_dumps(obj) -> str:
    import json

    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)

