"""Reading and checking recipient rosters (SPEC 5.1), streamed in batches and checked by column.

Formats: CSV (UTF-8, UTF-8 with BOM, or GB18030; comma, tab or semicolon separated), spreadsheets
(XLSX/XLSM/XLS/ODS, the sheet and header row found by roster.read) and Parquet. Every column is read as text. Each batch is a pyarrow Table (ROSTER_SCHEMA):
the normalised fields, the row's original text (orig_*), and a `reason` when the row failed a check
done here; the calculator adds the checks that need the month's rules (category_not_covered,
unknown_region, duplicate_person, a missing area for a by_area category).

Reason precedence when a row has several problems (the first one wins, `detail` explains it):
  1. the person_id: id_lost_precision, invalid_id, or missing_field when it is empty;
  2. missing_field: name, category, region_code (not 6 digits counts as missing), then an area
     value that is not urban/rural;
  3. unknown_category;
  4. bad_persons (not a whole number from 1 to MAX_PERSONS = 99);
  5. bank_account_lost_precision (a number cell of more than 15 digits, or 6.22E+18 as text).

Row numbers (`source_row`) are 1-based over data rows, after the header, continuing across
batches; blank lines (CSV) and wholly empty rows (spreadsheets) are not data rows and are not
counted. `file_row` is the row a person sees (spreadsheet row, CSV line; roster.read). Spreadsheet
cells that stand for no value (formula_without_value, bad_cell) take precedence over other reasons.
A file that cannot be read, is empty, has no header, lacks a required column or has a required
column twice raises InputError (exit 2). A header with no data rows gives one empty batch.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cpi_link.core.atomic import sha256_file
from cpi_link.core.categories import BY_AREA, CATEGORY_NAMES
from cpi_link.core.privacy import mask_digits
from cpi_link.core.regions import clean_code
from cpi_link.roster.read import NUMERIC_BANK, open_roster, raw_batches
from cpi_link.roster.schema import DICT_TYPE, AREA_VALUES, CHECKED_SCHEMA, FEW_VALUED, ROSTER_COLUMNS, ROSTER_SCHEMA, short
from cpi_link.roster.ids import (R_BAD_PERSONS, R_BANK_LOST, R_MISSING, R_OK, R_STOPPED, R_TITLE, R_TOTAL, R_UNKNOWN_CAT,
                                  REASONS, normalise_ids, offsets_of)

_MAX_PERSONS_DIGITS = 6
# The most persons one row (a household) may cover: more is a typing error (SPEC 5.1 persons, bad_persons).
MAX_PERSONS = 99

# --------------------------------------------------------------------------------------------
# Public API


def roster_info(path: Path | str, sheet: str | int | None = None) -> dict:
    """Path, format, encoding (CSV only), sheet and header_row (the row a person sees), sha256 and
    the header mapping {column: header text}."""
    r = open_roster(path, sheet)
    return {**r.info(), "sha256": sha256_file(r.path)}


def iter_roster(path: Path | str, batch_rows: int = 1_000_000, sheet: str | int | None = None) -> Iterator[pa.Table]:
    """Stream the roster as checked batches of at most `batch_rows` rows (see the module doc)."""
    return (t.cast(ROSTER_SCHEMA) for t in check_batches(raw_batches(path, batch_rows, sheet=sheet)))


def check_batches(raw: Iterator[tuple[pa.Table, np.ndarray | None]], known_ids=None, remark_check: bool = True,
                  households: "HouseholdSizes | None" = None) -> Iterator[pa.Table]:
    """check_batch over raw batches (CHECKED_SCHEMA), numbering data rows from 1; one empty table for no rows.

    known_ids: optional first data row -> ids.CheckedIds or None (calc's first pass checked the IDs).
    remark_check: False when a scheme or command turned the remark_says_stopped check off.
    households: a HouseholdSizes that sees every raw batch (one row per family member)."""
    first_row = 1
    yielded = False
    for table, numeric_id in raw:
        if table.num_rows == 0:
            continue
        if households is not None:
            households.add(table, first_row)
        checked = check_batch(table, first_row, numeric_id, known_ids(first_row) if known_ids else None,
                              remark_check=remark_check)
        first_row += table.num_rows
        checked = _drop_blank_rows(checked)
        if checked.num_rows == 0:
            continue
        yielded = True
        yield checked
    if not yielded:
        yield CHECKED_SCHEMA.empty_table()


def _drop_blank_rows(t: pa.Table) -> pa.Table:
    """Without the rows that hold no text in any roster column: a CSV line of separators only
    (",,,,,": Excel's CSV of formatted empty rows) is a blank row, like a blank line, neither paid
    nor rejected. Their data-row numbers stay unused, so row numbers keep matching the file."""
    reason = t.column("reason")
    if reason.null_count == t.num_rows:  # the usual batch: no row failed a check
        return t
    # a blank row always failed a check (its empty ID is missing_field): only the rejected rows are
    # looked at, column by column, each column on the rows still blank (a few, not the batch)
    at = np.flatnonzero(pc.is_valid(reason).to_numpy(zero_copy_only=False))
    for c in ROSTER_COLUMNS:
        col = t.column("orig_" + c).take(pa.array(at))
        col = col.cast(pa.string()) if not pa.types.is_string(col.type) else col
        at = at[pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(pc.fill_null(col, ""))), 0).to_numpy(zero_copy_only=False)]
        if not len(at):  # the usual rejected rows: each has an ID or other text
            return t
    # a 合计 or title row whose text is in a column not kept (序号, 备注) is a rejected row, not blank
    marked = pc.is_in(reason.take(pa.array(at)).cast(pa.string()), value_set=pa.array(["total_row", "title_row"]))
    at = at[~pc.fill_null(marked, False).to_numpy(zero_copy_only=False)]
    if not len(at):
        return t
    keep = np.ones(t.num_rows, dtype=bool)
    keep[at] = False
    return t.filter(pa.array(keep))


BORN_AFTER = "born after the index month {month} (birth date in characters 7-14 of the ID)"


def mark_born_after(batch: pa.Table, month: str) -> pa.Table:
    """invalid_id for the rows whose valid ID says the person was born after the index month
    (YYYY-MM): nobody is paid for a month before their birth."""
    born = pc.utf8_slice_codeunits(batch.column("person_id"), 6, 12)
    late = pc.fill_null(pc.and_(pc.greater(born, month.replace("-", "")), pc.is_null(batch.column("reason"))), False)
    if not pc.any(late).as_py():
        return batch
    for name, text in (("reason", "invalid_id"), ("detail", BORN_AFTER.format(month=month))):
        i = batch.schema.get_field_index(name)
        col = pc.if_else(late, pa.scalar(text), batch.column(name).cast(pa.string()))
        batch = batch.set_column(i, batch.schema.field(i), col.cast(batch.schema.field(i).type))
    return batch


def read_roster(path: Path | str) -> pa.Table:
    """The whole roster as one checked table (for small files and tests)."""
    return pa.concat_tables(list(iter_roster(path)))


# --------------------------------------------------------------------------------------------
# Checking one batch of raw text columns


def check_batch(raw: pa.Table, first_row: int, numeric_id: np.ndarray | None = None, known=None,
                remark_check: bool = True) -> pa.Table:
    """Check a batch whose columns are the ROSTER_COLUMNS present, as strings (nulls allowed);
    a CHECKED_SCHEMA table. remark_check=False: a 备注 saying the person stopped is not looked at.

    `numeric_id`: optional bool mask of rows whose ID cell was a number (XLSX/Parquet float).
    `known`: the ids.CheckedIds of these same IDs (checked by calc's first pass), or None.
    """
    n = raw.num_rows
    orig = {}
    few = {}  # the few-valued columns, checked once per distinct value (_Few)
    for c in ROSTER_COLUMNS:
        if c in raw.column_names:
            col = raw.column(c)
            col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
            if c in FEW_VALUED:
                few[c] = _Few(col)
                orig[c] = few[c].original
            else:
                orig[c] = col if col.type == pa.string() else col.cast(pa.string())
        else:
            orig[c] = pa.nulls(n, pa.string())
            if c in FEW_VALUED:
                few[c] = _Few(orig[c])
                orig[c] = few[c].original

    def trimmed(c: str) -> pa.Array:
        a = orig[c]
        a = pc.fill_null(a, "") if a.null_count else a
        t = pc.utf8_trim_whitespace(a)
        # nothing trimmed (the usual column): keep the original, so a batch holds its text once
        return a if _text_bytes(t) == _text_bytes(a) else t

    def empty(a: pa.Array) -> np.ndarray:
        """Bool per row: the (null-free) string is empty; read off the offsets."""
        offsets = offsets_of(a)
        return offsets[1:] == offsets[:-1]

    def nonempty_or_null(a: pa.Array) -> pa.Array:
        e = empty(a)
        return pc.if_else(pa.array(e), pa.scalar(None, pa.string()), a) if e.any() else a

    # person_id
    ids = known.for_column(orig["person_id"]) if known is not None else None
    if ids is None:
        ids = normalise_ids(orig["person_id"])
    reason = ids.reason  # normalise_ids and for_column give this batch its own arrays: marked in place
    detail = ids.detail
    lost = _lost_id(orig["person_id"], numeric_id) if numeric_id is not None and numeric_id.any() else None
    if lost is not None and lost.any():
        reason[lost] = REASONS.index("id_lost_precision")
        detail[lost] = "the ID cell is a number, not text, so its last digits are lost; format the column as text and retype it"
        person_id = pc.if_else(pa.array(lost), pa.scalar(None, pa.string()), ids.person_id)
        flag = pc.if_else(pa.array(lost), pa.scalar(None, pa.string()), ids.flag)
        key = np.where(lost, 0, ids.key)
    else:
        person_id, flag, key = ids.person_id, ids.flag, ids.key
    id_bad = reason != R_OK  # where a 合计 row or a page title may be (a row with a valid ID is a person)

    def mark(mask: np.ndarray | None, code: int, messages) -> None:
        """Set reason `code` where `mask` (None: no row) and no earlier-precedence reason is set."""
        if mask is None:
            return
        hit = mask & (reason == R_OK)
        if not hit.any():
            return
        reason[hit] = code
        if callable(messages):
            rows = np.flatnonzero(hit)
            detail[rows] = np.array([messages(int(r)) for r in rows] + [None], dtype=object)[:-1]
        else:
            detail[hit] = messages

    # name
    name = trimmed("name")
    mark(empty(name), R_MISSING, "name is empty")

    # category: a code (any case) or a Chinese name/alias
    cat = few["category"]
    cat_empty_v = empty(cat.values)
    keys = list(CATEGORY_NAMES)
    ci = _np_filled(pc.index_in(pc.ascii_lower(cat.values), value_set=pa.array(keys)), len(keys))
    codes = list(dict.fromkeys(CATEGORY_NAMES.values()))
    cat_code_v = np.array([codes.index(CATEGORY_NAMES[k]) for k in keys] + [-1])[ci]
    by_area_names = list(BY_AREA)
    bi = _np_filled(pc.index_in(cat.values, value_set=pa.array(by_area_names)), len(by_area_names))
    by_area_v = bi < len(by_area_names)
    mark(cat.rows(cat_empty_v), R_MISSING, "category is empty")

    # region_code: 6 digits
    reg = few["region_code"]

    def six_digits() -> np.ndarray:
        return (pc.equal(pc.binary_length(reg.values), 6).to_numpy(zero_copy_only=False)
                & pc.ascii_is_decimal(reg.values).to_numpy(zero_copy_only=False))

    ok_v = six_digits()
    full_code = pa.nulls(n, DICT_TYPE)  # the 12-digit 统计用区划代码 as given, kept for the outputs
    if (~ok_v & reg.used).any():  # per distinct value: inner spaces, a spreadsheet's 140105.0, a 12-digit code
        cleaned = [v if ok else clean_code(v) for v, ok in zip(reg.values.to_pylist(), ok_v)]
        full = np.array([len(c) == 12 and c.isascii() and c.isdigit() for c in cleaned])
        if (full & reg.used).any():
            full_code = reg.dictionary(np.where(full, np.arange(len(full)), -1),
                                       pa.array([c if f else "" for c, f in zip(cleaned, full)], pa.string()))
        reg.values = pa.array([_six(c) for c in cleaned], pa.string())
        ok_v = six_digits()
    reg_empty_v = empty(reg.values)
    mark(reg.rows(reg_empty_v), R_MISSING, "region_code is empty")
    mark(
        reg.rows(~ok_v & ~reg_empty_v),
        R_MISSING,
        lambda r: f"region_code '{short(mask_digits(reg.text(r)))}' is not a 6-digit code",
    )
    region_code = reg.dictionary(np.where(ok_v, np.arange(len(ok_v)), -1), reg.values)

    # area: optional; a value that is not urban/rural counts as missing
    ar = few["area"]
    area_keys = list(AREA_VALUES)
    ai = _np_filled(pc.index_in(pc.ascii_lower(ar.values), value_set=pa.array(area_keys)), len(area_keys))
    area_codes = ["urban", "rural"]
    area = ar.dictionary(np.array([area_codes.index(AREA_VALUES[k]) for k in area_keys] + [-1])[ai], area_codes)
    mark(
        ar.rows((ai == len(area_keys)) & ~empty(ar.values)),
        R_MISSING,
        lambda r: f"area '{short(mask_digits(ar.text(r)))}' is not urban/rural (城市/城镇/农村)",
    )

    # 特困人员, 低保 and their like: the urban or rural code by the row's area (rare: per row, vectorised)
    by_area_rows = cat.rows(by_area_v)
    if by_area_rows is None:
        category = cat.dictionary(cat_code_v, codes)
    else:
        row_area = np.array([area_codes.index(AREA_VALUES[k]) for k in area_keys] + [-1])[ai][ar.idx]
        per_row = cat_code_v[cat.idx]
        pairs = np.array([[codes.index(BY_AREA[n][0]), codes.index(BY_AREA[n][1]), -1] for n in by_area_names] + [[-1, -1, -1]])
        row_bi = bi[cat.idx]
        per_row = np.where(by_area_rows, pairs[row_bi, row_area], per_row)
        category = pa.DictionaryArray.from_arrays(pa.array(per_row, pa.int32(), mask=per_row < 0), pa.array(codes))
        mark(by_area_rows & (row_area < 0), R_MISSING,
             lambda r: "area (城乡) is empty: category '{value}' is {urban} or {rural} by it".format(
                 value=short(mask_digits(cat.text(r))), urban=BY_AREA[by_area_names[row_bi[r]]][0],
                 rural=BY_AREA[by_area_names[row_bi[r]]][1]))

    # unknown category (after every missing_field)
    mark(
        cat.rows((ci == len(keys)) & ~cat_empty_v & ~by_area_v),
        R_UNKNOWN_CAT,
        lambda r: f"category '{short(mask_digits(cat.text(r)))}' is not a code or Chinese name of SPEC 5.2",
    )

    # persons: empty -> 1; a whole number >= 1 ("2.0" too)
    per = few["persons"]
    persons_v = _persons(per.values, empty(per.values))
    persons_np = persons_v[per.idx]
    p_bad = per.rows((persons_v < 1) | (persons_v > MAX_PERSONS))
    if "relationship" in raw.column_names or "head_name" in raw.column_names:
        # one row per family member: each row is one person; a household head listed alone keeps its 保障人数
        alone = _alone_heads(raw, orig["name"])
        persons_np = np.where(alone, persons_np, 1)
        p_bad = p_bad & alone if p_bad is not None else None
    mark(
        p_bad,
        R_BAD_PERSONS,
        lambda r: (f"persons {persons_np[r]} is more than {MAX_PERSONS}, the most one row (a household) can cover"
                   if persons_np[r] > MAX_PERSONS else
                   f"persons '{short(mask_digits(per.text(r)))}' is not a whole number of at least 1"),
    )
    persons = pa.array(persons_np, pa.int64(), mask=p_bad)

    bank = trimmed("bank_account")
    numeric_bank = raw.column(NUMERIC_BANK) if NUMERIC_BANK in raw.column_names else None
    bank, bank_lost = _bank_accounts(bank, empty(bank), numeric_bank)
    mark(bank_lost, R_BANK_LOST, "the bank account cell is a number of more than 15 digits, so its last digits are "
                                 "lost; format the column as text and retype the account")
    bank = nonempty_or_null(bank)

    # a remark saying the person stopped (死亡, 去世, 停保, 注销, 迁出, 暂停): not paid, the remark shown
    for c in raw.column_names if remark_check else ():
        if c == "remark" or c.startswith("remark_"):
            text = _plain(raw.column(c))
            hit = pc.fill_null(pc.match_substring_regex(text, STOPPED_WORDS), False).to_numpy(zero_copy_only=False)
            if hit.any():
                mark(hit, R_STOPPED, lambda r, text=text: "the remark says the person stopped: '{value}'".format(
                    value=short(mask_digits(text[r].as_py()))))

    if "cell_reason" in raw.column_names:  # spreadsheet cells that stand for no value (roster.read): they win
        cr = raw.column("cell_reason")
        hit = cr.is_valid().to_numpy(zero_copy_only=False)
        rows = np.flatnonzero(hit)
        reason[rows] = [REASONS.index(x) for x in cr.filter(pa.array(hit)).to_pylist()]
        detail[rows] = np.array(raw.column("cell_detail").filter(pa.array(hit)).to_pylist() + [None], dtype=object)[:-1]
    if id_bad.any():  # 合计/小计 rows and page titles: never a person, whatever else their cells hold
        for row, code, text in _totals_and_titles(raw, orig, np.flatnonzero(id_bad)):
            reason[row] = code
            detail[row] = text
    file_row = raw.column("file_row") if "file_row" in raw.column_names else None
    file_row = _array(file_row) if file_row is not None else pa.array(np.arange(first_row, first_row + n, dtype=np.int64))

    # reason and detail as dictionaries: null on the (many) rows without a problem, no string per row
    bad = reason != R_OK
    n_bad = int(bad.sum())
    valid = pa.py_buffer(np.packbits(bad, bitorder="little"))  # the validity bitmap: bad rows only

    def indices(values: np.ndarray) -> pa.Array:
        return pa.Array.from_buffers(pa.int32(), n, [valid, pa.py_buffer(values)], null_count=n - n_bad)

    reason_arr = pa.DictionaryArray.from_arrays(indices(reason.astype(np.int32)),
                                                pa.array([r or "" for r in REASONS], pa.string()))
    at = np.zeros(n, np.int32)
    at[bad] = np.arange(n_bad, dtype=np.int32)
    detail_arr = pa.DictionaryArray.from_arrays(indices(at), pa.array(detail[bad].tolist(), pa.string()))
    columns = [
        pa.Array.from_buffers(pa.int64(), n, [None, pa.py_buffer(np.arange(first_row, first_row + n, dtype=np.int64))]),
        file_row,
        person_id,
        nonempty_or_null(name),
        category,
        region_code,
        area,
        persons,
        bank,
        flag,
        reason_arr,
        detail_arr,
    ] + [orig[c] for c in ROSTER_COLUMNS] + [pa.array(key)] + [
        _carried(raw, "township", n), _carried(raw, "village", n), _remarks(raw, n), full_code]
    return pa.Table.from_arrays(columns, schema=CHECKED_SCHEMA)


def _trimmed_or_null(col) -> pa.Array:
    """A text column trimmed, an empty cell null (vectorised; no string per row in Python)."""
    col = _plain(col)
    t = pc.utf8_trim_whitespace(col)
    return pc.if_else(pc.equal(t, ""), pa.scalar(None, pa.string()), t)


def _carried(raw: pa.Table, name: str, n: int) -> pa.Array:
    """乡镇 or 村 as written (trimmed, empty -> null), as a dictionary (few values); null when absent."""
    if name not in raw.column_names:
        return pa.nulls(n, DICT_TYPE)
    col = _array(raw.column(name))
    if pa.types.is_dictionary(col.type):  # as read (CSV, Parquet): trimmed once per distinct value, rows not copied
        values = pc.utf8_trim_whitespace(_plain(col.dictionary))
        empty = np.append(pc.equal(values, "").to_numpy(zero_copy_only=False), True)  # the last: a null row
        idx = col.indices.cast(pa.int32())
        null = empty[_np_filled(idx, len(values))]
        indices = pa.array(_np_filled(idx, 0), pa.int32(), mask=null) if null.any() else idx
        return pa.DictionaryArray.from_arrays(indices, values)
    return _dict_of(_trimmed_or_null(col))


def _dict_of(a: pa.Array) -> pa.Array:
    d = pc.dictionary_encode(a)
    return d if d.type == DICT_TYPE else d.cast(DICT_TYPE)


def _remarks(raw: pa.Table, n: int) -> pa.Array:
    """The row's 备注 as written; several 备注 columns joined with "；"; null when none says anything."""
    cols = [_trimmed_or_null(raw.column(c)) for c in raw.column_names if c == "remark" or c.startswith("remark_")]
    if not cols:
        return pa.nulls(n, pa.string())
    if len(cols) == 1:
        return cols[0]
    # (null_handling="skip" gave an empty array for all-null input: empties joined, then the extra separators dropped)
    joined = pc.binary_join_element_wise(*[pc.fill_null(c, "") for c in cols], "；")
    joined = pc.utf8_trim(pc.replace_substring_regex(joined, "；{2,}", "；"), "；")
    return pc.if_else(pc.equal(joined, ""), pa.scalar(None, pa.string()), joined)



def _array(col):
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


# SPEC 5.1: a 备注 with one of these words makes the row remark_says_stopped
STOPPED_WORDS = "死亡|去世|病故|停保|注销|迁出|暂停"
_TOTAL = re.compile(r"^(合计|小计|总计|共计|总合计|本页合计|本页小计)")
_TITLE = re.compile(r"名册|名单|清册|明细|汇总|统计表|发放表|\d{4}年")


def _six(code: str) -> str:
    """A 12-digit 统计用区划代码 read as its county (first six digits); other codes as they are."""
    return code[:6] if len(code) == 12 and code.isascii() and code.isdigit() else code


def _plain(col) -> pa.Array:
    col = _array(col)
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    return pc.fill_null(col if col.type == pa.string() else col.cast(pa.string()), "")


def _alone_heads(raw: pa.Table, name: pa.Array) -> np.ndarray:
    """Bool per row: a household head (与户主关系 户主/本人, or 姓名 = 户主姓名; a row saying nothing
    counts as one) with no member row after it in the batch: its 保障人数 is the household's."""
    n = raw.num_rows
    head = _head_rows(raw, name)
    follows = np.zeros(n, bool)
    follows[:-1] = ~head[1:]
    return head & ~follows


HEADS = ("户主", "本人", "申请人", "")  # 与户主关系 of a household's head (a row saying nothing counts as one)


def _head_rows(raw: pa.Table, name) -> np.ndarray:
    """Bool per row: a household head (与户主关系 in HEADS, or 姓名 = 户主姓名 or 户主姓名 empty)."""
    if "relationship" in raw.column_names:
        rel = pc.utf8_trim_whitespace(_plain(raw.column("relationship")))
        return pc.is_in(rel, value_set=pa.array(HEADS)).to_numpy(zero_copy_only=False)
    nm = pc.utf8_trim_whitespace(_plain(name))
    hn = pc.utf8_trim_whitespace(_plain(raw.column("head_name")))
    return pc.or_(pc.equal(nm, hn), pc.equal(hn, "")).to_numpy(zero_copy_only=False)


HOUSEHOLD_SIZE = ("household of {name} (户主): 保障人数 says {said} but {listed} members are listed; "
                  "each listed member is paid as one person")


class HouseholdSizes:
    """With one row per family member (a 与户主关系 or 户主姓名 column): each household whose head's
    保障人数 differs from the members listed (each listed member is paid as one person), named by
    its head (digits masked). Fed every raw batch in order (check_batches); `found()` gives the
    warning as validate lists it ({rows, example_rows, example_file_rows, example_details}) or None."""

    def __init__(self, examples: int = 5, starts: list | None = None):
        self.examples = examples
        # a roster of several files (calc.handle.SeveralRosters.starts, filled as each is reached):
        # the data rows before each file; a household never runs on into the next file
        self.starts = starts
        self.out = {"rows": 0, "example_rows": [], "example_file_rows": [], "example_details": []}
        self.head = None  # [source_row, file_row, name, 保障人数 or None, members listed]

    @staticmethod
    def wanted(columns) -> bool:
        return "relationship" in columns or "head_name" in columns

    def add(self, raw: pa.Table, first_row: int) -> None:
        if self.starts and first_row - 1 in self.starts:  # a new file's first batch
            self._close()
        if not self.wanted(raw.column_names):  # no household columns (in this source of several): nothing to tally
            return
        n = raw.num_rows
        name = _plain(raw.column("name")) if "name" in raw.column_names else pa.array([""] * n)
        heads = np.flatnonzero(_head_rows(raw, name))
        if self.head is not None:  # rows before this batch's first head belong to the household carried over
            self.head[4] += int(heads[0]) if len(heads) else n
        if not len(heads):
            return
        at = pa.array(heads)
        names = pc.utf8_trim_whitespace(name.take(at)).to_pylist()
        persons = (_plain(raw.column("persons")).take(at).to_pylist() if "persons" in raw.column_names
                   else [""] * len(heads))
        file_rows = (_array(raw.column("file_row")).take(at).to_pylist() if "file_row" in raw.column_names
                     else [None] * len(heads))
        listed = np.diff(np.append(heads, n)).tolist()
        for k, row in enumerate(heads.tolist()):
            self._close()
            p = persons[k].strip()
            said = int(p.split(".")[0]) if re.fullmatch(r"\d+(\.0*)?", p) else None
            self.head = [first_row + row, file_rows[k], names[k], said, listed[k]]

    def _close(self) -> None:
        h, self.head = self.head, None
        if h is None or h[3] is None or h[4] < 2 or h[3] == h[4]:
            return
        self.out["rows"] += 1
        if len(self.out["example_rows"]) < self.examples:
            self.out["example_rows"].append(h[0])
            self.out["example_file_rows"].append(h[1])
            self.out["example_details"].append(HOUSEHOLD_SIZE.format(name=short(mask_digits(h[2])), said=h[3], listed=h[4]))

    def found(self) -> dict | None:
        self._close()
        return self.out if self.out["rows"] else None


def _totals_and_titles(raw: pa.Table, orig: dict, rows: np.ndarray):
    """(row, reason code, detail) for the rows among `rows` (those without a valid ID) that are a
    合计/小计/总计 row (any read cell starting so) or a page title (its one non-empty read cell a
    title: 名册, 名单, 2024年…)."""
    cols = [orig[c] for c in ("person_id", "name", "category", "region_code")]
    cols += [raw.column(c) for c in raw.column_names if c == "seq" or c == "remark" or c.startswith("remark_")]
    at = pa.array(rows)
    texts = [_plain(c).take(at).to_pylist() for c in cols]
    for k, row in enumerate(rows.tolist()):
        cells = [t[k].strip() for t in texts if t[k] and t[k].strip()]
        total = next((c for c in cells if _TOTAL.match("".join(c.split()))), None)
        if total is not None:
            yield row, R_TOTAL, "a total row ('{value}'): not a person".format(value=short(mask_digits(total)))
        elif len(cells) == 1 and _TITLE.search(cells[0]):
            yield row, R_TITLE, "a page title between tables ('{value}'): not a person".format(value=short(mask_digits(cells[0])))


class _Few:
    """A few-valued text column: its distinct values (trimmed; the last one "" for empty cells)
    and each row's index into them; `original`, the column as given as dictionary<int32, string>.
    Checks are made per value; `rows` and `dictionary` spread them to the rows."""

    def __init__(self, a: pa.Array):
        if not pa.types.is_dictionary(a.type):
            a = pc.dictionary_encode(a if a.type == pa.string() else a.cast(pa.string()))
        values = a.dictionary
        if values.type != pa.string():
            values = values.cast(pa.string())
        if a.type != DICT_TYPE:
            a = pa.DictionaryArray.from_arrays(a.indices.cast(pa.int32()), values)
        self.original = a
        values = pc.fill_null(values, "") if values.null_count else values
        if not pc.all(pc.string_is_ascii(values)).as_py():  # full-width digits and letters, ideographic spaces
            values = pc.utf8_normalize(values, "NFKC")
        self.values = pc.utf8_trim_whitespace(pa.concat_arrays([values, pa.array([""], pa.string())]))
        self.idx = _np_filled(a.indices, len(values)).astype(np.intp, copy=False)
        # which values some row has (a batch sliced from a CSV block shares the block's dictionary)
        self.used = np.zeros(len(self.values), bool)
        self.used[self.idx] = True

    def rows(self, per_value: np.ndarray) -> np.ndarray | None:
        """Bool per row from a bool per value; None when no row's value is true (no gather)."""
        if not (per_value & self.used).any():
            return None
        return per_value[self.idx]

    def dictionary(self, per_value: np.ndarray, values) -> pa.DictionaryArray:
        """Per row: values[per_value[the row's value]], null where that is -1; strings not copied."""
        per_value = np.asarray(per_value, np.int32)
        values = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
        if len(per_value) == len(self.values) and (per_value[:-1] == np.arange(len(per_value) - 1)).all() \
                and not self.used[-1]:  # values kept as they are, no empty cell: the indices as read
            return pa.DictionaryArray.from_arrays(self.original.indices, values)
        rows = per_value[self.idx]
        null = rows < 0 if (per_value[self.used] < 0).any() else None
        return pa.DictionaryArray.from_arrays(pa.array(rows, mask=null), values)

    def text(self, row: int) -> str:
        return self.values[int(self.idx[row])].as_py()


_SCIENTIFIC = r"^[+-]?[0-9]+(\.[0-9]*)?[eE][+-]?[0-9]+$"


def _bank_accounts(bank: pa.Array, is_empty: np.ndarray, numeric) -> tuple[pa.Array, np.ndarray | None]:
    """Bank accounts as typed, in ASCII without spaces; and the rows (None: none) whose account
    lost digits: a number cell of more than 15 digits, or text a spreadsheet wrote as 6.22E+18.
    The usual column (plain ASCII digits, or empty) is passed through without a copy."""
    n = len(bank)
    plain = pc.ascii_is_decimal(bank).to_numpy(zero_copy_only=False)
    odd = ~plain & ~is_empty
    lost = np.zeros(n, bool)
    if odd.any():  # the irregular rows only: full-width digits, spaces, scientific notation
        rows = np.flatnonzero(odd)
        fixed = pc.utf8_normalize(bank.take(pa.array(rows)), "NFKC")
        fixed = pc.replace_substring_regex(fixed, r"\s+", "")
        lost[rows] = pc.match_substring_regex(fixed, _SCIENTIFIC).to_numpy(zero_copy_only=False)
        bank = pc.replace_with_mask(bank, pa.array(odd), fixed)
    if numeric is not None:
        numeric = pc.fill_null(_array(numeric), False).to_numpy(zero_copy_only=False)
        if numeric.any():  # a number keeps 15 digits exactly (Excel's precision): more were lost
            short = (pc.binary_length(bank).to_numpy(zero_copy_only=False) <= 15) & plain
            lost |= numeric & ~short & ~is_empty
    return bank, (lost if lost.any() else None)


def _array(col) -> pa.Array:
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _lost_id(raw: pa.Array, numeric: np.ndarray) -> np.ndarray:
    """Bool per row: an ID cell that was a number and lost digits. A number keeps 15 digits exactly
    (Excel's precision), so a 15-digit legacy ID typed as a number is exact and is checked as text."""
    rows = np.flatnonzero(numeric)
    text = pc.utf8_trim_whitespace(pc.fill_null(raw.take(pa.array(rows)), ""))
    exact = (pc.equal(pc.binary_length(text), 15).to_numpy(zero_copy_only=False)
             & pc.ascii_is_decimal(text).to_numpy(zero_copy_only=False))
    lost = numeric.copy()
    lost[rows[exact]] = False
    return lost


def _text_bytes(a: pa.Array) -> int:
    """The bytes of text in a string array (its values end to end)."""
    if len(a) == 0:
        return 0
    offsets = offsets_of(a)
    return int(offsets[-1] - offsets[0])


def _np_filled(a: pa.Array, fill: int) -> np.ndarray:
    """An integer array with nulls replaced by `fill`, as numpy."""
    return (pc.fill_null(a, fill) if a.null_count else a).to_numpy(zero_copy_only=False)


def _persons(text: pa.Array, is_empty: np.ndarray) -> np.ndarray:
    """Persons per row as int64: empty -> 1, a whole number ("2", "2.0", "+2") -> it, else 0."""
    filled = pc.if_else(pa.array(is_empty), pa.scalar("1"), text) if is_empty.any() else text
    # the usual case, row by row: plain digits, short enough (decided without a regex)
    plain = pc.and_(pc.ascii_is_decimal(filled), pc.less_equal(pc.binary_length(filled), _MAX_PERSONS_DIGITS))
    plain_np = plain.to_numpy(zero_copy_only=False)
    if plain_np.all():
        return pc.cast(filled, pa.int64()).to_numpy(zero_copy_only=False).copy()
    out = np.zeros(len(filled), dtype=np.int64)
    if plain_np.any():
        out[plain_np] = pc.cast(filled.filter(plain), pa.int64()).to_numpy(zero_copy_only=False)
    rest = ~plain_np
    other = filled.filter(pa.array(rest))
    form = pc.match_substring_regex(other, r"^\+?0*[0-9]{1,%d}(\.0*)?$" % _MAX_PERSONS_DIGITS)
    digits = pc.replace_substring_regex(other, r"^\+|\.0*$", "")
    digits = pc.if_else(form, digits, pa.scalar("0"))
    out[rest] = pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False)
    return out
