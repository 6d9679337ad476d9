"""One-off programmes on a roster: the monthly engine's checks, amounts, outputs and ledger, one payment.

The roster runs through calc's own stream (calc.stream.stream_month) with the programme as its
rules: fixed = the category's amount; proportional_index = standard x YoY / 100 of the programme's
index figure (a fall in prices gives 0 before the floor); then rules.amounts' rounding, minimum and
multiplier, times persons. A person is paid once in the run (calc's dedup: the highest amount) and
once per programme across runs: the ledger is keyed `programme-<id>`; a supplement pays only people
not yet paid.
"""

from __future__ import annotations

from pathlib import Path

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from cpi_link.calc.month import MonthPlan
from cpi_link.core.errors import MissingFigures, UsageError
from cpi_link.core.i18n import _
from cpi_link.jobs.runs import CalcResult, json_dumps

if TYPE_CHECKING:
    from cpi_link.calc.handle import RosterHandle


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


def pay_programme(programme, roster: RosterHandle, store, standards, home, out_dir=None, supplement: bool = False,
                  progress=None) -> CalcResult:
    """Compute, write and record a programme's payment, exactly once per person per programme.

    The first run records the programme in the ledger; running it again is refused. With
    `supplement`, only people the programme has not paid yet are paid (others `already_paid`).
    """
    from cpi_link.jobs.ledger import Ledger, RunLock

    if programme.method == "proportional_index":
        index_figure(programme, store)  # exit 3 before taking the lock or reading the roster
    ledger = Ledger(home)
    key = programme.ledger_key
    with RunLock(home):
        ledger.check_or_refuse()  # a damaged ledger is never a reason to pay again (exit 2)
        rec = ledger.record(programme.payment_month, key)
        if supplement:
            if rec is None:
                raise UsageError(_("programme {programme} has not been paid yet: run cpi-link oneoff without --supplement first").format(
                    programme=programme.id))
            paid = ledger.paid_ids(programme.payment_month, key)
            res = compute_programme(programme, roster, store, standards, home, out_dir=out_dir, exclude=paid,
                                    supplement_to=rec["run_id"], seq=len(rec.get("payment_files", [])), progress=progress)
            ledger.add_supplement(key, res, res.roster_sha256)
        else:
            if rec is not None:
                raise UsageError(
                    f"programme {programme.id} was already paid (run {rec['run_id']}, {rec['completed_at']}); "
                    "nobody is paid twice under a programme: use --supplement to pay people not yet paid"
                )
            res = compute_programme(programme, roster, store, standards, home, out_dir=out_dir, progress=progress)
            ledger.commit(res, res.roster_sha256, key=key, kind="programme")
    return res


