"""The ledger: which months are completed, and every (person, month, amount) paid.

Commit order for one month, so a crash at any point leaves it completed or untouched:
  1. the run folder appears whole (outputs.write_run renames a finished temp folder);
  2. the ledger's payment file for that run is written (atomic rename), not yet referenced;
  3. the month record ledger/months/MONTH.json is written (atomic rename): the commit point;
  4. an entry is appended to ledger/journal.jsonl naming the record's and payment files' sha256,
     chained by hash to the entry before it.
A month without a record is not done: the next run computes it again. A record written (3) whose
journal entry (4) is missing is completed by the next run when it was written against the current
head of the chain (its `chain_prev`) and its run folder proves it;
  5. the run folder's manifest is sealed with the entry (`ledger_seal`: its seq, hash and body).
Every payment so has two witnesses, the journal and the paid folder: a folder sealed by an entry
the journal lacks (a journal restored from an older backup, truncated or rewritten), an entry whose
folder is gone, swapped or holds other outputs, stops `run` (exit 2). A journal line cut short (a
full disk, a kill) is rolled back at the next start; its record is then completed as above. Everything else the journal names and the disk does not hold
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

from cpi_link.core.atomic import (append_whole, atomic_path, crashpoint, read_nofollow, sha256_bytes, sha256_file, unique_name,
                                  write_bytes, write_text)
from cpi_link.core.errors import LockHeld, StoreCorrupt, UsageError
from cpi_link.core.i18n import N_, _, message, shown
from cpi_link.core.months import now_utc as _now
from cpi_link.core.parquetmeta import columns_json, described, with_descriptions
from cpi_link.core.paths import Home, private_dir
from cpi_link.store.series import INDEX_NAME as STORE_INDEX

MONTH_KEY = re.compile(r"^\d{4}-\d{2}$")
RECORD_KEYS = ("month", "run_id", "payment_files", "paid_rows", "persons", "total_fen")
GENESIS = "0" * 64


class RunLock:
    """One run at a time per home: flock on the home folder itself, which a run never removes, so
    deleting a lock file cannot let a second run in; the OS frees it when the holder dies."""

    def __init__(self, home: Home):
        self.home = home
        self.info_path = home.root / "run.lock.json"

    def __enter__(self):
        import fcntl

        self.home.ensure()
        self._fd = os.open(self.home.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            holder = "unknown holder"
            try:
                h = json.loads(self.info_path.read_text())
                holder = f"pid {h['pid']} on {h['host']}, started {h['started']}"
            except Exception:
                pass
            raise LockHeld(f"another cpi-link run holds the lock {self.home.root} ({holder}); not starting") from None
        try:
            check_no_links(self.home)  # before the log or anything else is written under home
            write_text(self.info_path, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": _now()}))
        except BaseException:
            os.close(self._fd)
            raise
        return self

    def __exit__(self, *exc):
        try:
            self.info_path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)  # closing the descriptor releases the flock
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
    torn: tuple | None = None  # (byte offset, bytes) of a last line cut short by a full disk or a kill
    runs: dict | None = None  # run_id -> (entry, what the entry says of the run folder)


class Ledger:
    def __init__(self, home: Home, anchor: Path | None = None):
        self.home = home
        self.anchor = Path(anchor) if anchor is not None else None  # a copy of the chain's head kept outside home
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
        st = ChainState([], GENESIS, {}, {}, set(), False, [], None, {})
        if not self.journal_path.exists():
            st.legacy = True
            return st
        prev = GENESIS
        try:
            data = read_nofollow(self.journal_path)
        except OSError as exc:
            st.problems.append((str(self.journal_path), message(N_("journal not readable ({error})"), error=type(exc).__name__)))
            return st
        end = data.rfind(b"\n") + 1
        if end < len(data):  # every append ends in a newline: bytes after the last one are a write cut short
            st.torn = (end, data[end:])
        try:
            lines = data[:end].decode("utf-8").splitlines()
        except UnicodeDecodeError as exc:
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
            for rid, info in (e.get("runs") or {}).items():
                st.runs[rid] = (e, info)
        st.head = prev
        return st

    def roll_back_torn(self, st: ChainState) -> ChainState:
        """Cut a torn last line off the journal (kept beside it for inspection): the append it began never completed."""
        if st.torn is None:
            return st
        end, tail = st.torn
        keep = unique_name(self.dir, "journal.torn")
        write_bytes(keep, tail)
        fd = os.open(self.journal_path, os.O_WRONLY | os.O_NOFOLLOW)
        try:
            os.ftruncate(fd, end)
            os.fsync(fd)
        finally:
            os.close(fd)
        return self.chain()

    def _append(self, st: ChainState, entry: dict) -> ChainState:
        if st.torn is not None:
            st = self.roll_back_torn(st)
        entry = dict(entry, seq=len(st.entries) + 1, at=_now(), prev=st.head)
        # the series store had its own index (figures the office imported) when this was paid: a store
        # deleted whole later would otherwise leave the bundled figures to decide, unseen (store_problems)
        entry["store_indexed"] = os.path.lexists(self.home.store_dir / STORE_INDEX)
        entry["hash"] = entry_hash(entry)
        private_dir(self.dir)
        # key order kept (not sorted): a deleted record is rebuilt from its entry byte for byte
        line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        append_whole(self.journal_path, line)
        crashpoint("after_journal")
        st = self.chain()
        self._write_anchor(st)
        self._seal(entry)
        return st

    def _write_anchor(self, st: ChainState) -> None:
        if self.anchor is not None and st.entries:
            write_text(self.anchor, json.dumps({"seq": len(st.entries), "hash": st.head, "journal": str(self.journal_path)}) + "\n")

    def _seal(self, entry: dict, only: str | None = None) -> None:
        """Witness two: each run folder the entry records carries the entry (seq, hash, body) in its manifest."""
        for rid, info in (entry.get("runs") or {}).items():
            if only is not None and rid != only:
                continue
            m = self.folder(info["dir"]) / "manifest.json"
            try:
                man = json.loads(read_nofollow(m))
            except (OSError, ValueError):
                continue  # reported by cross_check
            if man.get("run_id") != rid:
                continue
            man["ledger_seal"] = {"seq": entry["seq"], "hash": entry["hash"], "entry": entry}
            write_text(m, json.dumps(man, ensure_ascii=False, indent=2, default=str) + "\n")
            crashpoint("after_seal")

    def folder(self, ref: str) -> Path:
        p = Path(ref)
        return p if p.is_absolute() else self.home.root / p

    def _rel(self, path) -> str:
        p = Path(path)
        try:
            return str(p.resolve().relative_to(self.home.root.resolve()))
        except ValueError:
            return str(p.resolve())

    def run_info(self, run_id: str, run_dir) -> dict:
        """What the journal says of a run folder: where, its month, its payments file's sha256 and its totals."""
        d = Path(run_dir)
        try:
            man = json.loads(read_nofollow(d / "manifest.json"))
        except (OSError, ValueError):
            man = {}
        counts = man.get("counts") or {}
        return {"dir": self._rel(d), "month": man.get("index_month"),
                "payments_sha256": ((man.get("outputs") or {}).get("payments.parquet") or {}).get("sha256"),
                "paid_rows": counts.get("paid_rows"), "persons": counts.get("persons"),
                "total_amount": counts.get("total_amount")}

    def start_chain(self, st: ChainState | None = None) -> ChainState:
        """Begin the journal: a legacy ledger's records as they are now (or nothing) start the chain."""
        st = st or self.chain()
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
        found = _hashes([self.dir / rel for rel in st.payment_files])
        for rel, sha in sorted(st.payment_files.items()):
            p = self.dir / rel
            if not p.exists():
                problems.append((str(p), message(N_("payment file named in the journal is missing (deleted?)"))))
            elif found[p] != sha:
                problems.append((str(p), message(N_("payment file differs from the one the journal proves (edited?)"))))
        return problems, pending

    def _raw(self, key: str):
        try:
            return json.loads((self.months_dir / f"{key}.json").read_text(encoding="utf-8"))
        except Exception:
            return None

    def check_or_refuse(self) -> ChainState:
        """Before paying: a damaged ledger, or one its paid folders disagree with, stops the job (exit 2);
        a torn journal line is rolled back, a record pending its entry completed, a missing seal written."""
        from cpi_link.outputs.runfolder import run_folders

        check_no_links(self.home)
        if not self.journal_path.exists():  # every run that wrote a paid_by folder wrote the journal first
            paid = [d for d, m in run_folders(self.home.runs_dir) if m.get("paid_by") == "run" or "ledger_seal" in m]
            if paid:
                msg = (_("the ledger folder {path} is missing, but {count} run folder(s) under {runs} were paid by cpi-link "
                         "run; not paying again: see cpi-link doctor") if not self.dir.exists() else
                       _("the ledger's journal {path} is missing, but {count} run folder(s) under {runs} were paid by "
                         "cpi-link run; not paying again: see cpi-link doctor"))
                raise StoreCorrupt(msg.format(path=self.dir if not self.dir.exists() else self.journal_path, count=len(paid),
                                              runs=self.home.runs_dir))
        st = self.chain()
        if st.torn is not None:
            import logging

            logging.getLogger("cpi_link.run").warning("journal %s ended in a torn line (%d bytes): rolled back",
                                                      self.journal_path, len(st.torn[1]))
            st = self.roll_back_torn(st)
        st = self.start_chain(st)
        problems, pending = self.verify(st)
        cross, unsealed = self.cross_check(st)
        problems += cross + self.store_problems(st)
        if pending is not None and not problems:
            why = self.pending_unproven(st, pending)
            if why:
                problems.append((str(self.months_dir / f"{pending['key']}.json"), why))
        if problems:
            _refuse(problems)
        _drop_stamp_cache(self.dir)
        if pending is not None:
            st = self._journal_record(st, pending["key"], pending["record"], pending["sha256"], "completed after a crash")
        for rid in unsealed:  # the entry was written, the seal not yet (a stop between the two)
            e, info = st.runs[rid]
            self._seal(e, only=rid)
        return st

    def cross_check(self, st: ChainState, hash_files: bool = True) -> tuple[list, list]:
        """The two witnesses compared: every run folder the journal records (where, which month and run,
        its payments file's sha256 and totals, the seal), and every paid or sealed folder under runs/
        against the journal (an entry it lacks: a journal restored from an older backup, cut or rewritten).
        Returns (problems as (path, text), run ids whose folders agree but are not sealed yet)."""
        from cpi_link.outputs.runfolder import run_folders

        problems, unsealed = [], []
        if st.problems:
            return problems, unsealed
        found = _hashes([self.folder(info["dir"]) / "payments.parquet" for _e, info in st.runs.values()]) if hash_files else {}
        for rid, (e, info) in st.runs.items():
            d = self.folder(info["dir"])
            try:
                man = json.loads(read_nofollow(d / "manifest.json"))
            except (OSError, ValueError):
                problems.append((str(d), message(N_("the run folder of journal entry {seq} ({month}) is missing or its manifest is "
                                                    "unreadable (deleted or moved?)"), seq=e["seq"], month=info.get("month"))))
                continue
            if man.get("run_id") != rid or man.get("index_month") != info.get("month"):
                problems.append((str(d), message(N_("holds run {found} of {found_month}, not run {run} of {month} that journal entry "
                                                    "{seq} records (folders swapped or replaced?)"),
                                                 found=man.get("run_id"), found_month=man.get("index_month"), run=rid,
                                                 month=info.get("month"), seq=e["seq"])))
                continue
            out = ((man.get("outputs") or {}).get("payments.parquet") or {}).get("sha256")
            counts = man.get("counts") or {}
            bad = out != info.get("payments_sha256") or any(
                counts.get(k) != info.get(k) for k in ("paid_rows", "persons", "total_amount"))
            if not bad and hash_files:
                bad = found[d / "payments.parquet"] != out
            if bad:
                problems.append((str(d), message(N_("its payments or totals differ from what journal entry {seq} records "
                                                    "(outputs replaced or edited?)"), seq=e["seq"])))
                continue
            seal = man.get("ledger_seal")
            if seal is None:
                unsealed.append(rid)
            elif seal.get("seq") != e["seq"] or seal.get("hash") != e["hash"]:
                problems.append((str(d), message(N_("sealed by journal entry {seal}, but the journal's entry {seq} for it differs "
                                                    "(journal rewritten?)"), seal=seal.get("seq"), seq=e["seq"])))
        n = len(st.entries)
        for d, man in run_folders(self.home.runs_dir):
            seal = man.get("ledger_seal")
            if not isinstance(seal, dict):
                continue
            seq, h = seal.get("seq"), seal.get("hash")
            if not isinstance(seq, int) or seq < 1 or seq > n:
                problems.append((str(d), message(N_("this paid folder is sealed by journal entry {seq}, but the journal holds {n} "
                                                    "entries: the journal was restored from an older backup, cut or emptied; "
                                                    "not paying again (cpi-link doctor --repair restores what the folders prove)"),
                                                 seq=seq, n=n)))
            elif st.entries[seq - 1]["hash"] != h:
                problems.append((str(d), message(N_("this paid folder is sealed by journal entry {seq}, which the journal now holds "
                                                    "otherwise (rewritten?)"), seq=seq)))
        problems += self.anchor_problems(st)
        return problems, unsealed

    def store_problems(self, st: ChainState) -> list:
        """A series store whose index is gone although the journal was written beside one: the store was
        deleted (or replaced) whole, and the figures the office imported with it are gone."""
        seqs = [e["seq"] for e in st.entries if e.get("store_indexed")]
        idx = self.home.store_dir / STORE_INDEX
        if st.problems or not seqs or os.path.lexists(idx):
            return []
        return [(str(idx), message(N_("the series store's index is missing, but journal entry {seq} was written beside it: "
                                      "the store was deleted or replaced, and the figures the office imported went with it; "
                                      "not deciding on the bundled figures: restore store/ from a backup, or import the "
                                      "figures again (cpi-link fetch)"), seq=max(seqs)))]

    def anchor_problems(self, st: ChainState) -> list:
        if self.anchor is None or not self.anchor.exists():
            return []
        try:
            a = json.loads(self.anchor.read_text(encoding="utf-8"))
            seq, h = int(a["seq"]), str(a["hash"])
        except (OSError, ValueError, KeyError, TypeError):
            return [(str(self.anchor), message(N_("the anchor file is not the one cpi-link writes")))]
        if seq > len(st.entries) or st.entries[seq - 1]["hash"] != h:
            return [(str(self.journal_path), message(N_("the journal does not hold the head kept in the anchor {anchor} (entry {seq}): "
                                                        "it was cut, rewritten or restored from an older backup"),
                                                     anchor=self.anchor, seq=seq))]
        return []

    def pending_unproven(self, st: ChainState, pending: dict) -> str | None:
        """Why a record written before a stop cannot be completed (None: its new run folder proves it)."""
        rec = pending["record"]
        runs = [(rec["run_id"], rec.get("run_dir"), rec)] + [(s["run_id"], s.get("run_dir"), s) for s in rec.get("supplements", [])]
        new = [(rid, d, part) for rid, d, part in runs if rid not in st.run_ids]
        if len(new) > 1:
            return message(N_("month record {key} names {n} runs the journal does not know (written outside cpi-link?)"),
                           key=pending["key"], n=len(new))
        for rid, d, part in new:
            folder = self.folder(d) if d else None
            try:
                man = json.loads(read_nofollow(folder / "manifest.json"))
                counts = man["counts"]
                ok = (man.get("run_id") == rid and man.get("index_month") == rec.get("month")
                      and counts.get("paid_rows") == part.get("paid_rows")
                      and counts.get("total_amount") == _yuan(part.get("total_fen"))
                      and sha256_file(folder / "payments.parquet") == man["outputs"]["payments.parquet"]["sha256"])
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                ok = False
            if not ok:
                return message(N_("month record {key} is not in the journal and no run folder proves it (written outside "
                                  "cpi-link?)"), key=pending["key"])
        return None

    def _journal_record(self, st: ChainState, key: str, rec: dict, rec_sha: str, note: str = "") -> ChainState:
        pays = {rel: sha256_file(self.dir / rel) for rel in rec["payment_files"]}
        runs = [(rec["run_id"], rec.get("run_dir"))] + [(s["run_id"], s.get("run_dir")) for s in rec.get("supplements", [])]
        new = {rid: self.run_info(rid, d) for rid, d in runs if rid not in st.run_ids and d}
        return self._append(st, {"event": "record", "key": key, "records": {key: rec_sha}, "record": rec,
                                 "payment_files": pays, "run_ids": [rid for rid, _d in runs], "runs": new, "note": note})

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
            if not f.exists():
                self._rebuild_payments(st, rel)
            if not f.exists() or sha256_file(f) != st.payment_files.get(rel):
                return None
        private_dir(self.months_dir)
        with atomic_path(p) as tmp:
            tmp.write_bytes(data)
        return message(N_("rebuilt from journal entry {seq} (its payment files match)"), seq=known["entry"]["seq"])

    def _rebuild_payments(self, st: ChainState, rel: str) -> None:
        """A ledger payment file written again from its run folder, kept only when it is the file the journal proves."""
        rid = Path(rel).stem
        if rid not in st.runs:
            return
        _e, info = st.runs[rid]
        d = self.folder(info["dir"])
        try:
            if sha256_file(d / "payments.parquet") != info.get("payments_sha256"):
                return
            key = Path(rel).parent.name
            got = self._write_payments(key, rid, d)
        except OSError:
            return
        if sha256_file(self.dir / got) != st.payment_files.get(rel):
            (self.dir / got).unlink(missing_ok=True)

    def restore_from_seals(self, st: ChainState) -> tuple[ChainState, list]:
        """doctor --repair: journal entries missing at its end (an older backup, a cut) put back from the run
        folders sealed with them, in order, each only when it chains onto the head and its hash holds."""
        from cpi_link.outputs.runfolder import run_folders

        if st.problems or st.torn is not None:
            return st, []
        sealed = {}
        for _d, man in run_folders(self.home.runs_dir):
            seal = man.get("ledger_seal")
            e = seal.get("entry") if isinstance(seal, dict) else None
            if isinstance(e, dict) and e.get("seq") == seal.get("seq") and e.get("hash") == seal.get("hash") == entry_hash(e):
                sealed[e["seq"]] = e
        done = []
        while (nxt := len(st.entries) + 1) in sealed and sealed[nxt].get("prev") == st.head:
            line = (json.dumps(sealed[nxt], ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
            private_dir(self.dir)
            append_whole(self.journal_path, line)
            st = self.chain()
            done.append(nxt)
        if done:
            self._write_anchor(st)
        return st, done

    # -- writing -------------------------------------------------------------------------------
    def _write_payments(self, key: str, run_id: str, run_dir: Path, table=None) -> str:
        import pyarrow.parquet as pq

        from cpi_link.calc import encoding

        for d in (self.dir, self.pay_dir, self.pay_dir / key):  # each level 0700, not only the last
            private_dir(d)
        # who was paid, how much, and under what (SPEC 6 ledger export: persons, per person, rate, standard, rules)
        cols = ["person_id", "name", "region_code", "category", "persons", "amount_per_person", "amount", "rate_pct",
                "standard", "index_month", "scheme", "version", "source_row", "run_id"]
        if table is None:
            src = Path(run_dir) / "payments.parquet"
            names = pq.read_schema(src).names
            table = pq.read_table(src, columns=[c for c in cols if c in names])
        t = with_descriptions(table.select([c for c in cols if c in table.schema.names]), encoding.COLUMNS,
                              encoding.PERSONAL)
        t = t.replace_schema_metadata(encoding.own_columns(t.schema.metadata, t.schema.names))
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
               roster_sheet: str | None = None, roster_sources: list | None = None) -> dict:
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
            # every file and sheet the month was paid from, with its sha256 (several read as one: SPEC 5.1)
            **({"roster_sources": roster_sources} if roster_sources is not None else {}),
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


def _yuan(fen) -> str | None:
    from cpi_link.core.money import fen_to_yuan_str

    return fen_to_yuan_str(int(fen)) if isinstance(fen, int) else None


def _hashes(paths: list[Path]) -> dict:
    """Each file's sha256 (None if unreadable), hashed whole every time, two at once (hashlib releases
    the GIL): a cache kept in home would be trusted against a writer of home (benchmarks/README.md)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(p):
        try:
            return sha256_file(p)
        except OSError:
            return None

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(paths, pool.map(one, paths)))


def _drop_stamp_cache(ledger_dir: Path) -> None:
    """Remove ledger/.verified.json, the stamp cache of an earlier version: it is never read."""
    try:
        (ledger_dir / ".verified.json").unlink()
    except OSError:
        pass  # absent, or not removable: unread either way


def _refuse(problems: list):
    path, text = problems[0]
    more = _(" (and {n} more)").format(n=len(problems) - 1) if len(problems) > 1 else ""
    raise StoreCorrupt(_("the ledger is damaged: {path}: {text}{more}; not paying until it is resolved: run "
                         "cpi-link doctor").format(path=path, text=shown(text), more=more))


def check_paid_folder(home: Home, run_dir: Path, manifest: dict) -> None:
    """report: a folder `run` paid is read only when the journal records it with these outputs (exit 2 otherwise)."""
    if manifest.get("paid_by") != "run" and "ledger_seal" not in manifest:
        return  # a trial or --out preview: not a payment, nothing to check against
    led = Ledger(home)
    st = led.chain()
    rid = manifest.get("run_id")
    if st.problems:
        _refuse(st.problems)
    if rid in st.runs:
        e, info = st.runs[rid]
        out = ((manifest.get("outputs") or {}).get("payments.parquet") or {}).get("sha256")
        counts = manifest.get("counts") or {}
        seal = manifest.get("ledger_seal")
        if (out != info.get("payments_sha256") or manifest.get("index_month") != info.get("month")
                or any(counts.get(k) != info.get(k) for k in ("paid_rows", "persons", "total_amount"))
                or (seal is not None and seal.get("hash") != e["hash"])):
            raise StoreCorrupt(_("{path}: this run folder's payments or totals differ from what the ledger's journal entry "
                                 "{seq} records for run {run} (replaced or edited?); not reporting it: run cpi-link "
                                 "doctor").format(path=run_dir, seq=e["seq"], run=rid))
        return
    if rid not in st.run_ids:
        raise StoreCorrupt(_("{path}: a run folder cpi-link run wrote, but the ledger does not record run {run} (the run "
                             "stopped before its record, or the ledger is damaged): nothing in it counts as paid; run "
                             "cpi-link doctor").format(path=run_dir, run=rid))


def check_no_links(home: Home) -> None:
    """Nothing under home is followed through a symlink: one found stops the job (exit 2) naming it."""
    root = home.root
    if not root.exists():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                raise StoreCorrupt(_("{path} is a symbolic link (to {target}); cpi-link follows no link inside its home: "
                                     "replace it with the folder or file itself").format(path=p, target=os.readlink(p)))


def export_table(ledger: Ledger):
    """Every paid row of every completed month, its supplements and top-ups: one table for analysts."""
def export_schema():
    """The columns of `ledger export` (SPEC 4.6, 6): who was paid, how much, and under what."""
    import pyarrow as pa

    from cpi_link.calc import encoding

    money = pa.decimal128(18, 2)
    schema = pa.schema([("index_month", pa.string()), ("run_id", pa.string()), ("kind", pa.string()),
                        ("person_id", pa.string()), ("name", pa.string()), ("region_code", pa.string()),
                        ("category", pa.string()), ("persons", pa.int64()), ("amount_per_person", money),
                        ("amount", money), ("rate_pct", pa.decimal128(7, 2)), ("standard", money),
                        ("scheme", pa.string()), ("version", pa.string()), ("paid_at", pa.string())])
    # each column described twice: as field metadata (pyarrow) and in the file's `columns` key (DuckDB, polars)
    return described(schema, encoding.COLUMNS, encoding.PERSONAL).with_metadata(
        {"cpi_link_export": "ledger", "schema_version": "2",
         "columns": columns_json(schema.names, encoding.COLUMNS, encoding.PERSONAL)})


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
                    if fld.name in const:  # one value repeated, not a list of n Python strings
                        cols.append(pa.repeat(pa.scalar(const[fld.name], fld.type), n))
                    elif fld.name in b.schema.names:
                        cols.append(b.column(fld.name).cast(fld.type))
                    else:  # a column this payment file never had
                        cols.append(pa.nulls(n, fld.type))
                yield pa.RecordBatch.from_arrays(cols, schema=schema)


def export_table(ledger: Ledger):
    """export_batches as one table (the web page's history: small ledgers)."""
    import pyarrow as pa

    return pa.Table.from_batches(list(export_batches(ledger)), schema=export_schema())


def paid_row(ledger: Ledger, month: str, run_id: str, person_id: str) -> dict | None:
    """One person's row as a completed month's run (or its supplement or top-up) paid it, in full:
    the resident ID and bank account the officer asked to see (the page's per-row 显示). None when
    that run paid nobody with that ID."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rec = ledger.record(month)
    if rec is None:
        return None
    runs = {rec["run_id"]: rec["run_dir"]} | {s["run_id"]: s.get("run_dir") for s in rec.get("supplements", [])}
    run_dir = runs.get(run_id)
    if not run_dir:
        return None
    f = pq.ParquetFile(Path(run_dir) / "payments.parquet")
    cols = [c for c in ("person_id", "name", "bank_account") if c in f.schema_arrow.names]
    t = f.read(columns=cols)
    t = t.filter(pc.equal(t.column("person_id"), person_id))
    if t.num_rows == 0:
        return None
    row = t.slice(0, 1).to_pylist()[0]
    return {"person_id": row["person_id"], "name": row.get("name"), "bank_account": row.get("bank_account")}
