"""Schemes as data (SPEC 5.4): a scheme is dated versions (complete rule sets) plus overlays
(partial, temporary changes); `Scheme.rules_for(month)` gives the Rules in force. Reading the
TOML files is in rules.schemes.file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from cpi_link.core.errors import ConfigError
from cpi_link.core.i18n import _

INDICATORS = ("cpi", "food", "scpi")  # also the deterministic order used everywhere in decisions
RATES = ("triggering_max", "cpi", "food", "scpi")
METHODS = ("proportional", "tiered_fraction", "per_point", "fixed")
ROUNDINGS = ("yuan_half_up", "yuan_ceil", "jiao_half_up", "fen_half_up")
STANDARD_KINDS = ("urban", "rural", "by_area")

MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Rules:
    """The complete rule set in force for ONE index month (version + overlays applied)."""

    scheme: str
    scheme_name: str
    scheme_path: str
    scheme_sha256: str
    version: str
    document: str
    verified: bool  # False if the version OR any active overlay is unverified
    overlays: tuple[str, ...]
    documents: tuple[str, ...]
    index_region: str  # "140000", "000000" or "prefecture"
    trigger: dict[str, Decimal]
    rate: str
    method: str
    tiers: tuple[tuple[Decimal, Fraction], ...]
    per_point: Decimal | None
    rounding: str
    minimum: Decimal
    multiplier: Decimal
    categories: dict[str, str]
    payment_timing: str | None
    month: str = ""  # the index month these rules were resolved for
    unverified: tuple[str, ...] = ()  # ids of the version/overlays in force that are unverified
    # method "fixed": yuan per person by category, or {"urban": yuan, "rural": yuan} (rules.amounts.fixed_fen)
    amounts: dict = field(default_factory=dict)
    funding: dict = field(default_factory=dict)  # funder -> share of the cost (estimate, reports)

    def indicators_needed(self) -> tuple[str, ...]:
        """Every indicator named in trigger and rate, in the order cpi, food, scpi."""
        named = set(self.trigger)
        if self.rate in INDICATORS:
            named.add(self.rate)
        return tuple(i for i in INDICATORS if i in named)

    @property
    def amounts_fen(self) -> dict:
        """`amounts` in fen, as the amount chain reads them (rules.amounts.AmountRules)."""
        from cpi_link.rules.amounts import amounts_in_fen

        return amounts_in_fen(self.amounts)

    @property
    def label(self) -> str:
        """The version plus overlays, e.g. 'shanxi-2021 + national-2022-temporary'."""
        return " + ".join((self.version,) + self.overlays)


@dataclass(frozen=True)
class Version:
    id: str
    document: str
    related_documents: tuple[str, ...]
    verified: bool
    start: str  # `from`
    source: str | None
    note: str | None
    rules: dict[str, Any]  # every rule key, parsed and complete (defaults filled)
    sources: dict[str, str] = field(default_factory=dict)  # rule key (or amounts.<category>) -> its source


@dataclass(frozen=True)
class Overlay:
    id: str
    document: str | None  # recommended, not required: None when the file cites none
    related_documents: tuple[str, ...]
    verified: bool
    start: str  # `from`
    until: str
    source: str | None
    note: str | None
    changes: dict[str, Any]  # only the rule keys the overlay names, parsed
    add_categories: dict[str, str]
    remove_categories: tuple[str, ...]
    sources: dict[str, str] = field(default_factory=dict)

    def active(self, month: str) -> bool:
        return self.start <= month <= self.until


@dataclass(frozen=True)
class Example:
    number: int
    month: str
    category: str
    area: str | None
    standard: Decimal | None
    persons: int
    region: str | None
    figures: dict[str, Decimal]  # indicator -> published index (上年同月=100)
    amount: Decimal | None
    triggered: bool
    note: str | None

    @property
    def label(self) -> str:
        area = f" {self.area}" if self.area else ""
        return _("example #{n} ({month} {category}{area})").format(n=self.number, month=self.month, category=self.category, area=area)


@dataclass
class Scheme:
    name: str
    title: str
    path: Path
    sha256: str
    versions: list[Version]  # ascending by `from`
    overlays: list[Overlay]  # file order (applied in that order)
    example: bool = False
    note: str | None = None
    examples: list = field(default_factory=list)  # [[example]] tables (rules.examples.Example)
    remark_check: bool = True  # false: a roster's 备注 saying 停保, 死亡… is not looked at (SPEC 5.1)
    # month -> its Rules: resolved once per month however many stages ask (Rules are frozen)
    _resolved: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def unverified_ids(self) -> list[str]:
        return [v.id for v in self.versions if not v.verified] + [o.id for o in self.overlays if not o.verified]

    def version_for(self, month: str) -> Version:
        month = _index_month(month)
        found = None
        for v in self.versions:
            if v.start <= month:
                found = v
        if found is None:
            first = self.versions[0].start
            raise ConfigError(_('{path}: no version in force for {month} (the first version, "{version}", starts {first})').format(
                path=self.path, month=month, version=self.versions[0].id, first=first))
        return found

    def rules_for(self, month: str) -> Rules:
        """The rules in force for an index month: the latest version whose `from` is not after it,
        with every overlay active that month applied in file order."""
        month = _index_month(month)
        if month not in self._resolved:
            self._resolved[month] = self._resolve(month)
        return self._resolved[month]

    def _resolve(self, month: str) -> Rules:
        version = self.version_for(month)
        active = [o for o in self.overlays if o.active(month)]
        merged = apply(self.path, version, active, month)
        documents = [version.document, *version.related_documents]
        for o in active:
            for d in (o.document, *o.related_documents):
                if d is not None and d not in documents:
                    documents.append(d)
        unverified = tuple([version.id] if not version.verified else []) + tuple(o.id for o in active if not o.verified)
        return Rules(
            scheme=self.name,
            scheme_name=self.title,
            scheme_path=str(self.path),
            scheme_sha256=self.sha256,
            version=version.id,
            document=version.document,
            verified=not unverified,
            overlays=tuple(o.id for o in active),
            documents=tuple(documents),
            month=month,
            unverified=unverified,
            **merged,
        )


def check_complete(path: Path, where: str, rules: dict, strict_extras: bool, month: str | None = None) -> None:
    at = _(" (in force {month})").format(month=month) if month else ""
    if rules["method"] == "tiered_fraction" and not rules["tiers"]:
        raise ConfigError(_("{path}: {where}{at} key tiers: method tiered_fraction needs tiers").format(path=path, where=where, at=at))
    if rules["method"] == "per_point" and rules["per_point"] is None:
        raise ConfigError(_('{path}: {where}{at} key per_point: method per_point needs per_point = "5" (yuan per started point)').format(
            path=path, where=where, at=at))
    if rules["method"] == "fixed":
        _check_amounts(path, where + at, rules)
    if strict_extras:
        if rules.get("amounts") and rules["method"] != "fixed":
            raise ConfigError(_("{path}: {where} key {key}: only used by method {used_by} (method is {method})").format(
                path=path, where=where, key="amounts", used_by="fixed", method=rules["method"]))
        if rules["tiers"] and rules["method"] != "tiered_fraction":
            raise ConfigError(_("{path}: {where} key {key}: only used by method {used_by} (method is {method})").format(
                path=path, where=where, key="tiers", used_by="tiered_fraction", method=rules["method"]))
        if rules["per_point"] is not None and rules["method"] != "per_point":
            raise ConfigError(_("{path}: {where} key {key}: only used by method {used_by} (method is {method})").format(
                path=path, where=where, key="per_point", used_by="per_point", method=rules["method"]))


def _check_amounts(path: Path, where: str, rules: dict) -> None:
    """Method fixed: every covered category has its amount, for each area it can be paid in."""
    amounts = rules.get("amounts") or {}
    for cat, kind in rules["categories"].items():
        a = amounts.get(cat)
        if a is None:
            raise ConfigError(
                f'{path}: {where} key amounts.{cat}: method fixed needs an amount for covered category {cat}, '
                f'e.g. amounts = {{ {cat} = "30" }}'
            )
        if isinstance(a, dict):
            for area in (("urban", "rural") if kind == "by_area" else (kind,)):
                if area not in a:
                    raise ConfigError(
                        f"{path}: {where} key amounts.{cat}.{area}: {cat} is paid against the {kind} standard, "
                        f"so its amount needs {area} (or give one amount for both)"
                    )


def apply(path: Path, version: Version, overlays: list[Overlay], month: str) -> dict:
    """The version's rules with the overlays applied in order; complete and checked."""
    rules = dict(version.rules)
    rules["trigger"] = dict(rules["trigger"])
    rules["amounts"] = dict(rules.get("amounts", {}))
    rules["categories"] = dict(rules["categories"])
    for o in overlays:
        for k, v in o.changes.items():
            if k in ("trigger", "amounts"):
                # an overlay's trigger (amounts) replaces only the indicators (categories) it names
                rules[k] = {**rules.get(k, {}), **v}
            else:
                rules[k] = v
        for c in o.remove_categories:
            rules["categories"].pop(c, None)
        rules["categories"].update(o.add_categories)
    rules["trigger"] = {i: rules["trigger"][i] for i in INDICATORS if i in rules["trigger"]}
    where = f'version "{version.id}"' + "".join(f' + overlay "{o.id}"' for o in overlays)
    check_complete(path, where, rules, strict_extras=False, month=month)
    if rules["method"] != "tiered_fraction":
        rules["tiers"] = ()
    if rules["method"] != "per_point":
        rules["per_point"] = None
    if rules["method"] != "fixed":
        rules["amounts"] = {}
    return rules


def _index_month(month: Any) -> str:
    if not isinstance(month, str) or not MONTH_RE.match(month.strip()):
        from cpi_link.core.errors import UsageError

        raise UsageError(_("index month {month!r} is not a month: write YYYY-MM, e.g. 2024-03").format(month=month))
    return month.strip()
