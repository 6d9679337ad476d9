"""The roster's columns (SPEC 5.1): accepted header names, area words, and the Arrow schemas of
checked batches."""

from __future__ import annotations

import re


import pyarrow as pa

from cpi_link.core.errors import InputError

ROSTER_COLUMNS = ["person_id", "name", "category", "region_code", "area", "persons", "bank_account"]
REQUIRED_COLUMNS = ("person_id", "name", "category", "region_code")

# Accepted header spellings (compared as core.tabular.header_name: width, spaces and case ignored).
# The published synonym table (README, `validate --columns`).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "person_id": ("person_id", "身份证号", "身份证号码", "公民身份号码", "公民身份证号", "公民身份证号码", "身份证件号码"),
    "name": ("name", "姓名", "保障对象姓名", "救助对象姓名"),
    "category": ("category", "类别", "保障类别", "救助类别", "人员类别", "对象类别"),
    "region_code": ("region_code", "行政区划代码", "地区代码", "区划代码", "统计用区划代码"),
    "area": ("area", "城乡", "城乡类别", "城乡属性"),
    "persons": ("persons", "保障人数", "保障人口", "享受人数", "救助人数", "家庭人口", "保障人数合计", "户保障人数"),
    "bank_account": ("bank_account", "银行账号", "银行帐号", "银行卡号", "卡号", "银行账户", "银行帐户", "一卡通账号",
                     "一卡通帐号", "存折号", "账号", "帐号"),
    # read to check rows, never paid from: a household's rows, a remark saying the person stopped, a 合计 row
    "relationship": ("relationship", "与户主关系", "关系", "家庭关系"),
    "head_name": ("head_name", "户主姓名"),
    "remark": ("remark", "备注"),
    "seq": ("seq", "序号", "编号"),
    # carried to the outputs as written (the workbook's county sheets, the 公示 list, the report CSV)
    "township": ("township", "乡镇", "乡镇(街道)", "乡(镇)", "乡镇街道", "乡镇/街道", "街道", "街道(乡镇)", "所在乡镇",
                 "所在乡镇(街道)", "乡镇名称", "乡镇(街道)名称"),
    "village": ("village", "村", "村(社区)", "社区", "村(居)", "村(居)委会", "村居委会", "村/社区", "社区(村)", "所在村",
                "所在村(社区)", "村委会", "居委会", "村名", "村(社区)名称"),
}
# Columns that may appear more than once (each read: remark, remark_2, ...).
REPEATABLE = ("remark",)
# The columns read besides ROSTER_COLUMNS (household, remarks, the row number column, where the person lives).
CHECK_COLUMNS = ("relationship", "head_name", "remark", "seq", "township", "village")
# Roster text carried to the payments (nullable; absent columns are null): 乡镇/村 and 备注 as
# written, and the full 12-digit 统计用区划代码 when the roster gave one (region_code is its county).
CARRIED_COLUMNS = ("township", "village", "remark", "region_code_full")

# Words that point to a column: a header cell holding one, and none of the column's names, is a
# look-alike (exit 2 naming the cell), never silently "not used".
HEADER_HINTS: dict[str, tuple[str, ...]] = {
    "person_id": ("身份证", "身份号码", "证件号"),
    "name": ("姓名",),
    "category": ("类别",),
    "region_code": ("区划", "地区代码"),
    "area": ("城乡",),
    "persons": ("人数", "人口"),
    "bank_account": ("账号", "帐号", "卡号", "账户", "帐户", "存折"),
}

# Columns officers' rosters carry that are known and not read (shown as "not used").
OTHER_COLUMNS = (
    "地址", "家庭住址", "住址",
    "联系电话", "电话", "手机", "手机号", "性别", "年龄", "民族", "出生日期", "户主身份证号", "户主身份证号码", "开户行", "开户银行", "户名", "持卡人", "持卡人姓名", "金额", "补贴金额", "发放金额",
    "保障金额", "月保障金", "签字", "签名", "领取人签字", "残疾类别", "残疾等级",
)

AREA_VALUES = {"urban": "urban", "rural": "rural", "城市": "urban", "城镇": "urban", "农村": "rural"}

