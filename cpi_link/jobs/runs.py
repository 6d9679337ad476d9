"""The one home of a run folder's assembly (SPEC 6), for every kind of run: a month (calc, run), a
supplement, a programme (oneoff), a top-up or redo difference.

Each builds its run id (`run_id`), its destination and private spill folder (`Workspace`), its
counts with the input = paid + rejected invariant and the rejected rows by reason (`counts`), its
manifest with the created_at stamp (`manifest`), and writes the folder whole and returns its
CalcResult (`finish`) here; outputs.runfolder does the writing. A manifest field changes here.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from cpi_link.calc.stream import StreamResult


@dataclass
class CalcResult:
    """A written run folder, as the ledger, the CLI and the jobs read it."""

    run_dir: Path
    run_id: str
    month: str
    triggered: bool
    decision: dict | list
    input_rows: int
    paid_rows: int
    persons: int
    total_fen: int
    rejected_by_reason: dict
    by_category: list
    manifest: dict
    roster_sha256: str = ""  # hashed once, as the roster was read: the ledger records it


def run_id(prefix: str, parts) -> str:
    """PREFIX-<12 hex of the seed>: the same inputs give the same run id (a rerun is recognised)."""
    return f"{prefix}-{hashlib.sha256('|'.join(parts).encode()).hexdigest()[:12]}"


def json_dumps(obj) -> str:
    """A value as it goes into a run id's seed: stable across runs."""
    import json

    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)


class Workspace:
    """Where a run is written: `base` (the --out folder, or the folder of its runs under home) and a
    private spill folder inside it (same filesystem: the finished payments file is moved, not copied)."""

    def __init__(self, base: Path, spill: Path, out_dir: Path | None):
        self.base, self.spill, self.out_dir = base, spill, out_dir

    @property
    def inside(self) -> bool:
        """The run is written into --out itself (not a new folder beside others)."""
        return self.out_dir is not None

    def dest(self, rid: str) -> Path:
        """--out, or base/RUN_ID (the same run already there is reused, another gets .2: runfolder._place)."""
        return self.out_dir if self.out_dir is not None else self.base / rid


@contextmanager
def workspace(out_dir, home_base: Path, name: str) -> Iterator[Workspace]:
    """A run's Workspace: --out prepared (new or empty; temp and spill inside it, so nothing outside
    it changes) or home_base; a killed run's leftovers removed. On any error the --out folder made
    for this run goes too (bad input is "nothing written"); the spill folder always goes."""
    from cpi_link.core.paths import private_dir
    from cpi_link.outputs import runfolder

    made_out = out_dir is not None and not Path(out_dir).exists() and not Path(out_dir).is_symlink()
    if out_dir is not None:
        base = out_dir = runfolder.prepare_out_dir(Path(out_dir))
    else:
        base = Path(home_base)
    try:
        private_dir(base)
        runfolder.clean_leftovers(base)  # a killed run's temp and spill folders (its pid is gone)
        spill = Path(tempfile.mkdtemp(prefix=runfolder.temp_name(".spill-", name) + "-", dir=base))
        try:
            yield Workspace(base, spill, out_dir)
        finally:
            shutil.rmtree(spill, ignore_errors=True)
    except BaseException:
        if made_out:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise


def rejected_table(r: StreamResult):
    """Every rejected row of a stream (an empty table of the rejected schema when there are none)."""
    from cpi_link.calc import encoding

    return r.rejected if r.rejected is not None else encoding.rejected_schema().empty_table()


def by_reason(rejected) -> dict:
    """{reason: rows}, sorted by reason."""
    if not rejected.num_rows:
        return {}
    vc = rejected.column("reason").value_counts().to_pylist()
    return {str(x["values"]): int(x["counts"]) for x in sorted(vc, key=lambda x: str(x["values"]))}


def counts(r: StreamResult, check: bool = True) -> dict:
    """The manifest's counts of a streamed roster. check: every input row is paid or rejected
    (a month that was not computed, not triggered, pays and rejects nothing)."""
    from cpi_link.core.money import fen_to_yuan_str

    rej = rejected_table(r)
    if check and r.input_rows != r.paid_rows + rej.num_rows:
        raise AssertionError("accounting invariant broken: input_rows != paid_rows + rejected_rows")
    return {
        "input_rows": r.input_rows,
        "paid_rows": int(r.paid_rows),
        "rejected_rows": int(rej.num_rows),
        "persons": r.persons,
        "total_amount": fen_to_yuan_str(r.total_fen),
        "rejected_by_reason": by_reason(rej),
    }


def stream_tables(r: StreamResult, summary_metadata: dict, payments=None) -> dict:
    """The three Parquet outputs of a streamed roster (payments: a table in place of the streamed file)."""
    from cpi_link.calc import encoding

    return {
        "payments.parquet": payments if payments is not None else (r.payments_path, r.payments_sha),
        "rejected.parquet": r.rejected_file or encoding.with_run_columns(rejected_table(r), summary_metadata),
        "summary.parquet": encoding.summary_table(r.summary, summary_metadata),
    }


def manifest(rid: str, month: str, triggered: bool, decision, sections: dict, run_counts: dict,
             kind: str | None = None, extra: dict | None = None) -> dict:
    """manifest.json, its keys in SPEC 6's order (write_run adds `outputs`)."""
    from cpi_link import __version__
    from cpi_link.core.months import now_utc

    m: dict = {"run_id": rid}
    if kind is not None:
        m["kind"] = kind
    m |= {"tool": "cpi-link", "tool_version": __version__, "created_at": now_utc(), "index_month": month,
          "triggered": bool(triggered), "decision": decision}
    m |= sections
    m["counts"] = run_counts
    if extra:
        m.update(extra)
    return m


def finish(dest: Path, tables: dict, man: dict, inside: bool, total_fen: int, by_category: list,
           roster_sha256: str = "", input_rows: int | None = None) -> CalcResult:
    """Write the run folder whole (runfolder.write_run) and return what was written."""
    from cpi_link.outputs import runfolder

    dest = runfolder.write_run(dest, tables, man, inside=inside)
    c = man["counts"]
    return CalcResult(
        run_dir=dest, run_id=man["run_id"], month=man["index_month"], triggered=man["triggered"],
        decision=man["decision"], input_rows=c["input_rows"] if input_rows is None else input_rows,
        paid_rows=c["paid_rows"], persons=c["persons"], total_fen=total_fen,
        rejected_by_reason=c["rejected_by_reason"], by_category=by_category, manifest=man,
        roster_sha256=roster_sha256,
    )
