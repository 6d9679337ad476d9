"""The calculator: roster rows -> per-recipient amounts, vectorised over whole batches.

Order per person (SPEC 5.4), all in integer fen: raw = the method's value as an exact ratio;
rounded = the scheme's rounding of raw; floored = max(rounded, minimum); amount_per_person =
floored x multiplier (a fractional multiplier is rounded to the fen, half up); amount =
amount_per_person x persons. Every row ends paid or rejected with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from cpi_link.errors import ConfigError
from cpi_link.money import round_ratio, yuan_to_fen

PAYMENT_COLUMNS = [
    "source_row", "person_id", "name", "category", "region_code", "area", "persons", "index_month",
    "indicator", "rate_pct", "standard", "standard_annual", "standard_region", "amount_per_person",
    "amount", "scheme", "version", "run_id", "bank_account", "id_flag",
]
REJECT_ORIG = ["person_id", "name", "category", "region_code", "area", "persons", "bank_account"]


def rate_hundredths(rate_pct: Decimal) -> int:
    """A YoY rate in hundredths of a percent (3.5 -> 350); published rates have one decimal."""
    h = rate_pct * 100
    if h != h.to_integral_value():
        raise ConfigError(f"rate {rate_pct}% has more than two decimals")
    return int(h)


@dataclass
class MonthPlan:
    """Everything fixed for one index month before any roster row is read."""

    month: str
    rules: object  # schemes.Rules
    decision_for: Callable[[str], object]  # deciding-region code -> trigger.Decision
    standards: object  # standards.Standards
    run_id: str
    scheme_name: str = ""
    _std_cache: dict = field(default_factory=dict)

    def deciding_region(self, region_code: str) -> str:
        ir = self.rules.index_region
        return region_code[:4] + "00" if ir == "prefecture" else ir


def check_batch(df: pd.DataFrame, rules, standards, month: str, cache: dict) -> dict:
    """The month's row checks (coverage, area, standards) on top of the roster's own; no amounts.

    Shared by calc and validate. Returns numpy arrays: reason, detail, ok, area, std12, annual,
    standard_region.
    """
    reason = np.array(df["reason"].astype(object).where(df["reason"].notna(), None), dtype=object)
    detail = np.array(df["detail"].astype(object).where(df["detail"].notna(), None), dtype=object)
    ok = pd.isna(pd.Series(reason)).to_numpy().copy()

    def reject(mask: np.ndarray, code: str, text) -> None:
        nonlocal ok
        m = mask & ok
        if m.any():
            reason[m] = code
            detail[m] = text[m] if isinstance(text, np.ndarray) else text
            ok = ok & ~m

    category = df["category"].astype(object)
    basis = category.map(rules.categories).to_numpy(dtype=object)
    reject(
        pd.isna(pd.Series(basis)).to_numpy(),
        "category_not_covered",
        ("category " + category.fillna("").astype(str) + f" is not covered by {rules.version} in {month}").to_numpy(dtype=object),
    )
    area_in = df["area"].astype(object).to_numpy(dtype=object)
    by_area = basis == "by_area"
    reject(by_area & pd.isna(pd.Series(area_in)).to_numpy(), "missing_field", "area (城乡) is needed for this category and is empty")
    area = np.where(by_area, area_in, basis)

    # standards: looked up once per distinct region code, not per row
    regions = df["region_code"].astype(object)
    std_u, std_r, std_region, std_annual = {}, {}, {}, {}
    for code in pd.unique(regions[ok].dropna()):
        if code not in cache:
            cache[code] = standards.in_force(code, month)
        s = cache[code]
        if s is not None:
            std_u[code], std_r[code], std_region[code] = s.urban12, s.rural12, s.region_code
            std_annual[code] = s.rural12 if s.rural_basis == "annual" else -1
    reject(
        ~regions.map(std_u).notna().to_numpy(),
        "unknown_region",
        ("no standard for region " + regions.fillna("").astype(str) + f" (or its prefecture/province) in force in {month}").to_numpy(dtype=object),
    )
    is_urban = area == "urban"
    u12 = regions.map(std_u).fillna(0).to_numpy(dtype=np.int64)
    r12 = regions.map(std_r).fillna(0).to_numpy(dtype=np.int64)
    return {
        "reason": reason,
        "detail": detail,
        "ok": ok,
        "area": area,
        "std12": np.where(is_urban, u12, r12),
        "annual": np.where(is_urban, -1, regions.map(std_annual).fillna(-1).to_numpy(dtype=np.int64)),
        "standard_region": regions.map(std_region).to_numpy(dtype=object),
    }


def compute_batch(batch, plan: MonthPlan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Compute one roster batch. Returns (payable rows before dedup, rejected rows)."""
    df = batch.to_pandas()
    n = len(df)
    rules = plan.rules
    c = check_batch(df, rules, plan.standards, plan.month, plan._std_cache)
    reason, detail, ok, area, std12, annual = c["reason"], c["detail"], c["ok"], c["area"], c["std12"], c["annual"]
    regions = df["region_code"].astype(object)

    # the decision: one for the province, or one per prefecture
    deciding = regions.map(lambda c: plan.deciding_region(c) if isinstance(c, str) else None)
    rate_h = np.zeros(n, dtype=np.int64)
    indicator = np.empty(n, dtype=object)
    not_trig = np.zeros(n, dtype=bool)
    for dr in pd.unique(deciding[ok].dropna()):
        d = plan.decision_for(dr)
        m = (deciding == dr).to_numpy() & ok
        if d.triggered:
            rate_h[m] = rate_hundredths(d.rate_pct)
            indicator[m] = d.indicator
        else:
            not_trig |= m
    m = not_trig & ok
    reason[m], detail[m] = "not_triggered", f"the mechanism did not start for this region in {plan.month}"
    ok = ok & ~m

    pay = ok
    num, den = _raw_amount(rules, std12[pay], rate_h[pay])
    rounded = round_ratio(num, den, rules.rounding)
    floored = np.maximum(rounded, yuan_to_fen(Decimal(rules.minimum), "minimum"))
    mult = Fraction(str(rules.multiplier))
    per_person = round_ratio(floored * mult.numerator, mult.denominator, "fen_half_up") if mult != 1 else floored
    persons = df["persons"].to_numpy()[pay].astype(np.int64)

    paid = pd.DataFrame(
        {
            "source_row": df["source_row"].to_numpy()[pay],
            "person_id": df["person_id"].to_numpy()[pay],
            "name": df["name"].to_numpy()[pay],
            "category": df["category"].to_numpy()[pay],
            "region_code": df["region_code"].to_numpy()[pay],
            "area": area[pay],
            "persons": persons,
            "indicator": indicator[pay],
            "rate_h": rate_h[pay],
            "standard12": std12[pay],
            "standard_annual_fen": annual[pay],
            "standard_region": c["standard_region"][pay],
            "amount_per_person_fen": per_person,
            "amount_fen": per_person * persons,
            "bank_account": df["bank_account"].to_numpy()[pay],
            "id_flag": df["id_flag"].to_numpy()[pay],
        }
    )
    for c in REJECT_ORIG:
        paid["orig_" + c] = df["orig_" + c].to_numpy()[pay]
    rej = _rejected_frame(df, ~pay, reason, detail)
    return paid, rej


