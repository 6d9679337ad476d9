"""One index month end to end: decide, stream the roster through calc, write the run folder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from cpi_link.calc.batch import MonthPlan
from cpi_link.calc.firstpass import BATCH_ROWS, file_state

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
    roster_path,
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
    first_pass=None,
    sheet=None,
) -> CalcResult:
    """Decide, compute and write one month's run folder. Raises before writing anything on bad input.

    exclude_paid, when given, marks rows of people already paid for the month (supplements); they
    are rejected as `already_paid`. first_pass: see stream_month (the caller closes it).
    sheet: the worksheet of a spreadsheet roster (--sheet NAME|N; default: see core.sheets).
    """
    import hashlib
    from pathlib import Path

    from cpi_link.outputs import runfolder
    from cpi_link.core.atomic import sha256_file
    from cpi_link.core.threads import in_thread
    from cpi_link.calc.stream import stream_month
    from cpi_link.rules.trigger import decide

    rules = scheme.rules_for(month)
    decisions: dict[str, object] = {}

    def decision_for(region: str):
        if region not in decisions:
            decisions[region] = decide(scheme, month, store, region=region)
        return decisions[region]

    primary = None
    if rules.index_region != "prefecture":
        primary = decision_for(rules.index_region)  # MissingFigures (exit 3) before any output

    roster_path = Path(roster_path)
    from cpi_link.roster.read import check_path

    check_path(roster_path)  # a folder or unreadable file is exit 2, before hashing
    # the roster is read up to three times (hash, first pass, second pass): all must see one file
    early = first_pass is not None and first_pass.matches(roster_path, batch_rows)
    seen = first_pass.file_state if early else file_state(roster_path)
    # the roster's hash (part of the run id) is computed beside the first batches (hashlib
    # releases the GIL): the run id is first needed when the first payments are written.
    # An early first pass started it already.
    roster_sha = first_pass.roster_sha if early else in_thread(sha256_file, roster_path)

    def run_id() -> str:
        # run_tag tells apart runs of the same inputs that must not share a run id (supplements)
        seed = "|".join([month, scheme.sha256, roster_sha.result(), standards.sha256,
                         json_dumps(primary.to_json() if primary else None), run_tag]
                        + ([f"sheet={sheet}"] if sheet is not None else []))  # two sheets of one file: two runs
        return f"{month}-{hashlib.sha256(seed.encode()).hexdigest()[:12]}"

    plan = MonthPlan(month=month, rules=rules, decision_for=decision_for, standards=standards, run_id_of=run_id)

    if out_dir is not None:
        base = Path(out_dir).parent
        runfolder.prepare_out_dir(Path(out_dir))
    else:
        base = home.runs_dir / month

    import shutil
    import tempfile

    from cpi_link.core.paths import private_dir

    compute = primary is None or primary.triggered
    # payable rows and duplicate keys spill into a private folder beside the destination (same
    # filesystem: the finished payments file is moved, not copied, into the run's temp folder)
    private_dir(base)
    spill_dir = Path(tempfile.mkdtemp(prefix=f".spill-{month}-", dir=base))
    try:
        r = stream_month(roster_path, plan, compute, spill_dir, batch_rows, exclude_paid=exclude_paid, progress=progress,
                         first_pass=first_pass, sheet=sheet)
        if file_state(roster_path) != seen:
            from cpi_link.core.errors import InputError

            raise InputError(f"{roster_path}: the file changed while it was being read; nothing was written, run again")
        from cpi_link.core.atomic import crashpoint; crashpoint("calc_after_read")  # noqa: E702 crash tests: roster read, nothing written
        if out_dir is not None:
            dest = Path(out_dir)
        else:
            dest, k = base / plan.run_id, 1
            while dest.exists():
                k += 1
                dest = base / f"{plan.run_id}.{k}"
        return _finish_month(r, plan, primary, decisions, roster_path, roster_sha.result(), standards, dest, compute,
                             extra_manifest)
    finally:
        shutil.rmtree(spill_dir, ignore_errors=True)



def _finish_month(r: dict, plan: MonthPlan, primary, decisions: dict, roster_path, roster_sha: str, standards, dest,
                  compute: bool, extra_manifest: dict | None) -> "CalcResult":
    """The manifest and the run folder, from stream_month's results (payments already written)."""
    from datetime import datetime, timezone
    from pathlib import Path

    from cpi_link import __version__
    from cpi_link.calc import encoding
    from cpi_link.outputs import runfolder

    month, rules, run_id = plan.month, plan.rules, plan.run_id
    input_rows = r["input_rows"]
    rej_schema = encoding.rejected_schema()
    rej_table = r["rejected"] if r["rejected"] is not None else rej_schema.empty_table()  # (written by stream_month)
    paid_rows = r["paid_rows"]
    summary = r["summary"]
    total_fen = r["total_fen"]
    persons = r["persons"]
    by_reason = {}
    if rej_table.num_rows:
        vc = rej_table.column("reason").value_counts()
        by_reason = {str(x["values"]): int(x["counts"]) for x in sorted(vc.to_pylist(), key=lambda x: str(x["values"]))}
    if compute and input_rows != paid_rows + rej_table.num_rows:
        raise AssertionError("accounting invariant broken: input_rows != paid_rows + rejected_rows")

    decision_json = (
        primary.to_json(provenance=True) if primary is not None
        else [decisions[k].to_json(provenance=True) for k in sorted(decisions)]
    )
    from cpi_link.core.money import fen_to_yuan_str

    manifest = {
        "run_id": run_id,
        "tool": "cpi-link",
        "tool_version": __version__,
        "created_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "index_month": month,
        "triggered": bool(primary.triggered) if primary is not None else any(d.triggered for d in decisions.values()),
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
             **_roster_read(r.get("roster"))},
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
        "payments.parquet": (r["payments_path"], r["payments_sha"]),
        "rejected.parquet": r["rejected_file"] or rej_table,
        "summary.parquet": encoding.summary_table(summary),
    }
    runfolder.write_run(dest, tables, manifest)
    by_cat = r["by_category"]
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

