"""The ledger: which months are completed, and every (person, month, amount) paid.

Commit order for one month, so a crash at any point leaves it completed or untouched:
  1. the run folder appears whole (outputs.write_run renames a finished temp folder);
  2. the ledger's payment file for that run is written (atomic rename), not yet referenced;
  3. the month record ledger/months/MONTH.json is written (atomic rename): the commit point.
A month without a record is not done: the next run computes it again. Payment files that no
record references are leftovers of a crash and are ignored.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

from cpi_link.core.atomic import atomic_path, crashpoint, write_text
from cpi_link.core.errors import LockHeld, StoreCorrupt, UsageError
from cpi_link.core.paths import Home, private_dir


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class RunLock:
    """One run at a time per home. flock-based (filelock), so a killed holder's lock is freed by the OS."""

    def __init__(self, home: Home):
        self.home = home
        self.info_path = home.root / "run.lock.json"

    def __enter__(self):
        from filelock import FileLock, Timeout

        self.home.ensure()
        self._lock = FileLock(str(self.home.lock_path), timeout=0)
        try:
            self._lock.acquire()
        except Timeout:
            holder = "unknown holder"
            try:
                h = json.loads(self.info_path.read_text())
                holder = f"pid {h['pid']} on {h['host']}, started {h['started']}"
            except Exception:
                pass
            raise LockHeld(f"another cpi-link run holds the lock {self.home.lock_path} ({holder}); not starting") from None
        write_text(self.info_path, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": _now()}))
        return self

    def __exit__(self, *exc):
        self.info_path.unlink(missing_ok=True)
        self._lock.release()
        return False


class Ledger:
    def __init__(self, home: Home):
        self.home = home
        self.dir = home.ledger_dir
        self.months_dir = self.dir / "months"
        self.pay_dir = self.dir / "payments"

    # -- reading -------------------------------------------------------------------------------
    def record(self, month: str, key: str | None = None) -> dict | None:
        p = self.months_dir / f"{key or month}.json"
        if not p.exists():
            return None
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise StoreCorrupt(f"ledger record {p} is damaged; restore it from a backup or its run folder (cpi-link doctor)") from None

    def completed_months(self) -> list[str]:
        if not self.months_dir.exists():
            return []
        return sorted(p.stem for p in self.months_dir.glob("*.json"))

    def paid_ids(self, month: str, key: str | None = None):
        """Resident IDs already paid for the month (or programme key), as a pandas Index."""
        import pandas as pd
        import pyarrow.parquet as pq

        rec = self.record(month, key)
        if rec is None:
            return pd.Index([], dtype=object)
        parts = []
        for f in rec.get("payment_files", []):
            p = self.dir / f
            try:
                parts.append(pq.read_table(p, columns=["person_id"]).column(0).to_pandas())
            except Exception:
                raise StoreCorrupt(f"ledger payment file {p} is missing or damaged (cpi-link doctor)") from None
        return pd.Index(pd.concat(parts, ignore_index=True) if parts else [], dtype=object)

    # -- writing -------------------------------------------------------------------------------
    def _write_payments(self, key: str, run_id: str, run_dir: Path) -> str:
        import pyarrow.parquet as pq

        for d in (self.dir, self.pay_dir, self.pay_dir / key):  # each level 0700, not only the last
            private_dir(d)
        t = pq.read_table(Path(run_dir) / "payments.parquet", columns=["person_id", "amount", "source_row", "run_id"])
        rel = f"payments/{key}/{run_id}.parquet"
        with atomic_path(self.dir / rel) as tmp:
            pq.write_table(t, tmp)
        return rel

    def _write_record(self, key: str, rec: dict) -> None:
        private_dir(self.months_dir)
        write_text(self.months_dir / f"{key}.json", json.dumps(rec, ensure_ascii=False, indent=2) + "\n")

    def commit(self, res, roster_sha256: str, key: str | None = None, redo_reason: str | None = None, kind: str = "month") -> dict:
        """Record a finished run as the month's (or programme's) completed payment."""
        key = key or res.month
        crashpoint("before_ledger")
        rel = self._write_payments(key, res.run_id, res.run_dir)
        crashpoint("before_record")
        rec = {
            "month": res.month,
            "kind": kind,
            "status": "paid" if res.triggered else "not_triggered",
            "run_id": res.run_id,
            "run_dir": str(res.run_dir),
            "roster_sha256": roster_sha256,
            "completed_at": _now(),
            "paid_rows": res.paid_rows,
            "persons": res.persons,
            "total_fen": res.total_fen,
            "payment_files": [rel],
            "supplements": [],
            "superseded": [],
        }
        old = self.record(res.month, key)
        if old is not None:
            if redo_reason is None:
                raise UsageError(f"{key} is already completed (run {old['run_id']}); use --redo {key} --reason TEXT to supersede it")
            rec["superseded"] = old.get("superseded", []) + [
                {k: old[k] for k in ("run_id", "run_dir", "completed_at", "paid_rows", "total_fen", "supplements")}
                | {"reason": redo_reason, "superseded_at": _now()}
            ]
        self._write_record(key, rec)
        crashpoint("after_record")
        return rec

    def add_supplement(self, key: str, res, roster_sha256: str) -> dict:
        rec = self.record(res.month, key)
        rel = self._write_payments(key, res.run_id, res.run_dir)
        crashpoint("before_record")
        rec["payment_files"].append(rel)
        rec["supplements"].append(
            {"run_id": res.run_id, "run_dir": str(res.run_dir), "roster_sha256": roster_sha256, "completed_at": _now(),
             "paid_rows": res.paid_rows, "persons": res.persons, "total_fen": res.total_fen}
        )
        rec["paid_rows"] += res.paid_rows
        rec["persons"] += res.persons
        rec["total_fen"] += res.total_fen
        self._write_record(key, rec)
        return rec
