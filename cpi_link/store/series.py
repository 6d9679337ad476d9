"""The series store: monthly index observations with provenance, and every revision.

Two layers: the figures bundled in data/figures (read-only, so an empty home works offline) and
the home store (Parquet under HOME/store), which wins where both have a value. Values are the
published indices (上年同月=100) as exact decimals; YoY = value - 100.

The store is its own witness: `index.json` records each store file's sha256, size and rows, written
with every store write (the new file's record first as `pending`, then the file, then the record
made final, so a stop between them leaves either file accepted). Opening checks each file against
it: a folder or link in a file's place, a missing file the index records, another Parquet file (other
columns, or the store's columns with other content), a cut file, store files without an index: each
is StoreCorrupt (exit 2) naming the path and `cpi-link doctor`, never a silent fall-back to the
bundled figures.
"""

from __future__ import annotations

import csv
import json
import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

from cpi_link.core.atomic import sha256_file
from cpi_link.core.decimals import parse_decimal
from cpi_link.core.errors import StoreCorrupt
from cpi_link.core.i18n import N_, _, message, shown
from cpi_link.sources.observation import Observation, now_utc
from cpi_link.core.paths import Home, bundled_data_dir

INDICATORS = ("cpi", "food", "scpi")


@dataclass
class UpsertResult:
    added: int = 0
    revised: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict:
        return {"added": self.added, "revised": self.revised, "unchanged": self.unchanged}


# what each column of the store's files holds (field metadata and the files' `columns` key)
COLUMNS = {
    "region_code": "6-digit division code the figure is for (a province, city or county)",
    "indicator": "the index: cpi, food or scpi",
    "month": "the month the figure describes, YYYY-MM",
    "value": "the index, previous year's same month = 100",
    "source": "where the figure came from (nbs, nbs-legacy, file, bundled)",
    "source_ref": "the file, release or page the figure was read from",
    "fetched_at": "when the figure was stored, ISO UTC",
    "old_value": "the value before the revision", "new_value": "the value after it",
    "old_source": "where the old value came from", "old_source_ref": "its file, release or page",
    "new_source": "where the new value came from", "new_source_ref": "its file, release or page",
    "revised_at": "when the revision was stored, ISO UTC",
}


def _described(schema):
    from cpi_link.core.parquetmeta import columns_json, described

    return described(schema, COLUMNS).with_metadata({"columns": columns_json(schema.names, COLUMNS)})


def _obs_schema():
    import pyarrow as pa

    return _described(pa.schema(
        [
            ("region_code", pa.string()),
            ("indicator", pa.string()),
            ("month", pa.string()),
            ("value", pa.decimal128(7, 2)),
            ("source", pa.string()),
            ("source_ref", pa.string()),
            ("fetched_at", pa.string()),
        ]
    ))


def _rev_schema():
    import pyarrow as pa

    return _described(pa.schema(
        [
            ("region_code", pa.string()),
            ("indicator", pa.string()),
            ("month", pa.string()),
            ("old_value", pa.decimal128(7, 2)),
            ("new_value", pa.decimal128(7, 2)),
            ("old_source", pa.string()),
            ("old_source_ref", pa.string()),
            ("new_source", pa.string()),
            ("new_source_ref", pa.string()),
            ("revised_at", pa.string()),
        ]
    ))


def _releases_schema():
    import pyarrow as pa

    return pa.schema([(k, pa.string()) for k in ("region_code", "index_month", "published", "source", "source_ref",
                                                  "fetched_at")])


INDEX_NAME = "index.json"
STORE_FILES = {"observations.parquet": _obs_schema, "revisions.parquet": _rev_schema, "releases.parquet": _releases_schema}


def index_state(store_dir: Path) -> tuple[dict | None, object]:
    """(the store's own record of its files, or None: no index or a damaged one; the problem, or None)."""
    p = Path(store_dir) / INDEX_NAME
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return None, None
    bad = message(N_("the series store's index is damaged (not the file cpi-link writes): the store cannot prove its files"))
    if not stat.S_ISREG(st.st_mode):
        return None, bad
    try:
        idx = json.loads(p.read_bytes())
        for part in ("files", "pending"):
            for name, rec in idx.setdefault(part, {}).items():
                if name not in STORE_FILES or not isinstance(rec.get("sha256"), str) or not isinstance(rec.get("size"), int):
                    raise ValueError(name)
    except (OSError, ValueError, AttributeError, TypeError):
        return None, bad
    return idx, None


