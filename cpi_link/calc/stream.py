"""calc's pipeline: a roster streamed through the checks, the amounts, the dedup and the
payments writer in bounded memory (calculate.calculate_month calls stream_month).

Two passes over the roster, overlapping (firstpass, dedup):
1. The first pass reads only the ID column, in background threads that the CLI starts before it
   loads the scheme, figures and standards. It checks each ID as the second pass would (handing
   those checks over, ids.CheckedIds) and finds the hashes of keys (the 17 digits that fix a
   normalised ID) that occur more than once. Only rows with such a hash can be duplicates.
2. The second reads and checks every column in batches (the next batch read ahead in a thread)
   and computes them in pyarrow/numpy: the few-valued columns stay dictionaries, standards and
   decisions are looked up once per distinct region code, amounts once per (region, urban/rural)
   pair, in int64 fen. Until the first pass is done, up to PENDING_BATCHES computed batches wait.
   Payable rows whose hash was seen once are final: copied once out of their batch and written
   to the payments file by a background thread. Rows with a repeated hash are held (spilled past
   SPILL_BYTES) with their (exact key, amount, row) in dedup.PayableKeys; after the last batch
   the kept ones are written at the end of the payments file and the others rejected.
So payments are in roster order, except that held rows (people listed more than once, and the
few sharing their hash) come last.
An XLSX roster (at most about a million rows) skips the first pass: every payable row is held.
"""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cpi_link.core.atomic import HashingFile
from cpi_link.core.threads import BackgroundWriter, done, in_thread, prefetch
from cpi_link.calc.batch import ORIG_COLUMNS, as_numpy, Payable, rejected_rows, compute_batch_arrow
from cpi_link.calc.month import MonthPlan

if TYPE_CHECKING:
    import pyarrow as pa

    from cpi_link.calc.firstpass import FirstPass
    from cpi_link.calc.handle import RosterHandle

SPILL_BYTES = 256 << 20
# a spreadsheet's parsed grid stays in memory while its rows are read, so its payable rows spill sooner
SHEET_SPILL_BYTES = 32 << 20  # measured: benchmarks/README.md, "Where calc's constants come from"
# payable batches held while the first pass still runs; past them the second pass waits for it
PENDING_BATCHES = 12  # measured: benchmarks/README.md
# payments tables waiting for the writer thread: when the first pass ends, the pending batches go
# to it at once and the second pass reads on instead of waiting for each to be encoded (5M CSV,
# 10 interleaved runs: 3.61 -> 3.44 s median wall at 3, the peak about 50 MB higher)
WRITER_QUEUE = 3


@dataclass
class StreamResult:
    """A roster streamed through one month: counts, the rejected rows and the files written."""

    input_rows: int
    paid_rows: int
    persons: int
    total_fen: int
    rejected: pa.Table | None  # every rejected row (in no order: for counting), rejected schema
    summary: list[dict]  # Totals.summary(): per (region_code, category): rows, persons, amount_fen
    by_category: list[dict]  # per category: rows, persons, amount_fen
    payments_path: Path | None  # the payments Parquet, written in spill_dir (None: validate)
    payments_sha: Future[str] | None  # its sha256
    rejected_file: tuple[Path, Future[str]] | None  # rejected.parquet and its sha256; None for no rejected rows
    roster: dict  # how the roster was read (format, sheet, header_row, hidden rows): read.RosterFile.info()


class _Discard:
    """A payments writer that keeps nothing (validate)."""

    def write_table(self, t) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _Spill:
    """Payable rows in roster order: kept in memory, moved to an Arrow IPC file past SPILL_BYTES."""

    def __init__(self, folder, limit: int = SPILL_BYTES):
        self.folder = folder
        self.limit = limit
        self.tables: list = []
        self.bytes = 0
        self.path = None
        self.writer = None
        self.sink = None

    def add(self, t) -> None:
        import pyarrow as pa

        if t.num_rows == 0:
            return
        if self.writer is None:
            self.tables.append(t)
            self.bytes += t.nbytes
            if self.bytes <= self.limit:
                return
            self.path = self.folder / "paid.arrows"
            self.sink = pa.OSFile(str(self.path), "wb")
            # uncompressed: lz4 cost more CPU on the critical thread than the (page-cached) bytes it saved
            self.writer = pa.ipc.new_stream(self.sink, t.schema, options=pa.ipc.IpcWriteOptions(compression=None))
            pending, self.tables = self.tables, []
        else:
            pending = [t]
        for p in pending:
            self.writer.write_table(p)

    def __iter__(self):
        import pyarrow as pa

        if self.writer is None:
            yield from self.tables
            return
        self.writer.close()
        self.sink.close()
        self.writer = None
        with pa.OSFile(str(self.path), "rb") as src:
            reader = pa.ipc.open_stream(src)
            for b in reader:
                yield pa.Table.from_batches([b])


