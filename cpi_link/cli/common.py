"""What every command shares: global state, error handling, output formats."""

from __future__ import annotations

import codecs
import contextlib
import csv
import functools
import io
import json
import logging
import os
import re
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from cpi_link.core.errors import CpiLinkError, ExitStatus, error_text as _error_text, system_error
from cpi_link.core.i18n import N_, _, pgettext
from cpi_link.core.regions import region_label


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


FORMAT_HELP = _("Output format: 'table' for people (rich), 'json' or 'csv' on stdout for scripts.")


class CsvEncoding(str, Enum):
    utf8 = "utf-8"
    utf8_sig = "utf-8-sig"
    gb18030 = "gb18030"


_CSV_ENCODING: ContextVar[str | None] = ContextVar("csv_encoding", default=None)


def _remember_encoding(value):
    # the option's callback runs on every invocation (also with the default), so it never leaks
    raw = value.value if isinstance(value, CsvEncoding) else value
    _CSV_ENCODING.set(raw)
    return CsvEncoding(raw) if raw else None  # the enum: typer 0.29 passes a callback's result on as it is


# The one --encoding option: add `encoding: EncodingOption = None` to a command that has --format
# csv; emit_csv picks it up (through the option's callback), so no call site passes it along.
EncodingOption = Annotated[
    Optional[CsvEncoding],
    typer.Option("--encoding", callback=_remember_encoding, help=_("With --format csv: the bytes written, utf-8 (default), utf-8-sig (a BOM: Excel opens it) "
                 "or gb18030 (Excel on Chinese Windows).")),
]


@dataclass
class State:
    home_option: Path | None = None
    config_option: Path | None = None
    debug: bool = False

    @property
    def home(self):
        from cpi_link.core.paths import Home, resolve_home

        return Home(resolve_home(self.home_option))

    @property
    def config_dir(self) -> Path:
        from cpi_link.core.paths import resolve_config

        return resolve_config(self.config_option)


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    if obj is None:
        obj = ctx.find_root().obj = State()
    return obj


def stderr_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def stdout_console():
    from rich.console import Console

    class _Console(Console):
        def print(self, *objects, **kwargs):
            return super().print(*(keep_numbers_whole(o) for o in objects), **kwargs)

        def on_broken_pipe(self) -> None:  # the reader went away (`| head`): quiet, and the command's own exit code, not rich's 1
            self.quiet = True
            _quiet_stdout()

    return _Console(highlight=False)


# a number as a table shows it: yuan, counts, rates, months, dates, division codes, resident IDs
# as shown (masked 140105********123X) -- never split
_WHOLE = re.compile(r"[-+−]?\(?\d[\d,.:%/×\-−]*\)?[;,]?|\d{6}[\d*]{11}[\dX]")
_SIGNS = {"/", "—", "-", "->", "→", "×", "+", "="}


def keep_numbers_whole(table):
    """A rich Table that never splits a number: at a narrow width (cron mail's 80 columns) the
    columns of numbers keep their width and the text columns wrap (at spaces, else anywhere),
    each no narrower than the longest number in it (a yuan amount, a month, a rate); a column
    marked `whole` (an identifier to copy) is kept as wide as its longest line. Anything else is
    returned as it is."""
    from rich.table import Table

    if not isinstance(table, Table):
        return table
    from rich.cells import cell_len

    def lines(cell) -> list[str]:
        from rich.text import Text

        if isinstance(cell, Text):
            return cell.plain.splitlines()
        if isinstance(cell, str):
            return Text.from_markup(cell).plain.splitlines()
        return []

    for col in table.columns:
        cells = [line for c in col._cells for line in lines(c)]
        words = [w for line in cells for w in line.split()]
        numbers = [w for w in words if _WHOLE.fullmatch(w)]
        only_numbers = words and all(w in numbers or w in _SIGNS for w in words)
        heading = [min(cell_len(w), 12) for line in lines(col.header) for w in line.split()]
        col.no_wrap, col.overflow = False, "fold"  # a heading wraps; a number never gets narrower than itself
        if only_numbers or getattr(col, "whole", False) or (col.justify == "right" and not words):
            col.min_width = max((cell_len(line) for line in cells), default=None)
        else:
            col.min_width = max((cell_len(w) for w in numbers), default=None)
        # how narrow it gets while the table fits without: no word of the heading or a cell cut
        col._soft_floor = max([min(cell_len(w), 10) for w in words] + heading + [col.min_width or 0])
    table.__class__ = _whole_numbers_table()
    return table


