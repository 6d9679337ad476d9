"""One-off programmes (节日补助 / 临时生活补助): a single payment on a roster, read from TOML.

A programme file is public, like a scheme file: officers write it. It names the document, the
payment month, the covered categories and the amount rule, either a fixed amount per category
(`method = "fixed"`) or the standard times one stated index figure (`method =
"proportional_index"`), with the schemes' `rounding`, `minimum` and `multiplier`. Every mistake
is a ConfigError (exit 2) naming the file and the key. Money and rates are strings, read as
Decimals. The format is documented in config/programmes/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from cpi_link.core.errors import ConfigError
from cpi_link.core.i18n import _
from cpi_link.core.categories import CATEGORIES
from cpi_link.rules.schemes.model import INDICATORS, ROUNDINGS
from cpi_link.rules.schemes.file import MONEY, MULTIPLIER, MAX_YUAN, NAME_RE, REGION_RE, decimal, month_or_error, no_unknown, opt_bool, opt_str, parse_categories, quote, req_str, read_toml_file

METHODS = ("fixed", "proportional_index")
_TOP_KEYS = (
    "programme", "name", "document", "related_documents", "verified", "example", "source", "note",
    "payment_month", "region", "categories", "method", "amounts", "index", "rounding", "minimum", "multiplier",
)
_REQUIRED = ("programme", "name", "document", "payment_month", "categories", "method")
_INDEX_KEYS = ("region", "indicator", "month")


@dataclass(frozen=True)
class IndexRef:
    region: str
    indicator: str
    month: str

    def to_json(self) -> dict:
        return {"region": self.region, "indicator": self.indicator, "month": self.month}


@dataclass(frozen=True)
class Programme:
    id: str
    name: str
    document: str
    related_documents: tuple[str, ...]
    verified: bool
    example: bool
    source: str | None
    note: str | None
    payment_month: str
    region: str | None  # the paying jurisdiction: rows outside it are rejected as unknown_region
    categories: dict[str, str]  # code -> urban | rural | by_area (what check_batch reads)
    method: str
    amounts: dict[str, int]  # fixed: code -> fen per person
    index: IndexRef | None  # proportional_index: the figure whose YoY is the rate
    rounding: str
    minimum: Decimal
    multiplier: Decimal
    path: Path
    sha256: str

    @property
    def version(self) -> str:
        """What the shared row checks print as "the rules" (e.g. category_not_covered details)."""
        return self.id

    @property
    def ledger_key(self) -> str:
        return f"programme-{self.id}"

    def rules_json(self) -> dict:
        from cpi_link.core.money import fen_to_yuan_str

        out: dict[str, Any] = {"method": self.method, "categories": dict(self.categories)}
        if self.method == "fixed":
            out["amounts"] = {k: fen_to_yuan_str(v) for k, v in self.amounts.items()}
        else:
            out["index"] = self.index.to_json()
        out.update(rounding=self.rounding, minimum=_dec_str(self.minimum), multiplier=_dec_str(self.multiplier))
        return out

    def to_json(self) -> dict:
        return {
            "programme": self.id, "name": self.name, "document": self.document,
            "related_documents": list(self.related_documents), "verified": self.verified, "example": self.example,
            "source": self.source, "note": self.note, "payment_month": self.payment_month,
            "region": self.region, **self.rules_json(), "path": str(self.path), "sha256": self.sha256,
        }


def _dec_str(d: Decimal) -> str:
    return "0" if d == 0 else format(d.normalize(), "f")


# -- loading ---------------------------------------------------------------------------------


def programme_path(id_or_path: str | Path, config_dir: Path) -> Path:
    """A bare id (letters, digits, - _ .) is config_dir/programmes/<id>.toml; anything else is a path."""
    s = str(id_or_path)
    if "/" in s or "\\" in s or s.endswith(".toml") or not NAME_RE.match(s):
        return Path(s).expanduser()
    return Path(config_dir) / "programmes" / f"{s}.toml"


def load_programme(id_or_path: str | Path, config_dir: Path) -> Programme:
    path = programme_path(id_or_path, config_dir)
    if path.exists() and not path.is_file():
        from cpi_link.core.inputs import check_input

        check_input(path, "config")  # a FIFO or a device: said so, never opened
    if not path.is_file():
        folder = Path(config_dir) / "programmes"
        known = ", ".join(p.stem for p in sorted(folder.glob("*.toml")))
        hint = _("; programmes in {folder}: {known}").format(folder=folder, known=known) if known else ""
        raise ConfigError(_("programme {name!r}: no such file {path}{hint}").format(name=str(id_or_path), path=path, hint=hint))
    return parse_programme_file(path)


def list_programmes(config_dir: Path) -> list[Programme]:
    """Every programme file in config_dir/programmes. A broken file raises its ConfigError."""
    return [parse_programme_file(p) for p in sorted((Path(config_dir) / "programmes").glob("*.toml"))]


def parse_programme_file(path: Path) -> Programme:
    path = Path(path)
    return _build(path, *read_toml_file(path, "programme"))


def _build(path: Path, t: dict, sha: str) -> Programme:
    no_unknown(path, "", t, _TOP_KEYS, _("at the top level"))
    for k in _REQUIRED:
        if k not in t:
            raise ConfigError(_("{path}: missing key {key}").format(path=path, key=k))
    ident = req_str(path, "", t, "programme")
    if not NAME_RE.match(ident):
        raise ConfigError(_("{path}: key programme: {ident!r} is not a plain id (letters, digits, - _ .)").format(path=path, ident=ident))
    related = t.get("related_documents", [])
    if not isinstance(related, list) or not all(isinstance(d, str) and d.strip() for d in related):
        raise ConfigError(_("{path}: key related_documents: write a list of document names").format(path=path))
    categories = parse_categories(path, "", "categories", t["categories"])
    if not categories:
        raise ConfigError(_("{path}: key categories: names no category").format(path=path))
    method = t["method"]
    if method not in METHODS:
        raise ConfigError(_("{path}: key method: {value} is not one of {allowed}").format(path=path, value=quote(method), allowed=", ".join(METHODS)))

    amounts: dict[str, int] = {}
    index = None
    if method == "fixed":
        if "index" in t:
            raise ConfigError(_("{path}: key index: only used by method proportional_index (method is fixed)").format(path=path))
        amounts = _parse_amounts(path, t.get("amounts"), categories)
    else:
        if "amounts" in t:
            raise ConfigError(_("{path}: key amounts: only used by method fixed (method is proportional_index)").format(path=path))
        index = _parse_index(path, t.get("index"))

    if "rounding" in t:
        rounding = t["rounding"]
        if rounding not in ROUNDINGS:
            raise ConfigError(_("{path}: key rounding: {value} is not one of {allowed}").format(path=path, value=quote(rounding), allowed=", ".join(ROUNDINGS)))
    elif method == "fixed":
        rounding = "fen_half_up"  # a fixed amount is paid as written
    else:
        raise ConfigError(_('{path}: missing key rounding (method proportional_index needs it, e.g. "yuan_half_up")').format(path=path))
    minimum = decimal(path, "", "minimum", t["minimum"], non_negative=True, **MONEY) if "minimum" in t else Decimal(0)
    multiplier = decimal(path, "", "multiplier", t["multiplier"], positive=True, **MULTIPLIER) if "multiplier" in t else Decimal(1)
    _whole_fen(path, "minimum", minimum)

    return Programme(
        id=ident,
        name=req_str(path, "", t, "name"),
        document=req_str(path, "", t, "document"),
        related_documents=tuple(d.strip() for d in related),
        verified=opt_bool(path, "", t, "verified", False),
        example=opt_bool(path, "", t, "example", False),
        source=opt_str(path, "", t, "source"),
        note=opt_str(path, "", t, "note"),
        payment_month=month_or_error(path, "", "payment_month", t["payment_month"]),
        region=_parse_region(path, t["region"]) if "region" in t else None,
        categories=categories,
        method=method,
        amounts=amounts,
        index=index,
        rounding=rounding,
        minimum=minimum,
        multiplier=multiplier,
        path=path,
        sha256=sha,
    )


def _parse_amounts(path: Path, amounts: Any, categories: dict[str, str]) -> dict[str, int]:
    example = 'e.g. amounts = { urban_dibao = "200", urban_tekun = "300" }'
    if amounts is None:
        raise ConfigError(_("{path}: missing key amounts (method fixed needs yuan per person by category, {example})").format(path=path, example=example))
    if not isinstance(amounts, dict) or not amounts:
        raise ConfigError(_("{path}: key amounts: write a table of yuan per person by category, {example}").format(path=path, example=example))
    out: dict[str, int] = {}
    for code, v in amounts.items():
        key = f"amounts.{code}"
        if code not in CATEGORIES:
            raise ConfigError(_("{path}: key {key}: unknown category; known: {known}").format(path=path, key=key, known=", ".join(CATEGORIES)))
        if code not in categories:
            raise ConfigError(_("{path}: key {key}: {code} is not in categories; add it there (with its standard) or remove the amount").format(
                path=path, key=key, code=code))
        d = decimal(path, "", key, v, non_negative=True, maximum=MAX_YUAN)
        out[code] = _whole_fen(path, key, d)
    missing = [c for c in categories if c not in out]
    if missing:
        raise ConfigError(_("{path}: key amounts.{code}: category {code} is covered but has no amount").format(path=path, code=missing[0]))
    return out


def _whole_fen(path: Path, key: str, d: Decimal) -> int:
    fen = d * 100
    if fen != fen.to_integral_value():
        raise ConfigError(_("{path}: key {key}: {value} is not a whole number of fen (at most two decimals)").format(path=path, key=key, value=d))
    return int(fen)


def _parse_region(path: Path, region: Any) -> str:
    if not isinstance(region, str) or not REGION_RE.match(region):
        raise ConfigError(_('{path}: key {key}: {value} must be a 6-digit region code as a string ("140000")').format(
            path=path, key="region", value=quote(region)))
    return region


def covers(region: str, code: str) -> bool:
    """Whether a roster region code lies in a programme's region (province XX0000, prefecture XXXX00, county)."""
    if region.endswith("0000"):
        return code[:2] == region[:2]
    if region.endswith("00"):
        return code[:4] == region[:4]
    return code == region


def _parse_index(path: Path, index: Any) -> IndexRef:
    example = 'e.g. index = { region = "140000", indicator = "food", month = "2021-01" }'
    if index is None:
        raise ConfigError(_("{path}: missing key index (method proportional_index needs the figure to use, {example})").format(path=path, example=example))
    if not isinstance(index, dict):
        raise ConfigError(_("{path}: key index: write a table, {example}").format(path=path, example=example))
    no_unknown(path, "", index, _INDEX_KEYS, _("in index"))
    for k in _INDEX_KEYS:
        if k not in index:
            raise ConfigError(_("{path}: key index.{key}: missing; {example}").format(path=path, key=k, example=example))
    region = index["region"]
    if not isinstance(region, str) or not REGION_RE.match(region):
        raise ConfigError(_('{path}: key {key}: {value} must be a 6-digit region code as a string ("140000")').format(
            path=path, key="index.region", value=quote(region)))
    ind = index["indicator"]
    if ind not in INDICATORS:
        raise ConfigError(_("{path}: key index.indicator: {value} is not one of {allowed}").format(path=path, value=quote(ind), allowed=", ".join(INDICATORS)))
    month = month_or_error(path, "", "index.month", index["month"])
    return IndexRef(region=region, indicator=ind, month=month)
