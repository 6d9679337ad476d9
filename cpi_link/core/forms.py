"""The officer's blank forms (`cpi-link template roster|standards`): the header row the readers
expect, every cell of a code, ID or account column formatted as text (so Excel keeps 18 digits
and leading zeros), drop-down lists where the values are fixed, and a 说明 sheet. XLSX through
openpyxl (shared by nothing else here: small files), or a CSV header with a BOM for Excel."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from cpi_link.core.errors import UsageError
from cpi_link.core.i18n import _

ROWS_FORMATTED = 2000  # rows made text-formatted and validated below the header


@dataclass
class Column:
    title: str
    width: int
    text: bool = True  # formatted as text ('@')
    choices: tuple[str, ...] = ()  # a drop-down list


@dataclass
class Form:
    sheet: str
    columns: list[Column]
    notes: list[str] = field(default_factory=list)


def roster_form() -> Form:
    from cpi_link.core.categories import CATEGORY_LABELS

    return Form("花名册", [
        Column("身份证号", 22), Column("姓名", 10), Column("保障类别", 18, choices=tuple(CATEGORY_LABELS.values())),
        Column("行政区划代码", 14), Column("城乡", 8, choices=("城市", "农村")), Column("保障人数", 10, text=False),
        Column("银行账号", 24),
    ], [
        "花名册填写说明（cpi-link template roster）",
        "每行一户（或一人），从第 2 行起填写；不要合并单元格，不要在表中加标题行、小计行或合计行。",
        "身份证号：18 位（末位可为 X），本表已设为文本格式；从其他表格粘贴时请用“选择性粘贴—数值”，不要让 Excel 转成数字。",
        "保障类别：从下拉列表中选择（城市低保、农村低保、城市特困、农村特困……）。",
        "行政区划代码：6 位县（区）代码，如 140105（小店区）。",
        "城乡：城市 或 农村；特困、优抚对象等按城乡发放的类别必填。",
        "保障人数：整数，不小于 1；空白按 1 人。",
        "银行账号：本表已设为文本格式，不要写成 6.22848E+18 这样的数字。",
        "填好后检查：cpi-link validate --roster 本文件；计算：cpi-link calc --month 月份 --roster 本文件 --standards 保障标准文件",
    ])


def standards_form() -> Form:
    return Form("保障标准", [
        Column("行政区划代码", 14), Column("执行日期", 12), Column("城市低保标准", 16, text=False),
        Column("农村低保标准", 16, text=False),
    ], [
        "低保标准填写说明（cpi-link template standards）",
        "每行一个地区的一次调整：行政区划代码（县、设区市 XXXX00 或全省 XX0000），执行日期（如 2019-07），城市和农村低保标准（元/月）。",
        "某人的标准按其县（区）代码的行查找，没有则用所属设区市的行，再没有则用全省的行；取执行日期不晚于统计月份的最新一行。",
        "农村标准按年公布的，可把表头改为“农村低保标准(年)”并填年标准，按 12 个月折算。",
        "标准以当地政府公布的文件为准；随程序附带的 data/sample/standards.csv 只是演示数据。",
        "使用：cpi-link calc --month 月份 --roster 花名册 --standards 本文件",
    ])


def write_form(path: Path, form: Form) -> None:
    """The form as .xlsx (a 说明 sheet beside it) or .csv (the header only, UTF-8 with a BOM)."""
    from cpi_link.core.atomic import write_bytes

    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        data = _xlsx(form)
    elif suffix == ".csv":
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerow([c.title for c in form.columns])
        data = buf.getvalue().encode("utf-8-sig")
    else:
        raise UsageError(_("--out {path}: write .xlsx or .csv").format(path=path))
    write_bytes(path, data)  # 0600: the officer fills IDs and accounts into it


def _xlsx(form: Form) -> bytes:
    import openpyxl
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = form.sheet
    ws.append([c.title for c in form.columns])
    for j, c in enumerate(form.columns, 1):
        cell = ws.cell(row=1, column=j)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        letter = get_column_letter(j)
        ws.column_dimensions[letter].width = c.width
        if c.text:  # formatted cells only: an empty styled cell is no data row for the readers
            for r in range(2, ROWS_FORMATTED + 2):
                ws.cell(row=r, column=j).number_format = "@"
        if c.choices:
            dv = DataValidation(type="list", formula1='"' + ",".join(c.choices) + '"', allow_blank=True)
            dv.error, dv.errorTitle = "请从下拉列表中选择", c.title
            ws.add_data_validation(dv)
            dv.add(f"{letter}2:{letter}{ROWS_FORMATTED + 1}")
    ws.freeze_panes = "A2"
    info = wb.create_sheet("说明")
    for line in form.notes:
        info.append([line])
    info["A1"].font = Font(bold=True)
    info.column_dimensions["A"].width = 120
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
