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
from cpi_link.firstpass import BATCH_ROWS
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
    run_id_of: Callable[[], str]  # computed when first needed (it waits for the roster's hash)
    scheme_name: str = ""
    _std_cache: dict = field(default_factory=dict)
    _run_id: str | None = None

    @property
    def run_id(self) -> str:
        if self._run_id is None:
            self._run_id = self.run_id_of()
        return self._run_id

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
    batch_rows: int = BATCH_ROWS,
    extra_manifest: dict | None = None,
    run_tag: str = "",
    first_pass=None,
) -> CalcResult:
    """Decide, compute and write one month's run folder. Raises before writing anything on bad input.

    exclude_paid, when given, marks rows of people already paid for the month (supplements); they
    are rejected as `already_paid`. first_pass: see stream_month (the caller closes it).
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
    from cpi_link.roster import check_roster_path

    check_roster_path(roster_path)  # a folder or unreadable file is exit 2, before hashing
    # the roster's hash (part of the run id) is computed beside the first batches (hashlib
    # releases the GIL): the run id is first needed when the first payments are written
    roster_sha = _InThread(sha256_file, roster_path)

    def run_id() -> str:
        # run_tag tells apart runs of the same inputs that must not share a run id (supplements)
        seed = "|".join([month, scheme.sha256, roster_sha.result(), standards.sha256,
                         json_dumps(primary.to_json() if primary else None), run_tag])
        return f"{month}-{hashlib.sha256(seed.encode()).hexdigest()[:12]}"

    plan = MonthPlan(month=month, rules=rules, decision_for=decision_for, standards=standards, run_id_of=run_id)

    if out_dir is not None:
        base = Path(out_dir).parent
        outputs.prepare_out_dir(Path(out_dir))
    else:
        base = home.runs_dir / month

    import shutil
    import tempfile

    from cpi_link.paths import private_dir

    compute = primary is None or primary.triggered
    # payable rows and duplicate keys spill into a private folder beside the destination (same
    # filesystem: the finished payments file is moved, not copied, into the run's temp folder)
    private_dir(base)
    spill_dir = Path(tempfile.mkdtemp(prefix=f".spill-{month}-", dir=base))
    try:
        r = stream_month(roster_path, plan, compute, spill_dir, batch_rows, exclude_paid=exclude_paid, progress=progress,
                         first_pass=first_pass)
        from cpi_link.ledger import crashpoint; crashpoint("calc_after_read")  # noqa: E702 crash tests: roster read, nothing written
        if out_dir is not None:
            dest = Path(out_dir)
        else:
            dest, k = base / plan.run_id, 1
            while dest.exists():
                k += 1
                dest = base / f"{plan.run_id}.{k}"
        return _finish_month(r, plan, primary, decisions, roster_path, roster_sha.result(), standards, dest, compute,
                             extra_manifest)
    finally:
        shutil.rmtree(spill_dir, ignore_errors=True)


class _InThread:
    """fn(*args) in a daemon thread; result() waits and re-raises its error in the caller."""

    def __init__(self, fn, *args):
        import threading

        self.value = self.error = None

        def run():
            try:
                self.value = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                self.error = exc

        self.th = threading.Thread(target=run, daemon=True)
        self.th.start()

    def result(self):
        self.th.join()
        if self.error is not None:
            raise self.error
        return self.value


def _finish_month(r: dict, plan: MonthPlan, primary, decisions: dict, roster_path, roster_sha: str, standards, dest,
                  compute: bool, extra_manifest: dict | None) -> "CalcResult":
    """The manifest and the run folder, from stream_month's results (payments already written)."""
    from datetime import datetime, timezone
    from pathlib import Path

    from cpi_link import __version__, outputs

    month, rules, run_id = plan.month, plan.rules, plan.run_id
    input_rows = r["input_rows"]
    rej_schema = outputs._schemas()[1]
    rej_table = r["rejected"].cast(rej_schema) if r["rejected"] is not None else rej_schema.empty_table()
    paid_rows = r["paid_rows"]
    summary = r["summary"]
    total_fen = r["total_fen"]
    persons = r["persons"]
    by_reason = {}
    if rej_table.num_rows:
        vc = rej_table.column("reason").value_counts()
        by_reason = {str(x["values"]): int(x["counts"]) for x in sorted(vc.to_pylist(), key=lambda x: str(x["values"]))}
    if compute and input_rows != paid_rows + rej_table.num_rows:
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
            "paid_rows": int(paid_rows),
            "rejected_rows": int(rej_table.num_rows),
            "persons": persons,
            "total_amount": fen_to_yuan_str(total_fen),
            "rejected_by_reason": by_reason,
        },
    }
    if extra_manifest:
        manifest.update(extra_manifest)
    tables = {
        "payments.parquet": r["payments_path"],
        "rejected.parquet": rej_table,
        "summary.parquet": outputs.summary_table(summary),
    }
    outputs.write_run(dest, tables, manifest)
    by_cat = r["by_category"]
    return CalcResult(
        run_dir=dest, run_id=run_id, month=month, triggered=manifest["triggered"], decision=decision_json,
        input_rows=input_rows, paid_rows=int(paid_rows), persons=persons, total_fen=total_fen,
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


# -- the streaming, Arrow-native path of calculate_month -------------------------------------
#
# Two passes over the roster, overlapping (firstpass, dedup):
# 1. The first pass reads only the ID column, in a background thread that the CLI starts while it
#    loads the scheme, figures and standards, and finds the keys (the 17 digits that fix a
#    normalised ID) that occur more than once. Only rows with such a key can be duplicates.
# 2. The second reads and checks every column in batches (the next batch read ahead in a thread)
#    and computes them in pyarrow/numpy: category and area mapped with index_in over the rules'
#    few values, standards and decisions looked up once per distinct region code, amounts in
#    int64 fen. Until the first pass is done, up to PENDING_BATCHES computed batches wait.
#    Payable rows whose key was seen once are final: copied once out of their batch and written
#    to the payments file by a background thread. Rows with a repeated key are held (spilled past
#    SPILL_BYTES) with their (key, amount, row) in dedup.PayableKeys; after the last batch the
#    kept ones are written at the end of the payments file and the others rejected.
# So payments are in roster order, except that rows of people listed more than once come last.
# An XLSX roster (at most about a million rows) skips the first pass: every payable row is held.

SPILL_BYTES = 256 << 20
PENDING_BATCHES = 5  # payable batches kept in memory while the first pass still runs (5M CSV: 2 -> 5, 5.6 -> 4.9 s, 0.86 -> 1.15 GB)
PAYMENTS_COMPRESSION = "snappy"  # the Parquet default; zstd level 1 cost a third more CPU here (for half the bytes)
# Dictionary encoding only for the few-valued columns (for IDs, names and accounts it is built and
# then abandoned per page); min/max statistics and delta encoding only for source_row (row
# lookups); statistics on the other columns cost a sixth of the writer's time (measured at 1M rows).
PAYMENTS_DICTIONARY = ["category", "region_code", "area", "index_month", "indicator", "rate_pct", "standard",
                       "standard_annual", "standard_region", "amount_per_person", "scheme", "version", "run_id",
                       "id_flag"]
PAYMENTS_STATS = ["source_row"]
PAYMENTS_ENCODING = {"source_row": "DELTA_BINARY_PACKED"}
_NEW_REASONS = (None, "category_not_covered", "missing_field", "unknown_region", "not_triggered")
_PAID_KEEP = ["source_row", "person_id", "name", "persons", "bank_account", "id_flag", "person_key"]
_ORIG = ["orig_" + c for c in REJECT_ORIG]


def _np(a) -> np.ndarray:
    """A pyarrow numeric/bool array without nulls as numpy."""
    return a.to_numpy(zero_copy_only=False)


def _dict(indices: np.ndarray, values: list):
    """A dictionary<int32, string> array: few distinct strings spread without copying them per row
    (and the Parquet writer takes the dictionary as it is instead of hashing every value)."""
    import pyarrow as pa

    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32, copy=False)),
                                          pa.array(["" if v is None else v for v in values], pa.string()))


