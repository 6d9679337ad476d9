"""Region names for the 6-digit administrative codes (GB/T 2260), shown beside codes wherever a
person reads a region: 000000 全国, 140000 山西省, 140100 太原市.

This is a small stand-in: the nation, the provincial-level regions, Shanxi's 11 prefecture
cities, Taiyuan's districts, the sample roster's counties and the cities of the example schemes.
The full bundled code list is to replace `_NAMES` below; keep `region_name(code)` and
`region_label(code)` as they are, so callers do not change when it does.
"""

from __future__ import annotations

_NAMES: dict[str, str] = {
    "000000": "全国",
    "110000": "北京市", "120000": "天津市", "130000": "河北省", "140000": "山西省", "150000": "内蒙古自治区",
    "210000": "辽宁省", "220000": "吉林省", "230000": "黑龙江省",
    "310000": "上海市", "320000": "江苏省", "330000": "浙江省", "340000": "安徽省", "350000": "福建省",
    "360000": "江西省", "370000": "山东省",
    "410000": "河南省", "420000": "湖北省", "430000": "湖南省", "440000": "广东省", "450000": "广西壮族自治区",
    "460000": "海南省",
    "500000": "重庆市", "510000": "四川省", "520000": "贵州省", "530000": "云南省", "540000": "西藏自治区",
    "610000": "陕西省", "620000": "甘肃省", "630000": "青海省", "640000": "宁夏回族自治区", "650000": "新疆维吾尔自治区",
    # Shanxi's prefecture cities
    "140100": "太原市", "140200": "大同市", "140300": "阳泉市", "140400": "长治市", "140500": "晋城市",
    "140600": "朔州市", "140700": "晋中市", "140800": "运城市", "140900": "忻州市", "141000": "临汾市",
    "141100": "吕梁市",
    # Taiyuan's districts
    "140105": "小店区", "140106": "迎泽区", "140107": "杏花岭区", "140108": "尖草坪区", "140109": "万柏林区",
    "140110": "晋源区",
    # the counties of the bundled sample roster
    "140202": "平城区", "140303": "矿区", "140423": "襄垣县", "140524": "陵川县", "140702": "榆次区",
    "140802": "盐湖区", "140902": "忻府区", "141102": "离石区",
    # cities of the example schemes and messages
    "350100": "福州市", "370200": "青岛市", "450300": "桂林市",
}


def region_name(code: str | None) -> str | None:
    """The region's name, or None for a code not in the list."""
    if code is None:
        return None
    return _NAMES.get(str(code).strip())


def region_label(code: str | None) -> str:
    """'140000 山西省' for people (the code alone when its name is not known)."""
    if code is None:
        return ""
    name = region_name(code)
    return f"{code} {name}" if name else str(code)
