"""Personal data in what people read: resident IDs and bank accounts masked."""

from __future__ import annotations

import logging
import re

# what people put between an ID's digit groups: spaces, dashes, dots (140105 19611021 1015)
_SEPARATOR = r"[ \t\u00a0\u3000]+|[\-.·\u2010-\u2015\u2212\u30fb]"
_SEPARATORS = re.compile(rf"(?:{_SEPARATOR})+")
SEPARATORS = _SEPARATORS.pattern
_ID_LIKE = re.compile(r"\d{14,17}[\dXx]")


def mask_id(person_id: object) -> str:
    """First 6 + 8 stars + last 4 (140105********123X), for logs and messages; short input -> stars.
    An ID written in digit groups (140105-19630413-1030) is masked as the ID it spells."""
    s = "" if person_id is None else str(person_id).strip()
    compact = _SEPARATORS.sub("", s)
    if compact != s and _ID_LIKE.fullmatch(compact):
        s = compact
    if len(s) < 11:
        return "*" * len(s)
    return s[:6] + "*" * 8 + s[-4:]


_RUN = re.compile(r"(?<![.\d])\d{15,}[\dXx]?")  # not the decimals of a number (1.0000000000000001)
# digit groups with separators between them, not the decimals of a number
_SPAN = re.compile(rf"(?<![\d.])\d+(?:(?:{_SEPARATOR})\d+)*(?:(?:{_SEPARATOR})\d+[Xx]?|[Xx])?(?![\dA-Za-z])")
_PIECE = re.compile(rf"({_SEPARATOR})|(\d+[Xx]?)")


def _mask_groups(m: re.Match) -> str:
    """Within one span of digit groups, each longest run of consecutive groups joined by one kind
    of separator whose digits total 15 or more is masked as one ID (or account). A single dot is a
    decimal point, not a separator."""
    text = m.group(0)
    groups, seps = [], []
    for p in _PIECE.finditer(text):
        if p.group(2):
            groups.append((p.start(), p.end(), p.group(2)))
        else:
            seps.append(" " if not p.group(1).strip() else p.group(1))
    out, done, i = [], 0, 0
    while i < len(groups):
        j = i
        while (j + 1 < len(groups) and seps[j] == seps[i] and groups[j][2][-1] not in "Xx"
               and (j == i or len(groups[j][2]) >= 2)):
            j += 1
        digits = sum(len(g) for _s, _e, g in groups[i:j + 1])
        if j > i and digits >= 15 and not (seps[i] == "." and j - i < 2):
            out.append(text[done:groups[i][0]])
            out.append(mask_id("".join(g for _s, _e, g in groups[i:j + 1])))
            done = groups[j][1]
        i = j + 1
    out.append(text[done:])
    return "".join(out)


def mask_digits(text: object) -> str:
    """Text with every ID or bank account masked as mask_id does: runs of 15 or more digits (a
    trailing X kept with it), and IDs written in digit groups (140105 19611021 1015,
    140105-19630413-1030, groups of four) whose digits total 15 or 18. Safe to quote a cell in a
    message or a log."""
    s = "" if text is None else str(text)
    if len(s) < 15:
        return s
    s = _SPAN.sub(_mask_groups, s)
    return _RUN.sub(lambda m: mask_id(m.group(0)), s)


def mask_id_array(ids):
    """mask_id over a pyarrow string array at once (IDs of 11 characters or more, as outputs hold)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    if len(ids) and pc.min(pc.utf8_length(pc.fill_null(ids, "00000000000"))).as_py() < 11:
        return pa.array([None if v is None else mask_id(v) for v in ids.to_pylist()], pa.string())
    return pc.binary_join_element_wise(pc.utf8_slice_codeunits(ids, 0, 6), pc.utf8_slice_codeunits(ids, -4), "*" * 8)


class MaskingFormatter(logging.Formatter):
    """Log lines with runs of 15+ digits masked (mask_digits): a logged message that quotes a cell stays safe."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_digits(super().format(record))