def _first_pass(roster_path, batch_rows: int, folder) -> FirstPass | None:
    """Start the first pass (firstpass.FirstPass) in the background; None means hold every payable
    row for the dedup (tests replace this to compare the two).

    A CSV is read twice (the first time converting one column): keeping the first parse for the
    second pass meant spilling it to disk, and writing 450 MB at 5M rows cost more than parsing."""
    from cpi_link.calc.firstpass import FirstPass

    return FirstPass(roster_path, batch_rows, folder)


class Totals:
    """Rows, persons and fen per (region_code, category) over the written payments, exact int64."""

    def __init__(self):
        self.parts = []
        self.rows = 0

    def add(self, t) -> None:
        import pyarrow as pa

        g = t.select(["region_code", "category", "persons", "amount_fen"]).group_by(["region_code", "category"]) \
            .aggregate([("persons", "count"), ("persons", "sum"), ("amount_fen", "sum")])
        self.parts.append(g.cast(pa.schema([("region_code", pa.string()), ("category", pa.string()), *list(g.schema)[2:]])))
        self.rows += t.num_rows

    def summary(self) -> list[dict]:
        """One dict per (region_code, category), in that order: rows, persons and amount_fen as ints."""
        import pyarrow as pa

        if not self.parts:
            return []
        # the batches' sums added as decimal128(38, 0): exact, never an int64 wrap (encoding checks the bounds)
        at = self.parts[0].schema.get_field_index("amount_fen_sum")
        parts = [p.set_column(at, "amount_fen_sum", p.column(at).cast(pa.decimal128(38, 0))) for p in self.parts]
        s = pa.concat_tables(parts).group_by(["region_code", "category"]).aggregate(
            [("persons_count", "sum"), ("persons_sum", "sum"), ("amount_fen_sum", "sum")])
        s = s.sort_by([("region_code", "ascending"), ("category", "ascending")])
        return [{"region_code": r["region_code"], "category": r["category"], "rows": r["persons_count_sum"],
                 "persons": r["persons_sum_sum"], "amount_fen": int(r["amount_fen_sum_sum"])} for r in s.to_pylist()]


