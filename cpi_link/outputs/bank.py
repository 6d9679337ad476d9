"""Files that leave the finance office (SPEC 6.1): the bank batch-payment (代发) file made from a
template TOML (config/banks/*.toml), and the 公示 list posted for the public with masked IDs and
names.

Money is integer fen from payments.parquet, written as yuan ("53.00") or fen ("5300") exactly.
Each file is written beside its destination (owner-only), read back, and its amounts summed:
the sum must equal the run's payments for the rows written to the fen, and written + left out
must equal the run's total, or the file is removed and the command fails.
"""

from __future__ import annotations

import csv
import io
import os
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from cpi_link.core.errors import UsageError
from cpi_link.outputs.report import Run, check_totals

FORMATS = ("csv", "txt", "xlsx")
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")
MONEY_FIELDS = {"amount": "amount_fen", "amount_per_person": "amount_per_person_fen", "standard": "standard_fen"}
TEXT_FIELDS = ("source_row", "person_id", "name", "category", "region_code", "area", "persons", "index_month",
               "indicator", "standard_region", "scheme", "version", "run_id", "bank_account", "seq")
TEMPLATE_KEYS = {"name", "format", "delimiter", "encoding", "header", "column", "sheet", "line_ending"}
COLUMN_KEYS = {"title", "field", "text", "format"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


@dataclass
class Column:
    title: str
    field: str | None = None
    text: str | None = None
    format: str | None = None  # money: "yuan" | "fen"


@dataclass
class Template:
    name: str
    path: Path
    format: str
    encoding: str = "utf-8"
    delimiter: str = ","
    header: bool = True
    sheet: str = "Sheet1"
    line_ending: str = "\r\n"
    columns: list[Column] = field(default_factory=list)


@dataclass
class FileResult:
    path: Path
    rows: int
    total_fen: int
    left_out: list[dict] = field(default_factory=list)  # source_row, name, person_id (masked), amount_fen
    left_out_fen: int = 0


def find_template(spec: str, config_dir: Path | None) -> Path:
    """A template path, or a name in CONFIG/banks (then the bundled config/banks)."""
    from cpi_link.core.paths import bundled_config_dir

    p = Path(spec)
    if p.suffix == ".toml" or os.sep in spec or p.exists():
        if p.exists() and not p.is_file():
            from cpi_link.core.inputs import check_input

            check_input(p, "config")  # a FIFO or a device: said so, never opened
        if not p.is_file():
            raise UsageError(f"--bank {spec}: no such template file")
        return p
    dirs = [d / "banks" for d in (config_dir, bundled_config_dir()) if d is not None]
    for d in dirs:
        if (d / f"{spec}.toml").is_file():
            return d / f"{spec}.toml"
    names = sorted({f.stem for d in dirs if d.is_dir() for f in d.glob("*.toml")})
    raise UsageError(f"--bank {spec}: no such template (bundled: {', '.join(names) or 'none'}; or give a path to a .toml file)")


def load_template(path: Path) -> Template:
    """Read and check a bank template (SPEC 6.1); UsageError naming the file and the key otherwise."""
    from cpi_link.core.inputs import read_input

    try:
        d = tomllib.loads(read_input(path, "config").decode("utf-8-sig"))  # Notepad saves with a BOM
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the bank template ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text; save the bank template as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None

    def bad(msg: str):
        return UsageError(f"{path}: {msg}")

    unknown = set(d) - TEMPLATE_KEYS
    if unknown:
        raise bad(f"unknown key(s) {', '.join(sorted(unknown))}; a template has {', '.join(sorted(TEMPLATE_KEYS))}")
    fmt = d.get("format")
    if fmt not in FORMATS:
        raise bad(f"format = {fmt!r}: must be one of {', '.join(FORMATS)}")
    enc = d.get("encoding", "utf-8")
    if enc not in ENCODINGS:
        raise bad(f"encoding = {enc!r}: must be one of {', '.join(ENCODINGS)}")
    delim = d.get("delimiter", "," if fmt == "csv" else None)
    if fmt == "txt" and not delim:
        raise bad("format = \"txt\" needs a delimiter (e.g. delimiter = \"|\")")
    if fmt != "xlsx" and (not isinstance(delim, str) or len(delim) != 1 or delim in "\r\n\"'"):
        raise bad(f"delimiter = {delim!r}: must be one character (not a quote or a line break)")
    header = d.get("header", True)
    if not isinstance(header, bool):
        raise bad("header must be true or false")
    le = {"crlf": "\r\n", "lf": "\n"}.get(str(d.get("line_ending", "crlf")).lower())
    if le is None:
        raise bad("line_ending must be \"crlf\" or \"lf\"")
    cols_raw = d.get("column")
    if not isinstance(cols_raw, list) or not cols_raw:
        raise bad("no [[column]] tables: list the file's columns in order")
    cols = []
    for i, c in enumerate(cols_raw, 1):
        where = f"column {i}"
        if not isinstance(c, dict):
            raise bad(f"{where}: must be a [[column]] table")
        unknown = set(c) - COLUMN_KEYS
        if unknown:
            raise bad(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (title, field, text, format)")
        title = c.get("title")
        if not isinstance(title, str) or not title:
            raise bad(f"{where}: needs a title")
        if ("field" in c) == ("text" in c):
            raise bad(f"{where} ({title}): give exactly one of field = \"...\" (a payments column) or text = \"...\" (a fixed text)")
        f, cf = c.get("field"), c.get("format")
        if f is not None and f not in MONEY_FIELDS and f not in TEXT_FIELDS:
            raise bad(f"{where} ({title}): field = {f!r} is not a payments column ({', '.join(list(MONEY_FIELDS) + list(TEXT_FIELDS))})")
        if f in MONEY_FIELDS:
            cf = cf or "yuan"
            if cf not in ("yuan", "fen"):
                raise bad(f"{where} ({title}): format = {cf!r}: amounts are \"yuan\" (53.00) or \"fen\" (5300)")
        elif cf is not None:
            raise bad(f"{where} ({title}): format applies only to amount fields ({', '.join(MONEY_FIELDS)})")
        if "text" in c and not isinstance(c["text"], str):
            raise bad(f"{where} ({title}): text must be a string")
        cols.append(Column(title=title, field=f, text=c.get("text"), format=cf))
    if not any(c.field == "amount" for c in cols):
        raise bad("no column with field = \"amount\": the bank file must carry the amount paid")
    return Template(name=str(d.get("name") or path.stem), path=path, format=fmt, encoding=enc, delimiter=delim or ",",
                    header=header, sheet=str(d.get("sheet") or "Sheet1")[:31], line_ending=le, columns=cols)


def mask_name(name: object) -> str:
    """张*三 (first and last kept), 李* for two characters, * for one."""
    s = "" if name is None else str(name).strip()
    if len(s) <= 1:
        return "*" * len(s)
    if len(s) == 2:
        return s[0] + "*"
    return s[0] + "*" * (len(s) - 2) + s[-1]


def _yuan_str(fen: int) -> str:
    from cpi_link.core.money import fen_to_yuan_str

    return fen_to_yuan_str(int(fen))


def _tmp_for(dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.stem}.tmp-{os.getpid()}{dest.suffix}"  # the suffix kept: openpyxl reads it back
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    return tmp


def _finish(tmp: Path, dest: Path) -> None:
    os.chmod(tmp, 0o600)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, dest)


def _check_dest(dest: Path, option: str) -> Path:
    dest = Path(dest)
    if dest.is_dir():
        raise UsageError(f"{option} {dest} is a folder; give a file name")
    return dest


def _ordered(run: Run):
    pay = run.payments
    return pay.sort_values(["region_code", "source_row"], kind="stable") if len(pay) else pay


def _sum_text_file(path: Path, tpl: Template, col: int) -> int:
    """The amount column of a written csv/txt file summed back, in fen."""
    text = path.read_bytes().decode(tpl.encoding)
    if tpl.format == "csv":
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=tpl.delimiter))
    else:
        rows = [line.split(tpl.delimiter) for line in text.splitlines()]
    rows = [r for r in rows if r]
    if tpl.header:
        rows = rows[1:]
    return sum(_to_fen(r[col], tpl.columns[col].format) for r in rows)


