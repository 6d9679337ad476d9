"""The trigger decision (SPEC 4.3): for one index month, under the rules in force, does the
mechanism start, which index sets the rate, and why.

Decided month by month with no carry-over. "Reaches" (达到) is >= on exact Decimals. A month is
decided only when every indicator the rules name (in trigger and rate) has its figure for the
deciding region; otherwise MissingFigures (exit 3), even when another indicator already triggers.

Ties under rate "triggering_max": when two triggering indicators rose by exactly the same amount,
the first in the order cpi, food, scpi is named as the rate indicator (the rate is the same).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from cpi_link.core.decimals import fmt_pct
from cpi_link.core.errors import MissingFigures, UsageError
from cpi_link.core.i18n import _, is_zh
from cpi_link.core.regions import region_name
from cpi_link.rules.schemes import INDICATORS, Rules, Scheme
from cpi_link.sources.observation import Observation
from cpi_link.store.series import SeriesStore

PREFECTURE = "prefecture"

_NAMES = {"cpi": "CPI", "food": "food prices", "scpi": "the low-income living-cost index (SCPI)"}
_SHORT = {"cpi": "CPI", "food": "food", "scpi": "SCPI"}


@dataclass
class Decision:
    month: str
    scheme: str
    version: str
    overlays: list[str]
    region_code: str
    triggered: bool
    indicator: str | None
    rate_pct: Decimal | None
    yoy: dict[str, Decimal]  # every indicator the rules name, for the deciding region
    thresholds: dict[str, Decimal]
    reason: str
    figures: dict[str, Observation]  # provenance of each figure used
    rules: Rules
    reached: list[str] = field(default_factory=list)  # indicators that reached their threshold

    @property
    def verified(self) -> bool:
        return self.rules.verified

    def to_json(self, provenance: bool = False) -> dict:
        out: dict = {
            "month": self.month,
            "scheme": self.scheme,
            "version": self.version,
            "overlays": list(self.overlays),
            "region_code": self.region_code,
            "triggered": self.triggered,
            "indicator": self.indicator,
            "rate_pct": fmt_pct(self.rate_pct),
            "cpi_yoy_pct": fmt_pct(self.yoy.get("cpi")),
            "food_yoy_pct": fmt_pct(self.yoy.get("food")),
        }
        if "scpi" in self.yoy:
            out["scpi_yoy_pct"] = fmt_pct(self.yoy["scpi"])
        out.update(
            {
                "thresholds": {k: fmt_pct(v) for k, v in self.thresholds.items()},
                "reached": list(self.reached),
                "reason": self.reason,
                "multiplier": format(self.rules.multiplier.normalize(), "f"),
                "verified": self.rules.verified,
                "unverified": list(self.rules.unverified),
                "document": self.rules.document,
                "documents": list(self.rules.documents),
                "scheme_sha256": self.rules.scheme_sha256,
            }
        )
        if provenance:
            out["figures"] = {
                ind: {
                    "region_code": o.region_code,
                    "month": o.month,
                    "value": fmt_pct(o.value),
                    "yoy_pct": fmt_pct(o.yoy_pct),
                    "source": o.source,
                    "source_ref": o.source_ref,
                    "fetched_at": o.fetched_at,
                }
                for ind, o in self.figures.items()
            }
        return out


def deciding_region(rules: Rules, region: str | None) -> str:
    """Whose figures decide: the rules' index_region, or for "prefecture" schemes the prefecture
    (XXXX00) of the given region. A region given to a non-prefecture scheme is ignored."""
    if rules.index_region != PREFECTURE:
        return rules.index_region
    if not region:
        raise UsageError(
            _('scheme {scheme} ({version}) decides per prefecture city: give the region, e.g. --region 350100').format(scheme=rules.scheme, version=rules.version)
        )
    code = str(region).strip()
    if not re.fullmatch(r"\d{6}", code) or code.endswith("0000"):
        raise UsageError(_("region {code}: a prefecture scheme needs a 6-digit prefecture or county code, e.g. 350100").format(code=repr(code)))
    return code[:4] + "00"


def missing_figures(scheme: Scheme, month: str, store: SeriesStore, region: str | None = None) -> list[str]:
    """The series a month lacks, as 'no food figure for 140000' strings; empty when it can be decided."""
    rules = scheme.rules_for(month)
    where = deciding_region(rules, region)
    return [_("no {indicator} figure for {region}").format(indicator=indicator_label(ind), region=_region(where)) for ind in rules.indicators_needed() if store.get(where, ind, rules.month) is None]


def decide(rules: Rules, store: SeriesStore, region: str | None = None) -> Decision:
    """The trigger's decision for the month `rules` were resolved for (Scheme.rules_for, once per
    month by the caller), from the deciding region's figures in `store`."""
    month = rules.month
    where = deciding_region(rules, region)
    needed = rules.indicators_needed()
    figures: dict[str, Observation] = {}
    missing: list[str] = []
    for ind in needed:
        obs = store.get(where, ind, month)
        if obs is None:
            missing.append(ind)
        else:
            figures[ind] = obs
    if missing:
        what = _(" and ").join(_("no {indicator} figure").format(indicator=indicator_label(ind)) for ind in missing)
        raise MissingFigures(
            _("{what} for {region} in {month} (needed by {version}); "
              "import it with cpi-link fetch --source file").format(what=what, region=_region(where), month=month, version=rules.version)
        )
    yoy = {ind: figures[ind].yoy_pct for ind in needed}
    reached = [ind for ind in rules.trigger if yoy[ind] >= rules.trigger[ind]]
    triggered = bool(reached)
    indicator: str | None = None
    rate: Decimal | None = None
    if triggered:
        if rules.rate == "triggering_max":
            best = max(yoy[i] for i in reached)
            indicator = next(i for i in INDICATORS if i in reached and yoy[i] == best)
        else:
            indicator = rules.rate
        rate = yoy[indicator]
    reason = _reason(rules, yoy, reached, indicator, rate)
    return Decision(
        month=month,
        scheme=rules.scheme,
        version=rules.version,
        overlays=list(rules.overlays),
        region_code=where,
        triggered=triggered,
        indicator=indicator,
        rate_pct=rate,
        yoy=yoy,
        thresholds=dict(rules.trigger),
        reason=reason,
        figures=figures,
        rules=rules,
        reached=reached,
    )


