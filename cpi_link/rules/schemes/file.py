"""Reading scheme files (SPEC 5.4), validated strictly.

A scheme file is public: officers write it. Every mistake is a ConfigError (exit 2) with one
message naming the file, the version or overlay, the key and, where relevant, the month.
Numbers that decide thresholds or yuan are written as strings ("3.5") and read as Decimals, so
binary floating point never touches them. The format is documented in config/schemes/README.md.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any

from cpi_link.core.categories import CATEGORIES
from cpi_link.core.errors import ConfigError
from cpi_link.core.i18n import _
from cpi_link.rules.schemes.model import INDICATORS, METHODS, Example, Overlay, RATES, ROUNDINGS, STANDARD_KINDS, Scheme, Version, MONTH_RE, apply, check_complete

# `example` is the [[example]] worked cases (SPEC 5.4); `example = true` (the older spelling of
# example_only) still marks a file that only illustrates the format
# `remark_check = false` turns off the roster's remark_says_stopped check (SPEC 5.1) for every month
_TOP_KEYS = ("scheme", "name", "example_only", "example", "note", "remark_check", "version", "overlay")
# keys that carry rules, allowed in a version; an overlay may name any of them except categories
_RULE_KEYS = (
    "index_region",
    "trigger",
    "rate",
    "method",
    "tiers",
    "per_point",
    "rounding",
    "minimum",
    "multiplier",
    "categories",
    "payment_timing",
    "amounts",
    "funding",
)
_META_KEYS = ("id", "document", "related_documents", "verified", "from", "source", "note", "sources")
_VERSION_KEYS = _META_KEYS + _RULE_KEYS
_VERSION_REQUIRED = ("id", "document", "from", "index_region", "trigger", "rate", "method", "rounding", "categories")
_OVERLAY_KEYS = _META_KEYS + ("until", "add_categories", "remove_categories") + tuple(
    k for k in _RULE_KEYS if k != "categories"
)
_OVERLAY_REQUIRED = ("id", "from", "until")  # an overlay's document is recommended, not required (SPEC 5.4)
_TIER_KEYS = ("from", "fraction")
_DECIMAL_RE = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_FRACTION_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
REGION_RE = re.compile(r"^[0-9]{6}$")  # ASCII: \d would take full-width digits
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _TomlFloat(str):
    """A TOML float, kept as its text so the error can quote it."""


# -- loading ---------------------------------------------------------------------------------


def scheme_path(name_or_path: str | Path, config_dir: Path) -> Path:
    """A bare name (letters, digits, - _ .) is config_dir/schemes/<name>.toml; anything else is a path."""
    s = str(name_or_path)
    looks_like_path = "/" in s or "\\" in s or s.endswith(".toml") or not NAME_RE.match(s)
    if looks_like_path:
        return Path(s).expanduser()
    return Path(config_dir) / "schemes" / f"{s}.toml"


DEFAULT_SCHEME = "shanxi"


def default_scheme(config_dir: Path) -> str:
    """The scheme used when --scheme is not given: `default_scheme` in CONFIG/sources.toml, else shanxi."""
    p = Path(config_dir) / "sources.toml"
    if p.is_file():
        try:
            with open(p, "rb") as fh:
                value = tomllib.loads(fh.read().decode("utf-8-sig")).get("default_scheme")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
            value = None  # sources.toml's own reader reports its errors
        if isinstance(value, str) and value.strip():
            return value.strip()
        if value is not None:  # a number or an empty text: said, never the default in its place
            raise ConfigError(_('{path}: default_scheme = {value!r}: give the name of a scheme in CONFIG/schemes, e.g. '
                                '"national"').format(path=p, value=value))
    return DEFAULT_SCHEME


def load_scheme(name_or_path: str | Path, config_dir: Path) -> Scheme:
    path = scheme_path(name_or_path, config_dir)
    if path.exists() and not path.is_file():
        from cpi_link.core.inputs import check_input

        check_input(path, "config")  # a FIFO or a device: said so, never opened
    if not path.is_file():
        known = ", ".join(p.stem for p in sorted((Path(config_dir) / "schemes").glob("*.toml")))
        hint = _("; schemes in {folder}: {known}").format(folder=Path(config_dir) / "schemes", known=known) if known else ""
        raise ConfigError(_("scheme {name!r}: no such file {path}{hint}").format(name=str(name_or_path), path=path, hint=hint))
    return parse_scheme_file(path)


def list_schemes(config_dir: Path) -> list[Scheme]:
    """Every scheme file in config_dir/schemes, by name. A broken file raises its ConfigError."""
    return [parse_scheme_file(p) for p in sorted((Path(config_dir) / "schemes").glob("*.toml"))]


def read_toml_file(path: Path, what: str) -> tuple[dict, str]:
    """A config TOML file (scheme, programme) as (data, sha256); any problem is a ConfigError."""
    from cpi_link.core.inputs import read_input

    try:
        raw = read_input(path, "config")
    except OSError as exc:
        raise ConfigError(_("{path}: cannot read the {what} file ({error})").format(
            path=path, what=what, error=exc.strerror or exc)) from None
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"), parse_float=_TomlFloat)  # Notepad saves with a BOM
    except UnicodeDecodeError:
        raise ConfigError(_("{path}: not UTF-8 text; save the {what} file as UTF-8").format(path=path, what=what)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_("{path}: not valid TOML: {exc}").format(path=path, exc=exc)) from None
    except RecursionError:  # Python's TOML reader gives up on deeply nested arrays or tables
        raise ConfigError(_("{path}: not valid TOML: nested too deeply for a {what} file").format(path=path, what=what)) from None
    return data, hashlib.sha256(raw).hexdigest()


def parse_scheme_file(path: Path) -> Scheme:
    path = Path(path)
    return _build(path, *read_toml_file(path, "scheme"))


def _build(path: Path, data: dict, sha: str) -> Scheme:
    no_unknown(path, "", data, _TOP_KEYS, _("at the top level"))
    name = req_str(path, "", data, "scheme")
    if not NAME_RE.match(name):
        raise ConfigError(_("{path}: key scheme: {name!r} is not a plain name (letters, digits, - _ .)").format(
            path=path, name=name))
    title = req_str(path, "", data, "name")
    raw_examples = data.get("example")
    if isinstance(raw_examples, bool):
        example, raw_examples = raw_examples, None
    else:
        example = opt_bool(path, "", data, "example_only", False)
    examples = parse_examples(path, raw_examples)
    note = opt_str(path, "", data, "note")
    remark_check = opt_bool(path, "", data, "remark_check", True)

    raw_versions = data.get("version")
    if not isinstance(raw_versions, list) or not raw_versions:
        raise ConfigError(_("{path}: needs at least one [[version]] table").format(path=path))
    versions = [_parse_version(path, i, v) for i, v in enumerate(raw_versions, 1)]
    raw_overlays = data.get("overlay", [])
    if not isinstance(raw_overlays, list):
        raise ConfigError(_("{path}: key overlay: write overlays as [[overlay]] tables").format(path=path))
    overlays = [_parse_overlay(path, i, o) for i, o in enumerate(raw_overlays, 1)]

    seen: dict[str, str] = {}
    for item in [*versions, *overlays]:
        if item.id in seen:
            raise ConfigError(_('{path}: id "{id}" is used twice; every version and overlay needs its own id').format(
                path=path, id=item.id))
        seen[item.id] = item.id
    starts: dict[str, str] = {}
    for v in versions:
        if v.start in starts:
            raise ConfigError(_(
                '{path}: version "{id}" key from: {start} is also the start of version "{other}"; '
                "versions overlap (a version runs until the next version's from)"
            ).format(path=path, id=v.id, start=v.start, other=starts[v.start]))
        starts[v.start] = v.id
    versions.sort(key=lambda v: v.start)

    _no_clashing_overlays(path, overlays)
    scheme = Scheme(name=name, title=title, path=path, sha256=sha, versions=versions, overlays=overlays, example=example, note=note,
                    examples=examples, remark_check=remark_check)
    # Every overlay must combine into a complete rule set with every version it lands on.
    for o in overlays:
        for i, v in enumerate(versions):
            end = versions[i + 1].start if i + 1 < len(versions) else None
            lo = max(v.start, o.start)
            if o.until >= v.start and (end is None or o.start < end):
                apply(path, v, [o], lo)
    return scheme


def _overlay_keys(o: Overlay) -> set[str]:
    """The keys an overlay sets, table keys by their entries (trigger.cpi, amounts.orphan)."""
    keys = set()
    for k, v in o.changes.items():
        keys |= {f"{k}.{x}" for x in v} if k in ("trigger", "amounts") else {k}
    return keys | {f"categories.{c}" for c in (*o.add_categories, *o.remove_categories)}


def _no_clashing_overlays(path: Path, overlays: list[Overlay]) -> None:
    """Two overlays in force in the same month may not set the same key: which one wins would
    depend on their order in the file (SPEC 5.4)."""
    for i, a in enumerate(overlays):
        for b in overlays[i + 1:]:
            if a.start <= b.until and b.start <= a.until:
                both = sorted(_overlay_keys(a) & _overlay_keys(b))
                if both:
                    lo, hi = max(a.start, b.start), min(a.until, b.until)
                    span = lo if lo == hi else f"{lo}..{hi}"
                    raise ConfigError(_(
                        '{path}: overlays "{a}" and "{b}" are both in force in {span} and both set '
                        "key {keys}; merge them into one overlay or make their months not overlap"
                    ).format(path=path, a=a.id, b=b.id, span=span, keys=", ".join(both)))


_EXAMPLE_KEYS = ("month", "category", "area", "standard", "persons", "region", "cpi", "food", "scpi", "amount", "triggered", "note")


def parse_examples(path: Path, raw: Any) -> list[Example]:
    """The file's [[example]] tables; a malformed one is a ConfigError naming it and the key."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError(_("{path}: key example: write worked examples as [[example]] tables").format(path=path))
    out = []
    for n, t in enumerate(raw, 1):
        where = _("example #{n}").format(n=n)
        if not isinstance(t, dict):
            raise ConfigError(_("{path}: {where}: write it as an [[example]] table").format(path=path, where=where))
        no_unknown(path, where, t, _EXAMPLE_KEYS)
        month = t.get("month")
        if not isinstance(month, str) or not MONTH_RE.match(month):
            raise ConfigError(_('{path}: {where} key month: write the index month as "YYYY-MM"').format(path=path, where=where))
        cat = t.get("category")
        if cat not in CATEGORIES:
            raise ConfigError(_("{path}: {where} key category: {cat!r} is not a category; known: {known}").format(
                path=path, where=where, cat=cat, known=', '.join(CATEGORIES)))
        area = t.get("area")
        if area is not None and area not in ("urban", "rural"):
            raise ConfigError(_("{path}: {where} key area: {area!r} must be urban or rural").format(
                path=path, where=where, area=area))
        std = decimal(path, where, "standard", t["standard"], non_negative=True) if "standard" in t else None
        persons = t.get("persons", "1")
        if not (isinstance(persons, str) and persons.strip().isdigit() and int(persons) > 0) and not (
            isinstance(persons, int) and not isinstance(persons, bool) and persons > 0
        ):
            raise ConfigError(_("{path}: {where} key persons: {persons!r} must be a whole number above zero").format(
                path=path, where=where, persons=persons))
        figures = {i: decimal(path, where, i, t[i], non_negative=True) for i in INDICATORS if i in t}
        triggered = t.get("triggered", True)
        if not isinstance(triggered, bool):
            raise ConfigError(_("{path}: {where} key triggered: must be true or false").format(path=path, where=where))
        amount = decimal(path, where, "amount", t["amount"], non_negative=True) if "amount" in t else None
        if triggered and amount is None:
            raise ConfigError(_("{path}: {where}: give the expected amount (or triggered = false)").format(
                path=path, where=where))
        if not triggered and amount is not None:
            raise ConfigError(_("{path}: {where}: triggered = false and an amount: give one or the other").format(
                path=path, where=where))
        region = t.get("region")
        if region is not None and not (isinstance(region, str) and len(region) == 6 and region.isdigit()):
            raise ConfigError(_('{path}: {where} key region: write a 6-digit code as a string, e.g. "140100"').format(
                path=path, where=where))
        note = t.get("note")
        out.append(Example(n, month, cat, area, std, int(persons), region, figures, amount, triggered,
                           note if isinstance(note, str) else None))
    return out


