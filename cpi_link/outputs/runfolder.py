"""A run folder (SPEC 6): calc's Parquet files plus manifest.json, whole or not at all.

Written into a private temp folder beside the destination and renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from cpi_link.core.atomic import crashpoint, sha256_file
from cpi_link.core.errors import UsageError
from cpi_link.core.paths import private_dir


def prepare_out_dir(out: Path) -> None:
    """--out must be a new or empty folder: a run never mixes with other files."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"--out {out} exists and is not an empty folder; give a new folder")


def write_run(dest: Path, tables: dict, manifest: dict) -> Path:
    """Write tables and manifest.json into dest, whole or not at all. A table is a pyarrow Table,
    the path of a Parquet file already written (moved in), or (that path, a thread writing or
    hashing it whose result() is the file's sha256)."""
    import pyarrow.parquet as pq

    dest = Path(dest)
    private_dir(dest.parent)
    tmp = dest.parent / f".tmp-{dest.name}-{os.getpid()}"
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
        if dest.exists():
            dest.rmdir()  # prepare_out_dir made sure it is empty
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