def _moved(ind: str, v: Decimal) -> str:
    name = _NAMES[ind]
    if v > 0:
        return f"{name} rose {fmt_pct(v)}%"
    if v < 0:
        return f"{name} fell {fmt_pct(-v)}%"
    return f"{name} were unchanged" if ind == "food" else f"{name} was unchanged"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _reason(rules: Rules, yoy: dict, reached: list[str], indicator: str | None, rate: Decimal | None) -> str:
    thr = rules.trigger
    if not reached:
        parts = [f"{_moved(i, yoy[i])} (threshold {fmt_pct(thr[i])}%)" for i in thr]
        tail = "neither reached its threshold" if len(thr) == 2 else (
            "it did not reach its threshold" if len(thr) == 1 else "none reached its threshold"
        )
        return _cap(f"{_join(parts)} year on year: {tail}, so the mechanism does not start.")
    moved = _join([_moved(i, yoy[i]) for i in reached])
    thresholds = _join([f"{fmt_pct(thr[i])}%" for i in reached])
    plural = "thresholds" if len(reached) > 1 else "threshold"
    s = f"{moved} year on year, reaching the {thresholds} {plural}"
    if rules.rate == "triggering_max" and len(reached) > 1:
        s += f"; the higher rise sets the subsidy rate {fmt_pct(rate)}% ({_SHORT[indicator]})."
    elif rules.rate == "triggering_max" or indicator in reached:
        s += f"; subsidy rate {fmt_pct(rate)}% ({_SHORT[indicator]})."
    else:
        s += f"; the scheme sets the amount from {_moved(indicator, rate)}: subsidy rate {fmt_pct(rate)}% ({_SHORT[indicator]})."
    if rules.multiplier != 1:
        s = s[:-1] + f"; amounts multiplied by {format(rules.multiplier.normalize(), 'f')} this month."
    return _cap(s)


# -- the reason in the reader's language ------------------------------------------------------

_ZH_NAMES = {"cpi": "居民消费价格", "food": "食品价格", "scpi": "低收入居民基本生活费用价格指数"}


