"""Minimum living standards (低保标准) by region and date (SPEC 5.3).

A person's standard is the row of their region_code, else of its prefecture (XXXX00), else of its
province (XX0000), taking the latest effective_from not after the index month. Money is kept in
"twelfth-fen" units (monthly fen x 12) so an annual rural standard divided by 12 stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from cpi_link.core.atomic import sha256_file
from cpi_link.core.decimals import parse_decimal
from cpi_link.core.errors import InputError, UsageError
from cpi_link.core.months import parse_month
from cpi_link.core.tabular import find_columns, read_table

COLUMNS = {
    "region_code": ("region_code", "行政区划代码", "地区代码"),
    "effective_from": ("effective_from", "生效月份", "执行时间"),
    "urban_monthly": ("urban_monthly", "城市低保标准", "城市月标准"),
    "rural_monthly": ("rural_monthly", "农村低保标准", "农村月标准"),
    "rural_annual": ("rural_annual", "农村年标准", "农村低保年标准"),
}


@dataclass(frozen=True)
class Standard:
    region_code: str
    effective_from: str
    urban12: int  # urban monthly standard in fen x 12
    rural12: int  # rural monthly standard in fen x 12
    source_row: int
    rural_basis: str  # "monthly" or "annual"

    def monthly(self, area: str) -> Decimal:
        v = self.urban12 if area == "urban" else self.rural12
        return Decimal(v) / Decimal(1200)


def _fen(value: Decimal, where: str) -> int:
    if value < 0:
        raise InputError(f"{where}: a standard cannot be negative ({value})")
    fen = value * 100
    if fen != fen.to_integral_value():
        raise InputError(f"{where}: {value} has more than two decimals (fen)")
    return int(fen)


class Standards:
    def __init__(self, rows: list[Standard], path: Path, sha256: str, sample: bool = False):
        self.rows = rows
        self.path = path
        self.sha256 = sha256
        self.sample = sample
        self._by_region: dict[str, list[Standard]] = {}
        for r in sorted(rows, key=lambda s: s.effective_from):
            self._by_region.setdefault(r.region_code, []).append(r)

    def __len__(self) -> int:
        return len(self.rows)

    def in_force(self, region_code: str, month: str) -> Standard | None:
        for code in (region_code, region_code[:4] + "00", region_code[:2] + "0000"):
            best = None
            for s in self._by_region.get(code, ()):
                if s.effective_from <= month:
                    best = s
            if best is not None:
                return best
        return None


def load_standards(path: Path | str, sample: bool = False, sheet: str | int | None = None) -> Standards:
    path = Path(path)
    header, rows = read_table(path, sheet=sheet, aliases=COLUMNS)  # the header row found by these names
    cols = find_columns(header, COLUMNS, ("region_code", "effective_from", "urban_monthly"), path)
    if "rural_monthly" not in cols and "rural_annual" not in cols:
        raise InputError(f"{path}: needs a rural_monthly or rural_annual column")
    out: list[Standard] = []
    seen: dict[tuple[str, str], int] = {}
    for n, row in enumerate(rows, start=1):
        def cell(k: str) -> str:
            i = cols.get(k)
            return row[i].strip() if i is not None and i < len(row) else ""

        where = f"{path.name}: data row {n}"
        region = cell("region_code")
        if not (region.isdigit() and len(region) == 6):
            raise InputError(f"{where}, field region_code: {region!r} is not a 6-digit region code")
        try:
            eff = parse_month(cell("effective_from")[:7] if len(cell("effective_from")) >= 10 else cell("effective_from"))
        except UsageError:
            raise InputError(f"{where}, field effective_from: {cell('effective_from')!r} is not a month (YYYY-MM)") from None
        values = {}
        for k in ("urban_monthly", "rural_monthly", "rural_annual"):
            if k in cols and cell(k) != "":
                try:
                    values[k] = parse_decimal(cell(k), k)
                except ValueError:
                    raise InputError(f"{where}, field {k}: {cell(k)!r} is not a number") from None
        if "urban_monthly" not in values:
            raise InputError(f"{where}, field urban_monthly: empty")
        urban12 = _fen(values["urban_monthly"], f"{where}, field urban_monthly") * 12
        if "rural_monthly" in values:
            rural12, basis = _fen(values["rural_monthly"], f"{where}, field rural_monthly") * 12, "monthly"
        elif "rural_annual" in values:
            rural12, basis = _fen(values["rural_annual"], f"{where}, field rural_annual"), "annual"
        else:
            raise InputError(f"{where}: neither rural_monthly nor rural_annual is given")
        key = (region, eff)
        if key in seen:
            raise InputError(f"{where}: {region} from {eff} is already given on data row {seen[key]}")
        seen[key] = n
        out.append(Standard(region, eff, urban12, rural12, n, basis))
    return Standards(out, path, sha256_file(path), sample=sample)
