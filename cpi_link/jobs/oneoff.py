"""One-off programmes on a roster: the monthly engine's checks, outputs and ledger, one payment.

Per row: the roster's own checks and the shared month checks (`calculate.check_batch`: coverage,
area, standards), then the programme's amount in integer fen:
  fixed               raw = the category's amount
  proportional_index  raw = standard x YoY / 100 of the programme's index figure
                      (`calculate._raw_amount`, the schemes' proportional method; a fall in
                      prices counts as 0 before the floor)
then rounded, floored at `minimum`, times `multiplier`, times persons, as SPEC 5.4 orders it.
A person is paid once in the run (`calculate.dedup`: the highest amount) and once per programme
across runs: the ledger is keyed `programme-<id>`; a supplement pays only people not yet paid.
"""

from __future__ import annotations

import hashlib
import types
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from cpi_link.calc.batch import REJECT_ORIG
from cpi_link.jobs.pipeline import CalcResult, json_dumps
from cpi_link.calc.legacy import _empty_paid, _rejected_frame, check_batch, dedup
from cpi_link.rules.amounts import raw_amount as _raw_amount, rate_hundredths
from cpi_link.core.errors import MissingFigures, UsageError
from cpi_link.core.money import round_ratio

_PROPORTIONAL = types.SimpleNamespace(method="proportional")


class _NoStandards:
    """Fixed amounts use no standard: every region passes the standards check, and the
    standard columns of the payments are left empty."""

    sha256 = None

    def in_force(self, region_code: str, month: str):
        return types.SimpleNamespace(urban12=0, rural12=0, region_code=None, rural_basis="monthly")


def index_figure(programme, store):
    """The programme's index observation, or MissingFigures (exit 3) before anything is written."""
    ix = programme.index
    obs = store.get(ix.region, ix.indicator, ix.month)
    if obs is None:
        raise MissingFigures(
            f"no {ix.indicator} figure for {ix.region} in {ix.month} (needed by programme {programme.id}); "
            "import it with cpi-link fetch --source file"
        )
    return obs


def pay_programme(programme, roster_path, store, standards, home, out_dir=None, supplement: bool = False,
                  batch_rows: int = 1_000_000, progress=None, sheet=None) -> CalcResult:
    """Compute, write and record a programme's payment, exactly once per person per programme.

    The first run records the programme in the ledger; running it again is refused. With
    `supplement`, only people the programme has not paid yet are paid (others `already_paid`).
    """
    from cpi_link.core.atomic import sha256_file
    from cpi_link.jobs.ledger import Ledger, RunLock

    if programme.method == "proportional_index":
        index_figure(programme, store)  # exit 3 before taking the lock or reading the roster
    ledger = Ledger(home)
    key = programme.ledger_key
    with RunLock(home):
        rec = ledger.record(programme.payment_month, key)
        if supplement:
            if rec is None:
                raise UsageError(f"programme {programme.id} has not been paid yet: run cpi-link oneoff without --supplement first")
            paid = ledger.paid_ids(programme.payment_month, key)
            res = compute_programme(programme, roster_path, store, standards, home, out_dir=out_dir, exclude=paid,
                                    supplement_to=rec["run_id"], seq=len(rec.get("payment_files", [])),
                                    batch_rows=batch_rows, progress=progress, sheet=sheet)
            ledger.add_supplement(key, res, sha256_file(roster_path))
        else:
            if rec is not None:
                raise UsageError(
                    f"programme {programme.id} was already paid (run {rec['run_id']}, {rec['completed_at']}); "
                    "nobody is paid twice under a programme: use --supplement to pay people not yet paid"
                )
            res = compute_programme(programme, roster_path, store, standards, home, out_dir=out_dir,
                                    batch_rows=batch_rows, progress=progress, sheet=sheet)
            ledger.commit(res, sha256_file(roster_path), key=key, kind="programme")
    return res


