"""calc's first pass over a roster: which person keys occur more than once (see stream).

It only reads the ID column, in background threads (one reads the next batch while another
checks this one), and checks each ID as the second pass would: the checks of the first KEEP_ROWS
rows are handed over (Handover), so the second pass does not check those IDs again. The CLI
starts it before it loads the scheme, the figures and the standards (with the roster's sha256 in
a third thread); stream.stream_month takes it over, or starts its own. This module imports
nothing heavy, so creating it costs the main thread only the imports its threads need.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

# rows per batch for calc's passes. Measured: smaller batches stay in cache
# (5M rows: 1M -> 250k, 13.6 -> 8.8 s, 2.3 -> 1.1 GB)
BATCH_ROWS = 250_000
# The ID checks of up to this many rows are kept for the second pass (ids.CheckedIds, 9 bytes a
# row): it then skips checking them again. Past it (a national roster) it checks them itself.
KEEP_ROWS = 16_000_000


def file_state(path) -> tuple[int, int]:
    """(size, mtime in ns) of a file: a change between reads means it was rewritten meanwhile."""
    st = Path(path).stat()
    return st.st_size, st.st_mtime_ns


class Handover:
    """The first pass's ID checks (ids.CheckedIds) waiting for the second pass, by first data row.
    A batch the second pass has already reached is not kept."""

    def __init__(self):
        self.items: dict = {}
        self.reached = 0
        self.lock = threading.Lock()

    def put(self, row: int, item) -> None:
        with self.lock:
            if row > self.reached:
                self.items[row] = item

    def take(self, row: int):
        with self.lock:
            self.reached = max(self.reached, row)
            return self.items.pop(row, None)


def repeated_keys(roster_path, batch_rows: int, folder, stop=None, checked: Handover | None = None):
    """Sorted uint32 hashes (dedup.hash32) of the keys (ids.key17) of valid IDs that occur more
    than once in the roster, or None when the roster is not read twice (XLSX: then every payable
    row is held for the dedup). Each ID column is checked as the second pass would (ids.normalise_ids);
    `checked` gets those checks by first data row (ids.CheckedIds), for the first KEEP_ROWS rows."""
    from cpi_link.core.threads import prefetch
    from cpi_link.calc.dedup import RepeatedKeys
    from cpi_link.roster.ids import CheckedIds, _today_int, candidate_keys, normalise_ids
    from cpi_link.roster.read import iter_id_column

    columns = iter_id_column(roster_path, batch_rows=batch_rows)
    if columns is None:
        return None
    counter = RepeatedKeys(folder)
    first_row, today = 1, _today_int()
    # the next ID column is read while this one is checked: the first pass is on calc's critical
    # path (no payment is final before it ends), so it takes both cores when it can
    for raw in prefetch(columns, name="first-pass-read"):
        if stop is not None and stop.is_set():
            return None
        raw = raw.combine_chunks() if raw.num_chunks != 1 else raw.chunk(0)
        if checked is not None and first_row + len(raw) - 1 <= KEEP_ROWS:
            ids = normalise_ids(raw, today=today)
            counter.add(ids.key[ids.reason == 0])
            kept = CheckedIds.of(raw, ids)
            if kept is not None:
                checked.put(first_row, kept)
        else:  # past KEEP_ROWS nothing is handed over: the cheaper keys (a superset) do
            counter.add(candidate_keys(raw, today=today))
        first_row += len(raw)
    return counter.repeated()


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


def _first_of(fut):
    """A Future of fut's result's first item."""
    from concurrent.futures import Future

    out: Future = Future()

    def done(f):
        if f.exception() is not None:
            out.set_exception(f.exception())
        else:
            out.set_result(f.result()[0])

    fut.add_done_callback(done)
    return out


def _looks_like_roster(head) -> bool:
    from cpi_link.roster.schema import looks_like_roster  # imports pyarrow: only for a book of several sheets

    return looks_like_roster(head)


def open_early(path: Path, sheet=None):
    """A spreadsheet roster's sheet, opened and parsed in a thread from now (core.sheets.open_sheet_early),
    or None for other files."""
    path = Path(path)
    if path.suffix.lower() not in (".xlsx", ".xlsm", ".xls", ".ods") or not path.is_file():
        return None
    from cpi_link.core.sheets import open_sheet_early

    return open_sheet_early(path, sheet, _looks_like_roster, "roster")


class FirstPass:
    """repeated_keys(roster, batch_rows) in a daemon thread, and the roster's sha256 in another
    (`roster_sha.result()`): both start at once, so they fill the second core while the main thread
    still imports and loads. Its key files (only past dedup.SPILL_ROWS keys) go to a private temp
    folder under `parent`, made when first needed; `close()` stops the thread and removes the
    folder. result() re-raises the thread's error."""

    def __init__(self, roster_path, batch_rows: int, parent: Path, sheet=None, early=None):
        self.roster_path = Path(roster_path)
        self.sheet = sheet
        self.batch_rows = batch_rows
        self.file_state = file_state(self.roster_path)  # calc checks the file is the same after reading
        self.parent = Path(parent)
        self._made = None
        self.value = self.error = None
        self.checked = Handover()  # the ID checks, for the second pass
        self.stop = threading.Event()
        from cpi_link.core.atomic import sha256_file
        from cpi_link.core.threads import in_thread

        # first of all: hashing needs no import and releases the GIL, so it has the second core
        # to itself while this thread imports numpy and pyarrow
        self.file_scan = None  # a CSV's (sha256, line breaks, tail): see roster.read.csv_lines_of_rows
        if _maybe_csv(self.roster_path):
            from cpi_link.core.atomic import sha256_and_line_breaks

            self.file_scan = in_thread(sha256_and_line_breaks, self.roster_path)
            self.roster_sha = _first_of(self.file_scan)
        else:
            self.roster_sha = in_thread(sha256_file, self.roster_path)
        # a spreadsheet has no first pass; its sheet is parsed now instead (calamine releases the
        # GIL), beside the imports and loading (stream_month takes it: `opened`)
        self.opened = None
        if early is None:
            early = open_early(self.roster_path, sheet)
        if early is not None:
            from cpi_link.roster.read import open_roster

            self.opened = in_thread(open_roster, self.roster_path, sheet, early)
        # what the thread needs is imported here first: imports hold the GIL, and a thread that
        # imported them beside the caller's own imports would start reading 0.3 s later
        import importlib

        for module in ("pyarrow.csv", "cpi_link.calc.dedup", "cpi_link.roster.check"):
            importlib.import_module(module)

        self.th = threading.Thread(target=self._run, name="first-pass", daemon=True)
        self.th.start()

    def _run(self):
        try:
            self.value = repeated_keys(self.roster_path, self.batch_rows, self._folder, stop=self.stop,
                                       checked=self.checked)
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
            self.error = exc

    def _folder(self) -> Path:
        """The private temp folder for key files, made on first use (large rosters only)."""
        if self._made is None:
            from cpi_link.core.paths import private_dir

            private_dir(self.parent)
            self._made = Path(tempfile.mkdtemp(prefix=".first-pass-", dir=self.parent))
        return self._made

    def matches(self, roster_path, batch_rows: int) -> bool:
        return Path(roster_path) == self.roster_path and batch_rows == self.batch_rows

    def done(self) -> bool:
        return not self.th.is_alive()

    def result(self):
        self.th.join()
        if self.error is not None:
            raise self.error
        return self.value

    def close(self) -> None:
        self.stop.set()
        self.th.join()
        if self._made is not None:
            shutil.rmtree(self._made, ignore_errors=True)

    cancel = close