def _parse_version(path: Path, n: int, t: Any) -> Version:
    where = _("version #{n}").format(n=n)
    if not isinstance(t, dict):
        raise ConfigError(_("{path}: {where}: write versions as [[version]] tables").format(path=path, where=where))
    if isinstance(t.get("id"), str) and t["id"].strip():
        where = f'version "{t["id"]}"'
    no_unknown(path, where, t, _VERSION_KEYS)
    for k in _VERSION_REQUIRED:
        if k not in t:
            raise ConfigError(_("{path}: {where}: missing key {k}").format(path=path, where=where, k=k))
    meta = _parse_meta(path, where, t)
    rules = _parse_rules(path, where, t)
    rules.setdefault("tiers", ())
    rules.setdefault("per_point", None)
    rules.setdefault("minimum", Decimal(0))
    rules.setdefault("multiplier", Decimal(1))
    rules.setdefault("payment_timing", None)
    rules.setdefault("amounts", {})
    rules.setdefault("funding", {})
    check_complete(path, where, rules, strict_extras=True)
    return Version(rules=rules, **meta)


def _parse_overlay(path: Path, n: int, t: Any) -> Overlay:
    where = _("overlay #{n}").format(n=n)
    if not isinstance(t, dict):
        raise ConfigError(_("{path}: {where}: write overlays as [[overlay]] tables").format(path=path, where=where))
    if isinstance(t.get("id"), str) and t["id"].strip():
        where = f'overlay "{t["id"]}"'
    if "categories" in t:
        raise ConfigError(
            _("{path}: {where}: unknown key categories; an overlay changes categories with "
                  "add_categories and remove_categories").format(
                path=path, where=where)
        )
    no_unknown(path, where, t, _OVERLAY_KEYS)
    for k in _OVERLAY_REQUIRED:
        if k not in t:
            raise ConfigError(_("{path}: {where}: missing key {k}").format(path=path, where=where, k=k))
    meta = _parse_meta(path, where, t, document_required=False)
    until = month_or_error(path, where, "until", t["until"])
    if until < meta["start"]:
        raise ConfigError(_("{path}: {where} key until: {until} is before its from {start}").format(
            path=path, where=where, until=until, start=meta['start']))
    changes = _parse_rules(path, where, t)
    add = parse_categories(path, where, "add_categories", t["add_categories"]) if "add_categories" in t else {}
    remove = t.get("remove_categories", [])
    if not isinstance(remove, list) or not all(isinstance(c, str) for c in remove):
        raise ConfigError(_('{path}: {where} key remove_categories: write a list of category codes, e.g. ["dibao_edge"]').format(
            path=path, where=where))
    for c in remove:
        if c not in CATEGORIES:
            raise ConfigError(_("{path}: {where} key remove_categories: unknown category {c!r}; known: {known}").format(
                path=path, where=where, c=c, known=', '.join(CATEGORIES)))
    both = set(add) & set(remove)
    if both:
        raise ConfigError(_("{path}: {where}: category {category} is both added and removed").format(
            path=path, where=where, category=sorted(both)[0]))
    if not changes and not add and not remove:
        raise ConfigError(_("{path}: {where}: changes nothing; name at least one rule key or add/remove categories").format(
            path=path, where=where))
    return Overlay(changes=changes, add_categories=add, remove_categories=tuple(remove), until=until, **meta)