@functools.cache
def _whole_numbers_table():
    from rich.table import Table

    class WholeNumbersTable(Table):
        """rich's Table, except that when it is too wide it narrows the widest text columns first
        and none below its min_width (rich's own narrowing may go below it and crop a number)."""

        def _calculate_column_widths(self, console, options):
            widths = super()._calculate_column_widths(console, options)
            if sum(widths) <= options.max_width:
                return widths
            natural = [self._measure_column(console, options, c).maximum for c in self.columns]
            floor = [self._measure_column(console, options.update_width(1), c).maximum for c in self.columns]
            soft = [getattr(c, "_soft_floor", 0) + self._get_padding_width(c._index) for c in self.columns]
            for cut in range(max(soft, default=0), 0, -1):  # words whole if they fit, else as few cut as can be
                fitted = _narrow(natural, [max(f, min(s, cut)) for f, s in zip(floor, soft)], options.max_width)
                if fitted is not None:
                    return fitted
            return widths

    return WholeNumbersTable


def _narrow(widths: list[int], floors: list[int], total: int) -> list[int] | None:
    """widths narrowed, the widest above its floor first, to sum to at most total; None if the
    floors alone are wider."""
    if sum(floors) > total:
        return None
    widths = [max(w, f) for w, f in zip(widths, floors)]
    while sum(widths) > total:
        room = [(w, i) for i, (w, f) in enumerate(zip(widths, floors)) if w > f]
        if not room:
            return None
        widths[max(room)[1]] -= 1
    return widths


# Table headings for people, by the key they show (keys stay English in JSON and CSV)
COLUMN_HEADINGS = {
    "region": lambda: _("region"),
    "region_code": lambda: _("region"),
    "prefecture": lambda: _("prefecture"),
    "category": lambda: _("category"),
    "category_zh": lambda: "类别",
    "person_id": lambda: _("resident ID"),
    "name": lambda: _("name"),
    "person_name": lambda: pgettext("person", "name"),
    "persons": lambda: _("persons"),
    "amount": lambda: _("yuan"),
    "amount_a": lambda: _("yuan A"),
    "amount_b": lambda: _("yuan B"),
    "difference": lambda: _("difference"),
    "detail": lambda: _("detail"),
    "month": lambda: _("month"),
    "indicator": lambda: _("indicator"),
    "source": lambda: _("source"),
    "scope": lambda: _("scope"),
    "from": lambda: _("from"),
    "until": lambda: _("until"),
    "dataset": lambda: _("dataset"),
    "programme": lambda: _("programme"),
    "document": lambda: _("document"),
    "related_documents": lambda: _("related documents"),
    "verified": lambda: _("verified"),
    "example": lambda: _("example"),
    "payment_month": lambda: _("payment month"),
    "method": lambda: _("method"),
    "index": lambda: _("index"),
    "rounding": lambda: _("rounding"),
    "minimum": lambda: _("minimum"),
    "multiplier": lambda: _("multiplier"),
    "path": lambda: _("path"),
}


def heading(key: str) -> str:
    """A column heading in Chinese; in English the key itself, as scripts see it."""
    from cpi_link.core.i18n import is_zh

    words = COLUMN_HEADINGS.get(key)
    return words() if words and is_zh() else key


def warn(message: str) -> None:
    from cpi_link.core.privacy import mask_digits

    stderr_console().print(_("[bold yellow]warning:[/] {message}").format(message=mask_digits(message)), markup=True)


def info(message: str) -> None:
    from cpi_link.core.privacy import mask_digits

    stderr_console().print(mask_digits(message))