class RosterInput:
    """A roster as calc reads it, opened once per command: its file state, its sha256 and calc's
    first pass, both started in threads at once so they run while the caller loads the rules and
    standards. Every month computed from it shares the one hash; the early first pass serves the
    first month (later months start their own in stream.stream_month)."""

    def __init__(self, path, parent: Path, batch_rows: int = BATCH_ROWS, first_pass: bool = True, sheet=None):
        # a spreadsheet's parse starts first of all, before the imports below (numpy, pyarrow)
        early = open_early(path, sheet) if first_pass else None
        from cpi_link.roster.read import check_path

        self.path = check_path(path)  # a folder or unreadable file is exit 2, before hashing
        self.state = file_state(self.path)
        self.batch_rows = batch_rows
        self.sheet = sheet  # the worksheet of a spreadsheet roster (--sheet)
        self._first = FirstPass(self.path, batch_rows, parent, sheet=sheet, early=early) if first_pass else None
        self._opened = [self._first] if self._first is not None else []
        if self._first is not None:
            self._sha = self._first.roster_sha
        else:
            from cpi_link.core.atomic import sha256_file
            from cpi_link.core.threads import in_thread

            self._sha = in_thread(sha256_file, self.path)

    @property
    def sha256(self) -> str:
        return self._sha.result()

    @property
    def first_pass(self) -> FirstPass | None:
        """The early first pass not yet taken by a month."""
        return self._first

    def take_first_pass(self, batch_rows: int) -> FirstPass | None:
        """The early first pass, once, if it was started for this batch size."""
        fp, self._first = self._first, None
        return fp if fp is not None and fp.matches(self.path, batch_rows) else None

    def check_unchanged(self) -> None:
        """The hash, the first pass and the second pass must all have read the same file."""
        if file_state(self.path) != self.state:
            from cpi_link.core.errors import InputError

            raise InputError(f"{self.path}: the file changed while it was being read; nothing was written, run again")

    def close(self) -> None:
        for fp in self._opened:
            fp.close()
        self._opened = []

    def __enter__(self) -> "RosterInput":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
