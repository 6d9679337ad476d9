"""pandas copies of the month checks used by validate and oneoff (to be replaced by calc.batch)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cpi_link.calc.batch import REJECT_ORIG

def check_batch(df: pd.DataFrame, rules, standards, month: str, cache: dict) -> dict:
    """The month's row checks (coverage, area, standards) on top of the roster's own; no amounts.

    Shared by calc and validate. Returns numpy arrays: reason, detail, ok, area, std12, annual,
    standard_region.
    """
    import pandas as pd

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


def _rejected_frame(df: pd.DataFrame, mask: np.ndarray, reason: np.ndarray, detail: np.ndarray) -> pd.DataFrame:
    import pandas as pd

    out = pd.DataFrame(
        {
            "source_row": df["source_row"].to_numpy()[mask],
            "file_row": df["file_row"].to_numpy()[mask],
            "reason": reason[mask],
            "detail": detail[mask],
        }
    )
    for c in REJECT_ORIG:
        out[c] = df["orig_" + c].to_numpy()[mask]
    return out


def dedup(paid: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same person on several rows is paid once, at the highest amount (ties: the first row)."""
    import pandas as pd

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
            "file_row": drop["file_row"].to_numpy(),
            "reason": "duplicate_person",
            "detail": ("the same person is paid on data row " + kept_row.astype(str) + " (the highest amount)").to_numpy(dtype=object),
        }
    )
    for c in REJECT_ORIG:
        rej[c] = drop["orig_" + c].to_numpy()
    return keep.sort_values("source_row", kind="stable").reset_index(drop=True), rej


def _empty_rejected() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({c: pd.Series(dtype=object) for c in ["source_row", "file_row", "reason", "detail", *REJECT_ORIG]})


def _empty_paid() -> pd.DataFrame:
    import pandas as pd

    cols = ["source_row", "person_id", "name", "category", "region_code", "area", "persons", "indicator", "rate_h",
            "standard12", "standard_annual_fen", "standard_region", "amount_per_person_fen", "amount_fen",
            "bank_account", "id_flag", "file_row", *["orig_" + c for c in REJECT_ORIG]]
    ints = {"source_row", "file_row", "persons", "rate_h", "standard12", "standard_annual_fen", "amount_per_person_fen", "amount_fen"}
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in ints else object) for c in cols})

