"""One index month as calc sees it: the rules in force and the decisions, fixed before any
roster row is read (MonthPlan), resolved once per month."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Protocol

from cpi_link.rules.amounts import AmountRules
from cpi_link.rules.standards import Standard


class CalcRules(AmountRules, Protocol):
    """What calc reads of the rules in force: schemes.Rules (a month) or jobs.oneoff.ProgrammeRules."""

    @property
    def scheme(self) -> str: ...  # written into every payments row, with the version
    @property
    def version(self) -> str: ...
    @property
    def index_region(self) -> str: ...  # the deciding region, or "prefecture"
    @property
    def categories(self) -> Mapping[str, str]: ...  # category code -> urban | rural | by_area


class MonthDecision(Protocol):
    """What calc reads of a region's decision: trigger.Decision, or a stand-in (Assumed, a programme's)."""

    @property
    def triggered(self) -> bool: ...
    @property
    def rate_pct(self) -> Decimal | None: ...
    @property
    def indicator(self) -> str | None: ...


class StandardsInForce(Protocol):
    """What calc reads of the standards: standards.Standards, or NoStandards (fixed amounts)."""

    sha256: str | None

    def in_force(self, region_code: str, month: str) -> Standard | None: ...


@dataclass
class MonthPlan:
    """Everything fixed for one index month before any roster row is read."""

    month: str
    rules: CalcRules
    decision_for: Callable[[str], MonthDecision | None]  # deciding-region code -> its decision (None: no such prefecture)
    standards: StandardsInForce
    run_id_of: Callable[[], str]  # computed when first needed (it waits for the roster's hash)
    scheme_name: str = ""
    decisions: dict = field(default_factory=dict)  # deciding region -> its Decision, as decision_for made them
    assumed: list = field(default_factory=list)  # regions without figures, taken as triggered (validate only)
    # region code -> why it is outside the paying jurisdiction (unknown_region), or None (programmes)
    outside: Callable[[str], str | None] | None = None
    paid: bool | None = None  # written for the ledger (run) or a trial (calc): every Parquet file says which
    remark_check: bool = True  # the scheme's remark_check (false: a 备注 saying 停保 is not looked at)
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


def month_plan(month: str, scheme, store, standards, assume_triggered: bool = False, rate=None):
    """The month's rules and decisions (MonthPlan), and the decision of its index region (None when
    decided per prefecture). Missing figures are MissingFigures (exit 3) before any output, unless
    assume_triggered (validate before the figures are out): then such a region counts as
    triggered at a rate of 0, and plan.assumed lists it. rate (a Decimal percentage, estimate's
    --rate): every region taken as triggered at that rate, its figures not read."""
    from cpi_link.core.errors import MissingFigures
    from cpi_link.rules.trigger import decide

    rules = scheme.rules_for(month)
    decisions: dict[str, object] = {}
    assumed: list[str] = []

    known: set[str] = set()
    if rules.index_region == "prefecture":  # the prefectures whose figures the store holds
        known = {k[0] for k in store.all() if k[0].endswith("00") and not k[0].endswith("0000")}

    def decision_for(region: str):
        if region not in decisions:
            if rules.index_region == "prefecture" and region not in known:
                return None  # no such prefecture: its rows are unknown_region
            if rate is not None:
                decisions[region] = Assumed(region, rate_pct=rate)
                return decisions[region]
            try:
                decisions[region] = decide(rules, store, region=region)
            except MissingFigures:
                if not assume_triggered:
                    raise
                assumed.append(region)
                decisions[region] = Assumed(region)
        return decisions[region]

    primary = decision_for(rules.index_region) if rules.index_region != "prefecture" else None
    plan = MonthPlan(month=month, rules=rules, decision_for=decision_for, standards=standards, run_id_of=lambda: "",
                     decisions=decisions, assumed=assumed, remark_check=getattr(scheme, "remark_check", True))
    return plan, primary


@dataclass
class Assumed:
    """A stand-in decision: a region whose figures are not out yet (validate), or a rate assumed (estimate)."""

    region_code: str
    triggered: bool = True
    indicator: str | None = None
    rate_pct: Decimal = Decimal(0)
