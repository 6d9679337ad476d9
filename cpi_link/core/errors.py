"""Exit codes (SPEC 7) and the errors that carry them: one place, like httpie's ExitStatus."""

from __future__ import annotations

import errno
import os
import re
from enum import IntEnum

from cpi_link.core.i18n import N_


class ExitStatus(IntEnum):
    OK = 0
    FAULT = 1  # a bug: traceback only under --debug
    BAD_INPUT = 2  # bad usage, unreadable input or invalid config; nothing written
    MISSING_FIGURES = 3  # index figures missing (or source unreachable) for a month asked for
    LOCKED = 4  # another run holds the lock


class CpiLinkError(Exception):
    """An expected failure with a message meant for a person. Never carries a resident ID."""

    exit_status = ExitStatus.BAD_INPUT

    def __init__(self, message: str):
        from cpi_link.core.privacy import mask_digits

        message = mask_digits(message)  # a quoted cell may hold an ID or an account: masked here, for every message
        super().__init__(message)
        self.message = message


class UsageError(CpiLinkError):
    exit_status = ExitStatus.BAD_INPUT


class InputError(CpiLinkError):
    """A file that cannot be read, or a row in it that is wrong. Name the file, row and field."""

    exit_status = ExitStatus.BAD_INPUT


class ConfigError(CpiLinkError):
    """Invalid scheme, programme, sources or standards config."""

    exit_status = ExitStatus.BAD_INPUT


class StoreCorrupt(CpiLinkError):
    exit_status = ExitStatus.BAD_INPUT


class MissingFigures(CpiLinkError):
    exit_status = ExitStatus.MISSING_FIGURES


class SourceUnavailable(CpiLinkError):
    """The statistics source is unreachable, blocked or answered garbage."""

    exit_status = ExitStatus.MISSING_FIGURES


class LockHeld(CpiLinkError):
    exit_status = ExitStatus.LOCKED


# errors of the system, not of cpi-link: exit 2 naming the path and the cause (SPEC 7)
SYSTEM_ERRNOS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
                 errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
                 errno.EPERM: "operation not permitted", errno.EFBIG: "the file is too large for this system's limit",
                 errno.EIO: "an input/output error of the disk"}
_ERRNO_IN_TEXT = re.compile(r"errno (\d+)", re.I)


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


def error_text(exc: CpiLinkError) -> str:
    """The error's message in the current language: a message made with `_` already is; an
    English one is looked up whole in the catalog, then against ERROR_TEMPLATES."""
    from cpi_link.core.i18n import is_zh, translate, translate_template

    text = translate(exc.message)
    if text == exc.message and is_zh():
        text = translate_template(exc.message, ERROR_TEMPLATES, span=True) or text
    return text