_interrupted = {"signal": None}


class Interrupted(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the work stops, temp files are removed, exit 130."""


def _on_signal(signum, frame):
    _interrupted["signal"] = signum
    raise Interrupted()


def _quiet_stdout() -> None:
    """The reader of stdout went away (`| head`): say nothing more there."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def handle_errors(fn: Callable) -> Callable:
    """Turn expected errors into one clear stderr line and the SPEC 7 exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import signal
        import threading

        ctx = kwargs.get("ctx")
        debug = bool(ctx and state(ctx).debug)
        old = None
        _interrupted["signal"] = None
        if threading.current_thread() is threading.main_thread():
            old = (signal.signal(signal.SIGTERM, _on_signal), signal.signal(signal.SIGINT, _on_signal))
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            _say_interrupted()
            raise typer.Exit(130) from None
        except BrokenPipeError:
            _quiet_stdout()
            raise typer.Exit(0) from None
        except BaseException as exc:
            if _interrupted["signal"] is not None or _chained_interrupt(exc):
                # a signal's KeyboardInterrupt turned into another error while a writer was closing
                _say_interrupted()
                raise typer.Exit(130) from None
            if isinstance(exc, CpiLinkError):
                if debug:
                    raise
                from rich.markup import escape

                stderr_console().print(_("[bold red]error:[/] {message}").format(message=escape(_error_text(exc))))
                raise typer.Exit(int(exc.exit_status)) from None
            said = system_error(exc)
            if said is not None and not debug:
                from rich.markup import escape

                logging.getLogger("cpi_link.run").error("stopped: %s", said)
                stderr_console().print(_("[bold red]error:[/] {message}").format(message=escape(said)))
                raise typer.Exit(int(ExitStatus.BAD_INPUT)) from None
            if not isinstance(exc, Exception):
                raise
            if debug:
                raise
            return _bug(exc)
        finally:
            if old is not None:
                signal.signal(signal.SIGTERM, old[0])
                signal.signal(signal.SIGINT, old[1])

    def _bug(exc):
        stderr_console().print(
            _("[bold red]unexpected fault:[/] {name}. This is a bug in cpi-link; "
              "rerun with --debug for the traceback and report it.").format(name=type(exc).__name__)
        )
        raise typer.Exit(int(ExitStatus.FAULT)) from None

    return wrapper


def _chained_interrupt(exc: BaseException) -> bool:
    seen = 0
    e = exc
    while e is not None and seen < 20:
        if isinstance(e, KeyboardInterrupt):
            return True
        e = e.__context__ or e.__cause__
        seen += 1
    return False


def _say_interrupted() -> None:
    import signal

    sig = _interrupted["signal"]
    what = "SIGTERM" if sig == signal.SIGTERM else "Ctrl-C"
    logging.getLogger("cpi_link.run").error("interrupted (%s): stopped; nothing half-written", what)
    try:
        stderr_console().print(_("[bold red]interrupted[/] ({what}): stopped; outputs are whole or absent").format(what=what))
    except (OSError, ValueError):
        pass
def _reader_may_go(emit: Callable) -> Callable:
    """Script output whose reader went away (`| head`) stops quietly, and the command goes on to its
    own exit code (trigger's 3 naming the gaps), not handle_errors' 0."""

    @functools.wraps(emit)
    def wrapper(*args, **kwargs) -> None:
        try:
            emit(*args, **kwargs)
        except BrokenPipeError:
            _quiet_stdout()

    return wrapper


@_reader_may_go
def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def csv_encoding(encoding: str | CsvEncoding | None = None) -> str:
    """The --encoding of the running command (EncodingOption), else utf-8."""
    if encoding is None:
        encoding = _CSV_ENCODING.get()
    return CsvEncoding(encoding).value if encoding else "utf-8"


@_reader_may_go
def emit_csv(rows: list[dict], columns: list[str], encoding: str | CsvEncoding | None = None) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _csv_cell(r.get(k)) for k in columns})
    enc = csv_encoding(encoding)
    if enc == "utf-8":
        sys.stdout.write(buf.getvalue())
        return
    sys.stdout.flush()
    out = getattr(sys.stdout, "buffer", None)
    data = buf.getvalue().encode(enc)  # gb18030 encodes every Unicode character
    if out is None:
        sys.stdout.write(data.decode(enc))
    else:
        out.write(data)
        out.flush()


@_reader_may_go
def emit_csv_batches(batches, columns: list[str], encoding: str | CsvEncoding | None = None) -> None:
    """CSV on stdout as emit_csv writes it, streamed: each batch a dict of column -> pyarrow array,
    written by Arrow's CSV writer as it comes (a batch with a value that needs quotes: by the csv
    module); formula-like text neutralised as in emit_csv."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from cpi_link.core.cells import formula_like_mask

    enc = csv_encoding(encoding)
    sys.stdout.flush()
    out = getattr(sys.stdout, "buffer", None)
    if enc == "utf-8-sig":  # the BOM once, at the start: str.encode("utf-8-sig") puts one before every batch
        enc = "utf-8"
        if out is None:
            sys.stdout.write("\ufeff")
        else:
            out.write(codecs.BOM_UTF8)

    def write(data: bytes) -> None:
        if enc != "utf-8":
            data = data.decode("utf-8").encode(enc)  # gb18030 encodes every Unicode character
        if out is None:
            sys.stdout.write(data.decode(enc))
        else:
            out.write(data)

    head = io.StringIO()
    csv.writer(head, lineterminator="\n").writerow(columns)
    write(head.getvalue().encode("utf-8"))
    plain = pacsv.WriteOptions(include_header=False, quoting_style="none")
    for batch in batches:
        arrays = []
        for c in columns:
            v = batch[c]
            v = v.combine_chunks() if isinstance(v, pa.ChunkedArray) else v
            if pa.types.is_string(v.type):
                odd = formula_like_mask(v)
                if odd.any():  # the rare cell that looks like a formula: as emit_csv writes it
                    rows = np.flatnonzero(odd)
                    fixed = pa.array([_csv_cell(x) for x in v.take(pa.array(rows)).to_pylist()], pa.string())
                    v = pc.replace_with_mask(v, pa.array(odd), fixed)
            arrays.append(v)
        table = pa.Table.from_arrays(arrays, names=columns)
        buf = io.BytesIO()
        try:
            pacsv.write_csv(table, buf, plain)
        except pa.ArrowInvalid:  # a comma, quote or line break in some value: quoted as emit_csv quotes it
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerows(
                zip(*[["" if x is None else x for x in a.to_pylist()] for a in arrays]))
            buf = io.BytesIO(text.getvalue().encode("utf-8"))
        write(buf.getvalue())
    if out is not None:
        out.flush()


def _csv_cell(v: Any) -> Any:
    if isinstance(v, bool):  # as JSON writes them, in every CSV
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False, default=str)
    if v is None:
        return ""
    from cpi_link.core.cells import neutral

    return neutral(str(v))  # spreadsheet formula injection neutralised in anything written as CSV


