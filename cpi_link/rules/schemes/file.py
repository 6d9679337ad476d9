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
from cpi_link.rules.schemes.model import INDICATORS, METHODS, Overlay, RATES, ROUNDINGS, STANDARD_KINDS, Scheme, Version, _MONTH_RE, _apply, _check_complete

_TOP_KEYS = ("scheme", "name", "example", "note", "version", "overlay")
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
)
_META_KEYS = ("id", "document", "related_documents", "verified", "from", "source", "note")
_VERSION_KEYS = _META_KEYS + _RULE_KEYS
_VERSION_REQUIRED = ("id", "document", "from", "index_region", "trigger", "rate", "method", "rounding", "categories")
_OVERLAY_KEYS = _META_KEYS + ("until", "add_categories", "remove_categories") + tuple(
    k for k in _RULE_KEYS if k != "categories"
)
_OVERLAY_REQUIRED = ("id", "document", "from", "until")
_TIER_KEYS = ("from", "fraction")
_DECIMAL_RE = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_FRACTION_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_REGION_RE = re.compile(r"^[0-9]{6}$")  # ASCII: \d would take full-width digits
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _TomlFloat(str):
    """A TOML float, kept as its text so the error can quote it."""


# -- loading ---------------------------------------------------------------------------------


def scheme_path(name_or_path: str | Path, config_dir: Path) -> Path:
    """A bare name (letters, digits, - _ .) is config_dir/schemes/<name>.toml; anything else is a path."""
    s = str(name_or_path)
    looks_like_path = "/" in s or "\\" in s or s.endswith(".toml") or not _NAME_RE.match(s)
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
                value = tomllib.load(fh).get("default_scheme")
        except (OSError, tomllib.TOMLDecodeError, RecursionError):
            value = None  # sources.toml's own reader reports its errors
        if isinstance(value, str) and value.strip():
            return value.strip()
    return DEFAULT_SCHEME


def load_scheme(name_or_path: str | Path, config_dir: Path) -> Scheme:
    path = scheme_path(name_or_path, config_dir)
    if not path.is_file():
        known = ", ".join(p.stem for p in sorted((Path(config_dir) / "schemes").glob("*.toml")))
        hint = f"; schemes in {Path(config_dir) / 'schemes'}: {known}" if known else ""
        raise ConfigError(f"scheme {str(name_or_path)!r}: no such file {path}{hint}")
    return parse_scheme_file(path)


def list_schemes(config_dir: Path) -> list[Scheme]:
    """Every scheme file in config_dir/schemes, by name. A broken file raises its ConfigError."""
    return [parse_scheme_file(p) for p in sorted((Path(config_dir) / "schemes").glob("*.toml"))]