def compute_programme(programme, roster_path, store, standards, home, out_dir=None, exclude=None,
                      supplement_to: str | None = None, seq: int = 0, batch_rows: int = 1_000_000,
                      progress=None, sheet=None) -> CalcResult:
    """Compute a programme on a roster and write its run folder (no ledger). `exclude`: IDs already paid."""
    from cpi_link import __version__
    from cpi_link.calc import encoding
    from cpi_link.outputs import runfolder
    from cpi_link.core.atomic import sha256_file
    from cpi_link.core.money import fen_to_yuan_str
    from cpi_link.roster.check import iter_roster

    month = programme.payment_month
    fixed = programme.method == "fixed"
    figure = None if fixed else index_figure(programme, store)
    if fixed:
        standards = _NoStandards()
    rate_h = 0 if fixed else rate_hundredths(figure.yoy_pct)
    indicator = None if fixed else programme.index.indicator

    roster_path = Path(roster_path)
    from cpi_link.roster.read import check_path

    check_path(roster_path)  # a folder or unreadable file is exit 2, before hashing
    roster_sha = sha256_file(roster_path)
    decision = _decision_json(programme, figure)
    seed = "|".join(["programme", programme.sha256, roster_sha, str(standards.sha256), json_dumps(decision),
                     f"supplement-{seq}" if supplement_to else "first"])
    run_id = f"{programme.id}-{hashlib.sha256(seed.encode()).hexdigest()[:12]}"
    if out_dir is not None:
        dest = Path(out_dir)
        runfolder.prepare_out_dir(dest)
    else:
        base = home.runs_dir / programme.ledger_key
        dest, k = base / run_id, 1
        while dest.exists():
            k += 1
            dest = base / f"{run_id}.{k}"

    cache: dict = {}
    paid_parts, rej_parts, input_rows = [], [], 0
    for batch in iter_roster(roster_path, batch_rows=batch_rows, sheet=sheet):
        input_rows += batch.num_rows
        paid, rej = _batch(batch, programme, standards, cache, rate_h, indicator)
        if exclude is not None and len(paid):
            already = paid["person_id"].isin(exclude).to_numpy()
            if already.any():
                gone = paid[already]
                extra = pd.DataFrame({"source_row": gone["source_row"].to_numpy(),
                                      "file_row": gone["file_row"].to_numpy(), "reason": "already_paid",
                                      "detail": f"already paid under programme {programme.id} in an earlier run"})
                for c in REJECT_ORIG:
                    extra[c] = gone["orig_" + c].to_numpy()
                rej = pd.concat([rej, extra], ignore_index=True)
                paid = paid[~already]
        paid_parts.append(paid)
        rej_parts.append(rej)
        if progress:
            progress(batch.num_rows)

    paid_all = pd.concat(paid_parts, ignore_index=True)
    if paid_all.empty:
        paid_all = _empty_paid()
    paid_all, dup_rej = dedup(paid_all)
    rej_all = pd.concat([*rej_parts, dup_rej], ignore_index=True).sort_values("source_row", kind="stable").reset_index(drop=True)
    if input_rows != len(paid_all) + len(rej_all):
        raise AssertionError("accounting invariant broken: input_rows != paid_rows + rejected_rows")
    total_fen = int(paid_all["amount_fen"].sum()) if len(paid_all) else 0
    persons = int(paid_all["persons"].sum()) if len(paid_all) else 0
    by_reason = {str(k): int(v) for k, v in rej_all["reason"].value_counts().sort_index().items()}

    inputs = [{"role": "roster", "path": str(roster_path.resolve()), "sha256": roster_sha, "rows": input_rows}]
    if not fixed:
        inputs.append({"role": "standards", "path": str(Path(standards.path).resolve()), "sha256": standards.sha256,
                       "rows": len(standards), "sample": bool(standards.sample)})
    prog_json = {"id": programme.id, "name": programme.name, "document": programme.document,
                 "related_documents": list(programme.related_documents), "verified": programme.verified,
                 "example": programme.example, "payment_month": month, "sha256": programme.sha256,
                 "path": str(Path(programme.path).resolve())}
    manifest = {
        "run_id": run_id,
        "kind": "programme",
        "tool": "cpi-link",
        "tool_version": __version__,
        "created_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "index_month": month,
        "triggered": True,
        "decision": decision,
        "programme": prog_json,
        # the same keys as a monthly run's `scheme`, so readers of monthly manifests keep working:
        # name and version are the programme id
        "scheme": {"name": programme.id, "title": programme.name, "path": prog_json["path"], "sha256": programme.sha256,
                   "version": programme.id, "overlays": [], "documents": [programme.document, *programme.related_documents],
                   "verified": programme.verified},
        "rules": programme.rules_json(),
        "inputs": inputs,
        "counts": {
            "input_rows": input_rows,
            "paid_rows": int(len(paid_all)),
            "rejected_rows": int(len(rej_all)),
            "persons": persons,
            "total_amount": fen_to_yuan_str(total_fen),
            "rejected_by_reason": by_reason,
        },
    }
    if supplement_to:
        manifest["supplement_to"] = supplement_to
    tables = {
        "payments.parquet": payments_table(paid_all, programme, run_id),
        "rejected.parquet": encoding.rejected_table(rej_all),
        "summary.parquet": encoding.summary_table(encoding.summary_frame(paid_all)),
    }
    runfolder.write_run(dest, tables, manifest)
    by_cat = (
        paid_all.groupby("category").agg(rows=("source_row", "size"), persons=("persons", "sum"), amount_fen=("amount_fen", "sum"))
        .reset_index().to_dict("records") if len(paid_all) else []
    )
    return CalcResult(
        run_dir=dest, run_id=run_id, month=month, triggered=True, decision=decision, input_rows=input_rows,
        paid_rows=int(len(paid_all)), persons=persons, total_fen=total_fen, rejected_by_reason=by_reason,
        by_category=by_cat, manifest=manifest, roster_sha256=roster_sha,
    )


