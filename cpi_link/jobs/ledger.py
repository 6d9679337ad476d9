"""The ledger: which months are completed, and every (person, month, amount) paid.

Commit order for one month, so a crash at any point leaves it completed or untouched:
  1. the run folder appears whole (outputs.write_run renames a finished temp folder);
  2. the ledger's payment file for that run is written (atomic rename), not yet referenced;
  3. the month record ledger/months/MONTH.json is written (atomic rename): the commit point;
  4. an entry is appended to ledger/journal.jsonl naming the record's and payment files' sha256,
     chained by hash to the entry before it.
A month without a record is not done: the next run computes it again. A record written (3) whose
journal entry (4) is missing is completed by the next run when it was written against the current
head of the chain (its `chain_prev`). Everything else the journal names and the disk does not hold
(a deleted record, an edited record or payment file, a missing journal) is a damaged ledger: `run`
stops (exit 2) and `cpi-link doctor` says what is wrong. A ledger from before the journal is
accepted as "legacy": its records as they are start the chain.
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from cpi_link.core.atomic import atomic_path, crashpoint, sha256_bytes, sha256_file, write_text
from cpi_link.core.errors import LockHeld, StoreCorrupt, UsageError
from cpi_link.core.i18n import N_, _, message, shown
from cpi_link.core.months import now_utc as _now
from cpi_link.core.paths import Home, private_dir

MONTH_KEY = re.compile(r"^\d{4}-\d{2}$")
RECORD_KEYS = ("month", "run_id", "payment_files", "paid_rows", "persons", "total_fen")
GENESIS = "0" * 64


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


def record_bytes(rec: dict) -> bytes:
    return (json.dumps(rec, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def entry_hash(entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return sha256_bytes(json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


@dataclass
class ChainState:
    """What the journal proves: each key's latest entry, every payment file and run it names."""

    entries: list
    head: str
    latest: dict  # key -> entry
    payment_files: dict  # rel -> sha256
    run_ids: set
    legacy: bool
    problems: list  # (path, problem) of the journal itself


