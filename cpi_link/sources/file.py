"""Bringing figures into the store: an officer's file of official figures (the NBS client is sources.nbs)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from cpi_link.core.atomic import sha256_file
from cpi_link.core.decimals import parse_decimal
from cpi_link.core.errors import InputError, UsageError
from cpi_link.core.i18n import _
from cpi_link.core.months import number_month, number_month_message, parse_month
from cpi_link.core.regions import clean_code
from cpi_link.sources.observation import Observation, now_utc
from cpi_link.core.tabular import find_columns, read_table

FIGURE_COLUMNS = {
    "region_code": ("region_code", "地区代码", "行政区划代码"),
    "month": ("month", "月份", "统计月份"),
    "indicator": ("indicator", "指标", "指标名称"),
    "value": ("value", "指数", "index", "数值"),
}

# An index 上年同月=100 outside this band is a typing error (YoY of -50% or +100%).
PLAUSIBLE_MIN, PLAUSIBLE_MAX = Decimal(50), Decimal(200)

INDICATOR_NAMES = {
    "cpi": "cpi",
    "居民消费价格指数": "cpi",
    "居民消费价格": "cpi",
    "food": "food",
    "食品": "food",
    "食品价格": "food",
    "食品价格指数": "food",
    "食品类居民消费价格指数": "food",
    "scpi": "scpi",
    "城镇低收入居民基本生活费用价格指数": "scpi",
}


def normalise_indicator(name: str) -> str | None:
    key = name.strip()
    return INDICATOR_NAMES.get(key.lower()) or INDICATOR_NAMES.get(key)


def read_figures_file(
    path: Path | str,
    regions: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    skipped: list[int] | None = None,
    sheet: str | int | None = None,
) -> list[Observation]:
    """Parse a figures file; any bad row is an InputError naming file, row and field. A row whose
    value is blank (a month not filled in on the `fetch template` form) or whose first field
    starts with '#' (the form's instructions) is skipped; its data-row number is added to `skipped`."""
    path = Path(path)
    header, rows = read_table(path, sheet=sheet, aliases=FIGURE_COLUMNS)  # the header row found by these names
    cols = find_columns(header, FIGURE_COLUMNS, tuple(FIGURE_COLUMNS), path)
    ref = f"{path.name} sha256:{sha256_file(path)}"
    stamp = now_utc()
    out: list[Observation] = []
    seen: dict[tuple[str, str, str], int] = {}
    for n, row in enumerate(rows, start=1):
        def cell(key: str) -> str:
            i = cols[key]
            return row[i].strip() if i < len(row) else ""

        where = _("{file}: data row {row}").format(file=path.name, row=n)
        if row and row[0].strip().startswith("#"):
            continue
        if cell("value") == "":
            if skipped is not None:
                skipped.append(n)
            continue
        region = clean_code(cell("region_code"))
        if not (region.isascii() and region.isdigit() and len(region) in (6, 12)):
            raise InputError(_("{where}, field region_code: {region!r} is not a 6-digit region code").format(
                where=where, region=region))
        region = region[:6]
        if cols["month"] < len(row) and number_month(row[cols["month"]]):
            raise InputError(number_month_message(_("{where}, field month").format(where=where), row[cols["month"]]))
        try:
            month = parse_month(unicodedata.normalize("NFKC", cell("month")).strip())
        except UsageError:
            raise InputError(_("{where}, field month: {value!r} is not a month (YYYY-MM)").format(
                where=where, value=cell('month'))) from None
        if month > datetime.now().strftime("%Y-%m"):
            raise InputError(_("{where}, field month: {month} is in the future").format(where=where, month=month))
        indicator = normalise_indicator(cell("indicator"))
        if indicator is None:
            raise InputError(
                _("{where}, field indicator: {value!r} is not cpi/food/scpi (or 居民消费价格指数/食品/SCPI)").format(
                    where=where, value=cell('indicator'))
            )
        raw = cell("value")
        try:
            value = parse_decimal(raw)
        except ValueError:
            raise InputError(_("{where}, field value: {raw!r} is not a number").format(where=where, raw=raw)) from None
        if not (PLAUSIBLE_MIN <= value <= PLAUSIBLE_MAX):
            raise InputError(
                _("{where}, field value: {raw} is not a plausible index (上年同月=100 gives values like 103.5)").format(
                    where=where, raw=raw)
            )
        if value != value.quantize(Decimal("0.1")):  # SPEC 2: a published index has one decimal
            raise InputError(_("{where}, field value: {raw} has more than one decimal; a published index has one (e.g. "
                               "102.3): type it as published").format(where=where, raw=raw))
        key = (region, indicator, month)
        if key in seen:
            raise InputError(_("{where}: {region} {indicator} {month} already given on data row {row}").format(
                where=where, region=region, indicator=indicator, month=month, row=seen[key]))
        seen[key] = n
        if regions and region not in regions:
            continue
        if (since and month < since) or (until and month > until):
            continue
        out.append(Observation(region, indicator, month, value, "file", ref, stamp))
    return out
