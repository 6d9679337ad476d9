"""What every command shares: global state, error handling, output formats."""

from __future__ import annotations

import csv
import functools
import io
import json
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Callable

import typer

from cpi_link.core.errors import CpiLinkError, ExitStatus
from cpi_link.core.i18n import N_, _, pgettext


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


FORMAT_HELP = _("Output format: 'table' for people (rich), 'json' or 'csv' on stdout for scripts.")


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
    stderr_console().print(_("[bold yellow]warning:[/] {message}").format(message=message), markup=True)


def info(message: str) -> None:
    stderr_console().print(message)


def handle_errors(fn: Callable) -> Callable:
    """Turn expected errors into one clear stderr line and the SPEC 7 exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        ctx = kwargs.get("ctx")
        debug = bool(ctx and state(ctx).debug)
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except CpiLinkError as exc:
            if debug:
                raise
            from rich.markup import escape

            stderr_console().print(_("[bold red]error:[/] {message}").format(message=escape(_error_text(exc))))
            raise typer.Exit(int(exc.exit_status)) from None
        except KeyboardInterrupt:
            stderr_console().print(_("[bold red]interrupted[/]"))
            raise typer.Exit(130) from None
        except Exception as exc:  # a bug
            if debug:
                raise
            stderr_console().print(
                _("[bold red]unexpected fault:[/] {name}. This is a bug in cpi-link; "
                  "rerun with --debug for the traceback and report it.").format(name=type(exc).__name__)
            )
            raise typer.Exit(int(ExitStatus.FAULT)) from None

    return wrapper


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


def emit_csv(rows: list[dict], columns: list[str]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _csv_cell(r.get(k)) for k in columns})
    sys.stdout.write(buf.getvalue())


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