def compute_programme(programme, roster: RosterHandle, store, standards, home, out_dir=None, exclude=None,
                      supplement_to: str | None = None, seq: int = 0, progress=None) -> CalcResult:
    """Compute a programme on a roster and write its run folder (no ledger). `exclude`: IDs already paid.

    The roster goes through calc's own stream (calc.stream.stream_month): the month checks, the
    amount chain (rules.amounts) and the dedup are the monthly engine's."""
    import pyarrow.parquet as pq

    from cpi_link.calc import encoding
    from cpi_link.calc.stream import stream_month
    from cpi_link.jobs import runs

    month = programme.payment_month
    fixed = programme.method == "fixed"
    figure = None if fixed else index_figure(programme, store)
    if fixed:
        from cpi_link.rules.standards import NoStandards

        standards = NoStandards()
    decision = _decision_json(programme, figure)
    with runs.workspace(out_dir, home.runs_dir / programme.ledger_key, programme.id) as ws:
        run_id = runs.run_id(programme.id, ["programme", programme.sha256, roster.sha256, str(standards.sha256),
                                            json_dumps(decision), f"supplement-{seq}" if supplement_to else "first"])
        # a fall in prices counts as 0 before the floor (the payments still show the YoY itself)
        decided = ProgrammeDecision(max(figure.yoy_pct, Decimal(0)) if figure is not None else Decimal(0),
                           "fixed" if fixed else programme.index.indicator)
        plan = MonthPlan(month=month, rules=ProgrammeRules.of(programme), decision_for=lambda region: decided,
                         standards=standards, run_id_of=lambda: run_id, outside=_outside(programme))

        def already(df):
            return df["person_id"].isin(exclude).to_numpy()

        r = stream_month(roster, plan, True, ws.spill, exclude_paid=already if exclude is not None else None,
                         progress=progress)
        roster.check_unchanged()
        payments = _programme_payments(pq.read_table(r.payments_path), programme, figure)
        run_counts = runs.counts(r)
        from cpi_link.jobs.pipeline import roster_entry

        inputs = [roster_entry(roster, r)]
        if not fixed:
            inputs.append({"role": "standards", "path": str(Path(standards.path).resolve()), "sha256": standards.sha256,
                           "rows": len(standards), "sample": bool(standards.sample)})
        prog_json = {"id": programme.id, "name": programme.name, "document": programme.document,
                     "related_documents": list(programme.related_documents), "verified": programme.verified,
                     "example": programme.example, "payment_month": month, "sha256": programme.sha256,
                     "path": str(Path(programme.path).resolve())}
        sections = {
            "programme": prog_json,
            # the same keys as a monthly run's `scheme`, so readers of monthly manifests keep working:
            # name and version are the programme id
            "scheme": {"name": programme.id, "title": programme.name, "path": prog_json["path"],
                       "sha256": programme.sha256, "version": programme.id, "overlays": [],
                       "documents": [programme.document, *programme.related_documents], "verified": programme.verified},
            "rules": programme.rules_json(),
            "inputs": inputs,
        }
        manifest = runs.manifest(run_id, month, True, decision, sections, run_counts, kind="programme",
                                 extra={"supplement_to": supplement_to} if supplement_to else None)
        tables = runs.stream_tables(r, encoding.file_metadata(run_id, month, programme.id, programme.id), payments=payments)
        return runs.finish(ws.dest(run_id), tables, manifest, ws.inside, r.total_fen, r.by_category, roster.sha256)


@dataclass(frozen=True)
class ProgrammeRules:
    """A programme as calc reads rules (calc.month.CalcRules): its categories, and the amount
    chain's keys (fixed: fen by category; proportional_index: the standard x the index's YoY)."""

    scheme: str
    version: str
    index_region: str
    categories: dict
    method: str
    amounts_fen: dict
    rounding: str
    minimum: Decimal
    multiplier: Decimal
    tiers: tuple = ()
    per_point: Decimal | None = None

    @classmethod
    def of(cls, programme) -> "ProgrammeRules":
        return cls(scheme=programme.id, version=programme.id, index_region=programme.region or "000000",
                   categories=dict(programme.categories),
                   method="fixed" if programme.method == "fixed" else "proportional",
                   amounts_fen=dict(programme.amounts), rounding=programme.rounding, minimum=programme.minimum,
                   multiplier=programme.multiplier)


@dataclass
class ProgrammeDecision:
    """The programme's "decision": always paid; the rate is the index's YoY (a fall counts as 0 after the floor)."""

    rate_pct: Decimal
    indicator: str | None
    triggered: bool = True


def _outside(programme):
    """Region codes outside the programme's region -> the rejection detail (None when it covers all)."""
    if programme.region is None:
        return None
    from cpi_link.rules.programmes import covers

    def detail(code: str) -> str | None:
        if covers(programme.region, code):
            return None
        return f"region {code} is outside programme {programme.id}'s region {programme.region}"

    return detail


def _programme_payments(t, programme, figure):
    """The monthly payments table with `programme` in place of `scheme` and `version`; for fixed
    amounts `indicator`, `rate_pct` and the standard columns are null (nothing was used)."""
    import pyarrow as pa

    t = t.cast(pa.schema([f.with_nullable(True) for f in t.schema])).sort_by("source_row")  # small: roster order
    at = t.schema.get_field_index("scheme")
    t = t.remove_column(t.schema.get_field_index("version")).remove_column(at)
    t = t.add_column(at, pa.field("programme", pa.string()), pa.repeat(programme.id, t.num_rows).cast(pa.string()))
    if programme.method == "fixed":
        for name in ("indicator", "rate_pct", "standard", "standard_annual", "standard_region"):
            i = t.schema.get_field_index(name)
            t = t.set_column(i, t.schema.field(i), pa.nulls(t.num_rows, t.schema.field(i).type))
    elif figure.yoy_pct < 0:
        i = t.schema.get_field_index("rate_pct")
        t = t.set_column(i, t.schema.field(i), pa.repeat(pa.scalar(figure.yoy_pct, t.schema.field(i).type), t.num_rows))
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