def read_toml_file(path: Path, what: str) -> tuple[dict, str]:
    """A config TOML file (scheme, programme) as (data, sha256); any problem is a ConfigError."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} file ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"), parse_float=_TomlFloat)
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save the {what} file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:  # Python's TOML reader gives up on deeply nested arrays or tables
        raise ConfigError(f"{path}: not valid TOML: nested too deeply for a {what} file") from None
    return data, hashlib.sha256(raw).hexdigest()


def parse_scheme_file(path: Path) -> Scheme:
    path = Path(path)
    return _build(path, *read_toml_file(path, "scheme"))


def _build(path: Path, data: dict, sha: str) -> Scheme:
    _no_unknown(path, "", data, _TOP_KEYS, "at the top level")
    name = _req_str(path, "", data, "scheme")
    if not _NAME_RE.match(name):
        raise ConfigError(f"{path}: key scheme: {name!r} is not a plain name (letters, digits, - _ .)")
    title = _req_str(path, "", data, "name")
    example = _opt_bool(path, "", data, "example", False)
    note = _opt_str(path, "", data, "note")

    raw_versions = data.get("version")
    if not isinstance(raw_versions, list) or not raw_versions:
        raise ConfigError(f"{path}: needs at least one [[version]] table")
    versions = [_parse_version(path, i, v) for i, v in enumerate(raw_versions, 1)]
    raw_overlays = data.get("overlay", [])
    if not isinstance(raw_overlays, list):
        raise ConfigError(f"{path}: key overlay: write overlays as [[overlay]] tables")
    overlays = [_parse_overlay(path, i, o) for i, o in enumerate(raw_overlays, 1)]

    seen: dict[str, str] = {}
    for item in [*versions, *overlays]:
        if item.id in seen:
            raise ConfigError(f'{path}: id "{item.id}" is used twice; every version and overlay needs its own id')
        seen[item.id] = item.id
    starts: dict[str, str] = {}
    for v in versions:
        if v.start in starts:
            raise ConfigError(
                f'{path}: version "{v.id}" key from: {v.start} is also the start of version "{starts[v.start]}"; '
                "versions overlap (a version runs until the next version's from)"
            )
        starts[v.start] = v.id
    versions.sort(key=lambda v: v.start)

    scheme = Scheme(name=name, title=title, path=path, sha256=sha, versions=versions, overlays=overlays, example=example, note=note)
    # Every overlay must combine into a complete rule set with every version it lands on.
    for o in overlays:
        for i, v in enumerate(versions):
            end = versions[i + 1].start if i + 1 < len(versions) else None
            lo = max(v.start, o.start)
            if o.until >= v.start and (end is None or o.start < end):
                _apply(path, v, [o], lo)
    return scheme


def _parse_version(path: Path, n: int, t: Any) -> Version:
    where = f"version #{n}"
    if not isinstance(t, dict):
        raise ConfigError(f"{path}: {where}: write versions as [[version]] tables")
    if isinstance(t.get("id"), str) and t["id"].strip():
        where = f'version "{t["id"]}"'
    _no_unknown(path, where, t, _VERSION_KEYS)
    for k in _VERSION_REQUIRED:
        if k not in t:
            raise ConfigError(f"{path}: {where}: missing key {k}")
    meta = _parse_meta(path, where, t)
    rules = _parse_rules(path, where, t)
    rules.setdefault("tiers", ())
    rules.setdefault("per_point", None)
    rules.setdefault("minimum", Decimal(0))
    rules.setdefault("multiplier", Decimal(1))
    rules.setdefault("payment_timing", None)
    _check_complete(path, where, rules, strict_extras=True)
    return Version(rules=rules, **meta)


def _parse_overlay(path: Path, n: int, t: Any) -> Overlay:
    where = f"overlay #{n}"
    if not isinstance(t, dict):
        raise ConfigError(f"{path}: {where}: write overlays as [[overlay]] tables")
    if isinstance(t.get("id"), str) and t["id"].strip():
        where = f'overlay "{t["id"]}"'
    if "categories" in t:
        raise ConfigError(
            f"{path}: {where}: unknown key categories; an overlay changes categories with "
            "add_categories and remove_categories"
        )
    _no_unknown(path, where, t, _OVERLAY_KEYS)
    for k in _OVERLAY_REQUIRED:
        if k not in t:
            raise ConfigError(f"{path}: {where}: missing key {k}")
    meta = _parse_meta(path, where, t)
    until = _month_or_error(path, where, "until", t["until"])
    if until < meta["start"]:
        raise ConfigError(f"{path}: {where} key until: {until} is before its from {meta['start']}")
    changes = _parse_rules(path, where, t)
    add = _parse_categories(path, where, "add_categories", t["add_categories"]) if "add_categories" in t else {}
    remove = t.get("remove_categories", [])
    if not isinstance(remove, list) or not all(isinstance(c, str) for c in remove):
        raise ConfigError(f'{path}: {where} key remove_categories: write a list of category codes, e.g. ["dibao_edge"]')
    for c in remove:
        if c not in CATEGORIES:
            raise ConfigError(f"{path}: {where} key remove_categories: unknown category {c!r}; known: {', '.join(CATEGORIES)}")
    both = set(add) & set(remove)
    if both:
        raise ConfigError(f"{path}: {where}: category {sorted(both)[0]} is both added and removed")
    if not changes and not add and not remove:
        raise ConfigError(f"{path}: {where}: changes nothing; name at least one rule key or add/remove categories")
    return Overlay(changes=changes, add_categories=add, remove_categories=tuple(remove), until=until, **meta)


def _parse_meta(path: Path, where: str, t: dict) -> dict:
    ident = _req_str(path, where, t, "id")
    document = _req_str(path, where, t, "document")
    related = t.get("related_documents", [])
    if not isinstance(related, list) or not all(isinstance(d, str) and d.strip() for d in related):
        raise ConfigError(f"{path}: {where} key related_documents: write a list of document names")
    return {
        "id": ident,
        "document": document,
        "related_documents": tuple(d.strip() for d in related),
        "verified": _opt_bool(path, where, t, "verified", False),
        "start": _month_or_error(path, where, "from", t["from"]),
        "source": _opt_str(path, where, t, "source"),
        "note": _opt_str(path, where, t, "note"),
    }


def _parse_rules(path: Path, where: str, t: dict) -> dict:
    """Parse the rule keys present in t (no defaults)."""
    out: dict[str, Any] = {}
    if "index_region" in t:
        r = t["index_region"]
        if not isinstance(r, str) or not (r == "prefecture" or _REGION_RE.match(r)):
            raise ConfigError(
                f'{path}: {where} key index_region: {r!r} must be a 6-digit region code as a string ("140000") or "prefecture"'
            )
        out["index_region"] = r
    if "trigger" in t:
        trig = t["trigger"]
        if not isinstance(trig, dict) or not trig:
            raise ConfigError(f'{path}: {where} key trigger: write a table of thresholds, e.g. {{ cpi = "3.5", food = "6.0" }}')
        parsed = {}
        for ind, val in trig.items():
            if ind not in INDICATORS:
                raise ConfigError(f"{path}: {where} key trigger.{ind}: unknown indicator; use {', '.join(INDICATORS)}")
            parsed[ind] = _decimal(path, where, f"trigger.{ind}", val, non_negative=True)
        out["trigger"] = {i: parsed[i] for i in INDICATORS if i in parsed}
    for key, allowed in (("rate", RATES), ("method", METHODS), ("rounding", ROUNDINGS)):
        if key in t:
            v = t[key]
            if v not in allowed:
                raise ConfigError(f"{path}: {where} key {key}: {v!r} is not one of {', '.join(allowed)}")
            out[key] = v
    if "tiers" in t:
        out["tiers"] = _parse_tiers(path, where, t["tiers"])
    if "per_point" in t:
        out["per_point"] = _decimal(path, where, "per_point", t["per_point"], positive=True, **_MONEY)
    if "minimum" in t:
        out["minimum"] = _decimal(path, where, "minimum", t["minimum"], non_negative=True, **_MONEY)
    if "multiplier" in t:
        out["multiplier"] = _decimal(path, where, "multiplier", t["multiplier"], positive=True, **_MULTIPLIER)
    if "categories" in t:
        out["categories"] = _parse_categories(path, where, "categories", t["categories"])
        if not out["categories"]:
            raise ConfigError(f"{path}: {where} key categories: names no category")
    if "payment_timing" in t:
        out["payment_timing"] = _req_str(path, where, t, "payment_timing")
    return out


def _parse_tiers(path: Path, where: str, tiers: Any) -> tuple[tuple[Decimal, Fraction], ...]:
    example = 'e.g. tiers = [{ from = "3.0", fraction = "1/12" }, { from = "5.0", fraction = "1/8" }]'
    if not isinstance(tiers, list) or not tiers:
        raise ConfigError(f"{path}: {where} key tiers: write a list of tiers, {example}")
    out: list[tuple[Decimal, Fraction]] = []
    for i, tier in enumerate(tiers, 1):
        key = f"tiers[{i}]"
        if not isinstance(tier, dict):
            raise ConfigError(f"{path}: {where} key {key}: write each tier as {{ from = ..., fraction = ... }}")
        _no_unknown(path, where, tier, _TIER_KEYS, f"in {key}")
        for k in _TIER_KEYS:
            if k not in tier:
                raise ConfigError(f"{path}: {where} key {key}.{k}: missing; {example}")
        start = _decimal(path, where, f"{key}.from", tier["from"], non_negative=True)
        frac = tier["fraction"]
        m = _FRACTION_RE.match(frac) if isinstance(frac, str) else None
        if not m or int(m.group(2)) == 0:
            raise ConfigError(f'{path}: {where} key {key}.fraction: {frac!r} is not a fraction "a/b" such as "1/12"')
        a, b = int(m.group(1)), int(m.group(2))
        if a > _MAX_FRACTION_TERM or b > _MAX_FRACTION_TERM or a > b:
            raise ConfigError(f"{path}: {where} key {key}.fraction: {frac!r} must be at most 1, with terms up to "
                              f"{_MAX_FRACTION_TERM} (such as 1/12)")
        fraction = Fraction(a, b)
        if out and start <= out[-1][0]:
            raise ConfigError(f"{path}: {where} key {key}.from: {start} is not above the previous tier's {out[-1][0]}; list tiers ascending")
        out.append((start, fraction))
    return tuple(out)


def _parse_categories(path: Path, where: str, key: str, cats: Any) -> dict[str, str]:
    if not isinstance(cats, dict):
        raise ConfigError(f'{path}: {where} key {key}: write a table, e.g. {{ urban_dibao = "urban" }}')
    out = {}
    for code, kind in cats.items():
        if code not in CATEGORIES:
            raise ConfigError(f"{path}: {where} key {key}.{code}: unknown category; known: {', '.join(CATEGORIES)}")
        if kind not in STANDARD_KINDS:
            raise ConfigError(f"{path}: {where} key {key}.{code}: {kind!r} is not one of {', '.join(STANDARD_KINDS)}")
        out[code] = kind
    return out


# -- small validators ------------------------------------------------------------------------


def _no_unknown(path: Path, where: str, t: dict, allowed: tuple[str, ...], place: str = "") -> None:
    for k in t:
        if k not in allowed:
            loc = f"{where}: " if where else ""
            raise ConfigError(
                f"{path}: {loc}unknown key {k}{(' ' + place) if place else ''}; allowed: {', '.join(allowed)}"
            )


def _req_str(path: Path, where: str, t: dict, key: str) -> str:
    v = t.get(key)
    if not isinstance(v, str) or not v.strip():
        loc = f"{where} " if where else ""
        raise ConfigError(f"{path}: {loc}key {key}: must be non-empty text")
    return v.strip()


def _opt_str(path: Path, where: str, t: dict, key: str) -> str | None:
    return _req_str(path, where, t, key) if key in t else None


def _opt_bool(path: Path, where: str, t: dict, key: str, default: bool) -> bool:
    if key not in t:
        return default
    v = t[key]
    if not isinstance(v, bool):
        loc = f"{where} " if where else ""
        raise ConfigError(f"{path}: {loc}key {key}: {v!r} must be true or false")
    return v


# SPEC 5.4's bounds on values that make money: yuan amounts at most two decimals (fen) and, like a
# standard, at most 100000 yuan; the multiplier at most four decimals and at most 10.
MAX_YUAN = Decimal(100_000)
MAX_MULTIPLIER = Decimal(10)
_MAX_FRACTION_TERM = 10_000  # a tier's fraction a/b: a and b up to this (1/12, 1/8 ...), the fraction at most 1
_MONEY = {"places": 2, "maximum": MAX_YUAN}
_MULTIPLIER = {"places": 4, "maximum": MAX_MULTIPLIER}


def _decimal(path: Path, where: str, key: str, v: Any, positive: bool = False, non_negative: bool = False,
             places: int | None = None, maximum: Decimal | None = None) -> Decimal:
    loc = f"{where} " if where else ""
    if isinstance(v, _TomlFloat) or (isinstance(v, int) and not isinstance(v, bool)):
        raise ConfigError(f'{path}: {loc}key {key}: write the number as a string, "{v}", not {v}, so it stays exact')
    if not isinstance(v, str) or not _DECIMAL_RE.match(v.strip()):
        raise ConfigError(f"{path}: {loc}key {key}: {_quote(v)} is not a decimal")
    try:
        d = Decimal(v.strip())
    except InvalidOperation:  # pragma: no cover - the regex already guarantees it
        raise ConfigError(f"{path}: {loc}key {key}: {_quote(v)} is not a decimal") from None
    if positive and d <= 0:
        raise ConfigError(f"{path}: {loc}key {key}: {_quote(v)} must be above zero")
    if non_negative and d < 0:
        raise ConfigError(f"{path}: {loc}key {key}: {_quote(v)} must not be negative")
    if places is not None and -d.as_tuple().exponent > places:
        raise ConfigError(f"{path}: {loc}key {key}: {_quote(v)} has more than {places} decimals"
                          + (" (a whole number of fen)" if places == 2 else ""))
    if maximum is not None and d > maximum:
        raise ConfigError(f"{path}: {loc}key {key}: {_quote(v)} is above {maximum}, the most it can be")
    return d


def _quote(v: Any) -> str:
    return f'"{v}"' if isinstance(v, str) else repr(v)


def _month_or_error(path: Path, where: str, key: str, v: Any) -> str:
    s = str(v).strip() if isinstance(v, str) else None
    if s is None or not _MONTH_RE.match(s):
        loc = f"{where} " if where else ""
        raise ConfigError(f'{path}: {loc}key {key}: {_quote(v)} is not a month; write "YYYY-MM", e.g. "2016-07"')
    return s
