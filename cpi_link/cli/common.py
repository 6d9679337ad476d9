"""What every command shares: global state, error handling, output formats."""

from __future__ import annotations

import csv
import errno
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

from cpi_link.core.errors import CpiLinkError, ExitStatus
from cpi_link.core.i18n import N_, _, pgettext


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
    return raw  # the plain text: typer converts the callback's result to the enum once more


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

    return Console(highlight=False)


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


# errors of the system, not of cpi-link: exit 2 naming the path and the cause (SPEC 7)
SYSTEM_ERRNOS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
                 errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
                 errno.EPERM: "operation not permitted", errno.EFBIG: "the file is too large for this system's limit",
                 errno.EIO: "an input/output error of the disk"}
_ERRNO_IN_TEXT = re.compile(r"errno (\d+)", re.I)
_interrupted = {"signal": None}


class Interrupted(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the work stops, temp files are removed, exit 130."""


def _on_signal(signum, frame):
    _interrupted["signal"] = signum
    raise Interrupted()


def system_error(exc: BaseException) -> str | None:
    """A person's sentence for an OSError of the system (disk full, read-only, permissions), else None."""
    if not isinstance(exc, OSError):
        return None
    code = exc.errno
    if code is None:
        m = _ERRNO_IN_TEXT.search(str(exc))
        code = int(m.group(1)) if m else None
    if code not in SYSTEM_ERRNOS:
        return None
    where = exc.filename or exc.filename2
    return f"{where or 'writing the outputs'}: {SYSTEM_ERRNOS[code]} ({os.strerror(code)}); nothing was half-written"


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
# Errors raised in English by lower layers, as templates shown in the reader's language (an
# error matching none is shown as it is; messages made with `_` need no template).
ERROR_TEMPLATES = (
    N_("{path}: no such roster file"),
    N_("{path}: is a folder, not a roster file"),
    N_("{path}: the roster file is empty"),
    N_("{path}: old Excel .xls is not supported; save it as .xlsx or CSV"),
    N_("{path}: the first line is empty; the roster needs a header row"),
    N_("{path}: the workbook has no sheets"),
    N_("{path}: the first sheet is empty"),
    N_("{path}: missing required column(s) {wanted}; the header has: {shown}"),
    N_("{path}: the header has the column {column} twice"),
    N_("{path}: columns {a} and {b} both give {key}; keep one of them"),
    N_("another cpi-link run holds the lock {lock} ({holder}); not starting"),
    N_("{month} is already completed (run {run}); use --redo {key} --reason TEXT to supersede it"),
    N_("--redo needs --reason TEXT: why the completed month is superseded"),
    N_("{month} has no completed run yet: run it first (cpi-link run or calc), then supplement"),
    N_("no month has every figure that scheme {name} needs; fetch or import them first"),
    N_("{month}: no {indicators} figure for {region}, though a later month ({later}) is published; "
       "import it (cpi-link fetch --source file) and run again. Months before it are done."),
)


def _error_text(exc: CpiLinkError) -> str:
    """The error's message in the current language: a message made with `_` already is; an
    English one is looked up whole in the catalog, then against ERROR_TEMPLATES."""
    from cpi_link.core.i18n import is_zh, translate, translate_template

    text = translate(exc.message)
    if text == exc.message and is_zh():
        text = translate_template(exc.message, ERROR_TEMPLATES, span=True) or text
    return text


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def csv_encoding(encoding: str | CsvEncoding | None = None) -> str:
    """The --encoding of the running command (EncodingOption), else utf-8."""
    if encoding is None:
        encoding = _CSV_ENCODING.get()
    return CsvEncoding(encoding).value if encoding else "utf-8"


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


def _csv_cell(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False, default=str)
    if v is None:
        return ""
    s = str(v)
    # neutralise spreadsheet formula injection in anything we write as CSV
    if s[:1] in ("=", "+", "@") or (s[:1] == "-" and not _is_number(s)):
        return "'" + s
    return s


def _is_number(s: str) -> bool:
    from decimal import Decimal, InvalidOperation

    try:
        return Decimal(s).is_finite()
    except InvalidOperation:
        return False