def _to_fen(v, fmt: str | None) -> int:
    try:
        d = Decimal(str(v).strip())
    except InvalidOperation:
        raise RuntimeError(f"the amount {v!r} written is not a number") from None
    return int(d) if fmt == "fen" else int(d.scaleb(2))


def write_bank_file(run: Run, tpl: Template, dest: Path) -> FileResult:
    """The batch-payment file for the run's paid rows with a bank account, in the template's layout."""
    import numpy as np

    from cpi_link.core.privacy import mask_id

    dest = _check_dest(dest, "--bank-out")
    problems = check_totals(run)
    if problems:
        raise UsageError(f"{run.path}: totals disagree ({'; '.join(problems)}): no bank file written")
    pay = _ordered(run)
    if len(pay) and "bank_account" in pay.columns:
        acct = pay["bank_account"].fillna("").astype(str).str.strip()
    else:
        acct = None
    has = (acct != "").to_numpy() if acct is not None else np.zeros(len(pay), bool)
    written, gone = pay[has], pay[~has]
    left = [{"source_row": int(r.source_row), "name": r.name, "person_id": mask_id(r.person_id), "amount_fen": int(r.amount_fen)}
            for r in gone.itertuples(index=False)]
    expected = int(written["amount_fen"].sum()) if len(written) else 0
    left_fen = int(gone["amount_fen"].sum()) if len(gone) else 0
    if expected + left_fen != run.total_fen:
        raise RuntimeError("bank file rows and left-out rows do not add up to the run's total")

    cols = []  # per template column: a list of cell values (str, or int fen for money)
    n = len(written)
    for c in tpl.columns:
        if c.text is not None:
            cols.append([c.text] * n)
        elif c.field == "seq":
            cols.append([str(i) for i in range(1, n + 1)])
        elif c.field in MONEY_FIELDS:
            fen = written[MONEY_FIELDS[c.field]].to_numpy(dtype=np.int64).tolist()
            cols.append(fen)
        elif c.field == "bank_account":
            cols.append(acct[has].tolist() if acct is not None else [""] * n)
        else:
            cols.append(written[c.field].fillna("").astype(str).tolist() if c.field in written.columns else [""] * n)
    amount_col = next(i for i, c in enumerate(tpl.columns) if c.field == "amount")

    tmp = _tmp_for(dest)
    try:
        if tpl.format == "xlsx":
            _write_bank_xlsx(tmp, tpl, cols, n)
            got = _sum_xlsx(tmp, tpl, amount_col)
        else:
            _write_bank_text(tmp, tpl, cols, n)
            got = _sum_text_file(tmp, tpl, amount_col)
        if got != expected:
            raise RuntimeError(f"the bank file's amounts sum to {_yuan_str(got)}, not the run's {_yuan_str(expected)}")
        _finish(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return FileResult(path=dest, rows=n, total_fen=expected, left_out=left, left_out_fen=left_fen)


def _cell_text(c: Column, v) -> str:
    if c.format == "fen":
        return str(int(v))
    if c.format == "yuan":
        return _yuan_str(v)
    return str(v)


def _write_bank_text(path: Path, tpl: Template, cols: list, n: int) -> None:
    lines = []
    if tpl.format == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=tpl.delimiter, lineterminator=tpl.line_ending)
        if tpl.header:
            w.writerow([c.title for c in tpl.columns])
        for i in range(n):
            w.writerow([_cell_text(c, col[i]) for c, col in zip(tpl.columns, cols)])
        text = buf.getvalue()
    else:
        if tpl.header:
            lines.append(tpl.delimiter.join(c.title for c in tpl.columns))
        for i in range(n):
            vals = [_cell_text(c, col[i]) for c, col in zip(tpl.columns, cols)]
            for c, v in zip(tpl.columns, vals):
                if tpl.delimiter in v or "\n" in v or "\r" in v:
                    raise UsageError(f"{tpl.path}: a {c.title} value contains the delimiter {tpl.delimiter!r} or a line break; "
                                     "this text format cannot carry it (use a csv template)")
            lines.append(tpl.delimiter.join(vals))
        text = "".join(line + tpl.line_ending for line in lines)
    try:
        data = text.encode(tpl.encoding)
    except UnicodeEncodeError as exc:
        raise UsageError(f"{tpl.path}: a value cannot be written in {tpl.encoding} ({exc.reason})") from None
    with open(path, "wb") as fh:
        fh.write(data)