def _raw_amount(rules, std12: np.ndarray, rate_h: np.ndarray) -> tuple[np.ndarray, np.ndarray | int]:
    """The method's exact value in fen as numerator/denominator (std12 is fen x 12)."""
    if rules.method == "proportional":
        # standard x rate / 100  ->  (std12 / 12) x (rate_h / 100) / 100
        return std12 * rate_h, 120_000
    if rules.method == "tiered_fraction":
        num = np.zeros(len(std12), dtype=np.int64)
        den = np.ones(len(std12), dtype=np.int64)
        for from_pct, frac in rules.tiers:  # ascending: later tiers overwrite, so the highest reached wins
            m = rate_h >= rate_hundredths(Decimal(from_pct))
            frac = Fraction(frac)
            num = np.where(m, std12 * frac.numerator, num)
            den = np.where(m, 12 * frac.denominator, den)
        return num, den
    if rules.method == "per_point":
        points = (rate_h + 99) // 100  # every started percentage point: 3.2 -> 4, 3.0 -> 3
        return points * yuan_to_fen(Decimal(rules.per_point), "per_point"), 1
    raise ConfigError(f"unknown method {rules.method!r}")


def _rejected_frame(df: pd.DataFrame, mask: np.ndarray, reason: np.ndarray, detail: np.ndarray) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "source_row": df["source_row"].to_numpy()[mask],
            "reason": reason[mask],
            "detail": detail[mask],
        }
    )
    for c in REJECT_ORIG:
        out[c] = df["orig_" + c].to_numpy()[mask]
    return out


