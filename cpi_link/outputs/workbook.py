"""The disbursement workbook (发放花名册) of one run, as XLSX written by xlsxwriter in constant-memory
mode (rows streamed to disk, so 200k rows stay within a few hundred MB; outputs/xlsx.py), laid out
to be printed and signed, in Chinese whole whatever the command line's language:

- 封面 (cover), portrait A4 fitted to one page: the decision in the words of the scheme's method
  (a flat scheme by its amounts, a proportional one by its rate), the documents, each figure with
  its region, source and fetch time (Beijing time), the totals with the amount in words, the cost
  by funder when the scheme names funding, the counties with their names, a loud warning when the
  rules are unverified or the standards are the sample, and the signature block.
- One sheet per county (region_code): landscape A4, one page wide, title (with the county's and
  its city's names) and header rows repeated on every page, borders, rows tall enough to sign,
  page numbers per county ("第 &P 页 共 N 页", numbering restarted on each sheet), a flat scheme
  without the standard and rise columns, 合计 with its amount in words at the end and the
  经办人/审核人/负责人 line on the same page (manual page breaks every ROWS_PER_PAGE rows, the
  last one moved so the tail never starts a page alone).
- 未发放名单: every rejected row with the row number the officer sees (file_row, else source_row),
  the name, the masked ID, and the reason and detail in Chinese.

Money comes from payments.parquet as integer fen and is written as exact Decimal cell values
(the XML holds "57.00", never a binary float's digits) with a number format; totals are the
Parquet's sums to the fen. IDs and accounts are text cells ('@'); every text is written with
write_string (never a formula) and text starting like a formula gets Excel's quote prefix.
The file is written to a temp file beside the destination, made owner-only (0600) and renamed.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

from cpi_link.core.categories import CATEGORIES
from cpi_link.core.cells import FORMULA_START as _FORMULA_START
from cpi_link.outputs.report import Run, check_totals, load_rejected, prefecture_of, summarise
from cpi_link.rules.trigger import INDICATOR_ZH, paid_how_zh

HEADERS = [
    ("序号", 5), ("身份证号", 19), ("姓名", 9), ("保障类别", 10), ("行政区划代码", 8), ("城乡", 5),
    ("保障人数", 5), ("低保标准（元/月）", 9), ("标准适用地区", 7), ("上涨幅度（%）", 7),
    ("人均补贴（元）", 8), ("补贴金额（元）", 9), ("银行账号", 20), ("领取人签字", 12),
]
# a flat-amount scheme pays by category whatever the standard and the rise: those columns would
# only make a reviewer ask how 650 x 19.4% makes 30
PROPORTIONAL_ONLY = ("低保标准（元/月）", "标准适用地区", "上涨幅度（%）")
# carried from the roster when a county's rows have them (payments township, village, remark):
# 乡镇/村 after 城乡, 备注 before the signature, narrow and wrapped (9 pt, two lines in a row) so
# that a proportional sheet with all of them still prints at 80 % or more (`make print-check`)
PLACE_HEADERS = (("township", "乡镇（街道）", 8), ("village", "村（社区）", 8))
REMARK_HEADER = ("备注", 12)
REJECTED_HEADERS = [("序号", 6), ("名册行号", 9), ("姓名", 12), ("身份证号（已遮蔽）", 21), ("未发放原因", 44), ("说明", 60)]
AREA_ZH = {"urban": "城市", "rural": "农村"}
FUNDER_ZH = {"central": "中央财政", "province": "省级财政", "provincial": "省级财政", "prefecture": "市级财政",
             "city": "市级财政", "county": "县级财政", "local": "地方财政"}
MONEY_FMT = "#,##0.00"
_CATEGORY_CODE = re.compile(r"(?<![A-Za-z_])(?:" + "|".join(sorted(CATEGORIES, key=len, reverse=True)) + r")(?![A-Za-z_])")

# Page geometry (A4 landscape, margins in inches): the columns above fit the width at 100 %, so
# a page holds the 2 title rows plus ~16 rows of ROW_PT; breaks every 15 rows leave a margin.
ROW_PT, TITLE_PT, HEADER_PT, SIGN_PT = 27, 22, 32, 40
# the cover's three signature rows (11 mm each): a tall cover fitted to one page by LibreOffice
# loses its last row when taller (make print-check, a 150-row county's cover)
COVER_SIGN_PT = 32
ROWS_PER_PAGE = 15
MAX_BREAKS = 1023  # Excel's limit of manual page breaks per sheet
FOOTER = "&C第 &P 页 共 &N 页"


def _yuan(fen: int) -> Decimal:
    return Decimal(int(fen)).scaleb(-2)


def _yuan_cache(values) -> list:
    """Exact Decimals for a column of fen, built once per distinct amount (amounts repeat)."""
    cache: dict[int, Decimal] = {}
    out = []
    for f in values:
        d = cache.get(f)
        if d is None:
            d = cache[f] = _yuan(f)
        out.append(d)
    return out


def _sheet_title(code: str, used: set) -> str:
    bad = set('[]:*?/\\')
    t = "".join("_" if c in bad else c for c in str(code))[:31] or "地区"
    base, k = t, 2
    while t in used:
        t = f"{base[:28]}-{k}"
        k += 1
    used.add(t)
    return t


def page_breaks(n_rows: int, first_data_row: int = 2) -> list[int]:
    """0-based sheet rows that start a new page for n data rows followed by 合计 and the signature
    row: every ROWS_PER_PAGE rows, and the last page keeps at least two data rows with the tail."""
    if n_rows <= 0:
        return []
    breaks = list(range(ROWS_PER_PAGE, n_rows, ROWS_PER_PAGE))
    last = n_rows - (breaks[-1] if breaks else 0)
    if last > ROWS_PER_PAGE - 3:  # the tail (合计 + signatures, ~2.5 rows) would not fit after them
        breaks.append(n_rows - 2 if n_rows > 2 else n_rows)
    breaks = sorted({b for b in breaks if 0 < b <= n_rows})
    if len(breaks) > MAX_BREAKS:
        return []  # too many pages for manual breaks: the application breaks pages itself
    return [first_data_row + b for b in breaks]


def _mask_series(ids):
    from cpi_link.core.privacy import SEPARATORS

    s = ids.fillna("").astype(str).str.strip()
    compact = s.str.replace(SEPARATORS, "", regex=True)  # an ID written in digit groups: masked as the ID
    s = compact.where(compact.str.fullmatch(r"\d{14,17}[\dXx]"), s)
    long = s.str.len() >= 11
    masked = s.str[:6] + "********" + s.str[-4:]
    return masked.where(long, s.str.replace(r".", "*", regex=True))


def _est_lines(text: str, width_chars: float) -> int:
    """Printed lines of a wrapped cell: CJK characters take two width units."""
    units = sum(2 if ord(c) > 0x2E80 else 1 for c in text)
    return max(1, -(-units // max(1, int(width_chars * 0.95))))


def _decision_zh(d: dict, rules: dict | None = None) -> str:
    from cpi_link.core.regions import region_label

    if not d:
        return "—"
    parts = []
    if d.get("cpi_yoy_pct") is not None:
        parts.append(f"居民消费价格同比上涨 {d['cpi_yoy_pct']}%")
    if d.get("food_yoy_pct") is not None:
        parts.append(f"食品价格同比上涨 {d['food_yoy_pct']}%")
    if d.get("scpi_yoy_pct") is not None:
        parts.append(f"城镇低收入居民基本生活费用价格同比上涨 {d['scpi_yoy_pct']}%")
    th = d.get("thresholds") or {}
    cond = "、".join(f"{INDICATOR_ZH.get(k, k)} ≥ {v}%" for k, v in th.items())
    who = f"（{region_label(d['region_code'])}）" if d.get("region_code") else ""
    text = "，".join(parts) + who
    if d.get("triggered"):
        text += f"，达到启动条件（{cond}），启动联动机制，{paid_how_zh(rules or {}, d)}价格临时补贴。"
    else:
        text += f"，未达到启动条件（{cond}），本月不启动。" if cond else "，本月不启动。"
    return text.lstrip("，")


class _Formats:
    def __init__(self, wb):
        base = {"font_size": 10, "valign": "vcenter", "border": 1}
        self.title = wb.add_format({"bold": True, "font_size": 14, "valign": "vcenter"})
        self.head = wb.add_format({**base, "bold": True, "bg_color": "#DDEBF7", "text_wrap": True, "align": "center"})
        self.text = wb.add_format({**base, "num_format": "@"})
        self.text_wrap = wb.add_format({**base, "num_format": "@", "text_wrap": True})
        # the roster's own words (乡镇, 村, 备注): wrapped at 9 pt, a longer one at 7.5 pt, so it
        # stays inside its cell and never runs into the signature column
        roster = {**base, "num_format": "@", "text_wrap": True, "font_size": 9}
        self.roster = wb.add_format(roster)
        self.roster_q = wb.add_format({**roster, "quote_prefix": True})
        self.roster_long = wb.add_format({**roster, "font_size": 7.5})
        self.roster_long_q = wb.add_format({**roster, "font_size": 7.5, "quote_prefix": True})
        self.text_q = wb.add_format({**base, "num_format": "@", "quote_prefix": True})
        self.int = wb.add_format({**base, "num_format": "0"})
        self.money = wb.add_format({**base, "num_format": MONEY_FMT})
        self.blank = wb.add_format(base)
        self.bold_text = wb.add_format({**base, "bold": True, "num_format": "@"})
        self.bold_int = wb.add_format({**base, "bold": True, "num_format": "0"})
        self.bold_money = wb.add_format({**base, "bold": True, "num_format": MONEY_FMT})
        self.sign = wb.add_format({"font_size": 11, "valign": "bottom"})
        self.key = wb.add_format({"bold": True, "font_size": 10, "valign": "top", "border": 1, "text_wrap": True, "bg_color": "#F2F2F2"})
        self.val = wb.add_format({"font_size": 10, "valign": "top", "border": 1, "text_wrap": True, "num_format": "@"})
        self.val_money = wb.add_format({"font_size": 10, "valign": "top", "border": 1, "num_format": MONEY_FMT, "align": "left"})
        self.val_int = wb.add_format({"font_size": 10, "valign": "top", "border": 1, "num_format": "0", "align": "left"})
        self.warn = wb.add_format({"bold": True, "font_color": "#FFFFFF", "bg_color": "#C00000", "font_size": 12,
                                   "text_wrap": True, "valign": "vcenter"})
        self.words = wb.add_format({**base, "bold": True, "num_format": "@", "text_wrap": True, "font_size": 9})
        self.note = wb.add_format({"font_size": 9, "italic": True, "text_wrap": True, "valign": "top"})


def _print_setup(ws, landscape: bool, title_rows: int | None, fit_height: int = 0) -> None:
    ws.set_paper(9)  # A4
    if landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    ws.set_margins(left=0.3, right=0.3, top=0.55, bottom=0.6)  # 7.6 mm at the sides: within what printers reach
    ws.fit_to_pages(1, fit_height)
    ws.center_horizontally()
    if title_rows:
        ws.repeat_rows(0, title_rows - 1)
    ws.set_footer(FOOTER, {"margin": 0.25})


def _put_text(ws, r: int, c: int, s, fmt, fmt_q) -> None:
    s = "" if s is None else str(s)
    ws.write_string(r, c, s, fmt_q if s[:1] in _FORMULA_START else fmt)


def _cover(wb, F: _Formats, run: Run, mask_ids: bool, rejected_rows: int) -> None:
    from cpi_link.core.money import rmb_upper, split_by_funder
    from cpi_link.core.regions import region_label
    from cpi_link.core.times import beijing

    ws = wb.add_worksheet("封面")
    _print_setup(ws, landscape=False, title_rows=None, fit_height=1)
    ws.set_start_page(1)
    ws.set_footer("&C第 &P 页 共 1 页", {"margin": 0.25})
    widths = [18, 15, 12, 10, 30, 17]  # 来源 (col 4) wide: a source with its address wraps to few lines
    for j, w in enumerate(widths):
        ws.set_column(j, j, w)
    span = sum(widths[1:])
    r = 0
    ws.set_row(r, 30)
    label = f"　{run.manifest['label']}" if run.manifest.get("label") else ""  # a top-up run: 补发 for which month
    ws.write_string(r, 0, f"价格临时补贴发放花名册（统计月份 {run.month}）{label}", F.title)
    r += 2
    warnings = []
    if not run.verified:
        warnings.append("警告：本月适用的规则未经核实（方案文件中 verified = false），其数值尚未与文件原文核对。"
                        "发放前请核对（cpi-link scheme show）。")
    if run.sample_standards:
        warnings.append("警告：低保标准使用的是演示用样例数据，并非官方标准，本表金额不能据以发放。")
    if check_totals(run):
        warnings.append("警告：发放明细、分类汇总与运行记录中的合计金额不一致，不得据此发放（详见 cpi-link report）。")
    for w in warnings:
        ws.set_row(r, 15 * _est_lines(w, sum(widths) * 0.8) + 8)
        ws.merge_range(r, 0, r, 5, w, F.warn)
        r += 1
    if warnings:
        r += 1

    def kv(key: str, value, fmt=None) -> None:
        nonlocal r
        if isinstance(value, Decimal):
            ws.write_string(r, 0, key, F.key)
            ws.merge_range(r, 1, r, 5, None, F.val_money)
            ws.write_number(r, 1, value, F.val_money)
        elif isinstance(value, int):
            ws.write_string(r, 0, key, F.key)
            ws.merge_range(r, 1, r, 5, None, F.val_int)
            ws.write_number(r, 1, value, F.val_int)
        else:
            text = str(value)
            ws.set_row(r, max(15 * _est_lines(text, span), 15 * _est_lines(key, widths[0])) + 3)
            ws.write_string(r, 0, key, F.key)
            ws.merge_range(r, 1, r, 5, text, F.val)
        r += 1

    sch = run.scheme
    dec = run.decisions
    rules = run.rules
    first = dec[0] if dec else {}
    kv("统计月份", run.month)
    kv("是否启动", "启动" if run.triggered else "未启动")
    if run.flat:
        kv("补贴标准", f"{paid_how_zh(rules, first)}（定额，不按低保标准和上涨幅度计算）" if run.triggered else "—")
    else:
        rate = f"{first.get('rate_pct')}%（{INDICATOR_ZH.get(first.get('indicator'), first.get('indicator'))}）" if first.get("triggered") else "—"
        kv("补贴比例（上涨幅度）", rate if len(dec) <= 1 else "按设区市分别确定，见各行")
    kv("决定说明", "\n".join(_decision_zh(d, rules) for d in dec) or "—")
    th = first.get("thresholds") or {}
    kv("启动条件（%）", "，".join(f"{INDICATOR_ZH.get(k, k)} ≥ {v}" for k, v in th.items()) or "—")
    kv("联动机制方案", f"{sch.get('title', '')}（{sch.get('name', '')}）")
    kv("适用版本", " + ".join([sch.get("version", "")] + list(sch.get("overlays", []))))
    kv("依据文件", "；".join(sch.get("documents", [])) or "—")
    kv("规则是否核实", "已核实" if run.verified else "未核实")

    # the figures the decision used, each with its source and when it was fetched (Beijing time)
    figs = [(d.get("region_code", ""), k, f) for d in dec for k, f in (d.get("figures") or {}).items() if isinstance(f, dict)]
    r += 1
    ws.write_string(r, 0, "价格指数及来源", F.title)
    r += 1
    fig_heads = ["指标", "地区 / 月份", "指数（上年同月=100）", "同比（%）", "来源", "获取时间（北京时间）"]
    ws.set_row(r, 15 * max(_est_lines(h, w) for h, w in zip(fig_heads, widths)) + 3)  # a header that wraps stays inside
    for j, h in enumerate(fig_heads):
        ws.write_string(r, j, h, F.head)
    r += 1
    if not figs:
        ws.merge_range(r, 0, r, 5, "（本次运行未记录指数）", F.val)
        r += 1
    for region, k, f in figs:
        src = str(f.get("source_ref") or f.get("source") or "")
        src = re.sub(r"\s*sha256:[0-9a-f]{8,}", "", src)
        if src.startswith("bundled:"):  # the figures shipped with the tool: say so, then the file
            src = "随程序附带的数据（" + src.removeprefix("bundled:") + "）"
        src = {"file": "文件导入", "bundled": "随程序附带的数据", "nbs": "国家统计局网站"}.get(src, src)
        where = f"{region_label(f.get('region_code', region))} / {f.get('month', '')}"
        ws.set_row(r, 15 * max(_est_lines(src, widths[4]), _est_lines(INDICATOR_ZH.get(k, k), widths[0]),
                               _est_lines(where, widths[1])) + 3)
        ws.write_string(r, 0, INDICATOR_ZH.get(k, k), F.val)
        ws.write_string(r, 1, where, F.val)
        ws.write_string(r, 2, str(f.get("value", "")), F.val)
        ws.write_string(r, 3, str(f.get("yoy_pct", "")), F.val)
        ws.write_string(r, 4, src, F.val)
        ws.write_string(r, 5, beijing(f.get("fetched_at", "")), F.val)
        r += 1

    r += 1
    ws.write_string(r, 0, "合计", F.title)
    r += 1
    kv("发放行数", int(len(run.payments)))
    kv("保障人数合计", run.persons)
    kv("补贴金额合计（元）", _yuan(run.total_fen))
    kv("金额大写", rmb_upper(run.total_fen))
    kv("未发放行数", f"{rejected_rows} 行（见“未发放名单”）")
    kv("运行编号", run.run_id)
    kv("生成时间（北京时间）", beijing(run.manifest.get("created_at", "")))
    kv("身份证号", "已遮蔽（仅供外发）" if mask_ids else "完整（内部使用，注意保密）")

    funding = rules.get("funding") or {}
    if funding:
        r += 1
        ws.write_string(r, 0, "资金分担（按方案规定的比例）", F.title)
        r += 1
        for j, h in enumerate(["出资方", "分担比例", "金额（元）", "金额大写"]):
            if j < 3:
                ws.write_string(r, j, h, F.head)
        ws.merge_range(r, 3, r, 5, "金额大写", F.head)
        r += 1
        for item in split_by_funder(run.total_fen, funding):
            fen = int(Decimal(item["amount"]).scaleb(2))
            ws.write_string(r, 0, FUNDER_ZH.get(item["funder"], item["funder"]), F.val)
            ws.write_string(r, 1, f"{Decimal(item['share']) * 100:f}".rstrip("0").rstrip(".") + "%", F.val)
            ws.write_number(r, 2, _yuan(fen), F.money)
            ws.merge_range(r, 3, r, 5, rmb_upper(fen), F.val)
            r += 1

    summ = summarise(run)
    counties = summ["by_county"]
    table = counties if len(counties) <= 25 else summ["by_prefecture"]
    r += 1
    ws.write_string(r, 0, "分县（区）合计" if table is counties else "分设区市合计（各县见各工作表）", F.title)
    r += 1
    for j, h in enumerate(["设区市", "县（区）", "发放行数", "保障人数", "补贴金额（元）"]):
        ws.write_string(r, j, h, F.head)
    r += 1
    for row in table:
        county = region_label(str(row["region_code"]), run.month) if "region_code" in row else "—"
        pref = region_label(str(row["prefecture"]), run.month)
        ws.set_row(r, 15 * max(_est_lines(pref, widths[0]), _est_lines(county, widths[1])) + 3)
        ws.write_string(r, 0, pref, F.text_wrap)
        ws.write_string(r, 1, county, F.text_wrap)
        ws.write_number(r, 2, row["rows"], F.int)
        ws.write_number(r, 3, row["persons"], F.int)
        ws.write_number(r, 4, _yuan(row["amount_fen"]), F.money)
        r += 1
    ws.write_string(r, 0, "合计", F.bold_text)
    ws.write_blank(r, 1, None, F.blank)
    ws.write_number(r, 2, int(len(run.payments)), F.bold_int)
    ws.write_number(r, 3, run.persons, F.bold_int)
    ws.write_number(r, 4, _yuan(run.total_fen), F.bold_money)
    r += 1
    if not len(run.payments):
        r += 1
        ws.write_string(r, 0, f"本月无发放记录（{'未启动' if not run.triggered else '无符合条件的人员'}）。")
        r += 1
    # the signature block: who prepared, checked and approved the paper, and when
    r += 1
    for who in ("经办人（签字）：", "审核人（签字）：", "负责人（签字）："):
        ws.set_row(r, COVER_SIGN_PT)
        ws.write_string(r, 0, who, F.sign)
        ws.write_string(r, 3, "日期：　　　　年　　月　　日", F.sign)
        r += 1


def county_pages(n_rows: int) -> int | None:
    """The pages a county sheet of n rows prints on (its manual breaks + 1); None when it has too
    many pages for manual breaks and the application breaks them itself."""
    breaks = page_breaks(n_rows)
    if n_rows > ROWS_PER_PAGE and not breaks:
        return None
    return len(breaks) + 1


def _county_sheet(wb, F: _Formats, run: Run, code: str, rows, title: str, mask_ids: bool) -> None:
    import numpy as np

    from cpi_link.core.categories import CATEGORY_LABELS
    from cpi_link.core.decimals import fmt_pct
    from cpi_link.core.money import rmb_upper
    from cpi_link.core.regions import region_name

    def given(c: str) -> bool:
        return c in rows.columns and bool(rows[c].notna().any())

    full_codes = given("region_code_full")  # the 12-digit 统计用区划代码 in the code column
    headers = [h if h[0] != "行政区划代码" or not full_codes else (h[0], 12)
               for h in HEADERS if not (run.flat and h[0] in PROPORTIONAL_ONLY)]
    at = [h[0] for h in headers].index("城乡") + 1
    headers[at:at] = [(title, w) for c, title, w in PLACE_HEADERS if given(c)]
    if given("remark"):
        headers.insert(len(headers) - 1, REMARK_HEADER)
    col = {h: j for j, (h, _) in enumerate(headers)}
    ncols = len(headers)
    ws = wb.add_worksheet(title)
    _print_setup(ws, landscape=True, title_rows=2)
    n = len(rows)
    # page numbers run per county: numbering restarts on each sheet, the count is this sheet's
    pages = county_pages(n)
    ws.set_start_page(1)
    ws.set_footer(f"&C第 &P 页 共 {pages} 页" if pages else "&C第 &P 页", {"margin": 0.25})
    ws.set_default_row(ROW_PT)
    for j, (_, w) in enumerate(headers):
        ws.set_column(j, j, w)
    ws.set_row(0, TITLE_PT)
    ws.set_row(1, HEADER_PT)
    pref = prefecture_of(code)
    name = region_name(code, run.month) or ""
    pref_name = region_name(pref, run.month) or ""
    where = f"{code} {name}".strip() + (f"（{pref_name} {pref}）".replace("（ ", "（") if pref != code else "")
    ws.write_string(0, 0, f"价格临时补贴发放花名册　{where}　统计月份 {run.month}", F.title)
    for j, (h, _) in enumerate(headers):
        ws.write_string(1, j, h, F.head)
    ws.freeze_panes(2, 0)
    ws.set_h_pagebreaks(page_breaks(n))

    ids = (_mask_series(rows["person_id"]) if mask_ids else rows["person_id"].astype(str)).tolist()
    names_s = rows["name"].fillna("").astype(str)
    names = names_s.tolist()
    inj = names_s.str[:1].isin(_FORMULA_START).to_numpy()
    cats = rows["category"].map(lambda c: CATEGORY_LABELS.get(c, c)).tolist()
    regions_s = rows["region_code"].astype(str)
    if full_codes:
        regions_s = rows["region_code_full"].where(rows["region_code_full"].notna(), regions_s).astype(str)
    regions = regions_s.tolist()
    areas = rows["area"].map(lambda a: AREA_ZH.get(a, a or "")).tolist()
    persons = rows["persons"].to_numpy(dtype=np.int64).tolist()
    std = _yuan_cache(rows["standard_fen"].to_numpy(dtype=np.int64).tolist())
    std_region = rows["standard_region"].fillna("").astype(str).tolist()
    rate_cache: dict[int, str] = {}
    rates = [rate_cache.setdefault(h, fmt_pct(Decimal(h) / 100) or "") for h in rows["rate_h"].to_numpy(dtype=np.int64).tolist()]
    per = _yuan_cache(rows["amount_per_person_fen"].to_numpy(dtype=np.int64).tolist())
    amt = _yuan_cache(rows["amount_fen"].to_numpy(dtype=np.int64).tolist())
    bank = rows["bank_account"].tolist() if "bank_account" in rows.columns else [None] * n
    # the roster's own text (乡镇, 村, 备注): (column, values as written, None where empty)
    texts = [(col[title], w, rows[c].tolist()) for c, title, w in PLACE_HEADERS if title in col]
    if REMARK_HEADER[0] in col:
        from cpi_link.core.privacy import mask_digits

        remarks = rows["remark"].tolist()  # a copy that leaves the office (--mask-ids): IDs in a remark masked
        texts.append((col[REMARK_HEADER[0]], REMARK_HEADER[1],
                      [mask_digits(x) if mask_ids and isinstance(x, str) else x for x in remarks]))
    long_text: dict[tuple[str, int], bool] = {}  # (text, width) -> more than two lines at 9 pt

    ws_str, ws_num, ws_blank = ws.write_string, ws.write_number, ws.write_blank
    t, tq, tw, fi, fm, fb = F.text, F.text_q, F.text_wrap, F.int, F.money, F.blank
    c_std = col.get("低保标准（元/月）")
    c_code, c_area, c_persons = col["行政区划代码"], col["城乡"], col["保障人数"]
    c_per, c_amt, c_bank, c_sign = col["人均补贴（元）"], col["补贴金额（元）"], col["银行账号"], col["领取人签字"]
    r = 2
    for i in range(n):
        ws_num(r, 0, i + 1, fi)
        ws_str(r, 1, ids[i], t)
        ws_str(r, 2, names[i], tq if inj[i] else t)
        ws_str(r, 3, cats[i], tw)
        ws_str(r, c_code, regions[i], t)
        ws_str(r, c_area, areas[i], t)
        for j, w, values in texts:
            v = values[i]
            if isinstance(v, str) and v:
                long = long_text.get((v, w))
                if long is None:
                    long = long_text[(v, w)] = _est_lines(v, w * 10 / 9) > 2
                q = v[:1] in _FORMULA_START
                ws_str(r, j, v, (F.roster_long_q if q else F.roster_long) if long else (F.roster_q if q else F.roster))
            else:
                ws_blank(r, j, None, fb)
        ws_num(r, c_persons, persons[i], fi)
        if c_std is not None:
            ws_num(r, c_std, std[i], fm)
            ws_str(r, c_std + 1, std_region[i], t)
            ws_str(r, c_std + 2, rates[i], t)
        ws_num(r, c_per, per[i], fm)
        ws_num(r, c_amt, amt[i], fm)
        b = bank[i]
        if isinstance(b, str) and b:
            ws_str(r, c_bank, b, tq if b[:1] in _FORMULA_START else t)
        else:
            ws_blank(r, c_bank, None, fb)
        ws_blank(r, c_sign, None, fb)
        r += 1
    total = int(rows["amount_fen"].sum())
    ws.write_string(r, 0, "合计", F.bold_text)
    ws.write_string(r, 1, f"{n} 行", F.bold_text)
    ws.merge_range(r, 2, r, c_persons - 1, f"大写：{rmb_upper(total)}", F.words)
    ws.write_number(r, c_persons, int(rows["persons"].sum()), F.bold_int)
    for j in range(c_persons + 1, c_amt):
        ws.write_blank(r, j, None, F.blank)
    ws.write_number(r, c_amt, _yuan(total), F.bold_money)
    for j in range(c_amt + 1, ncols):
        ws.write_blank(r, j, None, F.blank)
    r += 1
    ws.set_row(r, SIGN_PT)
    quarter = max(1, ncols // 4)
    ws.write_string(r, 0, "经办人：", F.sign)
    ws.write_string(r, quarter, "审核人：", F.sign)
    ws.write_string(r, 2 * quarter, "负责人：", F.sign)
    ws.write_string(r, ncols - 2, "日期：　　年　　月　　日", F.sign)


def reason_words(code: str) -> str:
    """A reject reason in Chinese words (the catalog's, without the code)."""
    from cpi_link.core.i18n import language
    from cpi_link.roster.reasons import REASON_WORDS

    words = REASON_WORDS.get(code)
    if words is None:
        return code
    with language("zh"):
        return words()


def detail_words(details: list[str]) -> list[str]:
    """The rows' details (English in rejected.parquet) in Chinese, each distinct text once."""
    from cpi_link.core.i18n import language
    from cpi_link.roster.reasons import detail_text

    from cpi_link.core.categories import CATEGORY_LABELS

    def zh(d: str) -> str:  # a category code inside a detail (not covered: orphan) by its Chinese name
        return _CATEGORY_CODE.sub(lambda m: CATEGORY_LABELS[m.group(0)], detail_text(d))

    cache: dict[str, str] = {}
    with language("zh"):
        return [cache[d] if d in cache else cache.setdefault(d, zh(d)) for d in details]


def _rejected_sheet(wb, F: _Formats, run: Run, rej) -> None:
    ws = wb.add_worksheet("未发放名单")
    _print_setup(ws, landscape=True, title_rows=2)
    ws.set_start_page(1)
    ws.set_footer("&C未发放名单　第 &P 页", {"margin": 0.25})
    ws.set_default_row(20)
    # several rosters read as one: which file (and sheet) each row is in, the 说明 column narrower by as much
    several = "file" in rej.columns
    headers = (REJECTED_HEADERS[:1] + [("名册文件（工作表）", 18)] + REJECTED_HEADERS[1:5]
               + [(REJECTED_HEADERS[5][0], REJECTED_HEADERS[5][1] - 18)]) if several else REJECTED_HEADERS
    k = 1 if several else 0  # the columns after 序号 move right by one
    for j, (_, w) in enumerate(headers):
        ws.set_column(j, j, w)
    has_file_row = "file_row" in rej.columns
    ws.set_row(0, TITLE_PT)
    ws.write_string(0, 0, f"未发放名单　统计月份 {run.month}　共 {len(rej)} 行　"
                    + ("（名册行号 = 在 Excel 中看到的行号）" if has_file_row else "（名册行号 = 数据行序号，不含表头）"), F.title)
    for j, (h, _) in enumerate(headers):
        ws.write_string(1, j, h, F.head)
    ws.freeze_panes(2, 0)
    if not len(rej):
        ws.merge_range(2, 0, 2, len(headers) - 1, "无（名册中每一行均已发放）", F.text)
        return
    rows = rej["row"].tolist()
    from cpi_link.core.privacy import mask_digits

    names = [mask_digits(x) for x in rej["name"].astype(str).tolist()]  # a shifted row's ID in the name cell
    ids = _mask_series(rej["person_id"]).tolist()
    reasons = [reason_words(x) for x in rej["reason"].astype(str).tolist()]
    details = [mask_digits(d) for d in detail_words(rej["detail"].astype(str).tolist())]
    places = ([f + ("" if s is None or s != s else f"（{s}）") for f, s in zip(rej["file"].tolist(), rej["sheet"].tolist())]
              if several else None)
    r = 2
    for i in range(len(rows)):
        lines = max(_est_lines(reasons[i], headers[4 + k][1]), _est_lines(details[i], headers[5 + k][1]),
                    _est_lines(places[i], headers[1][1]) if several else 1)
        if lines > 1:  # wrapped text: a taller row, or the second line is cut off
            ws.set_row(r, 13 * lines + 5)
        ws.write_number(r, 0, i + 1, F.int)
        if several:
            _put_text(ws, r, 1, places[i], F.text_wrap, F.text_q)
        ws.write_number(r, 1 + k, int(rows[i]), F.int)
        _put_text(ws, r, 2 + k, names[i], F.text, F.text_q)
        ws.write_string(r, 3 + k, ids[i], F.text)
        ws.write_string(r, 4 + k, reasons[i], F.text_wrap)
        _put_text(ws, r, 5 + k, details[i], F.text_wrap, F.text_q)
        r += 1


def write_workbook(run: Run, dest: Path, mask_ids: bool = False) -> Path:
    from cpi_link.core.errors import UsageError
    from cpi_link.core.i18n import _
    from cpi_link.outputs.xlsx import open_workbook

    dest = Path(dest)
    if dest.exists() and dest.is_dir():
        raise UsageError(_("--xlsx {path} is a folder; give a file name ending .xlsx").format(path=dest))
    rej = load_rejected(run)
    dest.parent.mkdir(parents=True, exist_ok=True)
    from contextlib import ExitStack

    from cpi_link.core.atomic import scratch_for

    stack = ExitStack()  # the workbook and xlsxwriter's row files (full IDs) in a private folder, removed whatever the exit
    tmp = stack.enter_context(scratch_for(dest)) / dest.name
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        wb = open_workbook(tmp)
        F = _Formats(wb)
        _cover(wb, F, run, mask_ids, len(rej))
        pay = run.payments
        if len(pay):
            used = {"封面", "未发放名单"}
            pay = pay.sort_values(["region_code", "source_row"], kind="stable")
            for code, rows in pay.groupby("region_code", sort=True):
                _county_sheet(wb, F, run, str(code), rows, _sheet_title(code, used), mask_ids)
        _rejected_sheet(wb, F, run, rej)
        wb.close()
        os.chmod(tmp, 0o600)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        stack.close()
    return dest
