"""Recipient categories (SPEC 5.2): the one table of codes and the names people write for them,
used by rosters, schemes, programmes and reports."""

from __future__ import annotations

# code -> its names: the first is the official one (Chinese headers, reports), then the wordings
# officers use. Every reader accepts the code itself and every name listed here.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "urban_dibao": ("城市低保", "城镇低保", "城市最低生活保障", "城镇最低生活保障", "城市居民最低生活保障",
                    "城镇居民最低生活保障", "城市低保对象", "城镇低保对象", "城市低保户", "城镇低保户"),
    "rural_dibao": ("农村低保", "农村最低生活保障", "农村居民最低生活保障", "农村低保对象", "农村低保户"),
    "urban_tekun": ("城市特困", "城镇特困", "城市特困人员", "城镇特困人员", "城市特困供养人员", "城镇特困供养人员",
                    "城市特困供养", "城镇特困供养"),
    "rural_tekun": ("农村特困", "农村特困人员", "农村特困供养人员", "农村特困供养"),
    "orphan": ("孤儿", "集中供养孤儿", "散居孤儿", "社会散居孤儿"),
    "de_facto_orphan": ("事实无人抚养儿童", "事实孤儿"),
    "hiv_child": ("艾滋病病毒感染儿童", "感染艾滋病病毒儿童"),
    "unemployment_insurance": ("领取失业保险金人员", "失业保险金", "失业保险金领取人员", "领取失业保险金"),
    "unemployment_allowance": ("领取失业补助金人员", "失业补助金", "失业补助金领取人员", "领取失业补助金"),
    "special_care": ("优抚对象", "重点优抚对象"),
    "dibao_edge": ("低保边缘人口", "低保边缘", "低保边缘家庭", "低保边缘家庭成员"),
}
# 五保户 is not listed on purpose: merged into 特困 in 2014, the tool does not guess which.

# Wordings that name 特困 or 低保 without saying urban or rural: the row's area (城乡) decides.
BY_AREA: dict[str, tuple[str, str]] = {
    **{name: ("urban_tekun", "rural_tekun") for name in ("特困人员", "特困供养人员", "特困供养", "特困")},
    **{name: ("urban_dibao", "rural_dibao") for name in ("低保", "最低生活保障", "低保对象", "低保户", "居民最低生活保障")},
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


def category_for_area(text: str, area: str | None) -> str | None:
    """category_code, and for a BY_AREA wording the code for `area` ("urban"/"rural"; None: unknown)."""
    t = str(text).strip()
    if t in BY_AREA:
        return {"urban": BY_AREA[t][0], "rural": BY_AREA[t][1]}.get(area or "")
    return category_code(t)