def _parse_meta(path: Path, where: str, t: dict, document_required: bool = True) -> dict:
    ident = req_str(path, where, t, "id")
    document = req_str(path, where, t, "document") if document_required else opt_str(path, where, t, "document")
    related = t.get("related_documents", [])
    if not isinstance(related, list) or not all(isinstance(d, str) and d.strip() for d in related):
        raise ConfigError(_("{path}: {where} key related_documents: write a list of document names").format(
            path=path, where=where))
    return {
        "id": ident,
        "document": document,
        "related_documents": tuple(d.strip() for d in related),
        "verified": opt_bool(path, where, t, "verified", False),
        "start": month_or_error(path, where, "from", t["from"]),
        "source": opt_str(path, where, t, "source"),
        "note": opt_str(path, where, t, "note"),
        "sources": _parse_sources(path, where, t),
    }


def _parse_rules(path: Path, where: str, t: dict) -> dict:
    """Parse the rule keys present in t (no defaults)."""
    out: dict[str, Any] = {}
    if "index_region" in t:
        r = t["index_region"]
        if not isinstance(r, str) or not (r == "prefecture" or REGION_RE.match(r)):
            raise ConfigError(
                _("{path}: {where} key index_region: {r!r} must be a 6-digit region code as a string "
                      '("140000") or "prefecture"').format(
                    path=path, where=where, r=r)
            )
        out["index_region"] = r
    if "trigger" in t:
        trig = t["trigger"]
        if not isinstance(trig, dict) or not trig:
            raise ConfigError(_('{path}: {where} key trigger: write a table of thresholds, e.g. {{ cpi = "3.5", food = '
                  '"6.0" }}').format(
                path=path, where=where))
        parsed = {}
        for ind, val in trig.items():
            if ind not in INDICATORS:
                raise ConfigError(_("{path}: {where} key trigger.{ind}: unknown indicator; use {indicators}").format(
                    path=path, where=where, ind=ind, indicators=', '.join(INDICATORS)))
            parsed[ind] = decimal(path, where, f"trigger.{ind}", val, non_negative=True)
        out["trigger"] = {i: parsed[i] for i in INDICATORS if i in parsed}
    for key, allowed in (("rate", RATES), ("method", METHODS), ("rounding", ROUNDINGS)):
        if key in t:
            v = t[key]
            if v not in allowed:
                raise ConfigError(_("{path}: {where} key {key}: {value!r} is not one of {allowed}").format(
                    path=path, where=where, key=key, value=v, allowed=', '.join(allowed)))
            out[key] = v
    if "tiers" in t:
        out["tiers"] = _parse_tiers(path, where, t["tiers"])
    if "per_point" in t:
        out["per_point"] = decimal(path, where, "per_point", t["per_point"], positive=True, **MONEY)
    if "minimum" in t:
        out["minimum"] = decimal(path, where, "minimum", t["minimum"], non_negative=True, **MONEY)
    if "multiplier" in t:
        out["multiplier"] = decimal(path, where, "multiplier", t["multiplier"], positive=True, **MULTIPLIER)
    if "categories" in t:
        out["categories"] = parse_categories(path, where, "categories", t["categories"])
        if not out["categories"]:
            raise ConfigError(_("{path}: {where} key categories: names no category").format(path=path, where=where))
    if "payment_timing" in t:
        out["payment_timing"] = _payment_timing(path, where, t["payment_timing"])
    if "amounts" in t:
        out["amounts"] = _parse_amounts(path, where, t["amounts"])
    if "funding" in t:
        out["funding"] = _parse_funding(path, where, t["funding"])
    return out