def folder_problem(store_dir: Path):
    """Something other than a folder where the store's folder should be (a file, a dangling link):
    the problem, else None. Its figures cannot be read, so nothing may decide without them."""
    d = Path(store_dir)
    if os.path.lexists(d) and not d.is_dir():
        return message(N_("not a folder: something else stands where the series store's folder should be, so the "
                          "figures imported into it cannot be read (never the bundled ones instead); move it aside, then "
                          "restore store/ from a backup or import the figures again (cpi-link fetch)"))
    return None


def check_folder(store_dir: Path) -> None:
    """StoreCorrupt (exit 2) naming the store's folder when it is not a folder (folder_problem)."""
    problem = folder_problem(store_dir)
    if problem is not None:
        raise StoreCorrupt(_("{path}: {problem}; not using the store: see cpi-link doctor").format(
            path=Path(store_dir), problem=shown(problem)))


def read_index(store_dir: Path) -> dict | None:
    """The store's own record of its files (None: no index, a new or a pre-index store); a damaged
    index, or a file in the store folder's place, is StoreCorrupt."""
    check_folder(store_dir)
    idx, problem = index_state(store_dir)
    if problem is not None:
        raise StoreCorrupt(_("{path}: {problem}; not using the store: see cpi-link doctor").format(
            path=Path(store_dir) / INDEX_NAME, problem=shown(problem)))
    return idx


def record_files(store_dir: Path, names, fresh: bool = False) -> None:
    """Record store files as they are now in the index (doctor --repair, after a restore or for a
    store without an index); `fresh`: start a new index (the old one is missing or damaged)."""
    from filelock import FileLock

    from cpi_link.core.atomic import write_text

    store_dir = Path(store_dir)
    with FileLock(str(store_dir / ".store.lock"), timeout=60, mode=0o600):
        index = {"files": {}, "pending": {}} if fresh else (read_index(store_dir) or {"files": {}, "pending": {}})
        index["format"] = 1
        for name in names:
            import pyarrow.parquet as pq

            path = store_dir / name
            index["files"][name] = file_fingerprint(path, pq.ParquetFile(path).metadata.num_rows)
            index["pending"].pop(name, None)
        write_text(store_dir / INDEX_NAME, json.dumps(index, indent=2, sort_keys=True) + "\n")


def file_fingerprint(path: Path, rows: int | None = None) -> dict:
    rec = {"sha256": sha256_file(path), "size": path.stat().st_size}
    if rows is not None:
        rec["rows"] = rows
    return rec


def accepted_sha256(index: dict, name: str) -> list[str]:
    return [r["sha256"] for r in (index["files"].get(name), index["pending"].get(name)) if r]


def inspect_file(store_dir: Path, name: str, index: dict | None, files_present: bool):
    """(table or None, problem or None, kind) for one store file against the index. kind: None (fine
    or absent), "missing", "not_file", "damaged", "schema", "differs", "unrecorded" or "no_index".
    `files_present`: some store file exists (so a missing index is a problem, not a new store)."""
    import pyarrow.parquet as pq

    path = Path(store_dir) / name
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if index is not None and name in index["files"]:
            return None, message(N_("missing, but the store's index records it (deleted?)")), "missing"
        if path.with_name(name + ".bak").exists():  # the file was lost, not never written
            return None, message(N_("missing, but its last good copy {name} exists"), name=name + ".bak"), "missing"
        return None, None, None
    if not stat.S_ISREG(st.st_mode):
        what = N_("a folder") if stat.S_ISDIR(st.st_mode) else N_("a link") if stat.S_ISLNK(st.st_mode) else N_("not a file")
        return None, message(N_("{what} stands where the store's file should be: the figures it held are not read (never "
                                "the bundled ones instead)"), what=message(what)), "not_file"
    try:
        t = pq.read_table(path)
    except Exception as exc:  # truncated or not Parquet at all
        return None, message(N_("damaged: {error}"), error=message(N_("not readable Parquet ({error})"), error=type(exc).__name__)), "damaged"
    if not t.schema.equals(STORE_FILES[name](), check_metadata=False):
        return None, message(N_("another Parquet file, not the store's (its columns are {columns})"),
                             columns=", ".join(t.schema.names) or "-"), "schema"
    if index is None:
        if files_present:
            return t, message(N_("the store has no index.json recording its files (deleted, or a store from before it): "
                                 "cpi-link doctor --repair records them as they are, after you check the figures "
                                 "(cpi-link series)")), "no_index"
        return t, None, None
    accepted = accepted_sha256(index, name)
    if not accepted:
        return None, message(N_("not recorded in the store's index.json (put there outside cpi-link?)")), "unrecorded"
    if sha256_file(path) not in accepted:
        return None, message(N_("differs from the store's own record in index.json (replaced or edited outside cpi-link?)")), "differs"
    return t, None, None


