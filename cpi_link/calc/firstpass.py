"""calc's first pass over a roster: which person keys occur more than once (see stream).

It only reads the ID column, in background threads (one reads the next batch while another
checks this one), and checks each ID as the second pass would: the checks of the first KEEP_ROWS
rows are handed over (Handover), so the second pass does not check those IDs again. The roster
handle (calc.handle.open_roster) starts it before the command loads the scheme, the figures and
the standards; stream.stream_month takes it over, or starts its own. This module imports nothing
heavy, so creating it costs the main thread only the imports its threads need.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

# rows per batch for calc's passes: small enough to stay in cache (benchmarks/README.md)
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
    than once in the roster (a path, or the paths of several read as one), or None when the roster
    is not read twice (XLSX: then every payable row is held for the dedup). Each ID column is checked as the second pass would (ids.normalise_ids);
    `checked` gets those checks by first data row (ids.CheckedIds), for the first KEEP_ROWS rows."""
    from cpi_link.core.threads import prefetch
    from cpi_link.calc.dedup import RepeatedKeys
    from cpi_link.roster.ids import CheckedIds, today_int, candidate_keys, normalise_ids
    from cpi_link.roster.read import iter_id_column

    paths = roster_path if isinstance(roster_path, (list, tuple)) else [roster_path]
    each = [iter_id_column(p, batch_rows=batch_rows) for p in paths]
    if any(c is None for c in each):  # a spreadsheet among them: every payable row is held
        return None
    # several sources: their ID columns one after another, data rows numbered on as the second pass does
    columns = (col for c in each for col in c)
    counter = RepeatedKeys(folder)
    first_row, today = 1, today_int()
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
    """repeated_keys(roster, batch_rows) in a daemon thread, started at once (calc.handle starts the
    first one while the main thread still imports and loads). Its key files (only past
    dedup.SPILL_ROWS keys) go to a private temp folder under `parent`, made when first needed;
    `close()` stops the thread and removes the folder. result() re-raises the thread's error."""

    def __init__(self, roster_path, batch_rows: int, parent: Path):
        # one path, or the paths of several sources read as one roster
        self.roster_path = [Path(p) for p in roster_path] if isinstance(roster_path, (list, tuple)) else Path(roster_path)
        self.batch_rows = batch_rows
        self.parent = Path(parent)
        self._made = None
        self.value = self.error = None
        self.checked = Handover()  # the ID checks, for the second pass
        self.stop = threading.Event()
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