def _money(path: Path, where: str, key: str, v: Any) -> str:
    """A yuan amount as its text: non-negative, at most two decimals (fen)."""
    d = decimal(path, where, key, v, non_negative=True)
    if d.as_tuple().exponent < -2:
        raise ConfigError(_("{path}: {where} key {key}: {value} has more than two decimals (fen)").format(
            path=path, where=where, key=key, value=quote(v)))
    return v.strip()


def _parse_amounts(path: Path, where: str, amounts: Any) -> dict:
    example = 'e.g. amounts = { urban_dibao = "30", rural_dibao = "20", special_care = { urban = "30", rural = "20" } }'
    if not isinstance(amounts, dict) or not amounts:
        raise ConfigError(_("{path}: {where} key amounts: write a table of yuan per person per month by category, "
              "{example}").format(
            path=path, where=where, example=example))
    out: dict = {}
    for cat, v in amounts.items():
        if cat not in CATEGORIES:
            raise ConfigError(_("{path}: {where} key amounts.{cat}: unknown category; known: {known}").format(
                path=path, where=where, cat=cat, known=', '.join(CATEGORIES)))
        if isinstance(v, dict):
            if not v:
                raise ConfigError(_("{path}: {where} key amounts.{cat}: empty; {example}").format(
                    path=path, where=where, cat=cat, example=example))
            for area in v:
                if area not in ("urban", "rural"):
                    raise ConfigError(_("{path}: {where} key amounts.{cat}.{area}: use urban and rural; {example}").format(
                        path=path, where=where, cat=cat, area=area, example=example))
            out[cat] = {area: _money(path, where, f"amounts.{cat}.{area}", x) for area, x in v.items()}
        else:
            out[cat] = _money(path, where, f"amounts.{cat}", v)
    return out


