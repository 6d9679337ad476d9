"""The file-import form (SPEC 4.1 `fetch template`): the sheet an officer fills in from the official
release and imports with `fetch --source file`. Chinese headers, one row per month x indicator,
the value blank, and where the official figure is published."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from cpi_link.core.errors import UsageError
from cpi_link.core.i18n import _

HEADER = ["地区代码", "月份", "指标", "指数", "发布日期", "备注"]  # read back by sources.file (备注 is ignored)
INDICATOR_LABELS = {"cpi": "居民消费价格指数", "food": "食品价格", "scpi": "城镇低收入居民基本生活费用价格指数"}

# who publishes each region's monthly figures (a province's are released by its NBS survey team)
PUBLISHERS = {
    "000000": "国家统计局 (www.stats.gov.cn, 统计数据 → 数据发布 → 居民消费价格)",
    "140000": "国家统计局山西调查总队 (sxzd.stats.gov.cn, 数据发布)",
}


def publisher(region: str) -> str:
    return PUBLISHERS.get(region, "国家统计局 and the province's 国家统计局调查总队 (its 数据发布 pages)")


def instructions(regions: list[str]) -> list[str]:
    where = "; ".join(f"{r}: {publisher(r)}" for r in regions)
    return [
        "说明: 在“指数”列填写官方发布的指数（上年同月=100，如 103.5，保留一位小数），不要填涨幅。",
        f"数据来源: {where}。",
        "“发布日期”可选：填写该月指数的官方发布日期（如 2019-12-16），付款期限从这一天起算；不填则按国家统计局的发布日期或惯例（次月 9 日至 12 日）。",
        "未填写指数的行在导入时跳过。填好后导入: cpi-link fetch --source file --file 本文件",
    ]


def rows(regions: list[str], months: list[str], indicators: list[str]) -> list[list[str]]:
    return [[r, m, INDICATOR_LABELS[i], "", "", ""] for r in regions for m in months for i in indicators]


def write_template(path: Path, regions: list[str], months: list[str], indicators: list[str]) -> int:
    """Write the form (.xlsx: the form on the first sheet, instructions on 说明; .csv: UTF-8 with
    BOM so Excel opens it, a '#' instructions row under the header). Returns the rows written."""
    from cpi_link.core.atomic import write_bytes

    body = rows(regions, months, indicators)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        import openpyxl
        from openpyxl.styles import Font

        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "指数"
        ws.append(HEADER)
        for c in ws[1]:
            c.font = Font(bold=True)
        for r in body:
            ws.append(r)
        for row in ws.iter_rows(min_row=2, max_col=5):
            for c in row[:2] + row[4:5]:
                c.number_format = "@"  # codes, months and dates stay text (000000 keeps its zeros)
        for col, width in zip("ABCDEF", (10, 10, 34, 10, 12, 40)):
            ws.column_dimensions[col].width = width
        info = wb.create_sheet("说明")
        for line in instructions(regions):
            info.append([line])
        info.column_dimensions["A"].width = 110
        buf = io.BytesIO()
        wb.save(buf)
        data = buf.getvalue()
    elif suffix == ".csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(HEADER)
        w.writerow(["# " + " ".join(instructions(regions)), "", "", "", "", ""])
        w.writerows(body)
        data = buf.getvalue().encode("utf-8-sig")
    else:
        raise UsageError(_("--out {path}: write .xlsx or .csv").format(path=path))
    write_bytes(path, data, mode=0o644)
    return len(body)
