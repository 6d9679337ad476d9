"""资金测算 (SPEC 4.6 `estimate`): what a month costs from headcounts instead of a roster. Each
counts row is priced as a roster row of `persons` people: the same coverage, standards lookup
(SPEC 5.3) and amount chain (rules.amounts.per_person_fen) as calc; totals by category, region
and, when the scheme names funding shares, by funder."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np

from cpi_link.core.categories import CATEGORY_LABELS, CATEGORY_NAMES
from cpi_link.core.errors import InputError, UsageError
from cpi_link.core.money import fen_to_yuan_str, round_fraction
from cpi_link.core.tabular import find_columns, read_table_with_rows
from cpi_link.rules.amounts import fixed_fen, per_person_fen, rate_hundredths

COLUMNS = {
    "region_code": ("region_code", "行政区划代码", "地区代码"),
    "category": ("category", "类别", "保障类别"),
    "area": ("area", "城乡", "城乡类别"),
    "persons": ("persons", "人数", "保障人数"),
}
AREA_WORDS = {"urban": "urban", "rural": "rural", "城市": "urban", "城镇": "urban", "农村": "rural"}
_TEKUN = ("特困人员", "特困供养人员", "特困")  # resolved to urban_tekun / rural_tekun by the row's area


@dataclass(frozen=True)
class CountRow:
    row: int  # 1-based data row
    file_row: int  # the row number a person sees (spreadsheet row or CSV line)
    region_code: str
    category: str
    area: str | None
    persons: int


def read_counts(path: Path, sheet=None) -> list[CountRow]:
    """The counts file (sheet: the worksheet of a spreadsheet); a value that cannot be read is an
    error naming the file, row and column."""
    path = Path(path)
    # the header found among the first rows (titles above it skipped); file_row as a person sees it
    header, rows, file_rows, place = read_table_with_rows(path, sheet, COLUMNS)
    cols = find_columns(header, COLUMNS, ("region_code", "category", "persons"), place)
    out = []
    for n, (r, fr) in enumerate(zip(rows, file_rows), 1):
        def cell(k: str) -> str:
            i = cols.get(k)
            return r[i].strip() if i is not None and i < len(r) else ""

        where = f"{place}: row {fr} (data row {n})"
        region = cell("region_code")
        if not (len(region) == 6 and region.isdigit()):
            raise InputError(f"{where}, column region_code: {region!r} is not a 6-digit region code")
        area_text = cell("area")
        area = AREA_WORDS.get(area_text.lower() if area_text.isascii() else area_text)
        if area_text and area is None:
            raise InputError(f"{where}, column area: {area_text!r} is not urban/rural (城市/城镇/农村)")
        cat_text = cell("category")
        cat = CATEGORY_NAMES.get(cat_text.lower() if cat_text.isascii() else cat_text)
        if cat is None and cat_text in _TEKUN:
            if area is None:
                raise InputError(f"{where}, column area: {cat_text} needs the area (城市/农村) to tell urban from rural 特困")
            cat = "urban_tekun" if area == "urban" else "rural_tekun"
        if cat is None:
            raise InputError(f"{where}, column category: {cat_text!r} is not a category (e.g. urban_dibao, 城市低保)")
        p = cell("persons").replace(",", "")
        if not p.isdigit():
            raise InputError(f"{where}, column persons: {cell('persons')!r} is not a whole number of persons")
        out.append(CountRow(n, fr, region, cat, area, int(p)))
    if not out:
        raise InputError(f"{path}: no data rows")
    return out


def parse_rate(text: str) -> Decimal:
    try:
        d = Decimal(str(text).strip().rstrip("%"))
    except Exception:
        raise UsageError(f"--rate {text!r} is not a percentage such as 6.1") from None
    if not d.is_finite() or d < 0 or d * 100 != (d * 100).to_integral_value():
        raise UsageError(f"--rate {text!r}: give a non-negative percentage with at most two decimals, e.g. 6.1")
    return d


def split_by_funder(total_fen: int, funding: dict) -> list[dict]:
    """Each funder's share in fen, half up; the last funder takes what rounding left, so the
    shares add up to the total exactly."""
    from fractions import Fraction

    out, given = [], 0
    items = list(funding.items())
    for i, (funder, share) in enumerate(items):
        fen = total_fen - given if i == len(items) - 1 else round_fraction(Fraction(total_fen) * Fraction(str(share)), "fen_half_up")
        given += fen
        out.append({"funder": funder, "share": format(Decimal(share).normalize(), "f"), "amount": fen_to_yuan_str(fen)})
    return out


def estimate(month: str, counts: list[CountRow], scheme, store, standards, rate: Decimal | None = None) -> dict:
    """The month's cost. Without `rate`, the month's decision per deciding region (exit 3 when its
    figures are missing); with it, that rate is assumed (and the mechanism taken as started)."""
    from cpi_link.core.decimals import fmt_pct
    from cpi_link.core.i18n import N_, Message, message
    from cpi_link.rules.trigger import decide, deciding_region, decision_reason

    rules = scheme.rules_for(month)
    decisions: dict[str, dict] = {}
    rate_h_of: dict[str, int | None] = {}

    def rate_for(region: str) -> int | None:
        where = deciding_region(rules, region)
        if where not in rate_h_of:
            if rate is not None:
                rate_h_of[where] = rate_hundredths(rate)
                decisions[where] = {"region_code": where, "triggered": True, "indicator": None, "rate_pct": fmt_pct(rate),
                                    "reason": message(N_("rate {rate}% assumed (--rate), not the month's decision"),
                                                      rate=fmt_pct(rate))}
            else:
                d = decide(scheme, month, store, region=region)
                rate_h_of[where] = rate_hundredths(d.rate_pct) if d.triggered else None
                decisions[where] = {"region_code": where, "triggered": d.triggered, "indicator": d.indicator,
                                    "rate_pct": fmt_pct(d.rate_pct), "reason": Message(d.reason)}
                decisions[where]["reason"].shown = decision_reason(d)  # JSON keeps the English reason
        return rate_h_of[where]

    priced, rejected = [], []
    known = set()
    if rules.index_region == "prefecture":
        from cpi_link.jobs.monthly import prefectures

        known = set(prefectures(store))
    for c in counts:
        kind = rules.categories.get(c.category)
        if kind is None:
            rejected.append({**_row(c), "reason": "category_not_covered",
                             "detail": message(N_("{category} is not covered by {label} in {month}"),
                                               category=c.category, label=rules.label, month=month)})
            continue
        area = c.area if kind == "by_area" else kind
        if area is None:
            rejected.append({**_row(c), "reason": "missing_field", "detail": message(N_("area (城乡) is needed for this category and is empty"))})
            continue
        std = standards.in_force(c.region_code, month) if standards is not None else None
        if std is None and rules.method != "fixed":
            rejected.append({**_row(c), "reason": "unknown_region",
                             "detail": message(N_("no standard for region {region} (or its prefecture/province) in force in {month}"),
                                               region=c.region_code, month=month)})
            continue
        if rules.index_region == "prefecture" and c.region_code[:4] + "00" not in known:
            rejected.append({**_row(c), "reason": "unknown_region",
                             "detail": message(N_("no figures for prefecture {prefecture}: not a prefecture the store knows"),
                                               prefecture=c.region_code[:4] + "00")})
            continue
        r = rate_for(c.region_code)
        std12 = 0 if std is None else (std.urban12 if area == "urban" else std.rural12)
        priced.append((c, area, std12, r))

    paying = [p for p in priced if p[3] is not None]
    per_person = np.zeros(0, np.int64)
    if paying:
        a = np.array([0 if p[1] == "urban" else 1 for p in paying])
        fixed = None
        if rules.method == "fixed":
            fixed = np.array([fixed_fen(rules, [p[0].category], int(x))[0] for p, x in zip(paying, a)], np.int64)
        per_person = per_person_fen(rules, np.array([p[2] for p in paying], np.int64),
                                    np.array([p[3] for p in paying], np.int64), fixed)
    by_cat: dict[str, list[int]] = {}
    by_region: dict[str, list[int]] = {}
    for c, *_ in priced:
        by_cat.setdefault(c.category, [0, 0])[0] += c.persons
        by_region.setdefault(c.region_code, [0, 0])[0] += c.persons
    total = 0
    for (c, *_), fen in zip(paying, per_person.tolist()):
        amount = fen * c.persons
        by_cat[c.category][1] += amount
        by_region[c.region_code][1] += amount
        total += amount
    out = {
        "month": month,
        "scheme": rules.scheme,
        "version": rules.version,
        "overlays": list(rules.overlays),
        "verified": rules.verified,
        "method": rules.method,
        "triggered": any(d["triggered"] for d in decisions.values()),
        "rate_pct": _one_rate(decisions),
        "assumed_rate": rate is not None,
        "decisions": list(decisions.values()),
        "persons": sum(c.persons for c, *_ in priced),
        "total_amount": fen_to_yuan_str(total),
        "by_category": [{"category": k, "label": CATEGORY_LABELS[k], "persons": v[0], "amount": fen_to_yuan_str(v[1])}
                        for k, v in sorted(by_cat.items())],
        "by_region": [{"region_code": k, "persons": v[0], "amount": fen_to_yuan_str(v[1])} for k, v in sorted(by_region.items())],
        "rejected": rejected,
    }
    if rules.funding:
        out["by_funder"] = split_by_funder(total, rules.funding)
    return out


def _one_rate(decisions: dict) -> str | None:
    rates = {d["rate_pct"] for d in decisions.values() if d["triggered"]}
    return rates.pop() if len(rates) == 1 else None


def _row(c: CountRow) -> dict:
    return {"row": c.row, "file_row": c.file_row, "region_code": c.region_code, "category": c.category, "persons": c.persons}