def _parse_funding(path: Path, where: str, funding: Any) -> dict[str, Decimal]:
    example = 'e.g. funding = { central = "0.6", province = "0.4" }'
    if not isinstance(funding, dict) or not funding:
        raise ConfigError(_("{path}: {where} key funding: write a table of shares by funder, {example}").format(
            path=path, where=where, example=example))
    out: dict[str, Decimal] = {}
    for funder, v in funding.items():
        share = decimal(path, where, f"funding.{funder}", v, non_negative=True)
        if share > 1:
            raise ConfigError(_("{path}: {where} key funding.{funder}: {value} is above 1 (shares are fractions of the "
                  "cost)").format(
                path=path, where=where, funder=funder, value=quote(v)))
        out[funder] = share
    total = sum(out.values(), Decimal(0))
    if total != 1:
        raise ConfigError(_("{path}: {where} key funding: shares sum to {total}, not 1 ({shares})").format(
            path=path, where=where, total=format(total.normalize(), "f"),
            shares=" + ".join(f"{k} {format(v.normalize(), 'f')}" for k, v in out.items())))
    return out


def _parse_sources(path: Path, where: str, t: dict) -> dict[str, str]:
    """`sources`: where each value came from, by rule key or amounts.<category>."""
    src = t.get("sources", {})
    if not isinstance(src, dict) or not all(isinstance(v, str) and v.strip() for v in src.values()):
        raise ConfigError(_("{path}: {where} key sources: write a table of texts, e.g. sources = {{ "
              '"amounts.urban_dibao" = "..." }}').format(
            path=path, where=where))
    for k in src:
        head, _dot, tail = k.partition(".")
        if head not in _RULE_KEYS and head != "categories" or (tail and head not in ("amounts", "trigger", "categories", "funding")):
            raise ConfigError(_("{path}: {where} key sources.{k}: names no rule key (e.g. trigger, amounts.urban_dibao)").format(
                path=path, where=where, k=k))
    return {k: v.strip() for k, v in src.items()}