def indicator_label(ind: str | None) -> str:
    """An indicator as a person reads it: 'cpi' in English (the code), 居民消费价格 in Chinese."""
    if ind is None:
        return ""
    return _ZH_NAMES.get(ind, ind) if is_zh() else ind


def _region(code: str) -> str:
    """A region in a message: its code, in Chinese with its name when known."""
    name = region_name(code) if is_zh() else None
    return f"{code}（{name}）" if name else code


def decision_reason(d, rules=None) -> str:
    """The one-line reason in the current language. `d` is a Decision or its to_json() dict;
    `rules` the rules it was taken under (a Rules, or a run manifest's "rules" dict; a Decision's
    own by default). English is the reason kept in outputs (Decision.reason), except that a
    flat-amount scheme's line says the amounts paid, not the rate; Chinese is written from the
    decision's fields the way officers write it."""
    j = d.to_json() if isinstance(d, Decision) else d
    if rules is None and isinstance(d, Decision):
        rules = d.rules
    amounts = flat_amounts(rules)
    if not is_zh():
        if amounts and j.get("triggered") and j.get("reached"):
            return _reason_flat_en(j, amounts)
        return j["reason"]
    return reason_zh(j, amounts)


# -- a flat-amount scheme's decision: the amounts paid, never the rate (SPEC 6.1) ----------------


def _rules_get(rules, key: str, default=None):
    if rules is None:
        return default
    if isinstance(rules, dict):
        return rules.get(key, default)
    return getattr(rules, key, default)


def flat_amounts(rules) -> dict | None:
    """A fixed-amount scheme's amounts per person per month ({category: yuan, or {area: yuan}}),
    the covered categories only; None for a scheme paid by rate. `rules`: a Rules, or a run
    manifest's "rules" dict."""
    if _rules_get(rules, "method") != "fixed":
        return None
    amounts = dict(_rules_get(rules, "amounts") or {})
    covered = _rules_get(rules, "categories") or {}
    if covered:
        amounts = {c: v for c, v in amounts.items() if c in covered}
    return amounts or None


def _yuan_words(v) -> str:
    return format(Decimal(str(v)).normalize(), "f")


def flat_words_zh(amounts: dict) -> str:
    """"城市低保 30 元、农村低保 20 元、特困人员 30 元" (urban and rural 特困 named once when paid alike)."""
    from cpi_link.core.categories import CATEGORY_LABELS

    areas = {"urban": "城市", "rural": "农村"}
    parts = []
    tekun = amounts.get("urban_tekun"), amounts.get("rural_tekun")
    for c, v in amounts.items():
        if c in ("urban_tekun", "rural_tekun") and tekun[0] is not None and tekun[0] == tekun[1]:
            if c == "urban_tekun":
                parts.append(f"特困人员 {_yuan_words(v)} 元")
            continue
        label = CATEGORY_LABELS.get(c, c)
        if isinstance(v, dict):
            parts.append(f"{label}（" + "、".join(f"{areas.get(k, k)} {_yuan_words(x)} 元" for k, x in v.items()) + "）")
        else:
            parts.append(f"{label} {_yuan_words(v)} 元")
    return "、".join(parts)


def flat_words_en(amounts: dict) -> str:
    """"urban_dibao 30 yuan, rural_dibao 20 yuan, urban_tekun 30 yuan, ..." (category codes)."""
    parts = []
    for c, v in amounts.items():
        if isinstance(v, dict):
            parts.append(f"{c} (" + ", ".join(f"{k} {_yuan_words(x)}" for k, x in v.items()) + " yuan)")
        else:
            parts.append(f"{c} {_yuan_words(v)} yuan")
    return ", ".join(parts)


def paid_how_zh(rules, d: dict) -> str:
    """How the amounts were computed, in the decision's Chinese words: "按每人每月 城市低保 30 元、…发放"
    for a flat scheme, "按 19.4%（食品价格指数）计发" for a proportional one (the workbook's cover)."""
    amounts = flat_amounts(rules)
    if amounts:
        text = f"按每人每月 {flat_words_zh(amounts)}发放"
    else:
        ind = d.get("indicator")
        text = f"按 {d.get('rate_pct')}%（{INDICATOR_ZH.get(ind, ind)}）计发"
    mult = str(d.get("multiplier", _rules_get(rules, "multiplier", "1")))
    if mult not in ("1", "None"):
        text += f"，本月金额乘以 {d.get('multiplier', _rules_get(rules, 'multiplier'))}"
    return text


