"""One index month end to end: decide, stream the roster through calc, write the run folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from cpi_link.calc.month import MonthPlan, month_plan
from cpi_link.calc.stream import StreamResult
from cpi_link.jobs.runs import CalcResult, json_dumps  # noqa: F401 - CalcResult's old import path

if TYPE_CHECKING:
    import pandas as pd

    from cpi_link.calc.handle import RosterHandle


def calculate_month(
    month: str,
    roster: RosterHandle,
    scheme,
    store,
    standards,
    home,
    out_dir=None,
    progress: Callable[[int], None] | None = None,
    exclude_paid: Callable[[pd.DataFrame], np.ndarray] | None = None,
    extra_manifest: dict | None = None,
    run_tag: str = "",
) -> CalcResult:
    """Decide, compute and write one month's run folder. Raises before writing anything on bad input.

    roster: the command's roster (calc.handle.open_roster, opened before the rules loaded: its hash
    and first pass ran meanwhile). exclude_paid, when given, marks rows of people already paid for
    the month (supplements); they are rejected as `already_paid`.

    A run written for the ledger (extra_manifest paid_by = run) goes to HOME/runs/MONTH/ and says
    paid = true; any other without --out is a trial: HOME/trials/MONTH/, paid = false in its manifest
    and every Parquet file's metadata (a glob over runs/ counts only what the ledger paid).
    """
    from cpi_link.calc.stream import stream_month
    from cpi_link.core.atomic import crashpoint
    from cpi_link.jobs import runs

    plan, primary = month_plan(month, scheme, store, standards)

    def run_id() -> str:
        # run_tag tells apart runs of the same inputs that must not share a run id (supplements)
        return runs.run_id(month, [month, scheme.sha256, roster.sha256, standards.sha256,
                                   json_dumps(primary.to_json() if primary else None), run_tag]
                           + ([f"sheet={roster.sheet}"] if roster.sheet is not None else []))  # two sheets of one file: two runs

    plan.run_id_of = run_id
    plan.paid = paid = bool(extra_manifest and extra_manifest.get("paid_by") == "run")
    extra_manifest = dict(extra_manifest or {}, paid=paid)
    compute = primary is None or primary.triggered
    with runs.workspace(out_dir, (home.runs_dir if paid else home.trials_dir) / month, month) as ws:
        r = stream_month(roster, plan, compute, ws.spill, exclude_paid=exclude_paid, progress=progress)
        roster.check_unchanged()
        crashpoint("calc_after_read")  # crash tests: roster read, nothing written
        return _finish_month(r, plan, primary, roster_entry(roster, r), roster.sha256, standards, ws.dest(plan.run_id), compute,
                             extra_manifest, inside=ws.inside)


def _finish_month(r: StreamResult, plan: MonthPlan, primary, roster_input: dict, roster_sha: str, standards, dest,
                  compute: bool, extra_manifest: dict | None, inside: bool = False) -> CalcResult:
    """The manifest and the run folder, from stream_month's results (payments already written)."""
    from cpi_link.calc import encoding
    from cpi_link.jobs import runs

    month, rules, run_id = plan.month, plan.rules, plan.run_id
    run_counts = runs.counts(r, check=compute)
    decision_json = (
        primary.to_json(provenance=True) if primary is not None
        else [plan.decisions[k].to_json(provenance=True) for k in sorted(plan.decisions)]
    )
    triggered = bool(primary.triggered) if primary is not None else any(d.triggered for d in plan.decisions.values())
    sections = {
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
            # what the workbook's cover says was paid: a flat scheme's amounts, the funders' shares
            **({"amounts": {c: ({k: str(x) for k, x in v.items()} if isinstance(v, dict) else str(v))
                            for c, v in rules.amounts.items()}} if rules.method == "fixed" and rules.amounts else {}),
            **({"funding": {k: str(v) for k, v in rules.funding.items()}} if rules.funding else {}),
        },
        "inputs": [
            roster_input,
            {"role": "standards", "path": str(Path(standards.path).resolve()), "sha256": standards.sha256,
             "rows": len(standards), "sample": bool(standards.sample)},
        ],
    }
    manifest = runs.manifest(run_id, month, triggered, decision_json, sections, run_counts, extra=extra_manifest)
    tables = runs.stream_tables(r, encoding.file_metadata(run_id, month, rules.scheme, rules.version, paid=plan.paid))
    return runs.finish(dest, tables, manifest, inside, r.total_fen, r.by_category, roster_sha)


def roster_entry(handle: RosterHandle, r: StreamResult) -> dict:
    """The manifest's roster entry: its file, sha256 and rows, and how it was read; for several
    sources (SPEC 5.1) every file and sheet with its sha256, rows and header, and the sheets
    `--sheet all` skipped, with the reason."""
    entry = {"role": "roster"}
    if not handle.several:
        entry["path"] = str(handle.path.resolve())
    entry.update({"sha256": handle.sha256, "rows": r.input_rows})
    info = r.roster or {}
    if info.get("remark_check") is False:  # --no-remark-check or the scheme's remark_check = false
        entry["remark_check"] = False
    if info.get("warnings"):  # paid as given, worth a look: a household whose 保障人数 differs from its members
        entry["warnings"] = info["warnings"]
    if info.get("format") != "several":  # one source (`--sheet all` may have found one sheet among others)
        return {**entry, **_roster_read(info), **({"skipped_sheets": handle.skipped} if handle.skipped else {})}
    entry["sources"] = [{"path": str(Path(i["path"]).resolve()), "sheet": i.get("sheet"), "sha256": i["sha256"],
                         "rows": i["rows"], **_roster_read(i)} for i in info["sources"]]
    if info.get("skipped_sheets"):
        entry["skipped_sheets"] = info["skipped_sheets"]
    if info.get("hidden_rows"):
        entry["hidden_rows"] = info["hidden_rows"]
        entry["hidden_paid_rows"] = info.get("hidden_paid_rows", 0)
    return entry


def _roster_read(info: dict | None) -> dict:
    """What the manifest says of how the roster was read: format, sheet, the header's row."""
    if not info:
        return {}
    out = {"format": info["format"], "header_row": info["header_row"]}
    if info.get("header_end", info["header_row"]) > info["header_row"]:  # a header of two or three rows
        out["header_end"] = info["header_end"]
    if info.get("header_cells"):  # every header cell accounted for: the column it gives, or null (not used)
        out["header_cells"] = info["header_cells"]
    if info.get("tables"):  # later tables on the same sheet, each read by its own header
        out["tables"] = info["tables"]
    if info.get("sheet") is not None:
        out["sheet"] = info["sheet"]
    if info.get("hidden_rows"):  # rows hidden in Excel are read and paid: said, so a person can check them
        out["hidden_rows"] = info["hidden_rows"]
        out["hidden_paid_rows"] = info.get("hidden_paid_rows", 0)
    return out
