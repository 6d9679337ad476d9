"""Personal data in what people read: resident IDs and bank accounts masked."""

from __future__ import annotations

import re


def mask_id(person_id: object) -> str:
    """First 6 + 8 stars + last 4 (140105********123X), for logs and messages; short input -> stars."""
    s = "" if person_id is None else str(person_id).strip()
    if len(s) < 11:
        return "*" * len(s)
    return s[:6] + "*" * 8 + s[-4:]


_RUN = re.compile(r"(?<![.\d])\d{15,}[\dXx]?")  # not the decimals of a number (1.0000000000000001)


def mask_digits(text: object) -> str:
    """Text with every run of 15 or more digits (an ID or a bank account; a trailing X kept with it)
    masked as mask_id does: safe to quote a cell in a message or a log."""
    s = "" if text is None else str(text)
    return _RUN.sub(lambda m: mask_id(m.group(0)), s) if len(s) >= 15 else s
