"""The roster as the engine holds it for one command: `open_roster` is the one way calc, validate,
run, oneoff, simulate and supplements open a roster.

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

from cpi_link.calc import firstpass
from cpi_link.calc.firstpass import BATCH_ROWS, FirstPass, file_state, open_early


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


class RosterHandle:
    """One roster file for one command (see the module docstring). Use as a context manager."""

    def __init__(self, path, work_parent: Path, sheet=None, batch_rows: int = BATCH_ROWS, early: bool = True):
        # a spreadsheet's parse starts first of all, before the imports below (numpy, pyarrow)
        parsing = open_early(path, sheet) if early else None
        from cpi_link.core.atomic import sha256_and_line_breaks, sha256_file
        from cpi_link.core.threads import in_thread
        from cpi_link.core.paths import temp_name
        from cpi_link.roster.read import check_path, open_roster as read_roster

        self.path = check_path(path)  # a folder or unreadable file is exit 2, before hashing
        self.state = file_state(self.path)  # the file must be the same after every read
        self.sheet = sheet  # the worksheet of a spreadsheet roster (--sheet)
        self.batch_rows = batch_rows
        # the first pass's key files (large rosters only) go under here: a folder of this process
        self.work = Path(work_parent) / temp_name(".work-", "roster")
        # hashing needs no import and releases the GIL: it has the second core to itself meanwhile
        self.line_scan: Future | None = None  # a CSV's (sha256, line breaks, tail): roster.read.csv_lines_of_rows
        if _maybe_csv(self.path):
            self.line_scan = in_thread(sha256_and_line_breaks, self.path)
            self._sha = _first_of(self.line_scan)
        else:
            self._sha = in_thread(sha256_file, self.path)
        # the sheet parsed in a thread (calamine releases the GIL), beside the imports and loading
        self._parsed: Future | None = in_thread(read_roster, self.path, sheet, parsing) if parsing is not None else None
        self._first: FirstPass | None = firstpass.FirstPass(self.path, batch_rows, self.work) if early else None
        self._passes: list[FirstPass] = [self._first] if self._first is not None else []

    @property
    def sha256(self) -> str:
        return self._sha.result()

    @property
    def first_pass(self) -> FirstPass | None:
        """The early first pass, while no month has taken it."""
        return self._first

    def take_first_pass(self) -> FirstPass | None:
        """The early first pass, once (the first month streamed takes it)."""
        fp, self._first = self._first, None
        return fp

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

    def check_unchanged(self) -> None:
        """The hash, the first pass and the second pass must all have read the same file."""
        if file_state(self.path) != self.state:
            from cpi_link.core.errors import InputError

            raise InputError(f"{self.path}: the file changed while it was being read; nothing was written, run again")

    def close(self) -> None:
        for fp in self._passes:
            fp.close()
        self._passes, self._first, self._parsed = [], None, None  # a parse not taken ends in its daemon thread
        try:
            os.rmdir(self.work)
        except OSError:
            pass

    def __enter__(self) -> "RosterHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_roster(path, work_parent: Path, sheet=None, batch_rows: int = BATCH_ROWS, early: bool = True) -> RosterHandle:
    """Open a roster for one command (RosterHandle). work_parent: a folder under home or --out for
    the first pass's temp files. early=False: nothing overlaps the caller's loading (the hash still
    starts now)."""
    return RosterHandle(path, work_parent, sheet=sheet, batch_rows=batch_rows, early=early)
