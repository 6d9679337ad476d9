"""Recipient categories (SPEC 5.2): codes, their Chinese names, and the spellings rosters use."""

from __future__ import annotations

# code -> the main Chinese name (used for Chinese headers and reports)
CATEGORY_LABELS: dict[str, str] = {
    "urban_dibao": "城市低保",
    "rural_dibao": "农村低保",
    "urban_tekun": "城市特困",
    "rural_tekun": "农村特困",
    "orphan": "孤儿",
    "de_facto_orphan": "事实无人抚养儿童",
    "hiv_child": "艾滋病病毒感染儿童",
    "unemployment_insurance": "领取失业保险金人员",
    "unemployment_allowance": "领取失业补助金人员",
    "special_care": "优抚对象",
    "dibao_edge": "低保边缘人口",
}

CATEGORY_CODES: tuple[str, ...] = tuple(CATEGORY_LABELS)

_ALIASES: dict[str, str] = {
    "城镇低保": "urban_dibao",
    "城镇特困": "urban_tekun",
    "失业保险金": "unemployment_insurance",
    "失业补助金": "unemployment_allowance",
    "低保边缘": "dibao_edge",
}

# every accepted spelling -> code: the codes themselves, the main Chinese names, the aliases.
# Codes are matched case-insensitively by the roster reader (it lower-cases ASCII first).
CATEGORY_NAMES: dict[str, str] = {
    **{code: code for code in CATEGORY_LABELS},
    **{label: code for code, label in CATEGORY_LABELS.items()},
    **_ALIASES,
}


def category_code(text: str) -> str | None:
    """The code for a spelling of a category (surrounding whitespace ignored), or None."""
    t = text.strip()
    return CATEGORY_NAMES.get(t) or CATEGORY_NAMES.get(t.lower())
