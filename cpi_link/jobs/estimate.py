"""资金测算 (SPEC 4.6 `estimate`): what a month costs from headcounts instead of a roster. Each
counts row is a roster row of one person priced by calc's batch engine (calc.grouped: the same
category words, coverage, standards lookup and decisions as calc), times its headcount; totals
by category, region and, when the scheme names funding shares, by funder."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np

from cpi_link.core.categories import CATEGORY_LABELS
from cpi_link.core.errors import InputError, UsageError
from cpi_link.core.i18n import _
from cpi_link.core.money import fen_to_yuan_str, split_by_funder
from cpi_link.core.tabular import find_columns, read_table_with_rows

COLUMNS = {
    "region_code": ("region_code", "行政区划代码", "地区代码"),
    "category": ("category", "类别", "保障类别"),
    "area": ("area", "城乡", "城乡类别"),
    "persons": ("persons", "人数", "保障人数"),
}


@dataclass
class Counts:
    """A headcounts file as group rows for the batch engine: `checked` holds one roster row of one
    person per counts row (calc.grouped.group_rows), `persons` the row's headcount."""

    path: Path
    checked: object  # pyarrow Table, CHECKED_SCHEMA
    persons: np.ndarray  # int64 per row
    file_rows: list[int]  # the row number a person sees (spreadsheet row or CSV line)


def read_counts(path: Path, sheet=None) -> Counts:
    """The counts file (sheet: the worksheet of a spreadsheet), its words read as a roster's are;
    a value that cannot be read is an error naming the file, row and column."""
    from cpi_link.calc.grouped import group_rows
    from cpi_link.roster.reasons import detail_text

    path = Path(path)
    # the header found among the first rows (titles above it skipped); file_row as a person sees it
    header, rows, file_rows, place = read_table_with_rows(path, sheet, COLUMNS)
    cols = find_columns(header, COLUMNS, ("region_code", "category", "persons"), place)

    def column(k: str) -> list[str]:
        i = cols.get(k)
        return ["" if i is None or i >= len(r) else str(r[i]).strip() for r in rows]

    def where(n: int, column_name: str) -> str:
        return _("{place}: row {row} (data row {n}), column {column}").format(place=place, row=file_rows[n], n=n + 1,
                                                                          column=column_name)

    persons = []
    for n, p in enumerate(column("persons")):
        p = p.replace(",", "")
        if not p.isdigit():
            raise InputError(where(n, "persons") + ": " + _("'{value}' is not a whole number of persons").format(value=p))
        persons.append(int(p))
    if not rows:
        raise InputError(_("{path}: no data rows").format(path=path))
    checked = group_rows(column("category"), column("region_code"), column("area"), ["1"] * len(rows), file_rows)
    bad = checked.column("reason").is_valid().to_numpy(zero_copy_only=False)
    if bad.any():
        n = int(np.flatnonzero(bad)[0])
        reason, detail = checked.column("reason")[n].as_py(), checked.column("detail")[n].as_py()
        raise InputError(where(n, "category" if reason == "unknown_category" else detail.split(" ", 1)[0]) + ": "
                         + detail_text(detail))
    return Counts(path, checked, np.array(persons, np.int64), list(file_rows))


def parse_rate(text: str) -> Decimal:
    try:
        d = Decimal(str(text).strip().rstrip("%"))
    except Exception:
        raise UsageError(_("--rate {text!r} is not a percentage such as 6.1").format(text=text)) from None
    if not d.is_finite() or d < 0 or d * 100 != (d * 100).to_integral_value():
        raise UsageError(_("--rate {text!r}: give a non-negative percentage with at most two decimals, e.g. 6.1").format(text=text))
    return d


def estimate(month: str, counts: Counts, scheme, store, standards, rate: Decimal | None = None) -> dict:
    """The month's cost: each counts row priced by the batch engine as one person (calc.grouped),
    times its headcount. Without `rate`, the month's decision per deciding region (exit 3 when its
    figures are missing); with it, that rate is assumed (and the mechanism taken as started)."""
    from cpi_link.calc.grouped import price
    from cpi_link.calc.month import month_plan
    from cpi_link.core.decimals import fmt_pct
    from cpi_link.core.i18n import N_, Message, message
    from cpi_link.rules.standards import NoStandards
    from cpi_link.rules.trigger import decision_reason

    plan, _primary = month_plan(month, scheme, store, standards if standards is not None else NoStandards(), rate=rate)
    rules = plan.rules
    priced = price(counts.checked, plan)
    reason, detail = priced.reasons()
    costed = priced.paid | np.array([r == "not_triggered" for r in reason], bool)
    amount = priced.amount_fen * counts.persons
    checked = counts.checked
    category = checked.column("category").to_pylist()
    region = checked.column("region_code").to_pylist()
    rejected = [{"row": n + 1, "file_row": counts.file_rows[n], "region_code": region[n], "category": category[n],
                 "persons": int(counts.persons[n]), "reason": reason[n], "detail": detail[n]}
                for n in np.flatnonzero(~costed)]
    by_cat: dict[str, list[int]] = {}
    by_region: dict[str, list[int]] = {}
    for n in np.flatnonzero(costed):
        for acc, k in ((by_cat, category[n]), (by_region, region[n])):
            v = acc.setdefault(k, [0, 0])
            v[0] += int(counts.persons[n])
            v[1] += int(amount[n])
    total = int(amount.sum())
    decisions = []
    for where, d in plan.decisions.items():
        if rate is not None:
            decisions.append({"region_code": where, "triggered": True, "indicator": None, "rate_pct": fmt_pct(rate),
                              "reason": message(N_("rate {rate}% assumed (--rate), not the month's decision"), rate=fmt_pct(rate))})
        else:
            reason = Message(d.reason)
            reason.shown = decision_reason(d)  # JSON keeps the English reason
            decisions.append({"region_code": where, "triggered": d.triggered, "indicator": d.indicator,
                              "rate_pct": fmt_pct(d.rate_pct), "reason": reason})
    out = {
        "month": month,
        "scheme": rules.scheme,
        "version": rules.version,
        "overlays": list(rules.overlays),
        "verified": rules.verified,
        "method": rules.method,
        "triggered": any(d["triggered"] for d in decisions),
        "rate_pct": _one_rate(decisions),
        "assumed_rate": rate is not None,
        "decisions": decisions,
        "persons": int(counts.persons[costed].sum()),
        "total_amount": fen_to_yuan_str(total),
        "by_category": [{"category": k, "label": CATEGORY_LABELS[k], "persons": v[0], "amount": fen_to_yuan_str(v[1])}
                        for k, v in sorted(by_cat.items())],
        "by_region": [{"region_code": k, "persons": v[0], "amount": fen_to_yuan_str(v[1])} for k, v in sorted(by_region.items())],
        "rejected": rejected,
    }
    if rules.funding:
        out["by_funder"] = split_by_funder(total, rules.funding)
    return out


def _one_rate(decisions: list) -> str | None:
    rates = {d["rate_pct"] for d in decisions if d["triggered"]}
    return rates.pop() if len(rates) == 1 else None
