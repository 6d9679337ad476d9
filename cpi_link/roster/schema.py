"""The roster's columns (SPEC 5.1): accepted header names, area words, and the Arrow schemas of
checked batches."""

from __future__ import annotations


import pyarrow as pa

from cpi_link.core.errors import InputError

ROSTER_COLUMNS = ["person_id", "name", "category", "region_code", "area", "persons", "bank_account"]
REQUIRED_COLUMNS = ("person_id", "name", "category", "region_code")

# Accepted header spellings (compared trimmed, BOM removed, case-insensitively).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "person_id": ("person_id", "身份证号", "身份证号码", "公民身份号码"),
    "name": ("name", "姓名"),
    "category": ("category", "类别", "保障类别"),
    "region_code": ("region_code", "行政区划代码", "地区代码"),
    "area": ("area", "城乡", "城乡类别"),
    "persons": ("persons", "保障人数"),
    "bank_account": ("bank_account", "银行账号"),
}

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
)

# What check_batch gives (check_batches, calc's pipeline): ROSTER_SCHEMA with the few-valued
# columns, as read and as normalised, kept as dictionaries: no string is copied per row.
# iter_roster casts to ROSTER_SCHEMA (plain strings) for its pandas users.
_DICT = pa.dictionary(pa.int32(), pa.string())
_DICT_COLUMNS = ("category", "region_code", "area", "reason", "detail",
                 "orig_category", "orig_region_code", "orig_area", "orig_persons")
CHECKED_SCHEMA = pa.schema([pa.field(f.name, _DICT) if f.name in _DICT_COLUMNS else f for f in ROSTER_SCHEMA])


def norm_header(h: object) -> str:
    return ("" if h is None else str(h)).replace("\ufeff", "").strip()


# Units a column's header may carry in brackets (`保障人数(人)`); another unit is an error.
HEADER_UNITS: dict[str, tuple[str, ...]] = {"persons": ("人", "口", "人数")}


def header_matcher():
    from cpi_link.core.tabular import HeaderMatcher

    return HeaderMatcher(HEADER_ALIASES, HEADER_UNITS)


def looks_like_roster(head: list[list]) -> bool:
    """A sheet's first rows hold a roster header: a row naming at least two roster columns."""
    matcher = header_matcher()
    return any(matcher.score(r) >= 2 for r in head)


def map_header(header: list[str], path, where: str | None = None) -> dict[str, int]:
    """{canonical column: position}; InputError for a column twice, a look-alike that matches no
    name (core.tabular.HeaderMatcher), or a missing required column."""
    names = [norm_header(h) for h in header]
    seen: dict[str, int] = {}
    for i, h in enumerate(names):
        if not h:
            continue
        if h.lower() in seen:
            raise InputError(f"{where or path}: the header has the column {h!r} twice")
        seen[h.lower()] = i
    return header_matcher().columns(names, where or path, REQUIRED_COLUMNS)


# CSV


# Columns with few distinct values: read as dictionaries where the format allows, and checked
# once per distinct value instead of once per row.
FEW_VALUED = ("category", "region_code", "area", "persons")


def short(text: str | None, limit: int = 40) -> str:
    t = text or ""
    return t if len(t) <= limit else t[: limit - 1] + "…"