# the indices as the workbook and the officers' papers name them
INDICATOR_ZH = {"cpi": "居民消费价格指数（CPI）", "food": "食品价格指数", "scpi": "城镇低收入居民基本生活费用价格指数"}


def _reason_flat_en(j: dict, amounts: dict) -> str:
    """The English one-line reason of a triggered flat-amount decision (from its to_json() fields)."""
    reached = list(j["reached"])
    thr = {i: Decimal(v) for i, v in j["thresholds"].items()}
    moved = _join([_moved(i, Decimal(j[f"{i}_yoy_pct"])) for i in reached])
    thresholds = _join([f"{fmt_pct(thr[i])}%" for i in reached])
    plural = _("thresholds") if len(reached) > 1 else _("threshold")
    s = _("{moved} year on year, reaching the {thresholds} {plural}; paid as flat amounts per person per month: "
          "{amounts}.").format(moved=moved, thresholds=thresholds, plural=plural, amounts=flat_words_en(amounts))
    multiplier = Decimal(j.get("multiplier") or 1)
    if multiplier != 1:
        s = s[:-1] + _("; amounts multiplied by {m} this month.").format(m=format(multiplier.normalize(), "f"))
    return _cap(s)


def _zh_moved(ind: str, v: Decimal) -> str:
    if v > 0:
        return f"{_ZH_NAMES[ind]}同比上涨{fmt_pct(v)}%"
    if v < 0:
        return f"{_ZH_NAMES[ind]}同比下降{fmt_pct(-v)}%"
    return f"{_ZH_NAMES[ind]}同比持平"


def _zh_join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else "、".join(parts[:-1]) + "和" + parts[-1]


def reason_zh(j: dict, amounts: dict | None = None) -> str:
    """E.g. 2019年11月全国居民消费价格同比上涨4.5%，食品价格同比上涨19.1%，达到3.5%和6.0%的启动条件，
    按较高的食品价格涨幅19.1%计发 (from a decision's to_json() fields); with a flat scheme's
    `amounts` (flat_amounts): ...的启动条件，按每人每月 城市低保 30 元、…发放."""
    year, mon = j["month"].split("-")
    where = region_name(j["region_code"]) or j["region_code"]
    head = f"{year}年{int(mon)}月{where}"
    yoy = {i: Decimal(j[f"{i}_yoy_pct"]) for i in INDICATORS if j.get(f"{i}_yoy_pct") is not None}
    thr = {i: Decimal(v) for i, v in j["thresholds"].items()}
    reached = list(j.get("reached") or [])
    if not j["triggered"]:
        parts = [f"{_zh_moved(i, yoy[i])}（启动条件{fmt_pct(thr[i])}%）" for i in thr]
        tail = "未达到启动条件" if len(thr) == 1 else "均未达到启动条件"
        return f"{head}{'，'.join(parts)}，{tail}，不启动联动机制"
    moved = "，".join(_zh_moved(i, yoy[i]) for i in reached)
    s = f"{head}{moved}，达到{_zh_join([f'{fmt_pct(thr[i])}%' for i in reached])}的启动条件，"
    ind, rate = j["indicator"], Decimal(j["rate_pct"])
    if amounts:
        s += f"按每人每月 {flat_words_zh(amounts)}发放"
    elif ind in reached and len(reached) > 1 and rate == max(yoy[i] for i in reached):
        s += f"按较高的{_ZH_NAMES[ind]}涨幅{fmt_pct(rate)}%计发"
    elif ind in reached:
        s += f"按{_ZH_NAMES[ind]}涨幅{fmt_pct(rate)}%计发"
    else:
        s += f"按方案规定的{_ZH_NAMES[ind]}涨幅{fmt_pct(rate)}%计发"
    multiplier = Decimal(j.get("multiplier") or 1)
    if multiplier != 1:
        s += f"，本月补贴金额按{format(multiplier.normalize(), 'f')}倍发放"
    return s