def store_files_present(store_dir: Path) -> bool:
    return any(os.path.lexists(Path(store_dir) / n) for n in STORE_FILES)


def load_bundled(data_dir: Path | None = None) -> dict[tuple[str, str, str], Observation]:
    """Read the bundled figures listed in data/figures/figures.toml."""
    base = (data_dir or bundled_data_dir()) / "figures"
    manifest = base / "figures.toml"
    out: dict[tuple[str, str, str], Observation] = {}
    if not manifest.exists():
        return out
    with open(manifest, "rb") as fh:
        meta = tomllib.load(fh)
    for entry in meta.get("file", []):
        path = base / entry["path"]
        ref = f"bundled:data/figures/{entry['path']} sha256:{sha256_file(path)}"
        with open(path, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                obs = Observation(
                    region_code=row["region_code"].strip(),
                    indicator=row["indicator"].strip(),
                    month=row["month"].strip(),
                    value=parse_decimal(row["value"]),
                    source="bundled",
                    # a file that gives each figure's own source (cpi_shanxi.csv) keeps it with the figure
                    source_ref=f"{row['source'].strip()} (bundled as {ref})" if (row.get("source") or "").strip() else ref,
                    fetched_at=entry["retrieved"],
                )
                out[obs.key] = obs
    return out


class SeriesStore:
    """Observations by (region, indicator, month); the home layer over the bundled layer."""

    def __init__(self, home: Home, data_dir: Path | None = None, use_bundled: bool = True):
        self.home = home
        self.dir = home.store_dir
        self.obs_path = self.dir / "observations.parquet"
        self.rev_path = self.dir / "revisions.parquet"
        self._bundled = load_bundled(data_dir) if use_bundled else {}
        self._home_obs = self._read_obs()

    # -- reading -------------------------------------------------------------------------------
    def _read_table(self, path: Path):
        """The store file's table (None: never written), checked against the store's index."""
        index = read_index(self.dir)
        t, problem, kind = inspect_file(self.dir, path.name, index, index is not None or store_files_present(self.dir))
        if problem is None:
            return t
        bak = path.with_name(path.name + ".bak")
        hint = (_("cpi-link doctor --repair restores its last good copy {name}").format(name=bak.name)
                if bak.is_file() and kind != "no_index" else _("see cpi-link doctor"))
        raise StoreCorrupt(_("series store file {path}: {problem}; not using the store: {hint}").format(
            path=path, problem=shown(problem), hint=hint))

    def _read_obs(self) -> dict[tuple[str, str, str], Observation]:
        t = self._read_table(self.obs_path)
        out: dict[tuple[str, str, str], Observation] = {}
        if t is None:
            return out
        for r in t.to_pylist():
            o = Observation(**r)
            out[o.key] = o
        return out

    def all(self) -> dict[tuple[str, str, str], Observation]:
        merged = dict(self._bundled)
        merged.update(self._home_obs)
        return merged

    def get(self, region_code: str, indicator: str, month: str) -> Observation | None:
        key = (region_code, indicator, month)
        return self._home_obs.get(key) or self._bundled.get(key)

    def observations(
        self,
        region: list[str] | str | None = None,
        indicator: list[str] | str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[Observation]:
        regions = {region} if isinstance(region, str) else set(region or [])
        inds = {indicator} if isinstance(indicator, str) else set(indicator or [])
        rows = [
            o
            for o in self.all().values()
            if (not regions or o.region_code in regions)
            and (not inds or o.indicator in inds)
            and (since is None or o.month >= since)
            and (until is None or o.month <= until)
        ]
        rows.sort(key=lambda o: (o.region_code, o.month, INDICATORS.index(o.indicator) if o.indicator in INDICATORS else 9))
        return rows

    def latest_month(self, region: str, indicators: list[str]) -> str | None:
        """The latest month for which every named indicator has a figure for the region."""
        months: set[str] | None = None
        for ind in indicators:
            ms = {o.month for o in self.all().values() if o.region_code == region and o.indicator == ind}
            months = ms if months is None else months & ms
        return max(months) if months else None

    def release_dates(self) -> dict[tuple[str, str], tuple]:
        """(region, index month) -> (publication date, source) the office imported with its figures
        (a figures file's `published` / `发布日期`); the bundled dates are the calendar's own."""
        from datetime import date

        t = self._read_table(self.dir / "releases.parquet")
        if t is None:
            return {}
        return {(r["region_code"], r["index_month"]): (date.fromisoformat(r["published"]), r["source_ref"] or r["source"])
                for r in t.to_pylist()}

    def upsert_releases(self, rows: list[dict]) -> int:
        """Keep each (region, index month)'s publication date with its source, like a figure: a
        new date replaces the old one. Rows: region_code, index_month, published (YYYY-MM-DD),
        source, source_ref. Returns how many were new or changed. Written whole or not at all."""
        import pyarrow as pa
        from filelock import FileLock

        if not rows:
            return 0
        path = self.dir / "releases.parquet"
        check_folder(self.dir)  # a file in its place: exit 2 naming it, not a failed mkdir
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with FileLock(str(self.dir / ".store.lock"), timeout=60, mode=0o600):
            t = self._read_table(path)
            current = {(r["region_code"], r["index_month"]): r for r in (t.to_pylist() if t is not None else [])}
            stamp = now_utc()
            n = 0
            for r in rows:
                key = (r["region_code"], r["index_month"])
                if key in current and current[key]["published"] == r["published"]:
                    continue
                current[key] = {**{k: r.get(k) for k in ("region_code", "index_month", "published", "source", "source_ref")},
                                "fetched_at": stamp}
                n += 1
            if n:
                self._replace(path, pa.Table.from_pylist([current[k] for k in sorted(current)], schema=_releases_schema()))
        return n

    def revisions(self) -> list[dict]:
        t = self._read_table(self.rev_path)
        return [] if t is None else t.to_pylist()

    # -- writing -------------------------------------------------------------------------------
    def upsert(self, observations: list[Observation]) -> UpsertResult:
        """Add or revise observations; a changed value keeps its revision. Written whole or not at all."""
        import pyarrow as pa
        from filelock import FileLock

        result = UpsertResult()
        check_folder(self.dir)  # a file in its place: exit 2 naming it, not a failed mkdir
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with FileLock(str(self.dir / ".store.lock"), timeout=60, mode=0o600):
            current = self._read_obs()  # re-read under the lock
            revisions = self.revisions()
            stamp = now_utc()
            changed = False
            for new in observations:
                old = current.get(new.key) or self._bundled.get(new.key)
                if old is None:
                    result.added += 1
                elif old.value == new.value:
                    result.unchanged += 1
                    if new.key in current:
                        continue  # keep the first provenance of an unchanged figure
                    # bundled figure confirmed by a real source: record it in the home layer
                else:
                    result.revised += 1
                    revisions.append(
                        {
                            "region_code": new.region_code,
                            "indicator": new.indicator,
                            "month": new.month,
                            "old_value": old.value,
                            "new_value": new.value,
                            "old_source": old.source,
                            "old_source_ref": old.source_ref,
                            "new_source": new.source,
                            "new_source_ref": new.source_ref,
                            "revised_at": stamp,
                        }
                    )
                current[new.key] = new
                changed = True
            if not changed:
                self._home_obs = current
                return result
            rows = sorted(current.values(), key=lambda o: o.key)
            obs_table = pa.Table.from_pylist([o.__dict__ for o in rows], schema=_obs_schema())
            rev_table = pa.Table.from_pylist(revisions, schema=_rev_schema())
            # Revisions first: a crash between the two renames leaves an extra revision, never a lost one.
            self._replace(self.rev_path, rev_table)
            self._replace(self.obs_path, obs_table)
            self._home_obs = current
        return result

    def _replace(self, path: Path, table) -> None:
        """Write a store file whole, and its record in the index: the record first as pending, so a stop
        at any point leaves the old or the new file, each accepted. Called under the store lock."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from cpi_link.core.atomic import sha256_bytes, write_bytes, write_text

        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        data = sink.getvalue().to_pybytes()
        rec = {"sha256": sha256_bytes(data), "size": len(data), "rows": table.num_rows}
        index = read_index(self.dir) or {"files": {}, "pending": {}}
        index["format"] = 1
        index["pending"][path.name] = rec
        write_text(self.dir / INDEX_NAME, json.dumps(index, indent=2, sort_keys=True) + "\n")
        write_bytes(path, data)
        # keep the last good copy for `doctor --repair`
        bak = path.with_name(path.name + ".bak")
        try:
            write_bytes(bak, data)
        except OSError:
            pass
        index["files"][path.name] = rec
        del index["pending"][path.name]
        write_text(self.dir / INDEX_NAME, json.dumps(index, indent=2, sort_keys=True) + "\n")
