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
    "published": ("published", "发布日期", "公布日期", "发布时间"),  # optional: the day the index was released
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
    releases: list[dict] | None = None,
) -> list[Observation]:
    """Parse a figures file; any bad row is an InputError naming file, row and field. A row whose
    value is blank (a month not filled in on the `fetch template` form) or whose first field
    starts with '#' (the form's instructions) is skipped; its data-row number is added to `skipped`.
    A `published`/`发布日期` column gives the day each month's index was released: one dict per
    (region, month) is added to `releases` (store.series.SeriesStore.upsert_releases)."""
    path = Path(path)
    header, rows = read_table(path, sheet=sheet, aliases=FIGURE_COLUMNS)  # the header row found by these names
    cols = find_columns(header, FIGURE_COLUMNS, ("region_code", "month", "indicator", "value"), path)
    ref = f"{path.name} sha256:{sha256_file(path)}"
    stamp = now_utc()
    out: list[Observation] = []
    seen: dict[tuple[str, str, str], int] = {}
    for n, row in enumerate(rows, start=1):
        def cell(key: str) -> str:
            i = cols.get(key, len(row))
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
        if cell("published") and releases is not None:
            _add_release(releases, _("{where}, field published").format(where=where), region, month, cell("published"), ref)
    return out


def parse_release_day(raw: str):
    """A release day as officers type it: 2019-12-16, 2019/12/16, 2019年12月16日, 20191216 (a date
    cell read as text may carry a time of 00:00:00). None when it is not a date."""
    import re
    from datetime import date

    t = unicodedata.normalize("NFKC", raw).strip()
    t = re.sub(r"[ T]00:00(:00)?$", "", t)
    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", t) or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", t)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _add_release(releases: list[dict], where: str, region: str, month: str, raw: str, ref: str) -> None:
    from datetime import date

    from cpi_link.core.months import add_months

    day = parse_release_day(raw)
    if day is None:
        raise InputError(_("{where}: {value!r} is not a date (type it as 2019-12-16)").format(where=where, value=raw))
    if day.strftime("%Y-%m") < add_months(month, 1) or day > date.today():
        raise InputError(_("{where}: {day} cannot be the release of {month}'s index (it is published from the month "
                           "after, and not in the future)").format(where=where, day=day.isoformat(), month=month))
    for r in releases:
        if (r["region_code"], r["index_month"]) == (region, month):
            if r["published"] != day.isoformat():
                raise InputError(_("{where}: {region} {month} was released on {other} on an earlier row, not {day}").format(
                    where=where, region=region, month=month, other=r["published"], day=day.isoformat()))
            return
    releases.append({"region_code": region, "index_month": month, "published": day.isoformat(), "source": "file",
                     "source_ref": ref})