class Ledger:
    def __init__(self, home: Home):
        self.home = home
        self.dir = home.ledger_dir
        self.months_dir = self.dir / "months"
        self.pay_dir = self.dir / "payments"
        self.journal_path = self.dir / "journal.jsonl"

    # -- reading -------------------------------------------------------------------------------
    def record(self, month: str, key: str | None = None) -> dict | None:
        p = self.months_dir / f"{key or month}.json"
        if not p.exists():
            return None
        try:
            rec = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise StoreCorrupt(_("ledger record {p} is damaged; restore it from a backup or its run folder (cpi-link doctor)").format(
                p=p)) from None
        if not isinstance(rec, dict) or any(k not in rec for k in RECORD_KEYS) or not isinstance(rec["payment_files"], list):
            raise StoreCorrupt(_("ledger record {p} is damaged (not the record cpi-link writes); the ledger is damaged, "
                                 "see cpi-link doctor").format(p=p))
        return rec

    def keys(self) -> list[str]:
        if not self.months_dir.exists():
            return []
        return sorted(p.stem for p in self.months_dir.glob("*.json"))

    def completed_months(self) -> list[str]:
        """Index months (YYYY-MM records; programmes have their own keys) with a completed run."""
        return [k for k in self.keys() if MONTH_KEY.match(k)]

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
                raise StoreCorrupt(_("ledger payment file {p} is missing or damaged (cpi-link doctor)").format(p=p)) from None
        return pd.Index(pd.concat(parts, ignore_index=True) if parts else [], dtype=object)

    def paid_fen(self, month: str, key: str | None = None) -> dict[str, int]:
        """Fen paid so far per resident ID for the month, over every payment file of its record."""
        import pyarrow.parquet as pq

        from cpi_link.core.money import fen_from_decimal128

        rec = self.record(month, key)
        out: dict[str, int] = {}
        for f in (rec or {}).get("payment_files", []):
            p = self.dir / f
            try:
                t = pq.read_table(p, columns=["person_id", "amount"])
            except Exception:
                raise StoreCorrupt(_("ledger payment file {p} is missing or damaged (cpi-link doctor)").format(p=p)) from None
            for pid, fen in zip(t.column("person_id").to_pylist(), fen_from_decimal128(t.column("amount"))):
                out[pid] = out.get(pid, 0) + int(fen)
        return out

    # -- the journal ---------------------------------------------------------------------------
    def chain(self) -> ChainState:
        st = ChainState([], GENESIS, {}, {}, set(), False, [])
        if not self.journal_path.exists():
            st.legacy = True
            return st
        prev = GENESIS
        try:
            lines = self.journal_path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            st.problems.append((str(self.journal_path), message(N_("journal not readable ({error})"), error=type(exc).__name__)))
            return st
        for n, line in enumerate(lines, 1):
            try:
                e = json.loads(line)
                ok = isinstance(e, dict) and e.get("prev") == prev and e.get("hash") == entry_hash(e)
            except json.JSONDecodeError:
                ok = False
            if not ok:
                st.problems.append((str(self.journal_path), message(N_(
                    "hash chain broken at line {line}: an entry was edited, removed or inserted"), line=n)))
                return st
            st.entries.append(e)
            prev = e["hash"]
            for key, rec_sha in (e.get("records") or {}).items():
                st.latest[key] = {"record_sha256": rec_sha, "entry": e, "record": (e.get("record") if e.get("key") == key else None)}
            st.payment_files.update(e.get("payment_files") or {})
            st.run_ids.update(e.get("run_ids") or [])
        st.head = prev
        return st

    def _append(self, st: ChainState, entry: dict) -> ChainState:
        entry = dict(entry, seq=len(st.entries) + 1, at=_now(), prev=st.head)
        entry["hash"] = entry_hash(entry)
        private_dir(self.dir)
        # key order kept (not sorted): a deleted record is rebuilt from its entry byte for byte
        line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return self.chain()

    def start_chain(self) -> ChainState:
        """Begin the journal: a legacy ledger's records as they are now (or nothing) start the chain."""
        st = self.chain()
        if not st.legacy:
            return st
        recs, pays, runs = {}, {}, []
        for k in self.keys():
            p = self.months_dir / f"{k}.json"
            rec = self.record(k)
            recs[k] = sha256_file(p)
            runs.append(rec["run_id"])
            for rel in rec["payment_files"]:
                if (self.dir / rel).exists():
                    pays[rel] = sha256_file(self.dir / rel)
        return self._append(st, {"event": "legacy" if recs else "start", "records": recs, "payment_files": pays,
                                 "run_ids": runs, "note": "legacy ledger: the chain starts here" if recs else ""})

    def verify(self, st: ChainState | None = None) -> tuple[list, dict | None]:
        """(problems as (path, text), a record pending its journal entry or None). Changes nothing."""
        st = st or self.chain()
        problems = list(st.problems)
        pending = None
        keys = set(self.keys())
        if st.legacy:
            if any("chain_prev" in (self._raw(k) or {}) for k in keys) or self.pay_dir.exists() and not keys:
                problems.append((str(self.journal_path), message(N_(
                    "the ledger's journal is missing (deleted?): records written with a journal cannot be checked "
                    "without it"))))
            return problems, None
        if st.problems:
            return problems, None
        for key in sorted(keys | set(st.latest)):
            p = self.months_dir / f"{key}.json"
            known = st.latest.get(key)
            if not p.exists():
                problems.append((str(p), message(N_(
                    "month record {key} is missing, but the journal records it as completed (deleted?); cpi-link "
                    "doctor --repair rebuilds it from the journal"), key=key)))
                continue
            sha = sha256_file(p)
            if known and known["record_sha256"] == sha:
                continue
            raw = self._raw(key)
            if pending is None and isinstance(raw, dict) and raw.get("chain_prev") == st.head:
                pending = {"key": key, "record": raw, "sha256": sha}  # written just before a crash: completed by run
                continue
            if known:
                problems.append((str(p), message(N_("month record {key} differs from the one the journal proves (edited?)"), key=key)))
            else:
                problems.append((str(p), message(N_("month record {key} is not in the journal (written outside cpi-link?)"), key=key)))
        for rel, sha in sorted(st.payment_files.items()):
            p = self.dir / rel
            if not p.exists():
                problems.append((str(p), message(N_("payment file named in the journal is missing (deleted?)"))))
            elif sha256_file(p) != sha:
                problems.append((str(p), message(N_("payment file differs from the one the journal proves (edited?)"))))
        return problems, pending

    def _raw(self, key: str):
        try:
            return json.loads((self.months_dir / f"{key}.json").read_text(encoding="utf-8"))
        except Exception:
            return None

    def check_or_refuse(self) -> ChainState:
        """Before paying: a damaged ledger stops the job (exit 2); a record pending its journal entry is completed."""
        from cpi_link.outputs.runfolder import run_folders

        if not self.journal_path.exists():  # every run that wrote a paid_by folder wrote the journal first
            paid = [d for d, m in run_folders(self.home.runs_dir) if m.get("paid_by") == "run"]
            if paid:
                msg = (_("the ledger folder {path} is missing, but {count} run folder(s) under {runs} were paid by cpi-link "
                         "run; not paying again: see cpi-link doctor") if not self.dir.exists() else
                       _("the ledger's journal {path} is missing, but {count} run folder(s) under {runs} were paid by "
                         "cpi-link run; not paying again: see cpi-link doctor"))
                raise StoreCorrupt(msg.format(path=self.dir if not self.dir.exists() else self.journal_path, count=len(paid),
                                              runs=self.home.runs_dir))
        st = self.start_chain()
        problems, pending = self.verify(st)
        if problems:
            path, text = problems[0]
            more = _(" (and {n} more)").format(n=len(problems) - 1) if len(problems) > 1 else ""
            raise StoreCorrupt(_("the ledger is damaged: {path}: {text}{more}; not paying until it is resolved: run "
                                 "cpi-link doctor").format(path=path, text=shown(text), more=more))
        if pending is not None:
            st = self._journal_record(st, pending["key"], pending["record"], pending["sha256"], "completed after a crash")
        return st

    def _journal_record(self, st: ChainState, key: str, rec: dict, rec_sha: str, note: str = "") -> ChainState:
        pays = {rel: sha256_file(self.dir / rel) for rel in rec["payment_files"]}
        runs = [rec["run_id"]] + [s["run_id"] for s in rec.get("supplements", [])]
        return self._append(st, {"event": "record", "key": key, "records": {key: rec_sha}, "record": rec,
                                 "payment_files": pays, "run_ids": runs, "note": note})

    def rebuild_record(self, key: str) -> str | None:
        """doctor --repair: write a missing record back from the journal when its payment files prove it."""
        st = self.chain()
        known = st.latest.get(key)
        p = self.months_dir / f"{key}.json"
        if p.exists() or not known or known.get("record") is None:
            return None
        rec = known["record"]
        data = record_bytes(rec)
        if sha256_bytes(data) != known["record_sha256"]:
            return None
        for rel in rec["payment_files"]:
            f = self.dir / rel
            if not f.exists() or sha256_file(f) != st.payment_files.get(rel):
                return None
        private_dir(self.months_dir)
        with atomic_path(p) as tmp:
            tmp.write_bytes(data)
        return message(N_("rebuilt from journal entry {seq} (its payment files match)"), seq=known["entry"]["seq"])

    # -- writing -------------------------------------------------------------------------------
    def _write_payments(self, key: str, run_id: str, run_dir: Path, table=None) -> str:
        import pyarrow.parquet as pq

        for d in (self.dir, self.pay_dir, self.pay_dir / key):  # each level 0700, not only the last
            private_dir(d)
        # who was paid, how much, and under what (SPEC 6 ledger export: persons, per person, rate, standard, rules)
        cols = ["person_id", "name", "region_code", "category", "persons", "amount_per_person", "amount", "rate_pct",
                "standard", "index_month", "scheme", "version", "source_row", "run_id"]
        if table is None:
            src = Path(run_dir) / "payments.parquet"
            names = pq.read_schema(src).names
            table = pq.read_table(src, columns=[c for c in cols if c in names])
        t = table.select([c for c in cols if c in table.schema.names])
        rel = f"payments/{key}/{run_id}.parquet"
        with atomic_path(self.dir / rel) as tmp:
            pq.write_table(t, tmp)
        return rel

    def _write_record(self, st: ChainState, key: str, rec: dict) -> ChainState:
        rec = dict(rec, chain_prev=st.head)
        private_dir(self.months_dir)
        data = record_bytes(rec)
        p = self.months_dir / f"{key}.json"
        with atomic_path(p) as tmp:
            tmp.write_bytes(data)
        crashpoint("after_record")
        return self._journal_record(st, key, rec, sha256_bytes(data))

    def commit(self, res, roster_sha256: str, key: str | None = None, redo_reason: str | None = None, kind: str = "month",
               roster_sheet: str | None = None) -> dict:
        """Record a finished run as the month's (or programme's) completed payment."""
        key = key or res.month
        st = self.start_chain()
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
            "roster_sheet": roster_sheet,  # two sheets of one workbook are two rosters
            "completed_at": _now(),
            "paid_rows": res.paid_rows,
            "persons": res.persons,
            "total_fen": res.total_fen,
            "decision": res.decision,
            "standards_sha256": next((i.get("sha256") for i in (res.manifest or {}).get("inputs", [])
                                      if isinstance(i, dict) and i.get("role") == "standards"), None),
            "payment_files": [rel],
            "supplements": [],
            "superseded": [],
        }
        old = self.record(res.month, key)
        if old is not None:
            if redo_reason is None:
                raise UsageError(f"{key} is already completed (run {old['run_id']}); use --redo {key} --reason TEXT to supersede it")
            rec["superseded"] = old.get("superseded", []) + [
                {k: old.get(k) for k in ("run_id", "run_dir", "completed_at", "paid_rows", "total_fen", "supplements")}
                | {"reason": redo_reason, "superseded_at": _now()}
            ]
        self._write_record(st, key, rec)
        return rec

    def add_supplement(self, key: str, res, roster_sha256: str, kind: str = "supplement", table=None, extra: dict | None = None,
                       update: dict | None = None) -> dict:
        st = self.start_chain()
        rec = self.record(res.month, key)
        rel = self._write_payments(key, res.run_id, res.run_dir, table=table)
        crashpoint("before_record")
        rec["payment_files"].append(rel)
        rec["supplements"].append(
            {"run_id": res.run_id, "run_dir": str(res.run_dir), "roster_sha256": roster_sha256, "completed_at": _now(),
             "paid_rows": res.paid_rows, "persons": res.persons, "total_fen": res.total_fen, "kind": kind,
             "payment_file": rel} | (extra or {})
        )
        rec["paid_rows"] += res.paid_rows
        rec["persons"] += res.persons
        rec["total_fen"] += res.total_fen
        rec.update(update or {})
        self._write_record(st, key, rec)
        return rec

    def update(self, key: str, fields: dict, note: dict | None = None) -> dict:
        """Change what a completed record says it was paid under (a redo or top-up that paid nothing), journaled."""
        st = self.start_chain()
        rec = self.record(key)
        rec.update(fields)
        if note is not None:
            rec["redone"] = rec.get("redone", []) + [note]
        self._write_record(st, key, rec)
        return rec


