"""The roster as the engine holds it for one command: `open_roster` is the one way calc, validate,
run, oneoff, simulate, supplements and the page open a roster, of one file or several.

A roster may come from several sources (`--roster` given more than once, `--sheet all`: every
visible sheet of a workbook that looks like a roster): they are read as ONE roster, in the order
given, their data rows numbered on from one source to the next (source_row), so that the dedup
pays one person once across them; `RosterHandle.reader()` gives one reader for them all
(`SeveralRosters`), which says for each data row its file, sheet and row there.

A RosterHandle is opened once per command, before the rules load. At once, in threads:
- the file is hashed (once per command: every month and run of the command shares the hash), a
  CSV's line breaks counted as it is hashed (file_row without a second read);
- with `early` (the default), a spreadsheet's sheet is parsed and calc's first pass
  (firstpass.FirstPass) starts, so both overlap the loading of the scheme, figures and standards.
stream.stream_month takes the handle and nothing else: the early first pass and parsed sheet serve
the first month streamed; later months start their own first pass.
"""

from __future__ import annotations

import os
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from cpi_link.calc import firstpass
from cpi_link.calc.firstpass import BATCH_ROWS, FirstPass, file_state, open_early

if TYPE_CHECKING:
    import numpy as np


def _maybe_csv(path: Path) -> bool:
    """Not Parquet nor a spreadsheet by its name and first bytes (a wrong guess costs one count)."""
    if path.suffix.lower() in (".parquet", ".xlsx", ".xlsm", ".xls", ".ods"):
        return False
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError:
        return False
    return magic not in (b"PAR1", b"PK\x03\x04", b"\xd0\xcf\x11\xe0")


def _first_of(fut: Future) -> Future:
    """A Future of fut's result's first item."""
    out: Future = Future()

    def done(f):
        if f.exception() is not None:
            out.set_exception(f.exception())
        else:
            out.set_result(f.result()[0])

    fut.add_done_callback(done)
    return out


class _Source:
    """One file (and sheet) of a roster: checked, hashed, and (early) parsed from now."""

    def __init__(self, path, sheet, early: bool, hashes: dict, parsed=None):
        from cpi_link.core.atomic import sha256_and_line_breaks, sha256_file
        from cpi_link.core.threads import in_thread
        from cpi_link.roster.read import check_path, open_roster as read_roster

        # a spreadsheet's parse starts first of all, before the imports below (numpy, pyarrow);
        # parsed: the core.sheets.Sheet `--sheet all` already parsed to see its header
        parsing = (_ready(parsed) if parsed is not None else open_early(path, sheet)) if early else None
        self.path = check_path(path)  # a folder or unreadable file is exit 2, before hashing
        self.state = file_state(self.path)  # the file must be the same after every read
        self.sheet = sheet
        self.line_scan: Future | None = None  # a CSV's (sha256, line breaks, tail): roster.read.csv_lines_of_rows
        # hashing needs no import and releases the GIL: it has the second core to itself meanwhile;
        # the sheets of one workbook share its hash
        key = str(self.path.resolve())
        if key in hashes:
            self._sha, self.line_scan = hashes[key]
        elif _maybe_csv(self.path):
            self.line_scan = in_thread(sha256_and_line_breaks, self.path)
            self._sha = _first_of(self.line_scan)
        else:
            self._sha = in_thread(sha256_file, self.path)
        hashes[key] = (self._sha, self.line_scan)
        # the sheet parsed in a thread (calamine releases the GIL), beside the imports and loading
        self._parsed: Future | None = in_thread(read_roster, self.path, sheet, parsing) if parsing is not None else None

    @property
    def sha256(self) -> str:
        return self._sha.result()

    def reader(self):
        """The roster.read.RosterFile to stream: the sheet parsed early (once), else opened now."""
        from cpi_link.roster.read import open_roster as read_roster

        parsed, self._parsed = self._parsed, None
        if parsed is not None:
            if not parsed.done():
                import pyarrow as pa

                # pyarrow imports pandas on its first conversion of Python objects (0.1 s holding
                # the GIL): done here, while calamine still parses the sheet without it
                pa.array([], pa.string())
            r = parsed.result()
        else:
            r = read_roster(self.path, self.sheet)
        r.line_scan = self.line_scan  # the CSV's line breaks, counted as it was hashed
        return r


def _ready(sheet) -> Future:
    """A parsed core.sheets.Sheet as the Future open_early gives (its scan of special cells started)."""
    sheet.scan()
    out: Future = Future()
    out.set_result(sheet)
    return out