# -- what the commands that read rosters and write runs share (calc, validate, run, oneoff, report, estimate)

SCHEME_HELP = _(
    "Scheme name (a file in CONFIG/schemes, e.g. shanxi, national) or the path of a scheme TOML file. "
    "Default: default_scheme in CONFIG/sources.toml, else shanxi."
)
STANDARDS_HELP = _("Standards file: CSV or a spreadsheet (XLSX, XLS, ODS) with region_code, effective_from, urban_monthly, "
                   "rural_monthly|rural_annual (Chinese headers too). Default: the bundled SAMPLE, with a warning.")
ROSTER_HELP = _("Roster file: CSV (UTF-8/BOM/GB18030), XLSX/XLSM, XLS, ODS or Parquet; English or Chinese headers, "
                "found among the first 30 rows. Give it more than once for several files read as one roster "
                "(one person paid once across them).")
SHEET_HELP = _("Worksheet of a spreadsheet roster: its name or number from 1 (hidden sheets only this way), or all: every "
               "visible sheet that looks like a roster, read as one roster. Default: the visible sheet that looks like "
               "a roster (several: an error listing them), else the active one.")
STANDARDS_MAX_HELP = _("The highest plausible monthly standard, yuan (default 3000): a standard above it is refused as a typing error.")
REMARK_CHECK_HELP = _("Do not reject rows whose 备注 says 死亡, 去世, 停保, 注销, 迁出 or 暂停 (remark_says_stopped); a scheme's "
                      "remark_check = false does the same. The manifest records it.")
