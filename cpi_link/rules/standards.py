"""Minimum living standards (低保标准) by region and date (SPEC 5.3).

A person's standard is the row of their region_code, else of its prefecture (XXXX00), else of its
province (XX0000), taking the latest effective_from not after the index month; a code that is not
valid in that month (core.regions: not on the list, or abolished) has none. Money is kept in
"twelfth-fen" units (monthly fen x 12) so an annual rural standard divided by 12 stays exact.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from cpi_link.core.atomic import sha256_file
from cpi_link.core.decimals import plain_decimal
from cpi_link.core.errors import InputError, UsageError
from cpi_link.core.i18n import _
from cpi_link.core.months import number_month, number_month_message, parse_month
from cpi_link.core.privacy import mask_digits
from cpi_link.core.regions import clean_code, is_valid
from cpi_link.core.tabular import find_columns, read_table_with_rows

COLUMNS = {
    "region_code": ("region_code", "行政区划代码", "地区代码"),
    "effective_from": ("effective_from", "执行日期", "执行时间", "执行月份", "生效月份", "生效日期"),
    "urban_monthly": ("urban_monthly", "城市低保标准", "城市月标准", "城市低保标准(月)", "城市低保标准（月）"),
    "rural_monthly": ("rural_monthly", "农村低保标准", "农村月标准", "农村低保标准(月)", "农村低保标准（月）"),
    "rural_annual": ("rural_annual", "农村年标准", "农村低保年标准", "农村低保标准(年)", "农村低保标准（年）"),
}

# Units a header may carry in brackets (SPEC 5.3): (元) and (元/月) monthly, (元/年) annual; 农村低保标准（元/年）
# is the annual column. Another unit (城市低保标准（元/年）: no annual urban column) is exit 2 naming the cell.
UNITS = {"urban_monthly": ("元", "元/月", "月", "元/人/月", "元/人·月"), "rural_monthly": ("元", "元/月", "月", "元/人/月", "元/人·月"),
         "rural_annual": ("元", "元/年", "年", "元/人/年", "元/人·年")}
UNIT_KEYS = {("rural_monthly", "元/年"): "rural_annual", ("rural_monthly", "年"): "rural_annual",
             ("rural_monthly", "元/人/年"): "rural_annual", ("rural_monthly", "元/人·年"): "rural_annual"}
# A monthly standard outside these (yuan) is a typing error or an annual figure in a monthly column
# (5220 under 农村低保标准); --standards-max raises the upper bound for places that need more.
MONTHLY_LEAST, MONTHLY_MOST = Decimal(100), Decimal(3000)

_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*\d{1,2}\s*日?(?:[ T]00:00(?::00)?)?")

# A standard above this (yuan a month) is a typing error, and keeps every amount far inside decimal(18,2).
MAX_MONTHLY_YUAN = Decimal(100_000)


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


def _fen(value: Decimal, where: str, per: int = 1) -> int:
    """fen of a value in yuan (per = 12: an annual value), within 0..MAX_MONTHLY_YUAN a month."""
    if value < 0:
        raise InputError(_("{where}: a standard cannot be negative ({value})").format(where=where, value=value))
    if value > MAX_MONTHLY_YUAN * per:
        msg = (_("{where}: {value} is above {most} yuan a year, the most a standard can be (a typing error?)") if per == 12
               else _("{where}: {value} is above {most} yuan a month, the most a standard can be (a typing error?)"))
        raise InputError(msg.format(where=where, value=value, most=MAX_MONTHLY_YUAN * per))
    fen = value * 100
    if fen != fen.to_integral_value():
        raise InputError(_("{where}: {value} has more than two decimals (fen)").format(where=where, value=value))
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
        """The standard for a person's region in `month`; None for a code not valid then (the
        fallback to the prefecture and province is for real codes only: regions.problem says why)."""
        if not is_valid(region_code, month):
            return None
        for code in (region_code, region_code[:4] + "00", region_code[:2] + "0000"):
            best = None
            for s in self._by_region.get(code, ()):
                if s.effective_from <= month:
                    best = s
            if best is not None:
                return best
        return None


class NoStandards:
    """Fixed amounts use no standard: every region passes the standards check with a zero
    standard (the payments writer needs a value in every row; programme runs empty them)."""

    sha256 = None
    path = None
    sample = False

    def __len__(self) -> int:
        return 0

    def in_force(self, region_code: str, month: str) -> Standard:
        return Standard(region_code, "", 0, 0, 0, "monthly")


def load_standards(path: Path | str, sample: bool = False, sheet: str | int | None = None,
                   most: Decimal | None = None) -> Standards:
    """most: the highest plausible monthly standard (default MONTHLY_MOST, --standards-max)."""
    path = Path(path)
    # the header row found by these names; rows keep the row number the officer sees
    header, rows, file_rows, place = read_table_with_rows(path, sheet, COLUMNS, UNITS)
    most = MONTHLY_MOST if most is None else most
    line = "line" if place == str(path) else "row"
    cols = find_columns(header, COLUMNS, ("region_code", "effective_from", "urban_monthly"), place, UNITS,
                        unit_keys=UNIT_KEYS)
    if "rural_monthly" not in cols and "rural_annual" not in cols:
        raise InputError(_("{path}: needs a rural_monthly or rural_annual column (农村低保标准 or 农村低保标准(年))").format(path=path))
    out: list[Standard] = []
    seen: dict[tuple[str, str], Standard] = {}
    for n, row in enumerate(rows, start=1):
        def cell(k: str) -> str:
            i = cols.get(k)
            return unicodedata.normalize("NFKC", row[i]).strip() if i is not None and i < len(row) else ""

        def where(k: str | None = None) -> str:
            seen = (_("line {row} (data row {n})") if line == "line" else _("sheet row {row} (data row {n})")).format(
                row=file_rows[n - 1], n=n)
            if k is None:
                return f"{path.name}: {seen}"
            title = header[cols[k]]
            if title.lower() == k:
                return _("{file}: {seen}, field {field}").format(file=path.name, seen=seen, field=k)
            return _("{file}: {seen}, field {field} (column {column!r})").format(file=path.name, seen=seen, field=k, column=title)

        region = clean_code(cell("region_code"))
        if not (region.isascii() and region.isdigit() and len(region) == 6):
            raise InputError(_("{where}: {region!r} is not a 6-digit region code").format(
                where=where('region_code'), region=mask_digits(region)))
        if not sample and not is_valid(region):  # a typo (140015 for 140105) would leave its people on the province's standard
            raise InputError(_("{where}: {region} is not a code of the administrative-division list (GB/T 2260); fix the "
                               "code").format(where=where("region_code"), region=region))
        eff_text = cell("effective_from")
        if cols["effective_from"] < len(row) and number_month(row[cols["effective_from"]]):
            raise InputError(number_month_message(where("effective_from"), row[cols["effective_from"]]))
        try:
            day = _DATE.fullmatch(eff_text)  # a date (执行日期 2024-01-01, 2024年1月1日): its month
            eff = parse_month(f"{day.group(1)}-{day.group(2)}" if day else eff_text)
        except UsageError:
            raise InputError(_("{where}: {value!r} is not a month (YYYY-MM)").format(
                where=where('effective_from'), value=mask_digits(eff_text))) from None
        values = {}
        for k in ("urban_monthly", "rural_monthly", "rural_annual"):
            if k in cols and cell(k) != "":
                try:
                    values[k] = plain_decimal(cell(k), k)
                except ValueError:
                    raise InputError(_("{where}: {value!r} is not a number (write yuan as a plain decimal: digits and one '.', no "
                          "thousands separators)").format(
                        where=where(k), value=mask_digits(cell(k)))) from None
        if "urban_monthly" not in values:
            raise InputError(_("{where}: empty").format(where=where('urban_monthly')))
        for k, v in values.items():
            monthly = v / 12 if k == "rural_annual" else v
            if v < 0:
                continue  # _fen says so
            if monthly < MONTHLY_LEAST or monthly > most:
                msg = (_("{where}: {value} a year is {monthly} a month, outside {least}-{most} yuan a month (a typing error?); "
                         "fix the cell, or pass --standards-max for a higher standard") if k == "rural_annual" else
                       _("{where}: {value} yuan a month is outside {least}-{most} (an annual figure in a monthly column, or a "
                         "typing error?); fix the cell, or pass --standards-max for a higher standard"))
                raise InputError(msg.format(where=where(k), value=v, monthly=(v / 12).quantize(Decimal("0.01")),
                                            least=MONTHLY_LEAST, most=most))
        urban12 = _fen(values["urban_monthly"], where("urban_monthly")) * 12
        if "rural_monthly" in values:
            rural12, basis = _fen(values["rural_monthly"], where("rural_monthly")) * 12, "monthly"
            if "rural_annual" in values:
                annual = _fen(values["rural_annual"], where("rural_annual"), per=12)
                if annual != rural12:  # both given: they must say the same (annual = monthly x 12)
                    raise InputError(
                        _("{where}: {annual} a year disagrees with {column!r} {monthly} a month (x 12 = {times12}); "
                              "give one of them, or make them agree").format(
                            where=where('rural_annual'), annual=values['rural_annual'], column=header[cols['rural_monthly']], monthly=values['rural_monthly'], times12=Decimal(rural12) / 100))
        elif "rural_annual" in values:
            rural12, basis = _fen(values["rural_annual"], where("rural_annual"), per=12), "annual"
        else:
            raise InputError(_("{where}: neither rural_monthly nor rural_annual is given").format(where=where()))
        std = Standard(region, eff, urban12, rural12, n, basis)
        key = (region, eff)
        if key in seen:
            first = seen[key]
            if (first.urban12, first.rural12) != (urban12, rural12):
                raise InputError(_("{where}: {region} from {eff} is already given on data row {row} with other values; keep "
                      "one row").format(
                    where=where(), region=region, eff=eff, row=first.source_row))
            continue  # the same row twice: harmless
        seen[key] = std
        out.append(std)
    return Standards(out, path, sha256_file(path), sample=sample)
