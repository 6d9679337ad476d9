"""`cpi-link doctor`: check a home's state and, with --repair, restore what has a last good copy.

Checked: the series store (observations.parquet, revisions.parquet), the ledger (each month record
parses and every payment file it names is readable), and every run folder (manifest.json parses,
every output it lists exists with the sha256 it records). Leftover temp folders of killed runs are
noted, not problems: no run or record points at them.

Repair never overwrites silently: a damaged store file is renamed `NAME.damaged-STAMP` and the last
good copy `NAME.bak` (kept by every store write) is copied into place. Ledger records and run
folders have no automatic repair; each problem says what to do. Messages never hold resident IDs.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from cpi_link.core.i18n import N_, join, message
from cpi_link.core.paths import Home


@dataclass
class Problem:
    area: str  # store | ledger | run
    path: str
    problem: str
    repaired: str | None = None

    def as_dict(self) -> dict:
        return {"area": self.area, "path": self.path, "problem": self.problem, "repaired": self.repaired}


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: dict = field(default_factory=dict)
    leftovers: list[dict] = field(default_factory=list)  # temp and set-aside folders that may hold personal data

    @property
    def unrepaired(self) -> list[Problem]:
        return [p for p in self.problems if not p.repaired]

    def as_dict(self) -> dict:
        return {"ok": not self.unrepaired, "checked": self.checked, "problems": [p.as_dict() for p in self.problems],
                "notes": self.notes, "leftovers": self.leftovers}


def _parquet_ok(path: Path) -> str | None:
    import pyarrow.parquet as pq

    try:
        pq.read_table(path)
        return None
    except Exception as exc:
        return message(N_("not readable Parquet ({error})"), error=type(exc).__name__)


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def check(home: Home, repair: bool = False, anchor=None) -> Report:
    rep = Report()
    _check_links(home, rep)
    _check_store(home, rep, repair)
    _check_ledger(home, rep)
    _check_chain(home, rep, repair, anchor)
    _check_runs(home, rep)
    _check_leftovers(home, rep, repair)
    return rep


def _check_links(home: Home, rep: Report) -> None:
    from cpi_link.core.errors import StoreCorrupt
    from cpi_link.jobs.ledger import check_no_links

    try:
        check_no_links(home)
    except StoreCorrupt as exc:
        rep.problems.append(Problem("home", str(home.root), exc.message))


def _check_chain(home: Home, rep: Report, repair: bool, anchor=None) -> None:
    """The ledger's hash chain (jobs.ledger) and its second witness, the sealed run folders: deleted or
    edited records and payment files, a missing journal or ledger folder beside paid runs, a torn last
    line, entries the folders hold but the journal lacks, folders swapped or replaced. --repair rolls
    back a torn line, puts back entries the sealed folders prove, rebuilds deleted records and seals
    folders whose entry was written; it never makes a paid folder unpaid."""
    from cpi_link.jobs.ledger import Ledger
    from cpi_link.outputs.runfolder import run_folders

    led = Ledger(home, anchor=anchor)
    paid = [d for d, m in run_folders(home.runs_dir) if m.get("paid_by") == "run" or "ledger_seal" in m]
    if not led.dir.exists():
        if paid:
            rep.problems.append(Problem("ledger", str(led.dir), message(N_(
                "the ledger folder is missing, but {count} run folder(s) were paid by cpi-link run: restore "
                "ledger/ from a backup; run refuses to pay again"), count=len(paid))))
        return
    if not led.journal_path.exists() and paid:
        rep.problems.append(Problem("ledger", str(led.journal_path), message(N_(
            "the journal is missing, but {count} run folder(s) were paid by cpi-link run: restore ledger/ "
            "from a backup; run refuses to pay again"), count=len(paid))))
        return
    st = led.chain()
    if st.torn is not None:
        text = message(N_("the journal ends in a line cut short ({n} bytes: a full disk or a stop during an append); nothing "
                          "it began was completed"), n=len(st.torn[1]))
        if repair:
            st = led.roll_back_torn(st)
            rep.problems.append(Problem("ledger", str(led.journal_path), text, message(N_(
                "rolled back (the cut bytes are kept beside it as journal.torn-*)"))))
        else:
            rep.notes.append(join(text, message(N_("the next run or cpi-link doctor --repair rolls it back"))))
    if repair and not st.problems:
        st, restored = led.restore_from_seals(st)
        for seq in restored:
            rep.problems.append(Problem("ledger", str(led.journal_path), message(N_(
                "journal entry {seq} was missing (a journal restored from an older backup or cut)"), seq=seq), message(N_(
                "put back from the run folder sealed with it"))))
    if repair and not st.problems:
        for rel in sorted(st.payment_files):
            if not (led.dir / rel).exists():
                led._rebuild_payments(st, rel)
                if (led.dir / rel).exists():
                    rep.problems.append(Problem("ledger", str(led.dir / rel), message(N_(
                        "payment file named in the journal is missing (deleted?)")), message(N_(
                        "written again from its run folder (the file the journal proves)"))))
    rep.checked["journal_entries"] = len(st.entries)
    if st.legacy and not st.problems:
        rep.notes.append(message(N_("{path}: no journal yet (a ledger from before it): the next run starts the chain "
                                    "from the records as they are"), path=led.journal_path))
    problems, pending = led.verify(st)
    cross, unsealed = led.cross_check(st)
    if pending is not None:
        why = led.pending_unproven(st, pending)
        if why:
            problems.append((str(led.months_dir / f"{pending['key']}.json"), why))
        else:
            rep.notes.append(message(N_("ledger record {key} was written just before a stop; the next run completes its "
                                        "journal entry"), key=pending["key"]))
    recorded = set(st.run_ids)
    seen = {p.path for p in rep.problems}
    for path, text in problems:
        if path in seen and "payment file" in text:
            continue  # already named by _check_ledger
        prob = Problem("ledger", path, text)
        rep.problems.append(prob)
        if repair and "is missing, but the journal records it" in text:
            key = Path(path).stem
            done = led.rebuild_record(key)
            if done:
                prob.repaired = done
            else:
                prob.problem = join(prob.problem, message(N_("the journal cannot prove it (its payment files differ or are "
                                                                 "gone): restore it from a backup")))
    for path, text in cross:
        rep.problems.append(Problem("run", path, text))
    for path, text in led.store_problems(st):
        rep.problems.append(Problem("store", path, text))
    for rid in unsealed:
        e, info = st.runs[rid]
        if repair:
            led._seal(e, only=rid)
            rep.problems.append(Problem("run", str(led.folder(info["dir"])), message(N_(
                "not yet sealed with its journal entry {seq} (a stop between the two)"), seq=e["seq"]), message(N_("sealed"))))
        else:
            rep.notes.append(message(N_("{path}: not yet sealed with its journal entry {seq} (a stop between the two); the "
                                        "next run or cpi-link doctor --repair seals it"), path=led.folder(info["dir"]), seq=e["seq"]))
    for d, m in run_folders(home.runs_dir):
        if (m.get("paid_by") == "run" and m.get("run_id") not in recorded and not st.legacy and "ledger_seal" not in m
                and not (pending and m.get("run_id") in _pending_runs(pending))):
            rep.notes.append(message(N_("{path}: a run folder the ledger never recorded (a run stopped before its record): "
                                        "nothing in it was paid; the next run moves it aside"), path=d))


def _pending_runs(pending: dict) -> set:
    rec = pending["record"]
    return {rec.get("run_id")} | {s.get("run_id") for s in rec.get("supplements", [])}


def _check_store(home: Home, rep: Report, repair: bool) -> None:
    """Each store file against the store's own index (store.series.inspect_file, as every command
    opens it). --repair puts back a last good copy (.bak) only when the index records it (or, without
    an index, when it has the store's columns), keeping what stood there; it records in a new index
    the files of a store that has none, saying so."""
    from cpi_link.store.series import (INDEX_NAME, STORE_FILES, folder_problem, index_state, inspect_file, record_files,
                                       store_files_present)

    store = home.store_dir
    problem = folder_problem(store)
    if problem is not None:  # no file of it can be looked at, nor repaired from a .bak inside it
        rep.problems.append(Problem("store", str(store), problem))
        rep.checked["store_files"] = 0
        return
    index, index_problem = index_state(store)
    present = store_files_present(store)
    if index_problem is not None:
        rep.problems.append(Problem("store", str(store / INDEX_NAME), join(index_problem, message(N_(
            "cpi-link doctor --repair records the store files as they are in a new index, after you check the figures "
            "(cpi-link series)")) if not repair else index_problem)))
    n = 0
    to_record, unindexed = [], []
    for name in STORE_FILES:
        p = store / name
        table, problem, kind = inspect_file(store, name, index, present)
        n += os.path.lexists(p)
        if kind == "no_index":
            unindexed.append(name)
            if index_problem is not None:
                continue  # the index's own problem says it
        if problem is None:
            continue
        prob = Problem("store", str(p), problem)
        rep.problems.append(prob)
        if kind == "no_index":
            continue
        bak = p.with_name(name + ".bak")
        why = _bak_unusable(store, name, bak, index)
        if why is not None:
            prob.problem = join(prob.problem, why)
        elif repair:
            _restore(p, bak, f"{name}.damaged-{_stamp()}" if os.path.lexists(p) else None, prob)
            to_record.append(name)
        else:
            prob.problem = join(prob.problem, message(N_("cpi-link doctor --repair restores the last good copy {name}"), name=bak.name))
    if repair and (to_record or unindexed or index_problem is not None):
        if index_problem is not None:
            (store / INDEX_NAME).rename(store / f"{INDEX_NAME}.damaged-{_stamp()}")  # kept, never overwritten
        record_files(store, to_record + unindexed, fresh=index is None)
        done = message(N_("recorded in a new index.json as it is: check the figures (cpi-link series)"))
        for prob in rep.problems:
            if prob.area == "store" and prob.repaired is None and (Path(prob.path).name in unindexed or prob.path.endswith(INDEX_NAME)):
                prob.repaired = done
    rep.checked["store_files"] = n


def _bak_unusable(store: Path, name: str, bak: Path, index: dict | None):
    """Why the last good copy cannot be put back (None: it can)."""
    from cpi_link.core.atomic import sha256_file
    from cpi_link.store.series import STORE_FILES, accepted_sha256

    if not bak.is_file() or bak.is_symlink():
        return message(N_("no last good copy (.bak) to restore: re-import the figures (cpi-link fetch)"))
    try:
        import pyarrow.parquet as pq

        ok = pq.read_schema(bak).equals(STORE_FILES[name](), check_metadata=False)
    except Exception:
        ok = False
    if not ok:
        return message(N_("its last good copy {name} is damaged too: re-import the figures (cpi-link fetch)"), name=bak.name)
    if index is not None and sha256_file(bak) not in accepted_sha256(index, name):
        return message(N_("its last good copy {name} is not the file the store's index records either: re-import the figures "
                          "(cpi-link fetch)"), name=bak.name)
    return None


def _restore(p: Path, bak: Path, damaged_name: str | None, prob: Problem) -> None:
    from filelock import FileLock

    from cpi_link.core.atomic import atomic_path

    with FileLock(str(p.parent / ".store.lock"), timeout=60, mode=0o600):
        kept = None
        if damaged_name is not None:
            damaged = p.with_name(damaged_name)
            p.rename(damaged)  # kept for inspection, never overwritten (a folder in the file's place too)
            kept = message(N_("the damaged file is kept as {name}"), name=damaged.name)
        with atomic_path(p) as tmp:
            shutil.copy2(bak, tmp)
    done = message(N_("restored from {name}"), name=bak.name)
    prob.repaired = join(done, kept) if kept else done


def _check_ledger(home: Home, rep: Report) -> None:
    months = home.ledger_dir / "months"
    n = 0
    for rec_path in sorted(months.glob("*.json")) if months.exists() else []:
        n += 1
        try:
            rec = json.loads(rec_path.read_text(encoding="utf-8"))
            files = rec["payment_files"]
            assert isinstance(files, list) and all(k in rec for k in ("month", "run_id", "paid_rows", "total_fen"))
        except Exception:
            rep.problems.append(Problem("ledger", str(rec_path), message(N_(
                "damaged month record (not the JSON cpi-link writes); restore it from a backup: the run folder "
                "it names holds the payments"))))
            continue
        for rel in files:
            p = home.ledger_dir / rel
            err = message(N_("missing")) if not p.exists() else _parquet_ok(p)
            if err:
                rep.problems.append(Problem("ledger", str(p), message(N_(
                    "payment file of {record} is {error}; restore it from a backup or from payments.parquet of run "
                    "{run}"), record=rec_path.name, error=err, run=rec.get("run_id", "?"))))
        run_dir = rec.get("run_dir")
        if run_dir:
            rd = Path(run_dir) if Path(run_dir).is_absolute() else home.root / run_dir
            if not (rd / "manifest.json").exists():
                rep.problems.append(Problem("ledger", str(rec_path), message(N_("names run folder {path}, which has no manifest.json"), path=rd)))
    rep.checked["ledger_records"] = n


def _check_runs(home: Home, rep: Report) -> None:
    from cpi_link.core.atomic import sha256_file

    runs = home.runs_dir
    n = 0
    if not runs.exists():
        rep.checked["run_folders"] = 0
        return
    from cpi_link.outputs.runfolder import TEMP_PREFIXES

    for d in sorted(p for p in runs.rglob("*") if p.is_dir()):
        if any(part.startswith(TEMP_PREFIXES) for part in d.relative_to(runs).parts):
            continue  # a killed calc's working folder: _check_leftovers lists it
        m = d / "manifest.json"
        if not m.exists():
            continue
        n += 1
        try:
            manifest = json.loads(m.read_text(encoding="utf-8"))
            outputs = manifest["outputs"]
        except Exception:
            rep.problems.append(Problem("run", str(m), message(N_("damaged manifest.json"))))
            continue
        for name, meta in outputs.items():
            p = d / name
            if not p.exists():
                rep.problems.append(Problem("run", str(p), message(N_("listed in manifest.json but missing"))))
            elif sha256_file(p) != meta.get("sha256"):
                rep.problems.append(Problem("run", str(p), message(N_("sha256 differs from manifest.json: the file was changed after the run"))))
    rep.checked["run_folders"] = n


def _size(path: Path) -> int:
    n = 0
    for root, dirs, files in os.walk(path, followlinks=False):
        for f in files:
            try:
                n += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return n


def _human(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _check_leftovers(home: Home, rep: Report, repair: bool) -> None:
    """Temp folders a killed writer left anywhere under home (calc's temp and spill folders, the
    writers' private scratch folders, --redo/--topup work folders) and run folders set aside under
    unrecorded/: each may hold full IDs and accounts, so each is listed with its size (in JSON under
    "leftovers"). --repair removes the temp folders whose writer is no longer running (as the next
    writer there would, outputs.runfolder.clean_leftovers); set-aside folders are kept for inspection."""
    from cpi_link.outputs.runfolder import TEMP_PREFIXES, clean_leftovers

    root = home.root
    temps = []
    if root.is_dir():
        for dirpath, dirs, _files in os.walk(root, followlinks=False):
            found = [d for d in dirs if d.startswith(TEMP_PREFIXES)]
            temps += [Path(dirpath) / d for d in found]
            dirs[:] = [d for d in dirs if d not in found and not os.path.islink(os.path.join(dirpath, d))]
    removed = set()
    if repair:
        for parent in sorted({t.parent for t in temps}):
            removed.update(clean_leftovers(parent))
    items = []
    for t in sorted(temps):
        size = _size(t) if t not in removed else None
        item = {"path": str(t), "kind": "temp", "bytes": size, "removed": t in removed}
        items.append(item)
        if t in removed:
            rep.notes.append(message(N_("{path}: leftover temp folder of an interrupted run removed"), path=t))
        else:
            rep.notes.append(join(message(N_("{path}: leftover temp folder of an interrupted run (not a run; safe to delete)"), path=t),
                                  message(N_("{size}, may hold full IDs and accounts; cpi-link doctor --repair removes it once "
                                             "its writer has stopped"), size=_human(size))))
    aside = home.unrecorded_dir
    for d in sorted(p for p in aside.iterdir() if p.is_dir() and not p.is_symlink()) if aside.is_dir() else []:
        size = _size(d)
        items.append({"path": str(d), "kind": "set_aside", "bytes": size, "removed": False})
        rep.notes.append(message(N_("{path}: run folder set aside (never recorded as paid; its note {note} says why): {size}, "
                                    "holds full IDs and accounts; delete it when nobody needs to inspect it"),
                                 path=d, note=d.name + ".why.txt", size=_human(size)))
    rep.leftovers = items