STANDARDS_SHEET_HELP = _("Worksheet of a spreadsheet standards file: name or number from 1 (default as for --sheet).")


def load_standards_option(standards: Optional[Path], sheet: Optional[str] = None, most: Optional[str] = None):
    from cpi_link.core.paths import bundled_data_dir
    from cpi_link.rules.standards import load_standards

    if standards is None:
        sample = bundled_data_dir() / "sample" / "standards.csv"
        warn(
            _("no --standards given: using the bundled SAMPLE standards {path}. "
              "Its amounts are invented for the demo; pass your region's official standards file.").format(path=sample)
        )
        return load_standards(sample, sample=True)
    return load_standards(standards, sheet=sheet, most=standards_max(most))


def standards_max(most: Optional[str]):
    """--standards-max as a Decimal (None: the default bound); UsageError when it is no number of yuan."""
    if most is None:
        return None
    from cpi_link.core.decimals import plain_decimal

    try:
        return plain_decimal(most, "--standards-max")
    except ValueError:
        from cpi_link.core.errors import UsageError

        raise UsageError(_("--standards-max {value!r} is not a number of yuan").format(value=most)) from None


def default_scheme(config_dir: Path) -> str:
    from cpi_link.rules.schemes import default_scheme as _default

    return _default(config_dir)


def warn_unverified(rules) -> None:
    if not rules.verified:
        warn(
            _("the rules in force ({rules}) are "
              "marked verified = false: their values have not been checked against the document text. "
              "Check them before paying (cpi-link scheme show).").format(rules=f"{rules.version}{' + ' + ', '.join(rules.overlays) if rules.overlays else ''}")
        )


def roster_paths(roster) -> list[Path]:
    """--roster given once or more: the files, in order."""
    return [Path(p) for p in roster] if isinstance(roster, (list, tuple)) else [Path(roster)]


def progress_for(roster, fmt: Format, quiet: bool = False):
    """A rich progress bar on stderr for people, for rosters worth waiting for (one file or several)."""

    if quiet or fmt is not Format.table or sum(p.stat().st_size for p in roster_paths(roster)) < 20_000_000:
        return contextlib.nullcontext(None)
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn(_("{task.completed:,} rows")),
                    TimeElapsedColumn(), console=stderr_console(), transient=True)


@contextlib.contextmanager
def progress_ticker(roster, fmt: Format, label: str):
    """Yield a callable to advance a progress bar by n rows (or None when no bar is shown)."""
    with progress_for(roster, fmt) as bar:
        if bar is None:
            yield None
        else:
            task = bar.add_task(label, total=None)
            yield lambda n: bar.advance(task, n)


def emit_result(fmt: Format, j: dict, printer, res) -> None:
    """A run's result: JSON or one CSV row for scripts, tables for people."""
    if fmt is Format.json:
        emit_json(j)
    elif fmt is Format.csv:
        j = dict(j)
        j.pop("decision", None)
        emit_csv([j], list(j))
    else:
        printer(res)


def result_json(res) -> dict:
    from cpi_link.core.money import fen_to_yuan_str

    return {
        "month": res.month,
        "run_id": res.run_id,
        "run_dir": str(res.run_dir),
        "triggered": res.triggered,
        "decision": res.decision,
        "input_rows": res.input_rows,
        "paid_rows": res.paid_rows,
        "persons": res.persons,
        "total_amount": fen_to_yuan_str(res.total_fen),
        "rejected_rows": sum(res.rejected_by_reason.values()),
        "rejected_by_reason": res.rejected_by_reason,
    }