def stream_month(handle: RosterHandle, plan: MonthPlan, compute: bool, spill_dir, exclude_paid=None, progress=None,
                 payments: bool = True) -> StreamResult:
    """Read, check, compute and dedup a whole roster in bounded memory (see the section comment).

    handle: the command's roster (calc.handle.open_roster): its early first pass and parsed sheet
    serve the first month streamed. The payments and rejected files are written in spill_dir
    (StreamResult). payments=False (validate) writes nothing: only the rejected rows are kept.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from cpi_link.calc import encoding
    from cpi_link.calc.dedup import HashBitmap, PayableKeys
    from cpi_link.roster.check import HouseholdSizes, check_batches, mark_born_after
    from cpi_link.roster.read import SPREADSHEETS, file_format

    month, rules, batch_rows = plan.month, plan.rules, handle.batch_rows
    # header problems: exit 2 before anything is computed (a spreadsheet may have been parsed early)
    roster = handle.reader()
    # the 备注 check off by the command (--no-remark-check) or the scheme (remark_check = false)
    remark_check = handle.remark_check and plan.remark_check
    # one row per family member: a head's 保障人数 against the members listed (the warning validate gives)
    households = HouseholdSizes(starts=getattr(roster, "starts", None))
    # the first pass runs in its own thread while the second starts; payable batches wait (at most
    # PENDING_BATCHES of them) until it knows which keys repeat
    first = None
    if compute:
        first = handle.take_first_pass() or _first_pass(handle.paths if handle.several else handle.path, batch_rows,
                                                        spill_dir)
    runner = first
    repeated = None
    pending: list = []
    sheets = any(file_format(p) in SPREADSHEETS for p in handle.paths)
    held = _Spill(spill_dir, SHEET_SPILL_BYTES if sheets else SPILL_BYTES)
    keys = PayableKeys(spill_dir)
    totals = Totals()
    rej_parts = []
    input_rows = 0
    pay_path = spill_dir / "payments.parquet"

    def rejected_payable(paid: Payable, mask, reason: str, detail: str):
        """Payable rows under `mask` rejected after all, with their original fields."""
        gone = paid.table(mask, orig=True)
        rej_parts.append(rejected_rows(gone.column("source_row"), pa.repeat(reason, gone.num_rows),
                                    pa.repeat(detail, gone.num_rows), gone))

    def to_payments(t):
        return encoding.payments_from_arrow(t, month, rules.scheme, rules.version, plan.run_id)

    def route(paid: Payable):
        """Payable rows of one batch: rows with a repeated key are held for the dedup, the rest written."""
        key = paid.column_np("person_key")
        hold = np.ones(len(key), bool) if repeated is None else repeated.hits(key)
        if hold.any():
            h = paid.table(None if hold.all() else hold, orig=True)
            keys.add(key[hold], as_numpy(h.column("amount_fen")), as_numpy(h.column("source_row")))
            held.add(h)
        if not hold.all():
            final = paid.table(~hold if hold.any() else None)
            writer.write_table(to_payments(final))
            totals.add(final)

    def write_last(tables):
        final = pa.concat_tables(tables).combine_chunks()  # one dictionary per column
        writer.write_table(to_payments(final))
        totals.add(final)

    def first_pass_done(wait: bool) -> bool:
        nonlocal first, repeated
        if first is None:
            return True
        if not wait and not first.done():
            return False
        found, first = first.result(), None
        repeated = HashBitmap(found) if found is not None else None
        for paid in pending:
            route(paid)
        pending.clear()
        return True

    def metadata() -> dict:
        return encoding.file_metadata(plan.run_id, month, rules.scheme, rules.version, paid=plan.paid)

    # hashed as the writer thread writes it: the run's end need not read it back
    pay_file = HashingFile(pay_path) if payments else contextlib.nullcontext()
    with pay_file, (encoding.payments_writer(pay_file, metadata) if payments else _Discard()) as pq_writer, \
            BackgroundWriter(pq_writer, WRITER_QUEUE) as writer:
        try:
            # the first pass's ID checks, taken (and freed) as the second pass reaches their rows
            known = runner.checked.take if runner is not None else None
            for batch in prefetch(check_batches(roster.batches(batch_rows), known_ids=known, remark_check=remark_check,
                                                households=households)):
                input_rows += batch.num_rows
                batch = mark_born_after(batch, month)
                if compute:
                    batch = batch.combine_chunks()
                    paid, rej = compute_batch_arrow(batch, plan)
                    if exclude_paid is not None and paid.num_rows:
                        ids = batch.column("person_id").take(pa.array(paid.pidx))
                        already = np.asarray(exclude_paid(pa.table({"person_id": ids}).to_pandas()), dtype=bool)
                        if already.any():
                            rejected_payable(paid, already, "already_paid", f"already paid for {month} in an earlier run")
                            paid = paid.subset(~already)
                    if paid.num_rows:
                        if first_pass_done(wait=len(pending) >= PENDING_BATCHES):
                            route(paid)
                        else:
                            pending.append(paid)
                else:
                    bad = batch.filter(pc.is_valid(batch.column("reason")))
                    rej = rejected_rows(bad.column("source_row"), bad.column("reason"), bad.column("detail"), bad)
                rej_parts.append(rej)
                if progress:
                    progress(batch.num_rows)
            first_pass_done(wait=True)
        finally:
            if runner is not None:
                runner.close()

        # the held rows: keep one per person, reject the rest, write the kept ones last
        drop_rows, kept_rows = keys.duplicates()
        last, last_rows = [], 0  # kept held rows, written in batches of batch_rows
        for t in held:
            t = t.combine_chunks()
            rows = as_numpy(t.column("source_row"))
            if len(drop_rows):
                pos = np.searchsorted(drop_rows, rows)
                hit = (pos < len(drop_rows)) & (drop_rows[np.minimum(pos, len(drop_rows) - 1)] == rows)
                if hit.any():
                    gone = t.filter(pa.array(hit))
                    detail = _kept_detail(kept_rows[pos[hit]], roster)
                    rej_parts.append(rejected_rows(gone.column("source_row"), pa.repeat("duplicate_person", gone.num_rows),
                                                detail, gone))
                    t = t.filter(pa.array(~hit))
            if t.num_rows:
                last.append(t.drop_columns(ORIG_COLUMNS))
                last_rows += t.num_rows
            if last_rows >= batch_rows:
                write_last(last)
                last, last_rows = [], 0
        if last:
            write_last(last)
        # every rejected row is known now: sorted, written and hashed in a thread while the
        # payments writer finishes
        rej_all = None
        if rej_parts:
            rej_all = pa.concat_tables(rej_parts).cast(encoding.rejected_schema())
            if payments:
                rej_file = in_thread(_write_and_hash, rej_all, spill_dir / "rejected.parquet", metadata(), roster)

    info = {**roster.info(), "hidden_paid_rows": _hidden_paid(roster, rej_all) if compute else 0}
    if not remark_check:
        info["remark_check"] = False
    found = households.found()
    if found is not None:
        info["warnings"] = {"household_size": _warning_places(found, roster)}
    if not payments:  # validate: the rejected rows are all it needs
        if rej_all is not None:
            rej_all = exact_file_rows(rej_all, roster)
        return StreamResult(input_rows=input_rows, paid_rows=totals.rows, persons=0, total_fen=0, rejected=rej_all,
                            summary=[], by_category=[], payments_path=None, payments_sha=None, rejected_file=None,
                            roster=info)
    pay_sha = done(pay_file.hexdigest())
    # flushed to disk now, beside the rest (write_run's own fsync then finds it clean); the file is
    # opened here because write_run moves it
    in_thread(_fsync_fd, os.open(pay_path, os.O_RDONLY))
    paid_rows = totals.rows
    summary = totals.summary()
    persons = sum(r["persons"] for r in summary)
    total_fen = sum(r["amount_fen"] for r in summary)
    by_cat = []
    for cat in sorted({r["category"] for r in summary}):
        rows = [r for r in summary if r["category"] == cat]
        by_cat.append({"category": cat, **{k: sum(r[k] for r in rows) for k in ("rows", "persons", "amount_fen")}})
    return StreamResult(input_rows=input_rows, paid_rows=paid_rows, persons=persons, total_fen=total_fen,
                        rejected=rej_all, summary=summary, by_category=by_cat, payments_path=pay_path,
                        payments_sha=pay_sha,
                        rejected_file=(spill_dir / "rejected.parquet", rej_file) if rej_all is not None else None,
                        roster=info)




def _write_and_hash(table, path, metadata: dict | None = None, roster=None) -> str:
    """Sort rejected rows by source_row and write them (zstd), flush the file to disk and return
    its sha256 (hashed as written, like the payments file)."""
    import pyarrow.compute as pc

    # batches come in roster order; only the duplicates found at the end are out of place
    from cpi_link.calc import encoding

    table = pc.take(table, pc.sort_indices(table.column("source_row")), boundscheck=False)
    if roster is not None:
        table = exact_file_rows(table, roster)
    with HashingFile(path) as fh:
        encoding.write_rejected(table, fh, metadata)
    _fsync_fd(os.open(path, os.O_RDONLY))
    return fh.hexdigest()


def exact_file_rows(table, roster):
    """file_row as the officer sees it, exact for a CSV with blank lines or quoted line breaks
    (read.RosterFile knows them); for a roster of several sources, each row's `file` and `sheet`."""
    import pyarrow as pa

    if not table.num_rows:
        return _with_places(table, roster)
    exact = roster.exact_file_rows(table.column("source_row").to_numpy(), table.column("file_row").to_numpy())
    return _with_places(table.set_column(1, "file_row", pa.array(exact, pa.int64())), roster)