def compute_batch_arrow(batch, plan: MonthPlan):
    """One checked roster batch -> (payable rows before dedup, rejected rows, positions of the
    payable rows in the batch). Both are pyarrow Tables; the payable rows carry no original
    fields (take them from the batch by position when a payable row is later rejected)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    batch = batch.combine_chunks()
    n = batch.num_rows
    rules, month = plan.rules, plan.month
    ok = _np(pc.is_null(batch.column("reason")))
    code = np.zeros(n, dtype=np.int8)

    def reject(mask: np.ndarray, c: int) -> None:
        nonlocal ok
        m = mask & ok
        if m.any():
            code[m] = c
            ok = ok & ~m

    # coverage: category code -> basis 0 urban, 1 rural, 2 by_area, -1 not covered
    keys = list(rules.categories)
    basis_of = np.array([{"urban": 0, "rural": 1, "by_area": 2}[rules.categories[k]] for k in keys] + [-1], dtype=np.int8)
    cidx = _np(pc.fill_null(pc.index_in(batch.column("category"), value_set=pa.array(keys, pa.string())), -1))
    basis = basis_of[cidx]
    reject(basis < 0, 1)
    aidx = _np(pc.fill_null(pc.index_in(batch.column("area"), value_set=pa.array(["urban", "rural"])), -1)).astype(np.int8)
    by_area = basis == 2
    reject(by_area & (aidx < 0), 2)
    area = np.where(by_area, aidx, basis)

    # standards and decisions: once per distinct region code
    regions = batch.column("region_code")
    uniq = pc.unique(regions.filter(pa.array(ok))).drop_null()
    ridx = _np(pc.fill_null(pc.index_in(regions, value_set=uniq), -1)) if len(uniq) else np.full(n, -1, np.int64)
    codes = uniq.to_pylist()
    u = len(codes)
    u12 = np.zeros(u + 1, np.int64)
    r12 = np.zeros(u + 1, np.int64)
    ann = np.full(u + 1, -1, np.int64)
    has = np.zeros(u + 1, bool)
    std_region: list = [None] * (u + 1)
    for i, rc in enumerate(codes):
        if rc not in plan._std_cache:
            plan._std_cache[rc] = plan.standards.in_force(rc, month)
        s = plan._std_cache[rc]
        if s is not None:
            u12[i], r12[i], std_region[i], has[i] = s.urban12, s.rural12, s.region_code, True
            ann[i] = s.rural12 if s.rural_basis == "annual" else -1
    reject(~has[ridx], 3)
    present = np.zeros(u + 1, bool)
    present[ridx[ok]] = True
    rate_u = np.zeros(u + 1, np.int64)
    trig = np.zeros(u + 1, bool)
    ind_u: list = [None] * (u + 1)
    for i in np.flatnonzero(present[:u]):
        d = plan.decision_for(plan.deciding_region(codes[i]))
        if d.triggered:
            trig[i], rate_u[i], ind_u[i] = True, rate_hundredths(d.rate_pct), d.indicator
    reject(~trig[ridx], 4)

    pay = ok
    pidx = np.flatnonzero(pay)
    every = len(pidx) == n
    pr = ridx[pidx]
    parea = area[pidx]
    std12 = np.where(parea == 0, u12[pr], r12[pr])
    annual = np.where(parea == 0, -1, ann[pr])
    rate_h = rate_u[pr]
    num, den = _raw_amount(rules, std12, rate_h)
    rounded = round_ratio(num, den, rules.rounding)
    floored = np.maximum(rounded, yuan_to_fen(Decimal(rules.minimum), "minimum"))
    mult = Fraction(str(rules.multiplier))
    per_person = round_ratio(floored * mult.numerator, mult.denominator, "fen_half_up") if mult != 1 else floored
    persons = _np(pc.fill_null(batch.column("persons"), 0))[pidx].astype(np.int64)
    paid = _Payable(batch.select(_PAID_KEEP + _ORIG), pidx, {  # only what payable rows need: pending batches hold it
        "category": (cidx[pidx], keys),
        "region_code": (pr, codes + [""]),
        "area": (parea, ["urban", "rural"]),
        "indicator": (pr, ind_u),
        "rate_h": rate_h,
        "standard12": std12,
        "standard_annual_fen": annual,
        "standard_region": (pr, std_region),
        "amount_per_person_fen": per_person,
        "amount_fen": per_person * persons,
    })

    if every:
        return paid, _rej_table(batch.column("source_row").slice(0, 0), pa.array([], pa.string()),
                                pa.array([], pa.string()), batch.slice(0, 0))
    ridx_rej = np.flatnonzero(~pay)
    rej = batch.filter(pa.array(~pay))
    reason, detail = rej.column("reason"), rej.column("detail")
    new = code[ridx_rej]
    if new.any():
        names = pa.array(list(_NEW_REASONS), pa.string())
        reason = pc.if_else(pa.array(new > 0), names.take(pa.array(new)), reason)
        for c, text in (
            (1, lambda t: pc.binary_join_element_wise("category ", pc.fill_null(t.column("category"), ""),
                                                      f" is not covered by {rules.version} in {month}", "")),
            (2, lambda t: pa.scalar("area (城乡) is needed for this category and is empty")),
            (3, lambda t: pc.binary_join_element_wise("no standard for region ", pc.fill_null(t.column("region_code"), ""),
                                                      f" (or its prefecture/province) in force in {month}", "")),
            (4, lambda t: pa.scalar(f"the mechanism did not start for this region in {month}")),
        ):
            m = new == c
            if m.any():
                detail = pc.if_else(pa.array(m), text(rej), detail)
    return paid, _rej_table(rej.column("source_row"), reason, detail, rej)


class _Payable:
    """The payable rows of one batch, not yet copied out of it: positions in the batch (pidx) and
    the computed values per payable row (numpy; (indices, values) for the few-valued strings).
    `table(sel)` copies the rows once, when it is known where they go (written, held or rejected)."""

    def __init__(self, batch, pidx: np.ndarray, computed: dict):
        self.batch, self.pidx, self.computed = batch, pidx, computed

    @property
    def num_rows(self) -> int:
        return len(self.pidx)

    def column_np(self, name: str) -> np.ndarray:
        if name in self.computed:
            return self.computed[name]
        return _np(self.batch.column(name))[self.pidx]

    def subset(self, sel: np.ndarray) -> "_Payable":
        return _Payable(self.batch, self.pidx[sel], {
            k: (v[0][sel], v[1]) if isinstance(v, tuple) else v[sel] for k, v in self.computed.items()})

    def table(self, sel: np.ndarray | None = None, orig: bool = False):
        """Rows (all, or where the bool mask `sel`) as a Table: roster fields, computed fields, and
        with orig=True the original fields (for rows that may yet be rejected)."""
        import pyarrow as pa

        p = self if sel is None else self.subset(sel)
        cols = _PAID_KEEP + (_ORIG if orig else [])
        if len(p.pidx) == p.batch.num_rows:
            t = p.batch.select(cols)  # every row payable: no copy
        else:
            t = p.batch.select(cols).take(pa.array(p.pidx))
        for k, v in p.computed.items():
            t = t.append_column(k, _dict(*v) if isinstance(v, tuple) else pa.array(v))
        return t


def _rej_table(source_row, reason, detail, t):
    import pyarrow as pa

    names = ["source_row", "reason", "detail", *REJECT_ORIG]
    cols = [source_row, reason, detail, *[t.column("orig_" + c) for c in REJECT_ORIG]]
    return pa.Table.from_arrays([c.cast(pa.string()) if i else c for i, c in enumerate(cols)], names=names)


class _Spill:
    """Payable rows in roster order: kept in memory, moved to an Arrow IPC file past SPILL_BYTES."""

    def __init__(self, folder):
        self.folder = folder
        self.tables: list = []
        self.bytes = 0
        self.path = None
        self.writer = None
        self.sink = None

    def add(self, t) -> None:
        import pyarrow as pa

        if t.num_rows == 0:
            return
        if self.writer is None:
            self.tables.append(t)
            self.bytes += t.nbytes
            if self.bytes <= SPILL_BYTES:
                return
            self.path = self.folder / "paid.arrows"
            self.sink = pa.OSFile(str(self.path), "wb")
            # uncompressed: lz4 cost more CPU on the critical thread than the (page-cached) bytes it saved
            self.writer = pa.ipc.new_stream(self.sink, t.schema, options=pa.ipc.IpcWriteOptions(compression=None))
            pending, self.tables = self.tables, []
        else:
            pending = [t]
        for p in pending:
            self.writer.write_table(p)

    def __iter__(self):
        import pyarrow as pa

        if self.writer is None:
            yield from self.tables
            return
        self.writer.close()
        self.sink.close()
        self.writer = None
        with pa.OSFile(str(self.path), "rb") as src:
            reader = pa.ipc.open_stream(src)
            for b in reader:
                yield pa.Table.from_batches([b])


def _prefetch(it, depth: int = 1):
    """Iterate `it` in a background thread, `depth` items ahead: reading and checking the next roster
    batch (pyarrow and numpy release the GIL) overlaps computing this one. Errors surface in order."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def run():
        try:
            for x in it:
                if stop.is_set():
                    return
                q.put((x, None))
            q.put((done, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put((None, exc))

    th = threading.Thread(target=run, name="roster-prefetch", daemon=True)
    th.start()
    try:
        while True:
            x, exc = q.get()
            if exc is not None:
                raise exc
            if x is done:
                return
            yield x
    finally:
        stop.set()
        while th.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                pass
            th.join(0.05)


class _BackgroundWriter:
    """Feeds a ParquetWriter from a background thread (one table in flight), so encoding the
    payments overlaps preparing the next batch."""

    def __init__(self, writer):
        import queue
        import threading

        self.writer = writer
        self.q: queue.Queue = queue.Queue(maxsize=1)
        self.error = None
        self.th = threading.Thread(target=self._run, name="payments-writer", daemon=True)

    def _run(self):
        while True:
            t = self.q.get()
            if t is None:
                return
            if self.error is None:
                try:
                    self.writer.write_table(t)
                except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                    self.error = exc

    def write_table(self, t):
        if self.error is not None:
            raise self.error
        self.q.put(t)

    def __enter__(self):
        self.th.start()
        return self

    def __exit__(self, *exc):
        self.q.put(None)
        self.th.join()
        if self.error is not None and exc[0] is None:
            raise self.error
        return False


def _first_pass(roster_path, batch_rows: int, folder):
    """Start the first pass (firstpass.FirstPass) in the background: (its runner; raw batches for
    the second pass, or None to read the roster again). Tests replace this to hold every row.

    A CSV is read twice (the first time converting one column): keeping the first parse for the
    second pass meant spilling it to disk, and writing 450 MB at 5M rows cost more than parsing."""
    from cpi_link.firstpass import FirstPass

    return FirstPass(roster_path, batch_rows, folder), None


class _Totals:
    """Rows, persons and fen per (region_code, category) over the written payments, exact int64."""

    def __init__(self):
        self.parts = []
        self.rows = 0

    def add(self, t) -> None:
        import pyarrow as pa

        g = t.select(["region_code", "category", "persons", "amount_fen"]).group_by(["region_code", "category"]) \
            .aggregate([("persons", "count"), ("persons", "sum"), ("amount_fen", "sum")])
        self.parts.append(g.cast(pa.schema([("region_code", pa.string()), ("category", pa.string()), *list(g.schema)[2:]])))
        self.rows += t.num_rows

    def summary(self) -> pd.DataFrame | None:
        import pyarrow as pa

        if not self.parts:
            return None
        s = pa.concat_tables(self.parts).group_by(["region_code", "category"]).aggregate(
            [("persons_count", "sum"), ("persons_sum", "sum"), ("amount_fen_sum", "sum")])
        s = s.sort_by([("region_code", "ascending"), ("category", "ascending")])
        return pd.DataFrame({
            "region_code": s.column("region_code").to_pylist(),
            "category": s.column("category").to_pylist(),
            "rows": _np(s.column("persons_count_sum")).astype(np.int64),
            "persons": _np(s.column("persons_sum_sum")).astype(np.int64),
            "amount_fen": _np(s.column("amount_fen_sum_sum")).astype(np.int64),
        })


def stream_month(roster_path, plan: MonthPlan, compute: bool, spill_dir, batch_rows: int,
                 exclude_paid=None, progress=None, first_pass=None) -> dict:
    """Read, check, compute and dedup a whole roster in bounded memory (see the section comment).

    Returns input_rows, the payments Parquet already written in spill_dir (path), paid_rows,
    persons, total_fen, the rejected table (sorted by source_row), the summary frame and by_category.
    first_pass: a firstpass.FirstPass the caller started early for this roster and batch size.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from cpi_link import outputs
    from cpi_link.dedup import PayableKeys, member
    month, rules = plan.month, plan.rules
    # the first pass runs in its own thread while the second starts; payable batches wait (at most
    # PENDING_BATCHES of them) until it knows which keys repeat
    from cpi_link.roster import check_batches, raw_batches

    if not compute:
        first, source = None, None
    elif first_pass is not None and first_pass.matches(roster_path, batch_rows):
        first, source = first_pass, None  # started early by the caller
    else:
        first, source = _first_pass(roster_path, batch_rows, spill_dir)
    runner = first
    if source is None:
        source = raw_batches(roster_path, batch_rows)
    repeated = None
    pending: list = []
    held = _Spill(spill_dir)
    keys = PayableKeys(spill_dir)
    totals = _Totals()
    rej_parts = []
    input_rows = 0
    pay_schema = outputs.payments_write_schema()
    pay_path = spill_dir / "payments.parquet"

    def rejected_payable(paid: _Payable, mask, reason: str, detail: str):
        """Payable rows under `mask` rejected after all, with their original fields."""
        gone = paid.table(mask, orig=True)
        rej_parts.append(_rej_table(gone.column("source_row"), pa.repeat(reason, gone.num_rows),
                                    pa.repeat(detail, gone.num_rows), gone))

    def to_payments(t):
        return outputs.payments_from_arrow(t, month, rules.scheme, rules.version, plan.run_id)

    def route(paid: _Payable):
        """Payable rows of one batch: rows with a repeated key are held for the dedup, the rest written."""
        key = paid.column_np("person_key")
        hold = np.ones(len(key), bool) if repeated is None else member(key, repeated)
        if hold.any():
            h = paid.table(None if hold.all() else hold, orig=True)
            keys.add(key[hold], _np(h.column("amount_fen")), _np(h.column("source_row")))
            held.add(h)
        if not hold.all():
            final = paid.table(~hold if hold.any() else None)
            writer.write_table(to_payments(final))
            totals.add(final)

    def first_pass_done(wait: bool) -> bool:
        nonlocal first, repeated
        if first is None:
            return True
        if not wait and not first.done():
            return False
        repeated, first = first.result(), None
        for paid in pending:
            route(paid)
        pending.clear()
        return True

    with pq.ParquetWriter(pay_path, pay_schema, compression=PAYMENTS_COMPRESSION,
                          store_schema=False,  # the dictionary types are an encoding detail: read back as strings
                          store_decimal_as_integer=True, use_dictionary=PAYMENTS_DICTIONARY,
                          write_statistics=PAYMENTS_STATS, column_encoding=PAYMENTS_ENCODING) as pq_writer, \
            _BackgroundWriter(pq_writer) as writer:
        try:
            for batch in _prefetch(check_batches(source)):
                input_rows += batch.num_rows
                if compute:
                    batch = batch.combine_chunks()
                    paid, rej = compute_batch_arrow(batch, plan)
                    if exclude_paid is not None and paid.num_rows:
                        ids = batch.column("person_id").take(pa.array(paid.pidx))
                        already = np.asarray(exclude_paid(pa.table({"person_id": ids}).to_pandas()), dtype=bool)
                        if already.any():
                            rejected_payable(paid, already, "already_paid", f"already paid for {month} in an earlier run")
                            paid = paid.subset(~already)
                    if paid.num_rows:
                        if first_pass_done(wait=len(pending) >= PENDING_BATCHES):
                            route(paid)
                        else:
                            pending.append(paid)
                else:
                    bad = batch.filter(pc.is_valid(batch.column("reason")))
                    rej = _rej_table(bad.column("source_row"), bad.column("reason"), bad.column("detail"), bad)
                rej_parts.append(rej)
                if progress:
                    progress(batch.num_rows)
            first_pass_done(wait=True)
        finally:
            if runner is not None:
                runner.cancel()

        # the held rows: keep one per person, reject the rest, write the kept ones last
        drop_rows, kept_rows = keys.duplicates()
        pending, pending_rows = [], 0
        for t in held:
            t = t.combine_chunks()
            rows = _np(t.column("source_row"))
            if len(drop_rows):
                pos = np.searchsorted(drop_rows, rows)
                hit = (pos < len(drop_rows)) & (drop_rows[np.minimum(pos, len(drop_rows) - 1)] == rows)
                if hit.any():
                    gone = t.filter(pa.array(hit))
                    detail = pc.binary_join_element_wise(
                        "the same person is paid on data row ", pa.array(kept_rows[pos[hit]]).cast(pa.string()),
                        " (the highest amount)", "")
                    rej_parts.append(_rej_table(gone.column("source_row"), pa.repeat("duplicate_person", gone.num_rows),
                                                detail, gone))
                    t = t.filter(pa.array(~hit))
            if t.num_rows:
                pending.append(t.drop_columns(_ORIG))
                pending_rows += t.num_rows
            if pending_rows >= batch_rows:
                final = pa.concat_tables(pending).combine_chunks()  # one dictionary per column
                writer.write_table(to_payments(final))
                totals.add(final)
                pending, pending_rows = [], 0
        if pending:
            final = pa.concat_tables(pending).combine_chunks()  # one dictionary per column
            writer.write_table(to_payments(final))
            totals.add(final)

    paid_rows = totals.rows
    if rej_parts:
        rej_all = pa.concat_tables(rej_parts)
        rej_all = rej_all.take(pc.sort_indices(rej_all.column("source_row")))
    else:
        rej_all = None
    summary = totals.summary()
    if summary is not None:
        persons = int(summary["persons"].sum())
        total_fen = int(summary["amount_fen"].sum())
        g = summary.groupby("category", sort=True)[["rows", "persons", "amount_fen"]].sum().reset_index()
        by_cat = [{"category": r["category"], "rows": int(r["rows"]), "persons": int(r["persons"]),
                   "amount_fen": int(r["amount_fen"])} for r in g.to_dict("records")]
    else:
        persons = total_fen = 0
        summary = outputs.summary_frame(_empty_paid())
        by_cat = []
    return {"input_rows": input_rows, "payments_path": pay_path, "paid_rows": paid_rows, "persons": persons,
            "total_fen": total_fen, "rejected": rej_all, "summary": summary, "by_category": by_cat}