def _batch(batch, programme, standards, cache: dict, rate_h: int, indicator: str | None):
    """One roster batch: (payable rows before dedup, rejected rows), in calculate's frame shapes."""
    df = batch.to_pandas()
    if programme.region is not None:
        from cpi_link.rules.programmes import covers

        code = df["region_code"]
        outside = (df["reason"].isna() & code.notna() & ~code.map(lambda r: isinstance(r, str) and covers(programme.region, r))).to_numpy()
        if outside.any():
            df.loc[outside, "reason"] = "unknown_region"
            df.loc[outside, "detail"] = ("region " + code[outside].astype(str)
                                         + f" is outside programme {programme.id}'s region {programme.region}")
    c = check_batch(df, programme, standards, programme.payment_month, cache)
    ok = c["ok"]
    std12 = c["std12"][ok]
    if programme.method == "fixed":
        num = df["category"][ok].map(programme.amounts).to_numpy(dtype=np.int64)
        den = 1
    else:
        num, den = _raw_amount(_PROPORTIONAL, std12, np.full(len(std12), max(rate_h, 0), dtype=np.int64))
    rounded = round_ratio(num, den, programme.rounding)
    floored = np.maximum(rounded, int(programme.minimum * 100))
    mult = Fraction(str(programme.multiplier))
    per_person = round_ratio(floored * mult.numerator, mult.denominator, "fen_half_up") if mult != 1 else floored
    persons = df["persons"].to_numpy()[ok].astype(np.int64)
    cols = {k: df[k].to_numpy()[ok] for k in ("source_row", "person_id", "name", "category", "region_code")}
    paid = pd.DataFrame({
        **cols,
        "area": c["area"][ok],
        "persons": persons,
        "indicator": np.full(len(persons), indicator, dtype=object),
        "rate_h": np.full(len(persons), rate_h, dtype=np.int64),
        "standard12": std12,
        "standard_annual_fen": c["annual"][ok],
        "standard_region": c["standard_region"][ok],
        "amount_per_person_fen": per_person,
        "amount_fen": per_person * persons,
        "bank_account": df["bank_account"].to_numpy()[ok],
        "id_flag": df["id_flag"].to_numpy()[ok],
    })
    for col in REJECT_ORIG:
        paid["orig_" + col] = df["orig_" + col].to_numpy()[ok]
    paid["file_row"] = df["file_row"].to_numpy()[ok]
    return paid, _rejected_frame(df, ~ok, c["reason"], c["detail"])


def payments_table(paid: pd.DataFrame, programme, run_id: str):
    """The monthly payments table with `programme` in place of `scheme` and `version`; for fixed
    amounts `indicator`, `rate_pct` and the standard columns are null (nothing was used)."""
    import pyarrow as pa

    from cpi_link.calc import encoding

    t = encoding.payments_table(paid, programme.payment_month, programme.id, programme.id, run_id)
    at = t.schema.get_field_index("scheme")
    t = t.remove_column(t.schema.get_field_index("version")).remove_column(at)
    t = t.add_column(at, pa.field("programme", pa.string()), pa.repeat(programme.id, t.num_rows).cast(pa.string()))
    if programme.method == "fixed":
        for name in ("indicator", "rate_pct", "standard", "standard_annual", "standard_region"):
            i = t.schema.get_field_index(name)
            t = t.set_column(i, t.schema.field(i), pa.nulls(t.num_rows, t.schema.field(i).type))
    return t


def _decision_json(programme, figure) -> dict:
    """What sets the amount, in the shape of a monthly decision (month, region_code, triggered, reason...)."""
    from cpi_link.core.decimals import fmt_pct
    from cpi_link.core.money import fen_to_yuan_str

    base = {"month": programme.payment_month, "programme": programme.id, "triggered": True,
            "verified": programme.verified, "document": programme.document}
    if figure is None:
        amounts = ", ".join(f"{k} {fen_to_yuan_str(v)}" for k, v in programme.amounts.items())
        return {**base, "region_code": programme.region or "", "indicator": None, "rate_pct": None,
                "reason": f"one-off programme {programme.id}: fixed yuan per person by category ({amounts})"}
    yoy = figure.yoy_pct
    note = "" if yoy > 0 else "; prices did not rise, so the amount before the floor is 0"
    return {
        **base, "region_code": figure.region_code, "indicator": figure.indicator, "rate_pct": fmt_pct(yoy),
        "reason": (f"one-off programme {programme.id}: standard x {figure.indicator} YoY {fmt_pct(yoy)}% "
                   f"({figure.region_code}, {figure.month}) / 100{note}"),
        "figures": {figure.indicator: {
            "region_code": figure.region_code, "month": figure.month, "value": fmt_pct(figure.value),
            "yoy_pct": fmt_pct(yoy), "source": figure.source, "source_ref": figure.source_ref,
            "fetched_at": figure.fetched_at}},
    }
