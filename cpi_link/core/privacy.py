"""Personal data in what people read: resident IDs and bank accounts masked."""

from __future__ import annotations


def mask_id(person_id: object) -> str:
    """First 6 + 8 stars + last 4 (140105********123X), for logs and messages; short input -> stars."""
    s = "" if person_id is None else str(person_id).strip()
    if len(s) < 11:
        return "*" * len(s)
    return s[:6] + "*" * 8 + s[-4:]