def _expand(paths, sheet) -> tuple[list[tuple[Path, object]], list[dict], object]:
    """(file, sheet) of every source, the sheets skipped, and the first source's parsed Sheet when
    `--sheet all` parsed it (else None): `--sheet all` is every visible sheet of each workbook that
    looks like a roster (CSV and Parquet files are read whole); another --sheet is the sheet of
    each workbook."""
    from cpi_link.core.errors import InputError
    from cpi_link.core.i18n import _
    from cpi_link.core.sheets import ALL_SHEETS, sheets_like, spreadsheet_kind
    from cpi_link.roster.read import check_path

    several = len(paths) > 1
    every = sheet is not None and str(sheet).strip().lower() == ALL_SHEETS
    out, skipped, first = [], [], None
    for p in map(Path, paths):
        if not (p.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods") or (p.is_file() and spreadsheet_kind(p))):
            # a CSV or Parquet file is read whole (--sheet NAME on a lone one is refused by the reader)
            out.append((p, None if several or every else sheet))
        elif not every:
            out.append((p, sheet))
        else:
            from cpi_link.roster.schema import looks_like_roster

            # the first source's sheet stays parsed, for its early read (later ones are parsed again when reached)
            found, skip, kept = sheets_like(check_path(p), looks_like_roster, keep_first=not out)
            first = kept if not out else first
            skipped += [{"path": str(p), **s} for s in skip]
            if not found:
                raise InputError(_("{path}: no visible sheet looks like a roster (a header naming its columns among the "
                                   "first 30 rows): {sheets}").format(
                    path=p, sheets=", ".join(f"{s['sheet']!r} ({skip_text(s['reason'])})" for s in skip)))
            out += [(p, n) for n in found]
    return out, skipped, first


def skip_text(reason: str) -> str:
    """A skipped sheet's reason in words (`--sheet all`)."""
    from cpi_link.core.i18n import _

    return {"hidden": _("hidden"), "empty": _("empty"),
            "no_header": _("no roster header among its first 30 rows")}.get(reason, reason)


class RosterHandle:
    """A roster of one or several sources for one command (see the module docstring). Use as a
    context manager."""

    def __init__(self, paths, work_parent: Path, sheet=None, batch_rows: int = BATCH_ROWS, early: bool = True,
                 remark_check: bool = True):
        from cpi_link.core.paths import temp_name

        paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        if not paths:
            raise ValueError("open_roster needs at least one path")
        listed, self.skipped, parsed = _expand(paths, sheet)
        hashes: dict = {}
        # only the first source is parsed early: a later one is opened when the stream reaches it
        self.sources = [_Source(p, s, early and i == 0, hashes, parsed if i == 0 else None)
                        for i, (p, s) in enumerate(listed)]
        self.several = len(self.sources) > 1
        self.path = self.sources[0].path  # the first file (the only one unless `several`)
        # the worksheet of a one-source roster (--sheet); None for several (each source names its own)
        self.sheet = None if self.several else self.sources[0].sheet
        self.batch_rows = batch_rows
        self.remark_check = remark_check  # False: --no-remark-check (a scheme's remark_check = false also turns it off)
        # the first pass's key files (large rosters only) go under here: a folder of this process
        self.work = Path(work_parent) / temp_name(".work-", "roster")
        self._first: FirstPass | None = (firstpass.FirstPass([s.path for s in self.sources], batch_rows, self.work)
                                         if early else None)
        self._passes: list[FirstPass] = [self._first] if self._first is not None else []

    @property
    def paths(self) -> list[Path]:
        """The files of every source, in order (a workbook once per sheet read)."""
        return [s.path for s in self.sources]

    @property
    def sha256(self) -> str:
        """The file's sha256; for several sources, the sha256 of their (sha256, sheet) pairs, sorted:
        the same files and sheets in any order are the same roster."""
        if not self.several:
            return self.sources[0].sha256
        import hashlib

        pairs = sorted(f"{s.sha256}\t{'' if s.sheet is None else s.sheet}" for s in self.sources)
        return hashlib.sha256("\n".join(pairs).encode()).hexdigest()

    def sources_json(self) -> list[dict]:
        """[{path, sheet, sha256}] of every source, in order (the manifest and the ledger name them)."""
        return [{"path": str(s.path.resolve()), "sheet": s.sheet, "sha256": s.sha256} for s in self.sources]

    @property
    def first_pass(self) -> FirstPass | None:
        """The early first pass, while no month has taken it."""
        return self._first

    def take_first_pass(self) -> FirstPass | None:
        """The early first pass, once (the first month streamed takes it)."""
        fp, self._first = self._first, None
        return fp

    def start_first_pass(self, folder) -> FirstPass:
        """A first pass of its own (a later month's), over every source."""
        return firstpass.FirstPass(self.paths, self.batch_rows, folder)

    def reader(self):
        """The reader to stream: one source's roster.read.RosterFile, or SeveralRosters."""
        if not self.several:
            return self.sources[0].reader()
        return SeveralRosters(self)

    def check_unchanged(self) -> None:
        """The hash, the first pass and the second pass must all have read the same files."""
        for s in self.sources:
            if file_state(s.path) != s.state:
                from cpi_link.core.errors import InputError
                from cpi_link.core.i18n import _

                raise InputError(_("{path}: the file changed while it was being read; nothing was written, run again").format(
                    path=s.path))

    def close(self) -> None:
        for fp in self._passes:
            fp.close()
        self._passes, self._first = [], None
        for s in self.sources:
            s._parsed = None  # a parse not taken ends in its daemon thread
        try:
            os.rmdir(self.work)
        except OSError:
            pass

    def __enter__(self) -> "RosterHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def place_of(file, sheet) -> dict:
    """Where a row of a roster of several sources is, as stored (manifest, validate's JSON): English
    keys, the file's name and the sheet (None for CSV or Parquet); shown through place_text."""
    return {"file": Path(file).name, "sheet": sheet}


def place_text(place) -> str:
    """'rural.xlsx, sheet 农村低保' (or the file alone) in the reader's language, from place_of's dict
    (a run folder written before places were stored as data holds the text itself)."""
    from cpi_link.core.i18n import _

    if isinstance(place, str):
        return place
    name, sheet = place.get("file"), place.get("sheet")
    return name if sheet is None else _("{file}, sheet {sheet}").format(file=name, sheet=sheet)


class SeveralRosters:
    """The sources of a roster read as one (RosterHandle.reader): their batches one after another,
    data rows numbered on across them; after the batches, which source each data row came from."""

    format = "several"
    sheet = None

    def __init__(self, handle: RosterHandle):
        self.handle = handle
        self.starts: list[int] = []  # data rows before each source
        self.rows: list[int] = []  # data rows of each source
        self.infos: list[dict] = []  # how each was read (RosterFile.info)
        self.csv: list = []  # each source's RosterFile when a CSV (exact_file_rows), else None
        self.hidden_rows: list[int] = []
        self.formats: set[str] = set()

    def batches(self, batch_rows: int, only: tuple[str, ...] | None = None):
        done = 0
        # each source is opened when reached (a workbook's grid is held only while it is read); a
        # later source's header problem stops the command there, before anything is written
        for src in self.handle.sources:
            r = src.reader()
            self.formats.add(r.format)
            self.starts.append(done)
            n = 0
            for t, numeric in r.batches(batch_rows, only):
                n += t.num_rows
                yield t, numeric
            self.rows.append(n)
            self.hidden_rows += [h + done for h in r.hidden_rows]
            self.infos.append({**r.info(), "rows": n})
            self.csv.append(r if r.format == "csv" else None)
            done += n

    def info(self) -> dict:
        """How the sources were read: each one's RosterFile.info() with its rows and sha256."""
        srcs = [{**info, "sha256": s.sha256} for info, s in zip(self.infos, self.handle.sources)]
        return {"format": "several", "sheet": None, "header_row": None, "hidden_rows": len(self.hidden_rows),
                "sources": srcs, "skipped_sheets": list(self.handle.skipped)}

    def source_of(self, source_rows) -> np.ndarray:
        """The index of the source each data row (source_row, numbered across them) came from."""
        import numpy as np

        return np.searchsorted(np.asarray(self.starts, np.int64), np.asarray(source_rows, np.int64) - 1, side="right") - 1

    def places(self, source_rows) -> tuple[list, list, np.ndarray]:
        """(file name, sheet, data row within its source) of each data row."""
        import numpy as np

        rows = np.asarray(source_rows, np.int64)
        at = self.source_of(rows)
        names = [s.path.name for s in self.handle.sources]
        sheets = [s.sheet if s.sheet is not None else info.get("sheet") for s, info in zip(self.handle.sources, self.infos)]
        return [names[i] for i in at], [sheets[i] for i in at], rows - np.asarray(self.starts, np.int64)[at]

    def place_data(self, source_rows) -> list[dict]:
        """place_of each data row: the file (and sheet) it is in."""
        files, sheets, _rows = self.places(source_rows)
        return [place_of(f, s) for f, s in zip(files, sheets)]

    def exact_file_rows(self, source_rows, file_rows):
        """file_row exactly, each CSV source asked about its own rows (read.RosterFile.exact_file_rows)."""
        import numpy as np

        out = np.array(file_rows, copy=True)
        at = self.source_of(source_rows)
        rows = np.asarray(source_rows, np.int64)
        for i, r in enumerate(self.csv):
            hit = at == i
            if r is not None and hit.any():
                out[hit] = r.exact_file_rows(rows[hit] - self.starts[i], out[hit])
        return out


def open_roster(paths, work_parent: Path, sheet=None, batch_rows: int = BATCH_ROWS, early: bool = True,
                remark_check: bool = True) -> RosterHandle:
    """Open a roster for one command (RosterHandle): one path, or several read as one roster.
    sheet: a worksheet name or number for each workbook, or "all" (every visible sheet that looks
    like a roster). work_parent: a folder under home or --out for the first pass's temp files.
    early=False: nothing overlaps the caller's loading (the hashes still start now).
    remark_check=False: --no-remark-check."""
    return RosterHandle(paths, work_parent, sheet=sheet, batch_rows=batch_rows, early=early, remark_check=remark_check)