def export_schema():
    """The columns of `ledger export` (SPEC 4.6, 6): who was paid, how much, and under what."""
    import pyarrow as pa

    money = pa.decimal128(18, 2)
    return pa.schema([("index_month", pa.string()), ("run_id", pa.string()), ("kind", pa.string()),
                      ("person_id", pa.string()), ("name", pa.string()), ("region_code", pa.string()),
                      ("category", pa.string()), ("persons", pa.int64()), ("amount_per_person", money),
                      ("amount", money), ("rate_pct", pa.decimal128(7, 2)), ("standard", money),
                      ("scheme", pa.string()), ("version", pa.string()), ("paid_at", pa.string())],
                     metadata={"cpi_link_export": "ledger", "schema_version": "2"})


def export_batches(ledger: Ledger, batch_rows: int = 262_144):
    """Every paid row of every completed month, its supplements and top-ups, as record batches
    read from the ledger's payment files one batch at a time (export_schema): nothing holds the
    whole history. A damaged ledger is StoreCorrupt before the first batch."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    problems, _pending = ledger.verify()
    if problems:
        path, text = problems[0]
        raise StoreCorrupt(_("the ledger is damaged: {path}: {text}; not exporting: run cpi-link doctor").format(
            path=path, text=shown(text)))
    schema = export_schema()
    fields = [f.name for f in schema]
    for key in ledger.completed_months():
        rec = ledger.record(key)
        if rec.get("kind", "month") != "month":
            continue
        sups = {s["run_id"]: s for s in rec.get("supplements", [])}
        for rel in rec["payment_files"]:
            run_id = Path(rel).stem
            s = sups.get(run_id)
            kind = "month" if s is None else ("topup" if s.get("kind") == "topup" else "supplement")
            paid_at = rec["completed_at"] if s is None else s["completed_at"]
            f = pq.ParquetFile(ledger.dir / rel)
            have = set(f.schema_arrow.names)
            wanted = [c for c in fields if c in have]
            if not {"name", "region_code", "category"} <= have:  # a payment file from before: the run folder has them
                run_dir = Path(rec["run_dir"] if s is None else s["run_dir"])
                t = pq.read_table(ledger.dir / rel)
                full = pq.read_table(run_dir / "payments.parquet")
                extra = [c for c in fields if c in full.schema.names and c not in have and c != "source_row"]
                t = t.join(full.select(["source_row"] + extra), "source_row", join_type="left outer")
                batches = t.to_batches(batch_rows)
            else:
                batches = f.iter_batches(batch_rows, columns=wanted)
            for b in batches:
                n = b.num_rows
                const = {"index_month": rec["month"], "run_id": run_id, "kind": kind, "paid_at": paid_at}
                cols = []
                for fld in schema:
                    if fld.name in const:
                        cols.append(pa.array([const[fld.name]] * n, fld.type))
                    elif fld.name in b.schema.names:
                        cols.append(b.column(fld.name).cast(fld.type))
                    else:  # a column this payment file never had
                        cols.append(pa.nulls(n, fld.type))
                yield pa.RecordBatch.from_arrays(cols, schema=schema)


def export_table(ledger: Ledger):
    """export_batches as one table (the web page's history: small ledgers)."""
    import pyarrow as pa

    return pa.Table.from_batches(list(export_batches(ledger)), schema=export_schema())
