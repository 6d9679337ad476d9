"""Exit codes (SPEC 7) and the errors that carry them: one place, like httpie's ExitStatus."""

from __future__ import annotations

from enum import IntEnum


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