def _write_bank_xlsx(path: Path, tpl: Template, cols: list, n: int) -> None:
    from cpi_link.outputs.xlsx import open_workbook

    wb = open_workbook(path)
    ws = wb.add_worksheet(tpl.sheet)
    text = wb.add_format({"num_format": "@"})
    yuan = wb.add_format({"num_format": "0.00"})
    fen = wb.add_format({"num_format": "0"})
    for j, c in enumerate(tpl.columns):
        ws.set_column(j, j, max(10, 2 * len(c.title) + 2) if c.field != "bank_account" else 24)
    r = 0
    if tpl.header:
        for j, c in enumerate(tpl.columns):
            ws.write_string(0, j, c.title, text)
        r = 1
    cache: dict[int, Decimal] = {}
    for i in range(n):
        for j, (c, col) in enumerate(zip(tpl.columns, cols)):
            v = col[i]
            if c.format == "yuan":
                d = cache.get(v)
                if d is None:
                    d = cache[v] = Decimal(int(v)).scaleb(-2)
                ws.write_number(r, j, d, yuan)
            elif c.format == "fen":
                ws.write_number(r, j, int(v), fen)
            else:
                ws.write_string(r, j, str(v), text)  # accounts and IDs stay text
        r += 1
    wb.close()


def _sum_xlsx(path: Path, tpl: Template, col: int) -> int:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        ws = wb.worksheets[0]
        rows = ws.iter_rows(min_row=2 if tpl.header else 1, min_col=col + 1, max_col=col + 1, values_only=True)
        return sum(_to_fen(v, tpl.columns[col].format) for (v,) in rows if v is not None)
    finally:
        wb.close()