def _parse_tiers(path: Path, where: str, tiers: Any) -> tuple[tuple[Decimal, Fraction], ...]:
    example = 'e.g. tiers = [{ from = "3.0", fraction = "1/12" }, { from = "5.0", fraction = "1/8" }]'
    if not isinstance(tiers, list) or not tiers:
        raise ConfigError(_("{path}: {where} key tiers: write a list of tiers, {example}").format(
            path=path, where=where, example=example))
    out: list[tuple[Decimal, Fraction]] = []
    for i, tier in enumerate(tiers, 1):
        key = f"tiers[{i}]"
        if not isinstance(tier, dict):
            raise ConfigError(_("{path}: {where} key {key}: write each tier as {{ from = ..., fraction = ... }}").format(
                path=path, where=where, key=key))
        no_unknown(path, where, tier, _TIER_KEYS, _("in {key}").format(key=key))
        for k in _TIER_KEYS:
            if k not in tier:
                raise ConfigError(_("{path}: {where} key {key}.{k}: missing; {example}").format(
                    path=path, where=where, key=key, k=k, example=example))
        start = decimal(path, where, f"{key}.from", tier["from"], non_negative=True)
        frac = tier["fraction"]
        m = _FRACTION_RE.match(frac) if isinstance(frac, str) else None
        if not m or int(m.group(2)) == 0:
            raise ConfigError(_('{path}: {where} key {key}.fraction: {frac!r} is not a fraction "a/b" such as "1/12"').format(
                path=path, where=where, key=key, frac=frac))
        a, b = int(m.group(1)), int(m.group(2))
        if a > _MAX_FRACTION_TERM or b > _MAX_FRACTION_TERM or a > b:
            raise ConfigError(_("{path}: {where} key {key}.fraction: {frac!r} must be at most 1, with terms up to {most} "
                  "(such as 1/12)").format(
                path=path, where=where, key=key, frac=frac, most=_MAX_FRACTION_TERM))
        fraction = Fraction(a, b)
        if out and start <= out[-1][0]:
            raise ConfigError(_("{path}: {where} key {key}.from: {start} is not above the previous tier's {previous}; list "
                  "tiers ascending").format(
                path=path, where=where, key=key, start=start, previous=out[-1][0]))
        out.append((start, fraction))
    return tuple(out)


def parse_categories(path: Path, where: str, key: str, cats: Any) -> dict[str, str]:
    if not isinstance(cats, dict):
        raise ConfigError(_('{path}: {where} key {key}: write a table, e.g. {{ urban_dibao = "urban" }}').format(
            path=path, where=where, key=key))
    out = {}
    for code, kind in cats.items():
        if code not in CATEGORIES:
            raise ConfigError(_("{path}: {where} key {key}.{code}: unknown category; known: {known}").format(
                path=path, where=where, key=key, code=code, known=', '.join(CATEGORIES)))
        if kind not in STANDARD_KINDS:
            raise ConfigError(_("{path}: {where} key {key}.{code}: {kind!r} is not one of {kinds}").format(
                path=path, where=where, key=key, code=code, kind=kind, kinds=', '.join(STANDARD_KINDS)))
        out[code] = kind
    return out


# -- small validators ------------------------------------------------------------------------


def no_unknown(path: Path, where: str, t: dict, allowed: tuple[str, ...], place: str = "") -> None:
    for k in t:
        if k not in allowed:
            loc = f"{where}: " if where else ""
            raise ConfigError(
                _("{path}: {loc}unknown key {k}{place}; allowed: {allowed}").format(
                    path=path, loc=loc, k=k, place=(' ' + place) if place else '', allowed=', '.join(allowed))
            )


def _payment_timing(path: Path, where: str, v: Any) -> str:
    """The coded payment rule (SPEC 4.5), as its canonical text: `working_days_after_release = N`
    (`{ working_days_after_release = 20 }`) or `end_of_release_month`. Free wording is refused: a
    deadline is computed from the code, never guessed from prose."""
    if isinstance(v, dict) and set(v) == {"working_days_after_release"}:
        n = v["working_days_after_release"]
        if isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 366:
            return f"working_days_after_release = {n}"
    elif v == "end_of_release_month" or v == {"end_of_release_month": True}:
        return "end_of_release_month"
    loc = f"{where} " if where else ""
    raise ConfigError(_("{path}: {loc}key payment_timing: must be {{ working_days_after_release = N }} (N working "
                        "days, 1 to 366) or \"end_of_release_month\", not {value!r}").format(path=path, loc=loc, value=v))


def req_str(path: Path, where: str, t: dict, key: str) -> str:
    v = t.get(key)
    if not isinstance(v, str) or not v.strip():
        loc = f"{where} " if where else ""
        raise ConfigError(_("{path}: {loc}key {key}: must be non-empty text").format(path=path, loc=loc, key=key))
    return v.strip()


def opt_str(path: Path, where: str, t: dict, key: str) -> str | None:
    return req_str(path, where, t, key) if key in t else None


def opt_bool(path: Path, where: str, t: dict, key: str, default: bool) -> bool:
    if key not in t:
        return default
    v = t[key]
    if not isinstance(v, bool):
        loc = f"{where} " if where else ""
        raise ConfigError(_("{path}: {loc}key {key}: {value!r} must be true or false").format(
            path=path, loc=loc, key=key, value=v))
    return v


# SPEC 5.4's bounds on values that make money: yuan amounts at most two decimals (fen) and, like a
# standard, at most 100000 yuan; the multiplier at most four decimals and at most 10.
MAX_YUAN = Decimal(100_000)
MAX_MULTIPLIER = Decimal(10)
_MAX_FRACTION_TERM = 10_000  # a tier's fraction a/b: a and b up to this (1/12, 1/8 ...), the fraction at most 1
MONEY = {"places": 2, "maximum": MAX_YUAN}
MULTIPLIER = {"places": 4, "maximum": MAX_MULTIPLIER}


def decimal(path: Path, where: str, key: str, v: Any, positive: bool = False, non_negative: bool = False,
             places: int | None = None, maximum: Decimal | None = None) -> Decimal:
    loc = f"{where} " if where else ""
    if isinstance(v, _TomlFloat) or (isinstance(v, int) and not isinstance(v, bool)):
        raise ConfigError(_('{path}: {loc}key {key}: write the number as a string, "{value}", not {value}, so it stays '
              "exact").format(
            path=path, loc=loc, key=key, value=v))
    if not isinstance(v, str) or not _DECIMAL_RE.match(v.strip()):
        raise ConfigError(_("{path}: {loc}key {key}: {value} is not a decimal").format(
            path=path, loc=loc, key=key, value=quote(v)))
    try:
        d = Decimal(v.strip())
    except InvalidOperation:  # pragma: no cover - the regex already guarantees it
        raise ConfigError(_("{path}: {loc}key {key}: {value} is not a decimal").format(
            path=path, loc=loc, key=key, value=quote(v))) from None
    if positive and d <= 0:
        raise ConfigError(_("{path}: {loc}key {key}: {value} must be above zero").format(
            path=path, loc=loc, key=key, value=quote(v)))
    if non_negative and d < 0:
        raise ConfigError(_("{path}: {loc}key {key}: {value} must not be negative").format(
            path=path, loc=loc, key=key, value=quote(v)))
    if places is not None and -d.as_tuple().exponent > places:
        msg = (_("{path}: {loc}key {key}: {value} has more than {places} decimals (a whole number of fen)") if places == 2
               else _("{path}: {loc}key {key}: {value} has more than {places} decimals"))
        raise ConfigError(msg.format(path=path, loc=loc, key=key, value=quote(v), places=places))
    if maximum is not None and d > maximum:
        raise ConfigError(_("{path}: {loc}key {key}: {value} is above {maximum}, the most it can be").format(
            path=path, loc=loc, key=key, value=quote(v), maximum=maximum))
    return d


def quote(v: Any) -> str:
    return f'"{v}"' if isinstance(v, str) else repr(v)


def month_or_error(path: Path, where: str, key: str, v: Any) -> str:
    s = str(v).strip() if isinstance(v, str) and not isinstance(v, _TomlFloat) else None
    if s is None or not MONTH_RE.match(s):
        loc = f"{where} " if where else ""
        if isinstance(v, (_TomlFloat, int)) and not isinstance(v, bool):
            raise ConfigError(_('{path}: {loc}key {key}: {value} is a number, not a month (a number cannot tell 2019.10 '
                                'from 2019.1); write it in quotes as "YYYY-MM", e.g. "2016-07"').format(
                path=path, loc=loc, key=key, value=v))
        raise ConfigError(_('{path}: {loc}key {key}: {value} is not a month; write "YYYY-MM", e.g. "2016-07"').format(
            path=path, loc=loc, key=key, value=quote(v)))
    return s
