"""A run folder (SPEC 6): calc's Parquet files plus manifest.json, whole or not at all.

Under home: written into a private temp folder beside the destination and renamed into place.
With --out: written into a private temp folder inside --out and moved in file by file, manifest
last, so nothing outside --out is created or changed. Temp and spill folders carry the writer's pid
and are removed by the next start once that process is gone.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from pathlib import Path

from cpi_link.core.atomic import crashpoint, sha256_file
from cpi_link.core.errors import UsageError
from cpi_link.core.i18n import _
from cpi_link.core.paths import private_dir, temp_name

TEMP_PREFIXES = (".tmp-", ".spill-", ".first-pass-", ".work-")
_PID = re.compile(r"-p(\d+)(?:-|$)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_leftovers(folder: Path) -> list[Path]:
    """Remove temp and spill folders of writers that are no longer running (a kill leaves them)."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for p in entries:
        if not p.name.startswith(TEMP_PREFIXES) or not p.is_dir() or p.is_symlink():
            continue
        m = _PID.search(p.name)
        if m and int(m.group(1)) == os.getpid():
            continue  # this process's own, in use: the roster handle's work folder beside the run's
        if m and _alive(int(m.group(1))):
            continue  # a concurrent calc is still writing it
        if m is None and p.name.startswith(".tmp-"):
            legacy = p.name.rsplit("-", 1)[-1]  # older names ended in -PID
            if legacy.isdigit() and _alive(int(legacy)):
                continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


def prepare_out_dir(out: Path) -> Path:
    """--out must be a new or empty folder (a symlink to one is followed): a run never mixes with
    other files. Only --out itself (and missing parents, 0700) is created; nothing else is touched."""
    out = Path(out)
    if out.is_symlink():
        target = out.resolve()
        if not target.is_dir():
            raise UsageError(_("--out {path} is a symlink to {target}, which is not a folder; give a folder").format(path=out, target=target))
        out = target
    if out.exists():
        if not out.is_dir():
            raise UsageError(_("--out {path} exists and is not an empty folder; give a new folder").format(path=out))
        clean_leftovers(out)
        if any(out.iterdir()):
            raise UsageError(_("--out {path} exists and is not an empty folder; give a new folder").format(path=out))
    else:
        private_dir(out)
    return out


def run_folders(runs_dir: Path):
    """(folder, manifest) of every completed run folder under runs/MONTH/ (temp and set-aside ones skipped)."""
    runs_dir = Path(runs_dir)
    if not runs_dir.exists():
        return
    for month_dir in sorted(runs_dir.iterdir()):
        if month_dir.name.startswith(".") or not month_dir.is_dir():
            continue
        for d in sorted(month_dir.iterdir()):
            if d.name.startswith(".") or not (d / "manifest.json").is_file():
                continue
            try:
                yield d, json.loads((d / "manifest.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                yield d, {}


def move_aside(run_dir: Path, runs_dir: Path, why: str) -> Path:
    """Move an unrecorded run folder out of runs/MONTH/ into HOME/unrecorded/ beside runs/ (kept for
    inspection; outside any runs/** glob an analyst writes), under a name no clock can repeat, with a
    note (0600) saying why."""
    from cpi_link.core.atomic import unique_name, write_text

    aside = private_dir(Path(runs_dir).parent / "unrecorded")
    dest = unique_name(aside, f"{run_dir.parent.name}-{run_dir.name}")
    os.replace(run_dir, dest)
    write_text(dest.parent / f"{dest.name}.why.txt", why + "\n")
    return dest


def write_run(dest: Path, tables: dict, manifest: dict, inside: bool = False) -> Path:
    """Write tables and manifest.json into dest, whole or not at all. A table is a pyarrow Table,
    the path of a Parquet file already written (moved in), or (that path, a thread writing or
    hashing it whose result() is the file's sha256). inside: dest is --out (exists, empty).
    Returns the folder written: dest, or an existing folder with the same run and outputs."""
    import pyarrow.parquet as pq

    dest = Path(dest)
    if inside:
        tmp = dest / temp_name(".tmp-", "run")
    else:
        private_dir(dest.parent)
        tmp = dest.parent / temp_name(".tmp-", dest.name)
    if tmp.exists():
        shutil.rmtree(tmp)
    private_dir(tmp)
    try:
        from concurrent.futures import ThreadPoolExecutor

        hashes, rows = {}, {}
        # each file is hashed in a thread while the next is written (hashlib and Arrow release the GIL)
        with ThreadPoolExecutor(max_workers=2) as pool:
            for name, table in tables.items():
                path = tmp / name
                known_hash = None
                if isinstance(table, tuple):  # (path, pending): the file is whole and hashed when pending.result() returns
                    table, pending = table
                    pending.result()
                    known_hash = pending
                if isinstance(table, (str, os.PathLike)):  # already written (streamed) beside dest: move it in
                    os.replace(table, path)
                    rows[name] = pq.ParquetFile(path).metadata.num_rows
                else:
                    pq.write_table(table, path, compression="zstd")
                    rows[name] = table.num_rows
                os.chmod(path, 0o600)
                crashpoint(f"write_{name}")  # crash tests: killed after this output, before the rest
                hashes[name] = known_hash or pool.submit(sha256_file, path)
            hashes = {name: f.result() for name, f in hashes.items()}
        manifest = dict(manifest)
        manifest["outputs"] = {name: {"sha256": h, "rows": rows[name]} for name, h in hashes.items()}
        mpath = tmp / "manifest.json"
        mpath.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
        os.chmod(mpath, 0o600)
        for p in tmp.iterdir():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
        crashpoint("before_rename")
        if inside:
            for p in sorted(tmp.iterdir(), key=lambda p: p.name == "manifest.json"):  # manifest last: then it is whole
                os.replace(p, dest / p.name)
            tmp.rmdir()
            return dest
        return _place(tmp, dest, manifest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _same_run(folder: Path, manifest: dict) -> bool:
    try:
        old = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    # a paid folder is never adopted, nor a preview's adopted by run: each writes its own
    if old.get("paid_by") or manifest.get("paid_by") or "ledger_seal" in old:
        return False
    return old.get("run_id") == manifest.get("run_id") and old.get("outputs") == manifest.get("outputs")


def _place(tmp: Path, dest: Path, manifest: dict) -> Path:
    """Rename tmp to dest. The same run already there (same run id, same outputs: a rerun, a crashed
    run, a concurrent calc) is reused, never copied to dest.2; a different one gets the next free name."""
    k = 1
    while True:
        cand = dest if k == 1 else dest.with_name(f"{dest.name}.{k}")
        try:
            os.rename(tmp, cand)  # atomic; fails on a non-empty existing folder
            return cand
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                raise
        if _same_run(cand, manifest):
            shutil.rmtree(tmp, ignore_errors=True)
            return cand
        k += 1