def dedup(paid: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same person on several rows is paid once, at the highest amount (ties: the first row)."""
    if paid.empty:
        return paid, _empty_rejected()
    order = paid.sort_values(["person_id", "amount_fen", "source_row"], ascending=[True, False, True], kind="stable")
    dup = order.duplicated("person_id", keep="first")
    if not dup.any():
        return paid.sort_values("source_row", kind="stable").reset_index(drop=True), _empty_rejected()
    keep = order[~dup]
    drop = order[dup]
    first_row = keep.set_index("person_id")["source_row"]
    kept_row = drop["person_id"].map(first_row)
    rej = pd.DataFrame(
        {
            "source_row": drop["source_row"].to_numpy(),
            "reason": "duplicate_person",
            "detail": ("the same person is paid on data row " + kept_row.astype(str) + " (the highest amount)").to_numpy(dtype=object),
        }
    )
    for c in REJECT_ORIG:
        rej[c] = drop["orig_" + c].to_numpy()
    return keep.sort_values("source_row", kind="stable").reset_index(drop=True), rej


def _empty_rejected() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in ["source_row", "reason", "detail", *REJECT_ORIG]})


# -- one month, end to end -------------------------------------------------------------------


@dataclass
class CalcResult:
    run_dir: object
    run_id: str
    month: str
    triggered: bool
    decision: dict
    input_rows: int
    paid_rows: int
    persons: int
    total_fen: int
    rejected_by_reason: dict
    by_category: list
    manifest: dict


def calculate_month(
    month: str,
    roster_path,
    scheme,
    store,
    standards,
    home,
    out_dir=None,
    progress: Callable[[int], None] | None = None,
    exclude_paid: Callable[[pd.DataFrame], np.ndarray] | None = None,
    batch_rows: int = 1_000_000,
    extra_manifest: dict | None = None,
    run_tag: str = "",
) -> CalcResult:
    """Decide, compute and write one month's run folder. Raises before writing anything on bad input.

    exclude_paid, when given, marks rows of people already paid for the month (supplements); they
    are rejected as `already_paid`.
    """
    import hashlib
    from datetime import datetime, timezone
    from pathlib import Path

    from cpi_link import __version__, outputs
    from cpi_link.atomic import sha256_file
    from cpi_link.roster import iter_roster
    from cpi_link.trigger import decide

    rules = scheme.rules_for(month)
    decisions: dict[str, object] = {}

    def decision_for(region: str):
        if region not in decisions:
            decisions[region] = decide(scheme, month, store, region=region)
        return decisions[region]

    primary = None
    if rules.index_region != "prefecture":
        primary = decision_for(rules.index_region)  # MissingFigures (exit 3) before any output

    roster_path = Path(roster_path)
    roster_sha = sha256_file(roster_path)
    # run_tag tells apart runs of the same inputs that must not share a run id (supplements)
    seed = "|".join([month, scheme.sha256, roster_sha, standards.sha256, json_dumps(primary.to_json() if primary else None), run_tag])
    run_id = f"{month}-{hashlib.sha256(seed.encode()).hexdigest()[:12]}"
    plan = MonthPlan(month=month, rules=rules, decision_for=decision_for, standards=standards, run_id=run_id)

    if out_dir is not None:
        dest = Path(out_dir)
        outputs.prepare_out_dir(dest)
    else:
        base = home.runs_dir / month
        dest, k = base / run_id, 1
        while dest.exists():
            k += 1
            dest = base / f"{run_id}.{k}"

    paid_parts, rej_parts, input_rows = [], [], 0
    compute = primary is None or primary.triggered
    for batch in iter_roster(roster_path, batch_rows=batch_rows):
        input_rows += batch.num_rows
        if compute:
            paid, rej = compute_batch(batch, plan)
            if exclude_paid is not None and len(paid):
                already = exclude_paid(paid)
                if already.any():
                    gone = paid[already]
                    extra = pd.DataFrame({"source_row": gone["source_row"].to_numpy(), "reason": "already_paid",
                                          "detail": f"already paid for {month} in an earlier run"})
                    for c in REJECT_ORIG:
                        extra[c] = gone["orig_" + c].to_numpy()
                    rej = pd.concat([rej, extra], ignore_index=True)
                    paid = paid[~already]
            paid_parts.append(paid)
        else:
            df = batch.select(["source_row", "reason", "detail", *["orig_" + c for c in REJECT_ORIG]]).to_pandas()
            bad = df["reason"].notna().to_numpy()
            rej = df[bad].rename(columns={"orig_" + c: c for c in REJECT_ORIG})
        rej_parts.append(rej)
        if progress:
            progress(batch.num_rows)

    paid_all = pd.concat(paid_parts, ignore_index=True) if paid_parts else None
    if paid_all is None or paid_all.empty:
        paid_all = _empty_paid()
    paid_all, dup_rej = dedup(paid_all)
    rej_all = pd.concat([*rej_parts, dup_rej], ignore_index=True) if rej_parts else dup_rej
    rej_all = rej_all.sort_values("source_row", kind="stable").reset_index(drop=True)
    summary = outputs.summary_frame(paid_all)

    total_fen = int(paid_all["amount_fen"].sum()) if len(paid_all) else 0
    persons = int(paid_all["persons"].sum()) if len(paid_all) else 0
    by_reason = {str(k): int(v) for k, v in rej_all["reason"].value_counts().sort_index().items()}
    if compute and input_rows != len(paid_all) + len(rej_all):
        raise AssertionError("accounting invariant broken: input_rows != paid_rows + rejected_rows")

    decision_json = (
        primary.to_json(provenance=True) if primary is not None
        else [decisions[k].to_json(provenance=True) for k in sorted(decisions)]
    )
    from cpi_link.money import fen_to_yuan_str

    manifest = {
        "run_id": run_id,
        "tool": "cpi-link",
        "tool_version": __version__,
        "created_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "index_month": month,
        "triggered": bool(primary.triggered) if primary is not None else any(d.triggered for d in decisions.values()),
        "decision": decision_json,
        "scheme": {
            "name": rules.scheme,
            "title": rules.scheme_name,
            "path": rules.scheme_path,
            "sha256": rules.scheme_sha256,
            "version": rules.version,
            "overlays": list(rules.overlays),
            "documents": list(rules.documents),
            "verified": rules.verified,
        },
        "rules": {
            "method": rules.method, "rate": rules.rate, "rounding": rules.rounding,
            "minimum": str(rules.minimum), "multiplier": str(rules.multiplier),
            "categories": dict(rules.categories),
        },
        "inputs": [
            {"role": "roster", "path": str(roster_path.resolve()), "sha256": roster_sha, "rows": input_rows},
            {"role": "standards", "path": str(Path(standards.path).resolve()), "sha256": standards.sha256,
             "rows": len(standards), "sample": bool(standards.sample)},
        ],
        "counts": {
            "input_rows": input_rows,
            "paid_rows": int(len(paid_all)),
            "rejected_rows": int(len(rej_all)),
            "persons": persons,
            "total_amount": fen_to_yuan_str(total_fen),
            "rejected_by_reason": by_reason,
        },
    }
    if extra_manifest:
        manifest.update(extra_manifest)
    tables = {
        "payments.parquet": outputs.payments_table(paid_all, month, rules.scheme, rules.version, run_id),
        "rejected.parquet": outputs.rejected_table(rej_all),
        "summary.parquet": outputs.summary_table(summary),
    }
    outputs.write_run(dest, tables, manifest)
    by_cat = (
        paid_all.groupby("category").agg(rows=("source_row", "size"), persons=("persons", "sum"), amount_fen=("amount_fen", "sum"))
        .reset_index().to_dict("records") if len(paid_all) else []
    )
    return CalcResult(
        run_dir=dest, run_id=run_id, month=month, triggered=manifest["triggered"], decision=decision_json,
        input_rows=input_rows, paid_rows=int(len(paid_all)), persons=persons, total_fen=total_fen,
        rejected_by_reason=by_reason, by_category=by_cat, manifest=manifest,
    )


def _empty_paid() -> pd.DataFrame:
    cols = ["source_row", "person_id", "name", "category", "region_code", "area", "persons", "indicator", "rate_h",
            "standard12", "standard_annual_fen", "standard_region", "amount_per_person_fen", "amount_fen",
            "bank_account", "id_flag", *["orig_" + c for c in REJECT_ORIG]]
    ints = {"source_row", "persons", "rate_h", "standard12", "standard_annual_fen", "amount_per_person_fen", "amount_fen"}
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in ints else object) for c in cols})


def json_dumps(obj) -> str:
    import json

    return json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)
