"""Worked examples beside the rules (SPEC 5.4 `[[example]]`): each one is decided by the trigger
logic and priced by the amount chain exactly as calc would, and compared with what the file says."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from cpi_link.core.errors import MissingFigures
from cpi_link.core.i18n import N_, Message
from cpi_link.core.money import fen_to_yuan_str, yuan_to_fen
from cpi_link.rules.schemes.model import Example

class _Figures:
    """The example's figures as a series store answering decide()'s questions."""

    def __init__(self, figures: dict[str, Decimal], month: str):
        self.figures, self.month = figures, month

    def get(self, region: str, indicator: str, month: str):
        from cpi_link.sources.observation import Observation

        v = self.figures.get(indicator)
        return None if v is None or month != self.month else Observation(region, indicator, month, v, "example", "scheme file", "")


# what an example gives when no amount: English in JSON and CSV, in the reader's language in the table (got_text)
NOT_TRIGGERED = N_("not triggered")
_GOT = (NOT_TRIGGERED, N_("a prefecture scheme's example needs region"),
        N_("category {category} is not covered by {version} in {month}"),
        N_('{category} is paid by area: give area = "urban" or "rural"'), N_("method {method} needs the example's standard"))


def got_text(text: str) -> str:
    """An example's expected or got text in the reader's language."""
    from cpi_link.core.i18n import translate_template

    return getattr(text, "shown", None) or translate_template(text, _GOT) or text


def _in_english_too(exc, again, first_part: bool = False) -> Message:
    """The problem an example ran into, English (for JSON and CSV) with the reader's text as `.shown`: the
    rules' errors are made in the reader's language, so the same call is made again in English."""
    import re

    from cpi_link.core.i18n import language

    shown = exc.message
    english = shown
    with language("en"):
        try:
            again()
        except type(exc) as exc_en:
            english = exc_en.message
    if first_part:  # what is missing, without the how-to-import that follows
        english, shown = english.split(";")[0], re.split("[;；]", shown)[0]
    out = Message(english)
    out.shown = shown
    return out


@dataclass(frozen=True)
class Outcome:
    example: Example
    ok: bool
    got: str  # what the rules give: "48.00", "not triggered", or the problem
    rules_label: str = ""

    def to_json(self) -> dict:
        e = self.example
        return {"example": e.number, "month": e.month, "category": e.category, "area": e.area,
                "persons": e.persons, "expected": NOT_TRIGGERED if not e.triggered else str(e.amount),
                "got": self.got, "ok": self.ok, "rules": self.rules_label, "note": e.note}


def check_example(scheme, e: Example) -> Outcome:
    """One example through the rules in force: trigger.decide on its figures, then
    rules.amounts.per_person_fen x persons."""
    from cpi_link.rules.amounts import fixed_fen, per_person_fen, rate_hundredths
    from cpi_link.rules.trigger import decide

    from cpi_link.core.errors import ConfigError

    try:
        rules = scheme.rules_for(e.month)
    except ConfigError as exc:
        return Outcome(e, False, _in_english_too(exc, lambda: scheme.rules_for(e.month)))
    region = e.region or (rules.index_region if rules.index_region != "prefecture" else None)
    if region is None:
        return Outcome(e, False, _GOT[1], rules.label)
    try:
        d = decide(rules, _Figures(e.figures, e.month), region=region)
    except MissingFigures as exc:
        again = lambda: decide(rules, _Figures(e.figures, e.month), region=region)  # noqa: E731
        return Outcome(e, False, _in_english_too(exc, again, first_part=True), rules.label)
    if not d.triggered:
        return Outcome(e, not e.triggered, NOT_TRIGGERED, rules.label)
    kind = rules.categories.get(e.category)
    if kind is None:
        return Outcome(e, False, _GOT[2].format(category=e.category, version=rules.label, month=e.month), rules.label)
    area = e.area if kind == "by_area" else kind
    if area is None:
        return Outcome(e, False, _GOT[3].format(category=e.category), rules.label)
    if e.standard is None and rules.method != "fixed":
        return Outcome(e, False, _GOT[4].format(method=rules.method), rules.label)
    std12 = np.array([yuan_to_fen(e.standard or Decimal(0), "standard") * 12], np.int64)
    rate = np.array([rate_hundredths(d.rate_pct)], np.int64)
    fixed = fixed_fen(rules, [e.category], 0 if area == "urban" else 1) if rules.method == "fixed" else None
    fen = int(per_person_fen(rules, std12, rate, fixed)[0]) * e.persons
    got = fen_to_yuan_str(fen)
    ok = e.triggered and e.amount is not None and yuan_to_fen(e.amount, "amount") == fen
    return Outcome(e, ok, f"{got} ({d.indicator} {d.rate_pct}%)" if not ok else str(got), rules.label)


def check_scheme(scheme) -> list[Outcome]:
    return [check_example(scheme, e) for e in scheme.examples]