ROSTER_SCHEMA = pa.schema(
    [
        ("source_row", pa.int64()),
        ("file_row", pa.int64()),  # the row a person sees: spreadsheet row number or CSV line
        ("person_id", pa.string()),
        ("name", pa.string()),
        ("category", pa.string()),
        ("region_code", pa.string()),
        ("area", pa.string()),
        ("persons", pa.int64()),
        ("bank_account", pa.string()),
        ("id_flag", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
    ]
    + [(f"orig_{c}", pa.string()) for c in ROSTER_COLUMNS]
    + [("person_key", pa.int64())]  # ids.key17 of person_id (0 where it is null): finding the same person twice
    + [(c, pa.string()) for c in CARRIED_COLUMNS]
)

# What check_batch gives (check_batches, calc's pipeline): ROSTER_SCHEMA with the few-valued
# columns, as read and as normalised, kept as dictionaries: no string is copied per row.
# iter_roster casts to ROSTER_SCHEMA (plain strings) for its pandas users.
DICT_TYPE = pa.dictionary(pa.int32(), pa.string())
_DICT_COLUMNS = ("category", "region_code", "area", "reason", "detail",
                 "orig_category", "orig_region_code", "orig_area", "orig_persons", "township", "village", "region_code_full")
CHECKED_SCHEMA = pa.schema([pa.field(f.name, DICT_TYPE) if f.name in _DICT_COLUMNS else f for f in ROSTER_SCHEMA])


def norm_header(h: object) -> str:
    return ("" if h is None else str(h)).replace("\ufeff", "").strip()


# Units a column's header may carry in brackets (`保障人数(人)`); another unit is an error.
HEADER_UNITS: dict[str, tuple[str, ...]] = {"persons": ("人", "口", "人数")}


def header_matcher():
    from cpi_link.core.tabular import HeaderMatcher

    return HeaderMatcher(HEADER_ALIASES, HEADER_UNITS, HEADER_HINTS, OTHER_COLUMNS, repeatable=REPEATABLE)


def looks_like_roster(head: list[list]) -> bool:
    """A sheet's first rows hold a roster header: a row naming at least two roster columns."""
    matcher = header_matcher()
    return any(matcher.score(r) >= 2 for r in head)


def map_header(header: list[str], path, where: str | None = None, refs: list[str] | None = None) -> dict[str, int]:
    """{canonical column: position}; InputError naming the cell for a column twice, a look-alike
    that matches no name (core.tabular.HeaderMatcher), or a missing required column."""
    names = [norm_header(h) for h in header]
    return header_matcher().columns(names, where or path, REQUIRED_COLUMNS, refs)


def header_cells(header: list[str], refs: list[str] | None = None) -> list[dict]:
    """How each header cell was read: [{cell, text, column}], column None for "not used" (the
    report calc, validate and run print and the manifest records)."""
    from cpi_link.core.sheetscan import col_letters

    keys = header_matcher().read_cells(header)
    out = []
    for i, (h, k) in enumerate(zip(header, keys)):
        if norm_header(h):
            out.append({"cell": refs[i] if refs is not None else col_letters(i), "text": norm_header(h), "column": k})
    return out


# CSV


# Columns with few distinct values: read as dictionaries where the format allows, and checked
# once per distinct value instead of once per row.
FEW_VALUED = ("category", "region_code", "area", "persons", "township", "village")


def short(text: str | None, limit: int = 40) -> str:
    t = text or ""
    return t if len(t) <= limit else t[: limit - 1] + "…"


def locate_header(rows: list[list], scan: int) -> tuple[int, int, list[str], list[int]]:
    """Where the header is among a file's first rows (SPEC 5.1): (first, last) 0-based rows, the
    header cells, and for each cell the row (0-based) that named it. The header is the first of the
    first `scan` rows naming two roster columns; a two- or three-row header (group cells merged over
    sub-headers, 保障情况 over 类别 / 城乡 / 保障人数) is read as one, each column named by its
    lowest non-empty cell, when that names more columns than one row does. InputError when no row
    names two columns (a look-alike cell's own message first)."""
    matcher = header_matcher()
    at = matcher.find_header(rows, scan)
    best = (matcher.score(rows[at]) if rows else 0, at, at)
    for first in range(at, max(0, at - 2) - 1, -1):  # the found row first: an equal score keeps the smaller header
        for last in range(max(at, first + 1), min(len(rows), first + 3)):
            if any(_holds_data(rows[k]) for k in range(first, last + 1)):
                break  # a header never takes in a data row (an ID, a number)
            sc = matcher.score(_combined(rows[first:last + 1])[0])
            if sc > best[0]:
                best = (sc, first, last)
    score, first, last = best
    cells, named = _combined(rows[first:last + 1]) if rows else ([], [])
    return first, last, cells, [first + k for k in named]


_DIGITS = re.compile(r"\d{6}")


def _holds_data(row: list) -> bool:
    """A row with a number cell or a run of six digits (an ID, a code): data, not a header row."""
    return any((isinstance(v, (int, float)) and not isinstance(v, bool)) or (isinstance(v, str) and _DIGITS.search(v))
               for v in row)


def _combined(rows: list[list]) -> tuple[list[str], list[int]]:
    """Each column's lowest non-empty cell among `rows`, and the index of its row."""
    width = max((len(r) for r in rows), default=0)
    cells, named = [], []
    for c in range(width):
        text, at = "", len(rows) - 1
        for k in range(len(rows) - 1, -1, -1):
            v = norm_header(rows[k][c]) if c < len(rows[k]) else ""
            if v:
                text, at = v, k
                break
        cells.append(text)
        named.append(at)
    return cells, named


def no_header_error(where, rows: list[list], first_row: int = 1, scan: int = 30) -> InputError | None:
    """The error for a file whose first rows hold no header (no row names two columns and no cell
    only resembles one), listing the rows looked at; None when a header was found."""
    matcher = header_matcher()
    if any(matcher.score(r) >= 2 for r in rows):
        return None
    if any(matcher.match(c)[1] is not None for r in rows for c in r):
        return None  # the look-alike's own message says more
    from cpi_link.core.i18n import _

    looked = [first_row + i for i, r in enumerate(rows) if any(norm_header(c) for c in r)]
    shown = ", ".join(map(str, looked[:30])) if looked else _("(all empty)")
    names = " / ".join(HEADER_ALIASES[k][1] for k in REQUIRED_COLUMNS)
    return InputError(_("{where}: no header row found: rows {first}-{last} were looked at (non-empty: {rows}) and none "
                        "names at least two of the roster's columns ({names}); put the header within the first {n} rows, "
                        "spelled as `validate --columns` lists").format(
        where=where, first=first_row, last=first_row + max(len(rows) - 1, 0), rows=shown, names=names, n=scan))