def _warning_places(found: dict, roster) -> dict:
    """A warning's example rows as the rejected ones are named: the line a person sees (exact for a
    CSV), and with several sources the file and sheet of each (validate's example_places)."""
    rows = found["example_rows"]
    frows = found["example_file_rows"]
    if rows and None not in frows:
        found["example_file_rows"] = [int(x) for x in roster.exact_file_rows(np.asarray(rows, np.int64), np.asarray(frows, np.int64))]
    if getattr(roster, "format", None) == "several":
        found["example_places"] = roster.place_data(rows)
    return found


def _with_places(table, roster):
    """The rejected rows of a roster of several sources (handle.SeveralRosters) with the file and
    sheet each came from (SPEC 6)."""
    import pyarrow as pa

    if getattr(roster, "format", None) != "several":
        return table
    files, sheets, _rows = roster.places(table.column("source_row").to_numpy())
    return table.append_column("file", pa.array(files, pa.string())).append_column("sheet", pa.array(sheets, pa.string()))


def _kept_detail(kept, roster):
    """duplicate_person's detail: the data row paid instead (within its file and sheet, for several sources)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if getattr(roster, "format", None) != "several":
        return pc.binary_join_element_wise("the same person is paid on data row ", pa.array(kept).cast(pa.string()),
                                           " (the highest amount)", "")
    files, sheets, rows = roster.places(kept)
    return pa.array([f"the same person is paid on data row {r} of {f}" + (f", sheet {s}" if s is not None else "")
                     + " (the highest amount)" for f, s, r in zip(files, sheets, rows.tolist())], pa.string())


def _hidden_paid(roster, rejected) -> int:
    """How many paid rows were hidden in the sheet: the hidden data rows less the rejected ones."""
    if not roster.hidden_rows:
        return 0
    hidden = np.asarray(roster.hidden_rows, dtype=np.int64)
    if rejected is None or not rejected.num_rows:
        return len(hidden)
    return int(len(hidden) - np.isin(hidden, rejected.column("source_row").to_numpy()).sum())


def _fsync_fd(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