def print_result(res) -> None:
    from cpi_link.rules.trigger import decision_reason

    con = stdout_console()
    decisions = res.decision if isinstance(res.decision, list) else [res.decision]
    for d in decisions:
        mark = _("[bold green]TRIGGERED[/]") if d["triggered"] else _("[bold]not triggered[/]")
        con.print(f"[bold]{res.month}[/] {region_label(d['region_code'])} " + _("{mark}: {reason}").format(mark=mark, reason=decision_reason(d, (getattr(res, "manifest", None) or {}).get("rules"))))
    print_roster_read(con, res)
    print_tables(con, res, _("Payments for index month {month}").format(month=res.month))


def roster_read_text(entry: dict) -> str | None:
    """'sheet '花名册', header on row 3' for a roster not read from its first line (None otherwise)."""
    parts = []
    if entry.get("sheet") is not None:
        parts.append(_("sheet {name}").format(name=repr(entry["sheet"])))
    first, last = entry.get("header_row", 1), entry.get("header_end") or entry.get("header_row", 1)
    if last > first:
        parts.append((_("header on lines {first}-{last}") if entry.get("format") == "csv" else
                      _("header on rows {first}-{last}")).format(first=first, last=last))
    elif first != 1 or parts:
        parts.append((_("header on line {row}") if entry.get("format") == "csv" else _("header on row {row}")).format(row=first))
    if entry.get("hidden_rows"):
        parts.append(f"{entry['hidden_rows']:,} rows hidden in the sheet ({entry.get('hidden_paid_rows', 0):,} of them paid)")
    return ", ".join(parts) or None


def roster_entry(res) -> dict:
    """The roster's entry of a run's manifest ({} without one)."""
    return next((i for i in (res.manifest or {}).get("inputs", []) if i.get("role") == "roster"), {})


def print_roster_read(con, res) -> None:
    print_roster_entry(con, roster_entry(res))


def print_roster_entry(con, entry: dict) -> None:
    """Where the header was and how each header cell was read (SPEC 5.1: every cell accounted for);
    for a roster of several sources, each file and sheet with its rows, and the sheets skipped."""
    from rich.markup import escape

    if entry.get("sources"):
        for i, src in enumerate(entry["sources"], 1):
            where = Path(src["path"]).name + ("" if src.get("sheet") is None else _(", sheet {name}").format(name=repr(src["sheet"])))
            con.print(_("roster {i} of {n}: {where}, {rows} rows").format(
                i=i, n=len(entry["sources"]), where=escape(where), rows=f"{src.get('rows', 0):,}"))
            _print_one_source(con, {k: v for k, v in src.items() if k != "sheet"})
        _print_skipped(con, entry)
    else:
        _print_skipped(con, entry)
        _print_one_source(con, entry)
    if entry.get("remark_check") is False:
        con.print(_("remark check off: rows whose 备注 says 停保, 死亡… were not rejected for it"))


def _print_one_source(con, entry: dict) -> None:
    """How one file (and sheet) was read: where its header was, each header cell, later tables."""
    from rich.markup import escape

    text = roster_read_text(entry)
    if text:
        con.print(_("roster: {text}").format(text=escape(text)))
    cells = header_cells_text(entry.get("header_cells") or [])
    if cells:
        con.print(_("columns read: {cells}").format(cells=escape(cells)))
    for t in entry.get("tables") or []:
        said = _("another table, header on line {row}: {cells}") if entry.get("format") == "csv" else \
            _("another table, header on row {row}: {cells}")
        con.print(said.format(row=t["header_row"], cells=escape(header_cells_text(t["header_cells"]))))


# a roster warning's name (the manifest's and the JSON's key) in words
_WARNING_WORDS = {"household_size": N_("household size differs from the members listed")}