PUBLIC_HEADERS = [("序号", 6), ("姓名", 10), ("身份证号", 21), ("行政区划代码", 12), ("保障类别", 18), ("保障人数", 8), ("补贴金额（元）", 14)]


def write_public_list(run: Run, dest: Path, encoding: str | None = None) -> FileResult:
    """The 公示 list: masked name and ID, region, category, persons, amount; XLSX (print-ready) when
    dest ends .xlsx, else CSV (utf-8-sig unless an encoding is given, so Excel opens it)."""
    import numpy as np

    from cpi_link.core.categories import CATEGORY_LABELS
    from cpi_link.core.privacy import mask_id

    dest = _check_dest(dest, "--public")
    problems = check_totals(run)
    if problems:
        raise UsageError(f"{run.path}: totals disagree ({'; '.join(problems)}): no public list written")
    pay = _ordered(run)
    n = len(pay)
    names = [mask_name(x) for x in pay["name"].tolist()] if n else []
    ids = [mask_id(x) for x in pay["person_id"].tolist()] if n else []
    regions = pay["region_code"].astype(str).tolist() if n else []
    cats = [CATEGORY_LABELS.get(c, c) for c in pay["category"].tolist()] if n else []
    persons = pay["persons"].to_numpy(dtype=np.int64).tolist() if n else []
    fen = pay["amount_fen"].to_numpy(dtype=np.int64).tolist() if n else []
    total = int(sum(fen))
    if total != run.total_fen:
        raise RuntimeError("the public list does not add up to the run's total")
    tmp = _tmp_for(dest)
    try:
        if dest.suffix.lower() == ".xlsx":
            _public_xlsx(tmp, run, names, ids, regions, cats, persons, fen)
            got = _sum_xlsx_col(tmp, 6, first_row=3)
        else:
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\r\n")
            w.writerow([h for h, _ in PUBLIC_HEADERS])
            for i in range(n):
                nm = "'" + names[i] if names[i][:1] in _FORMULA_START else names[i]
                w.writerow([i + 1, nm, ids[i], regions[i], cats[i], persons[i], _yuan_str(fen[i])])
            w.writerow(["合计", "", "", "", "", sum(persons), _yuan_str(total)])
            tmp.write_bytes(buf.getvalue().encode(encoding or "utf-8-sig"))
            rows = list(csv.reader(io.StringIO(tmp.read_bytes().decode(encoding or "utf-8-sig"), newline="")))
            got = sum(_to_fen(r[6], "yuan") for r in rows[1:-1])
        if got != total:
            raise RuntimeError(f"the public list sums to {_yuan_str(got)}, not the run's {_yuan_str(total)}")
        _finish(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return FileResult(path=dest, rows=n, total_fen=total)


def _public_xlsx(path: Path, run: Run, names, ids, regions, cats, persons, fen) -> None:
    from cpi_link.outputs.xlsx import open_workbook

    wb = open_workbook(path)
    ws = wb.add_worksheet("公示名单")
    ws.set_paper(9)
    ws.set_portrait()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0, 1)
    ws.set_footer("&C第 &P 页 共 &N 页")
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    border = {"border": 1, "font_size": 10, "valign": "vcenter"}
    title = wb.add_format({"bold": True, "font_size": 14})
    head = wb.add_format({**border, "bold": True, "bg_color": "#DDEBF7", "align": "center", "text_wrap": True})
    text = wb.add_format({**border, "num_format": "@"})
    num = wb.add_format({**border, "num_format": "0"})
    money = wb.add_format({**border, "num_format": "#,##0.00"})
    for j, (_, w) in enumerate(PUBLIC_HEADERS):
        ws.set_column(j, j, w)
    ws.set_default_row(18)
    ws.set_row(0, 24)
    ws.write_string(0, 0, f"价格临时补贴发放公示名单（统计月份 {run.month}）", title)
    for j, (h, _) in enumerate(PUBLIC_HEADERS):
        ws.write_string(1, j, h, head)
    cache: dict[int, Decimal] = {}
    for i in range(len(names)):
        r = i + 2
        ws.write_number(r, 0, i + 1, num)
        ws.write_string(r, 1, names[i], text)
        ws.write_string(r, 2, ids[i], text)
        ws.write_string(r, 3, regions[i], text)
        ws.write_string(r, 4, cats[i], text)
        ws.write_number(r, 5, persons[i], num)
        d = cache.get(fen[i])
        if d is None:
            d = cache[fen[i]] = Decimal(int(fen[i])).scaleb(-2)
        ws.write_number(r, 6, d, money)
    r = len(names) + 2
    ws.write_string(r, 0, "合计", text)
    for j in (1, 2, 3, 4):
        ws.write_blank(r, j, None, text)
    ws.write_number(r, 5, int(sum(persons)), num)
    ws.write_number(r, 6, Decimal(int(sum(fen))).scaleb(-2), money)
    wb.close()


def _sum_xlsx_col(path: Path, col: int, first_row: int) -> int:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = list(wb.worksheets[0].iter_rows(min_row=first_row, min_col=1, max_col=col + 1, values_only=True))
        return sum(_to_fen(r[col], "yuan") for r in rows if r[0] != "合计" and r[col] is not None)
    finally:
        wb.close()
