"""Recipient categories (SPEC 5.2): the one table of codes and the names people write for them,
used by rosters, schemes, programmes and reports."""

from __future__ import annotations

# code -> its names: the first is the official one (Chinese headers, reports), then the wordings
# officers use. Every reader accepts the code itself and every name listed here.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "urban_dibao": ("城市低保", "城镇低保", "城市最低生活保障", "城镇最低生活保障"),
    "rural_dibao": ("农村低保", "农村最低生活保障"),
    "urban_tekun": ("城市特困", "城镇特困", "城市特困人员", "城镇特困人员"),
    "rural_tekun": ("农村特困", "农村特困人员"),
    "orphan": ("孤儿",),
    "de_facto_orphan": ("事实无人抚养儿童",),
    "hiv_child": ("艾滋病病毒感染儿童",),
    "unemployment_insurance": ("领取失业保险金人员", "失业保险金"),
    "unemployment_allowance": ("领取失业补助金人员", "失业补助金"),
    "special_care": ("优抚对象",),
    "dibao_edge": ("低保边缘人口", "低保边缘"),
}

# code -> the official Chinese name
CATEGORY_LABELS: dict[str, str] = {code: names[0] for code, names in CATEGORIES.items()}

# every accepted spelling -> code. Codes are matched case-insensitively by the roster reader (it
# lower-cases ASCII first).
CATEGORY_NAMES: dict[str, str] = {
    **{code: code for code in CATEGORIES},
    **{name: code for code, names in CATEGORIES.items() for name in names},
}


def category_code(text: str) -> str | None:
    """The code for a spelling of a category (surrounding whitespace ignored), or None."""
    t = str(text).strip()
    return CATEGORY_NAMES.get(t) or CATEGORY_NAMES.get(t.lower())