def warning_text(key: str) -> str:
    """A roster warning as reason_text gives a reason: in Chinese its words and the key, in English
    the key (scripts and people share it)."""
    from cpi_link.core.i18n import is_zh

    return f"{_(_WARNING_WORDS[key])} ({key})" if key in _WARNING_WORDS and is_zh() else key


def warn_roster(entry: dict) -> None:
    """The roster's warnings on stderr, as validate lists them: a household whose head's 保障人数
    differs from the members listed (calc and run; the manifest's roster entry keeps them)."""
    from cpi_link.calc.handle import place_text
    from cpi_link.roster.reasons import detail_text

    for k, w in (entry.get("warnings") or {}).items():
        places = w.get("example_places") or [None] * len(w["example_details"])  # several files: each row's file and sheet
        for f, d, p in zip(w["example_file_rows"], w["example_details"], places):
            warn((_("roster {place}, row {row}: {detail}").format(place=place_text(p), row=f, detail=detail_text(d)) if p else
                  _("roster row {row}: {detail}").format(row=f, detail=detail_text(d))))
        more = w["rows"] - len(w["example_details"])
        if more > 0:
            warn(_("roster: {n} more rows with the warning {warning} (cpi-link validate lists them)").format(
                n=more, warning=warning_text(k)))


def _print_skipped(con, entry: dict) -> None:
    """The sheets `--sheet all` did not read, each with the reason."""
    from rich.markup import escape

    from cpi_link.calc.handle import skip_text

    for s in entry.get("skipped_sheets") or []:
        con.print(_("sheet {name} of {file} not read: {why}").format(
            name=escape(repr(s["sheet"])), file=escape(Path(s["path"]).name), why=skip_text(s["reason"])))


def header_cells_text(cells: list[dict]) -> str:
    """'B3 姓名 → name; A3 序号 → not used' for the header cells of a roster."""
    from cpi_link.core.i18n import is_zh
    from cpi_link.roster.schema import HEADER_ALIASES

    def gives(key: str | None) -> str:
        if key is None:
            return _("not used")
        return f"{HEADER_ALIASES[key][1]}（{key}）" if is_zh() and key in HEADER_ALIASES else key

    hidden = _(" (hidden column)")
    return ("；" if is_zh() else "; ").join(f"{c['cell']} {c['text']}{hidden if c.get('hidden') else ''} → {gives(c['column'])}"
                                           for c in cells)


def print_tables(con, res, title: str) -> None:
    """The tables every run prints: payments by category, rejected rows by reason, where outputs are."""
    from rich.markup import escape
    from rich.table import Table

    from cpi_link.core.categories import CATEGORY_LABELS
    from cpi_link.core.money import fen_to_yuan_str

    if res.paid_rows:
        t = Table(title=title)
        for c, j in ((_("category"), "left"), ("类别", "left"), (_("rows"), "right"), (_("persons"), "right"), (_("yuan"), "right")):
            t.add_column(c, justify=j)
        for r in sorted(res.by_category, key=lambda r: r["category"]):
            t.add_row(r["category"], CATEGORY_LABELS.get(r["category"], ""), f"{r['rows']:,}", f"{r['persons']:,}",
                      fen_to_yuan_str(r["amount_fen"]))
        t.add_row(_("[bold]total[/]"), "", f"{res.paid_rows:,}", f"{res.persons:,}", f"[bold]{fen_to_yuan_str(res.total_fen)}[/]")
        con.print(t)
    if res.rejected_by_reason:
        from cpi_link.roster.reasons import reason_text

        t = Table(title=_("Rejected rows (see rejected.parquet)"))
        t.add_column(_("reason"))
        t.add_column(_("rows"), justify="right")
        for k, v in res.rejected_by_reason.items():
            t.add_row(reason_text(k), f"{v:,}")
        con.print(t)
    con.print(_("input rows {input:,}; paid {paid:,}; rejected {rejected:,}").format(input=res.input_rows, paid=res.paid_rows, rejected=sum(res.rejected_by_reason.values())))
    con.print(_("outputs: [bold]{path}[/]").format(path=escape(str(res.run_dir))), soft_wrap=True)  # a path to copy: never wrapped
