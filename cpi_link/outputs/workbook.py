"""The disbursement workbook (发放花名册) of one run, as XLSX (openpyxl).

- A cover sheet (封面): index month, the decision in words, rate, scheme + document, totals by
  county, and a loud warning when the rules are unverified or the standards are the sample.
- One sheet per county (region_code) with its payment rows and a total row.
- Money comes from payments.parquet as integer fen and is written as exact Decimals with two
  decimals; the total rows are values (not formulas) equal to the Parquet's sums to the fen.
- IDs and bank accounts are text cells (number format '@'), so Excel never turns them into
  1.40105E+17.
- Formula injection: every text cell is written as an explicit string (never a formula) with
  Excel's quote prefix set, so "=HYPERLINK(...)" in a name shows as text and never runs.
- The file is written to a temp file beside the destination, made owner-only (0600) and renamed.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

from cpi_link.outputs.report import Run, check_totals, prefecture_of, summarise

HEADERS = [
    ("序号", 6), ("身份证号", 22), ("姓名", 12), ("保障类别", 16), ("行政区划代码", 12), ("城乡", 6),
    ("保障人数", 8), ("低保标准（元/月）", 14), ("标准适用地区", 12), ("上涨幅度（%）", 12),
    ("人均补贴（元）", 12), ("补贴金额（元）", 14), ("银行账号", 24), ("领取人签字", 14),
]
AREA_ZH = {"urban": "城市", "rural": "农村"}
MONEY_FMT = "#,##0.00"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def _yuan(fen: int) -> Decimal:
    return (Decimal(int(fen)) / 100).quantize(Decimal("0.01"))


def put(ws, row: int, col: int, value, text: bool = False, number_format: str | None = None):
    """Write one cell safely: strings are always explicit strings (never formulas)."""
    from openpyxl.cell.cell import TYPE_STRING

    cell = ws.cell(row=row, column=col)
    if value is None:
        cell.value = None
    elif isinstance(value, str) or text:
        s = "" if value is None else str(value)
        cell.value = s
        cell.data_type = TYPE_STRING  # openpyxl would otherwise treat "=..." as a formula
        cell.number_format = "@"
        if s[:1] in _FORMULA_START:
            cell.quotePrefix = True  # Excel shows it as text even after editing the cell
    else:
        cell.value = value
        if number_format:
            cell.number_format = number_format
    return cell


def _sheet_title(code: str, used: set) -> str:
    bad = set('[]:*?/\\')
    t = "".join("_" if c in bad else c for c in str(code))[:31] or "地区"
    base, k = t, 2
    while t in used:
        t = f"{base[:28]}-{k}"
        k += 1
    used.add(t)
    return t


def write_workbook(run: Run, dest: Path, mask_ids: bool = False) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    from cpi_link.core.categories import CATEGORY_LABELS
    from cpi_link.core.decimals import fmt_pct
    from cpi_link.core.privacy import mask_id
    from cpi_link.core.money import fen_to_yuan_str

    bold = Font(bold=True)
    title_font = Font(bold=True, size=16)
    warn_font = Font(bold=True, color="FFFFFF", size=14)
    warn_fill = PatternFill("solid", fgColor="C00000")
    head_fill = PatternFill("solid", fgColor="DDEBF7")

    wb = Workbook()
    cover = wb.active
    cover.title = "封面"
    cover.column_dimensions["A"].width = 22
    for c in "BCDE":
        cover.column_dimensions[c].width = 18
    cover.column_dimensions["F"].width = 60
    r = 1
    label = f"　{run.manifest['label']}" if run.manifest.get("label") else ""  # a top-up run: 补发 for which month
    put(cover, r, 1, f"价格临时补贴发放花名册（统计月份 {run.month}）{label}").font = title_font
    r += 2
    warnings = []
    if not run.verified:
        warnings.append("警告：本月适用的规则未经核实（verified = false），其数值未与文件原文核对。发放前请核对（cpi-link scheme show）。"
                        " WARNING: the rules in force are UNVERIFIED; check them against the document before paying.")
    if run.sample_standards:
        warnings.append("警告：低保标准使用的是演示用样例数据，并非官方标准。WARNING: the standards are the bundled SAMPLE, not official figures.")
    problems = check_totals(run)
    for p in problems:
        warnings.append(f"警告：合计不一致 WARNING: totals disagree: {p}")
    for w in warnings:
        cover.merge_cells(start_row=r, start_column=1, end_row=r, end_column=6)
        cell = put(cover, r, 1, w)
        cell.font, cell.fill = warn_font, warn_fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        cover.row_dimensions[r].height = 48
        r += 1
    if warnings:
        r += 1

    sch = run.scheme
    dec = run.decisions
    first = dec[0] if dec else {}
    rate = f"{first.get('rate_pct')}%（{first.get('indicator')}）" if first.get("triggered") else "—"
    info = [
        ("统计月份", run.month),
        ("是否启动", "启动" if run.triggered else "未启动"),
        ("补贴比例（上涨幅度）", rate if len(dec) <= 1 else "按设区市分别确定，见各行"),
        ("决定说明", " / ".join(d.get("reason", "") for d in dec)),
        ("居民消费价格同比（%）", first.get("cpi_yoy_pct") or "—"),
        ("食品价格同比（%）", first.get("food_yoy_pct") or "—"),
        ("启动条件（%）", ", ".join(f"{k} ≥ {v}" for k, v in (first.get("thresholds") or {}).items())),
        ("联动机制方案", f"{sch.get('name', '')}：{sch.get('title', '')}"),
        ("适用版本", " + ".join([sch.get("version", "")] + list(sch.get("overlays", [])))),
        ("依据文件", "；".join(sch.get("documents", []))),
        ("规则是否核实", "已核实" if run.verified else "未核实（UNVERIFIED）"),
        ("发放行数", len(run.payments)),
        ("保障人数合计", run.persons),
        ("补贴金额合计（元）", _yuan(run.total_fen)),
        ("运行编号 run_id", run.run_id),
        ("生成时间 created_at", run.manifest.get("created_at", "")),
        ("身份证号", "已遮蔽（仅供外发）" if mask_ids else "完整（内部使用，注意保密）"),
    ]
    for k, v in info:
        put(cover, r, 1, k).font = bold
        cover.merge_cells(start_row=r, start_column=2, end_row=r, end_column=6)
        if isinstance(v, Decimal):
            put(cover, r, 2, v, number_format=MONEY_FMT)
        elif isinstance(v, int):
            put(cover, r, 2, v)
        else:
            c = put(cover, r, 2, str(v))
            c.alignment = Alignment(wrap_text=True, vertical="top")
        r += 1

    # the county table on the cover
    r += 1
    summ = summarise(run)
    for j, h in enumerate(["设区市代码", "县（区）代码", "发放行数", "保障人数", "补贴金额（元）"], 1):
        c = put(cover, r, j, h)
        c.font, c.fill = bold, head_fill
    r += 1
    for row in summ["by_county"]:
        put(cover, r, 1, row["prefecture"], text=True)
        put(cover, r, 2, row["region_code"], text=True)
        put(cover, r, 3, row["rows"])
        put(cover, r, 4, row["persons"])
        put(cover, r, 5, _yuan(row["amount_fen"]), number_format=MONEY_FMT)
        r += 1
    put(cover, r, 1, "合计").font = bold
    put(cover, r, 3, int(len(run.payments))).font = bold
    put(cover, r, 4, run.persons).font = bold
    put(cover, r, 5, _yuan(run.total_fen), number_format=MONEY_FMT).font = bold
    cover_total_row = r

    # one sheet per county
    pay = run.payments
    used = {"封面"}
    if len(pay):
        pay = pay.sort_values(["region_code", "source_row"], kind="stable")
        for code, rows in pay.groupby("region_code", sort=True):
            ws = wb.create_sheet(_sheet_title(code, used))
            put(ws, 1, 1, f"价格临时补贴发放花名册　{code}（设区市 {prefecture_of(code)}）　统计月份 {run.month}{label}").font = Font(bold=True, size=13)
            for j, (h, w) in enumerate(HEADERS, 1):
                c = put(ws, 2, j, h)
                c.font, c.fill = bold, head_fill
                ws.column_dimensions[c.column_letter].width = w
            ws.freeze_panes = "A3"
            i = 3
            for n, p in enumerate(rows.itertuples(index=False), 1):
                pid = p.person_id if not mask_ids else mask_id(p.person_id)
                put(ws, i, 1, n)
                put(ws, i, 2, pid, text=True)
                put(ws, i, 3, p.name, text=True)
                put(ws, i, 4, CATEGORY_LABELS.get(p.category, p.category), text=True)
                put(ws, i, 5, p.region_code, text=True)
                put(ws, i, 6, AREA_ZH.get(p.area, p.area or ""), text=True)
                put(ws, i, 7, int(p.persons))
                put(ws, i, 8, _yuan(p.standard_fen), number_format=MONEY_FMT)
                put(ws, i, 9, p.standard_region, text=True)
                put(ws, i, 10, fmt_pct(Decimal(int(p.rate_h)) / 100), text=True)
                put(ws, i, 11, _yuan(p.amount_per_person_fen), number_format=MONEY_FMT)
                put(ws, i, 12, _yuan(p.amount_fen), number_format=MONEY_FMT)
                bank = getattr(p, "bank_account", None)
                put(ws, i, 13, bank if isinstance(bank, str) else None, text=isinstance(bank, str))
                i += 1
            put(ws, i, 1, "合计").font = bold
            put(ws, i, 3, f"{len(rows)} 行").font = bold
            put(ws, i, 7, int(rows["persons"].sum())).font = bold
            put(ws, i, 12, _yuan(int(rows["amount_fen"].sum())), number_format=MONEY_FMT).font = bold
            put(ws, i + 2, 1, "经办人：")
            put(ws, i + 2, 5, "审核人：")
            put(ws, i + 2, 9, "负责人：")
    else:
        put(cover, cover_total_row + 2, 1, f"本月无发放记录（{'未启动' if not run.triggered else '无符合条件的人员'}）。 "
            f"No payments in this run (total {fen_to_yuan_str(run.total_fen)}).")

    dest = Path(dest)
    if dest.exists() and dest.is_dir():
        from cpi_link.core.errors import UsageError

        raise UsageError(f"--xlsx {dest} is a folder; give a file name ending .xlsx")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.tmp-{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            wb.save(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest
