"""`cpi-link diff RUN_A RUN_B`: what changed between two runs (usually two months) for the officer.

Built on the two run folders' payments.parquet (people are matched by normalised person_id; a
run pays each person at most once). For each person paid in both runs whose amount changed, the
reasons are named from the columns that differ: standard, rate, category, persons, area,
standard region, and the scheme's rules (same standard and rate but a different per-person
amount: rounding, minimum or multiplier).
"""

from __future__ import annotations

from cpi_link.core.i18n import N_
from cpi_link.outputs.report import Run

REASON_TEXT = {
    "standard": N_("the monthly standard changed"),
    "rate": N_("the rate changed"),
    "category": N_("the category changed"),
    "persons": N_("the number of persons changed"),
    "area": N_("urban/rural changed"),
    "standard_region": N_("a different standard row applies"),
    "rules": N_("the rules changed (rounding, minimum or multiplier)"),
}


def _yuan(fen: int) -> str:
    from cpi_link.core.money import fen_to_yuan_str

    return fen_to_yuan_str(int(fen))


def _rate(h) -> str:
    from decimal import Decimal

    from cpi_link.core.decimals import fmt_pct

    return fmt_pct(Decimal(int(h)) / 100)


def diff_runs(a: Run, b: Run, mask_ids: bool = False) -> dict:
    from cpi_link.core.privacy import mask_id

    def pid(x: str) -> str:
        return mask_id(x) if mask_ids else x

    pa_, pb = a.payments, b.payments
    ia = {r["person_id"]: r for r in pa_.to_dict("records")}
    ib = {r["person_id"]: r for r in pb.to_dict("records")}
    added, removed, changed = [], [], []
    unchanged = 0

    def brief(r: dict) -> dict:
        return {"person_id": pid(r["person_id"]), "name": r["name"], "category": r["category"], "region_code": r["region_code"],
                "persons": int(r["persons"]), "amount": _yuan(r["amount_fen"])}

    for k in sorted(ib.keys() - ia.keys(), key=lambda k: ib[k]["source_row"]):
        added.append(brief(ib[k]))
    for k in sorted(ia.keys() - ib.keys(), key=lambda k: ia[k]["source_row"]):
        removed.append(brief(ia[k]))
    for k in sorted(ia.keys() & ib.keys(), key=lambda k: ib[k]["source_row"]):
        x, y = ia[k], ib[k]
        if int(x["amount_fen"]) == int(y["amount_fen"]):
            unchanged += 1
            continue
        why = []
        if int(x["standard_fen"]) != int(y["standard_fen"]):
            why.append("standard")
        if int(x["rate_h"]) != int(y["rate_h"]):
            why.append("rate")
        if x["category"] != y["category"]:
            why.append("category")
        if int(x["persons"]) != int(y["persons"]):
            why.append("persons")
        if x["area"] != y["area"]:
            why.append("area")
        if x["standard_region"] != y["standard_region"]:
            why.append("standard_region")
        if not ({"standard", "rate"} & set(why)) and int(x["amount_per_person_fen"]) != int(y["amount_per_person_fen"]):
            why.append("rules")
        changed.append({
            "person_id": pid(k), "name": y["name"], "region_code": y["region_code"],
            "amount_a": _yuan(x["amount_fen"]), "amount_b": _yuan(y["amount_fen"]),
            "difference": _yuan(int(y["amount_fen"]) - int(x["amount_fen"])),
            "reasons": why,
            "detail": "; ".join(_detail(w, x, y) for w in why),
        })

    def side(run: Run) -> dict:
        d = run.decisions[0] if len(run.decisions) == 1 else {}
        return {"run_id": run.run_id, "run_dir": str(run.path), "month": run.month, "triggered": run.triggered,
                "indicator": d.get("indicator"), "rate_pct": d.get("rate_pct"),
                "version": " + ".join([run.scheme.get("version", "")] + list(run.scheme.get("overlays", []))),
                "rows": int(len(run.payments)), "persons": run.persons, "amount": _yuan(run.total_fen)}

    sa, sb = side(a), side(b)
    counts_by_reason: dict[str, int] = {}
    for c in changed:
        for w in c["reasons"]:
            counts_by_reason[w] = counts_by_reason.get(w, 0) + 1
    added_fen = int(sum(ib[k]["amount_fen"] for k in ib.keys() - ia.keys()))
    removed_fen = int(sum(ia[k]["amount_fen"] for k in ia.keys() - ib.keys()))
    changed_fen = int(sum(ib[k]["amount_fen"] - ia[k]["amount_fen"] for k in ia.keys() & ib.keys()))
    return {
        "a": sa,
        "b": sb,
        "totals": {
            "amount_a": sa["amount"], "amount_b": sb["amount"], "difference": _yuan(b.total_fen - a.total_fen),
            "added": len(added), "removed": len(removed), "changed": len(changed), "unchanged": unchanged,
            "added_amount": _yuan(added_fen), "removed_amount": _yuan(removed_fen), "changed_amount": _yuan(changed_fen),
            "changed_by_reason": dict(sorted(counts_by_reason.items())),
        },
        "added": added,
        "removed": removed,
        "changed": changed,
    }


def _detail(why: str, x: dict, y: dict) -> str:
    if why == "standard":
        return f"standard {_yuan(x['standard_fen'])} -> {_yuan(y['standard_fen'])}"
    if why == "rate":
        return f"rate {_rate(x['rate_h'])}% -> {_rate(y['rate_h'])}%"
    if why == "category":
        return f"category {x['category']} -> {y['category']}"
    if why == "persons":
        return f"persons {int(x['persons'])} -> {int(y['persons'])}"
    if why == "area":
        return f"area {x['area']} -> {y['area']}"
    if why == "standard_region":
        return f"standard row {x['standard_region']} -> {y['standard_region']}"
    return f"per person {_yuan(x['amount_per_person_fen'])} -> {_yuan(y['amount_per_person_fen'])} at the same standard and rate"
