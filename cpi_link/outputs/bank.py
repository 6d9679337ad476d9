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
from contextlib import ExitStack
import io
import os
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from cpi_link.core.atomic import scratch_for
from cpi_link.core.cells import formula_like, neutral
from cpi_link.core.errors import UsageError
from cpi_link.core.i18n import _
from cpi_link.outputs.report import Run, check_totals

FORMATS = ("csv", "txt", "xlsx")
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")
MONEY_FIELDS = {"amount": "amount_fen", "amount_per_person": "amount_per_person_fen", "standard": "standard_fen"}
TEXT_FIELDS = ("source_row", "person_id", "name", "category", "region_code", "area", "persons", "index_month",
               "indicator", "standard_region", "scheme", "version", "run_id", "bank_account", "seq",
               "township", "village", "remark", "region_code_full")
TEMPLATE_KEYS = {"name", "format", "delimiter", "encoding", "header", "column", "sheet", "line_ending",
                 "document", "totals", "row_limit", "batch_header"}
COLUMN_KEYS = {"title", "field", "text", "format", "decimals", "thousands", "as"}
XLSX_MAX_ROWS = 1_048_576
# fields that lose digits or zeros as numbers: always written as text
TEXT_ONLY = {"bank_account", "person_id", "name", "region_code", "run_id", "standard_region"}


@dataclass
class Column:
    title: str
    field: str | None = None
    text: str | None = None
    format: str | None = None  # money: "yuan" | "fen"
    decimals: int = 2  # yuan amounts: 2 ("53.00") or 0 ("53", only when every amount is whole yuan)
    as_text: bool = False  # xlsx: the amount as a text cell instead of a number


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
    document: str = ""  # the bank's published rules this template follows
    totals: bool = False  # a 合计 row after the rows
    row_limit: int | None = None  # rows per file: more are split into numbered files
    batch_header: list[str] = field(default_factory=list)  # a first line: {count} {total} {total_fen} {part} {parts} {month}


@dataclass
class FileResult:
    path: Path
    rows: int
    total_fen: int
    left_out: list[dict] = field(default_factory=list)  # source_row, name, person_id (masked), amount_fen
    left_out_fen: int = 0
    parts: list[tuple[Path, int, int]] = field(default_factory=list)  # each file written: path, rows, fen
    manifest: Path | None = None  # the list of the numbered files, when the rows were split


def find_template(spec: str, config_dir: Path | None) -> Path:
    """A template path, or a name in CONFIG/banks (then the bundled config/banks)."""
    from cpi_link.core.paths import bundled_config_dir

    p = Path(spec)
    if p.suffix == ".toml" or os.sep in spec or p.exists():
        if p.exists() and not p.is_file():
            from cpi_link.core.inputs import check_input

            check_input(p, "config")  # a FIFO or a device: said so, never opened
        if not p.is_file():
            raise UsageError(_("--bank {spec}: no such template file").format(spec=spec))
        return p
    dirs = [d / "banks" for d in (config_dir, bundled_config_dir()) if d is not None]
    for d in dirs:
        if (d / f"{spec}.toml").is_file():
            return d / f"{spec}.toml"
    names = sorted({f.stem for d in dirs if d.is_dir() for f in d.glob("*.toml")})
    raise UsageError(_("--bank {spec}: no such template (bundled: {names}; or give a path to a .toml file)").format(
        spec=spec, names=", ".join(names) or _("none")))


def load_template(path: Path) -> Template:
    """Read and check a bank template (SPEC 6.1); UsageError naming the file and the key otherwise."""
    from cpi_link.core.inputs import read_input

    try:
        d = tomllib.loads(read_input(path, "config").decode("utf-8-sig"))  # Notepad saves with a BOM
    except OSError as exc:
        raise UsageError(_("{path}: cannot read the bank template ({error})").format(path=path, error=exc.strerror or exc)) from None
    except UnicodeDecodeError:
        raise UsageError(_("{path}: not UTF-8 text; save the bank template as UTF-8").format(path=path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(_("{path}: not valid TOML ({error})").format(path=path, error=exc)) from None

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
        if c.get("thousands", False) is not False:
            raise bad(_("{where} ({title}): thousands = {value!r}: bank files are written without thousands separators "
                        "(banks read 1,234.00 as two fields or refuse it); remove the key").format(
                where=where, title=title, value=c.get("thousands")))
        decimals = c.get("decimals", 0 if cf == "fen" else 2)
        if "decimals" in c and f not in MONEY_FIELDS:
            raise bad(_("{where} ({title}): decimals applies only to amount fields").format(where=where, title=title))
        if decimals not in ((0,) if cf == "fen" else (0, 2)) or isinstance(decimals, bool):
            raise bad(_("{where} ({title}): decimals = {value!r}: amounts in yuan are written with 2 decimals (53.00) or 0 "
                        "(53, only when every amount is whole yuan); amounts in fen with none").format(
                where=where, title=title, value=decimals))
        kind = c.get("as", "number" if f in MONEY_FIELDS else "text")
        if kind not in ("text", "number"):
            raise bad(_("{where} ({title}): as = {value!r}: use \"text\" or \"number\"").format(where=where, title=title, value=kind))
        if kind == "number" and (f in TEXT_ONLY or c.get("text") is not None):
            raise bad(_("{where} ({title}): as = \"number\" cannot be honoured for {field}: a spreadsheet keeps 15 digits of a "
                        "number, so accounts and IDs lose their last digits and codes their leading zeros; they are always text").format(
                where=where, title=title, field=f or "text"))
        if kind == "number" and f not in MONEY_FIELDS and f not in ("seq", "persons", "source_row"):
            raise bad(_("{where} ({title}): as = \"number\" applies to amounts, seq, persons and source_row").format(where=where, title=title))
        cols.append(Column(title=title, field=f, text=c.get("text"), format=cf, decimals=int(decimals),
                           as_text=(kind == "text")))
    if not any(c.field == "amount" for c in cols):
        raise bad("no column with field = \"amount\": the bank file must carry the amount paid")
    totals = d.get("totals", False)
    if not isinstance(totals, bool):
        raise bad(_("totals must be true or false"))
    limit = d.get("row_limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise bad(_("row_limit = {value!r}: a whole number of rows per file, at least 1").format(value=limit))
    bh = d.get("batch_header", [])
    if not isinstance(bh, list) or not all(isinstance(x, str) for x in bh):
        raise bad(_("batch_header must be a list of texts, e.g. [\"总笔数\", \"{count}\", \"总金额\", \"{total}\"]"))
    for x in bh:
        try:
            x.format(**_BATCH_FIELDS)
        except (KeyError, IndexError, ValueError):
            raise bad(_("batch_header {value!r}: the fields are {fields}").format(
                value=x, fields=", ".join("{" + k + "}" for k in _BATCH_FIELDS))) from None
        if fmt != "xlsx" and (delim in x or "\n" in x or "\r" in x):
            raise bad(_("batch_header {value!r} contains the delimiter or a line break").format(value=x))
    room = XLSX_MAX_ROWS - int(header) - int(totals) - int(bool(bh))
    if fmt == "xlsx" and limit is not None and limit > room:
        raise bad(_("row_limit: an XLSX sheet holds {max} rows; set row_limit = {limit} or fewer").format(max=XLSX_MAX_ROWS, limit=room))
    if fmt == "xlsx" and limit is None:
        limit = room  # a sheet's last row: more rows go to a second numbered file
    doc = d.get("document", "")
    if not isinstance(doc, str):
        raise bad(_("document must be a text naming the bank's published rules the template follows"))
    return Template(name=str(d.get("name") or path.stem), path=path, format=fmt, encoding=enc, delimiter=delim or ",",
                    header=header, sheet=str(d.get("sheet") or "Sheet1")[:31], line_ending=le, columns=cols,
                    document=doc, totals=totals, row_limit=limit, batch_header=list(bh))


_BATCH_FIELDS = {"count": 0, "total": "0.00", "total_fen": 0, "part": 1, "parts": 1, "month": "2019-11"}


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


def _tmp_for(dest: Path, scratch: Path) -> Path:
    """The temp file for dest inside the writer's private scratch folder beside it (core.atomic.scratch_for)."""
    tmp = scratch / dest.name  # the suffix kept: openpyxl reads it back
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
        raise UsageError(_("{option} {path} is a folder; give a file name").format(option=option, path=dest))
    return dest


def _ordered(run: Run):
    pay = run.payments
    return pay.sort_values(["region_code", "source_row"], kind="stable") if len(pay) else pay


def _data_rows(rows: list, tpl: Template) -> list:
    """The payment rows of a file read back: without the batch header, titles and totals rows."""
    rows = rows[int(bool(tpl.batch_header)) + int(tpl.header):]
    return rows[:-1] if tpl.totals and rows else rows


def _sum_text_file(path: Path, tpl: Template, col: int) -> int:
    """The amount column of a written csv/txt file summed back, in fen."""
    text = path.read_bytes().decode(tpl.encoding)
    if tpl.format == "csv":
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=tpl.delimiter))
    else:
        rows = [line.split(tpl.delimiter) for line in text.splitlines()]
    rows = [r for r in rows if r]
    return sum(_to_fen(r[col], tpl.columns[col].format) for r in _data_rows(rows, tpl))


def _to_fen(v, fmt: str | None) -> int:
    try:
        d = Decimal(str(v).strip())
    except InvalidOperation:
        raise RuntimeError(f"the amount {v!r} written is not a number") from None
    return int(d) if fmt == "fen" else int(d.scaleb(2))


def _part_names(dest: Path, parts: int) -> list[Path]:
    """dest itself for one file; dest-01.csv, dest-02.csv ... when the rows are split."""
    if parts == 1:
        return [dest]
    width = max(2, len(str(parts)))
    return [dest.with_name(f"{dest.stem}-{k:0{width}d}{dest.suffix}") for k in range(1, parts + 1)]


def write_bank_file(run: Run, tpl: Template, dest: Path) -> FileResult:
    """The batch-payment file(s) for the run's paid rows with a bank account, in the template's
    layout: split into numbered files of row_limit rows, each with its own count and sum (batch
    header, totals row), and a manifest of the files. All are written and checked, or none."""
    import numpy as np

    from cpi_link.core.privacy import mask_id

    dest = _check_dest(dest, "--bank-out")
    problems = check_totals(run)
    if problems:
        raise UsageError(_("{path}: totals disagree ({problems}): no bank file written").format(path=run.path, problems="; ".join(problems)))
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
    label = (run.manifest or {}).get("label")  # a supplement (补充发放) or top-up (补发 MONTH): said in the fixed texts (摘要)
    for c in tpl.columns:
        if c.text is not None:
            cols.append([f"{c.text}（{label}）" if label and label not in c.text else c.text] * n)
        elif c.field == "seq":
            cols.append(None)  # numbered within each file
        elif c.field in MONEY_FIELDS:
            fen = written[MONEY_FIELDS[c.field]].to_numpy(dtype=np.int64).tolist()
            if c.format == "yuan" and c.decimals == 0 and any(v % 100 for v in fen):
                raise UsageError(_("{path}: column {title} writes whole yuan (decimals = 0) but this run pays amounts with jiao "
                                   "or fen; the template cannot carry them: no bank file written").format(path=tpl.path, title=c.title))
            cols.append(fen)
        elif c.field == "bank_account":
            cols.append(acct[has].tolist() if acct is not None else [""] * n)
        else:
            cols.append(written[c.field].fillna("").astype(str).tolist() if c.field in written.columns else [""] * n)
    amount_col = next(i for i, c in enumerate(tpl.columns) if c.field == "amount")
    fen_all = cols[amount_col]

    limit = tpl.row_limit or max(n, 1)
    bounds = [(i, min(i + limit, n)) for i in range(0, n, limit)] or [(0, 0)]
    names = _part_names(dest, len(bounds))
    tmps: list[Path] = []
    parts: list[tuple[Path, int, int]] = []
    stack = ExitStack()  # the temp files and xlsxwriter's row files (full accounts) in a private folder, removed whatever the exit
    scratch = stack.enter_context(scratch_for(dest))
    try:
        for k, ((a, b), name) in enumerate(zip(bounds, names), 1):
            part_cols = [[str(i) for i in range(1, b - a + 1)] if col is None else col[a:b] for col in cols]
            part_fen = int(sum(fen_all[a:b]))
            batch = [x.format(count=b - a, total=_yuan_str(part_fen), total_fen=part_fen, part=k, parts=len(bounds), month=run.month)
                     for x in tpl.batch_header]
            tmp = _tmp_for(name, scratch)
            tmps.append(tmp)
            if tpl.format == "xlsx":
                _write_bank_xlsx(tmp, tpl, part_cols, b - a, batch, part_fen)
                got = _sum_xlsx(tmp, tpl, amount_col)
            else:
                _write_bank_text(tmp, tpl, part_cols, b - a, batch, part_fen)
                got = _sum_text_file(tmp, tpl, amount_col)
            if got != part_fen:
                raise RuntimeError(f"the bank file's amounts sum to {_yuan_str(got)}, not the run's {_yuan_str(part_fen)}")
            parts.append((name, b - a, part_fen))
        if sum(p[2] for p in parts) != expected:
            raise RuntimeError("the bank files do not add up to the run's total")
        manifest = None
        if len(parts) > 1:
            manifest = dest.with_name(f"{dest.stem}-清单.csv")
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\r\n")
            w.writerow(["文件", "笔数", "金额（元）"])
            for name, rows, fen in parts:
                w.writerow([name.name, rows, _yuan_str(fen)])
            w.writerow(["合计", n, _yuan_str(expected)])
            tmp = _tmp_for(manifest, scratch)
            tmps.append(tmp)
            tmp.write_bytes(buf.getvalue().encode("utf-8-sig"))
            names = names + [manifest]
        for tmp, name in zip(tmps, names):
            _finish(tmp, name)
    except BaseException:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
        raise
    finally:
        stack.close()
    return FileResult(path=dest if len(parts) == 1 else names[0], rows=n, total_fen=expected, left_out=left,
                      left_out_fen=left_fen, parts=parts, manifest=manifest)


def _cell_text(c: Column, v) -> str:
    if c.format == "fen":
        return str(int(v))
    if c.format == "yuan":
        return _yuan_str(v) if c.decimals == 2 else str(int(v) // 100)
    return neutral(str(v))  # a name "=HYPERLINK(...)" or an account "=1+1" reaches the bank as text


def _totals_row(tpl: Template, count: int, fen: int) -> list[str]:
    """合计 in the first column, the count under seq (when the file has one), the sum under amount."""
    row = [""] * len(tpl.columns)
    for j, c in enumerate(tpl.columns):
        if c.field == "seq":
            row[j] = str(count)
        elif c.field == "amount":
            row[j] = _cell_text(c, fen)
    if not row[0]:
        row[0] = "合计"
    return row


def _write_bank_text(path: Path, tpl: Template, cols: list, n: int, batch: list[str], fen: int) -> None:
    lines = []
    if tpl.format == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=tpl.delimiter, lineterminator=tpl.line_ending)
        if batch:
            w.writerow(batch)
        if tpl.header:
            w.writerow([c.title for c in tpl.columns])
        for i in range(n):
            w.writerow([_cell_text(c, col[i]) for c, col in zip(tpl.columns, cols)])
        if tpl.totals:
            w.writerow(_totals_row(tpl, n, fen))
        text = buf.getvalue()
    else:
        if batch:
            lines.append(tpl.delimiter.join(batch))
        if tpl.header:
            lines.append(tpl.delimiter.join(c.title for c in tpl.columns))
        for i in range(n):
            vals = [_cell_text(c, col[i]) for c, col in zip(tpl.columns, cols)]
            for c, v in zip(tpl.columns, vals):
                if tpl.delimiter in v or "\n" in v or "\r" in v:
                    raise UsageError(_("{path}: a {column} value contains the delimiter {delimiter} or a line break; "
                                       "this text format cannot carry it (use a csv template)").format(
                                         path=tpl.path, column=c.title, delimiter=repr(tpl.delimiter)))
            lines.append(tpl.delimiter.join(vals))
        if tpl.totals:
            lines.append(tpl.delimiter.join(_totals_row(tpl, n, fen)))
        text = "".join(line + tpl.line_ending for line in lines)
    try:
        data = text.encode(tpl.encoding)
    except UnicodeEncodeError as exc:
        raise UsageError(_("{path}: a value cannot be written in {encoding} ({error})").format(
            path=tpl.path, encoding=tpl.encoding, error=exc.reason)) from None
    with open(path, "wb") as fh:
        fh.write(data)


def _write_bank_xlsx(path: Path, tpl: Template, cols: list, n: int, batch: list[str], fen_total: int) -> None:
    from cpi_link.outputs.xlsx import open_workbook

    wb = open_workbook(path)
    ws = wb.add_worksheet(tpl.sheet)
    text = wb.add_format({"num_format": "@"})
    quoted = wb.add_format({"num_format": "@", "quote_prefix": True})  # formula-like text shown as text, as in the workbook
    yuan = wb.add_format({"num_format": "0.00"})
    whole = wb.add_format({"num_format": "0"})
    for j, c in enumerate(tpl.columns):
        ws.set_column(j, j, max(10, 2 * len(c.title) + 2) if c.field != "bank_account" else 24)
    r = 0
    if batch:
        for j, x in enumerate(batch):
            try:  # the count and the sum as numbers, the words as text
                ws.write_number(0, j, Decimal(x), yuan if "." in x else whole) if x.strip() and x == x.strip() else ws.write_string(0, j, x, text)
            except InvalidOperation:
                ws.write_string(0, j, x, text)
        r += 1
    if tpl.header:
        for j, c in enumerate(tpl.columns):
            ws.write_string(r, j, c.title, text)
        r += 1
    cache: dict[int, Decimal] = {}

    def money(j: int, c: Column, v: int) -> None:
        if c.as_text:
            ws.write_string(r, j, _cell_text(c, v), text)
        elif c.format == "yuan" and c.decimals == 2:
            d = cache.get(v)
            if d is None:
                d = cache[v] = Decimal(int(v)).scaleb(-2)
            ws.write_number(r, j, d, yuan)
        else:
            ws.write_number(r, j, int(v) if c.format == "fen" else int(v) // 100, whole)

    for i in range(n):
        for j, (c, col) in enumerate(zip(tpl.columns, cols)):
            v = col[i]
            if c.format in ("yuan", "fen"):
                money(j, c, v)
            elif not c.as_text:
                ws.write_number(r, j, int(v), whole)
            else:
                s = str(v)
                ws.write_string(r, j, s, quoted if formula_like(s) else text)  # accounts and IDs stay text
        r += 1
    if tpl.totals:
        for j, c in enumerate(tpl.columns):
            if c.field == "amount":
                money(j, c, fen_total)
            elif c.field == "seq":
                ws.write_number(r, j, n, whole)
            elif j == 0:
                ws.write_string(r, j, "合计", text)
    wb.close()


def _sum_xlsx(path: Path, tpl: Template, col: int) -> int:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        ws = wb.worksheets[0]
        rows = [r for r in ws.iter_rows(min_col=col + 1, max_col=col + 1, values_only=True)]
        return sum(_to_fen(v, tpl.columns[col].format) for (v,) in _data_rows(rows, tpl) if v is not None)
    finally:
        wb.close()


PUBLIC_HEADERS = [("序号", 6), ("姓名", 9), ("身份证号", 20), ("行政区划代码", 11), ("地区", 14), ("保障类别", 16),
                  ("保障人数", 8), ("补贴金额（元）", 12)]
# 乡镇/村 from the roster, after 地区, when the run's rows have them; never 备注 (a remark may say
# why a family is helped: not for a notice board)
PUBLIC_PLACES = (("township", "乡镇（街道）", 10), ("village", "村（社区）", 10))
OFFICE_KEYS = {"office", "phone", "posting_days", "posting_from"}


@dataclass
class Office:
    """The office's own words on the 公示 list (HOME/office.toml, else CONFIG/office.toml)."""

    office: str = ""
    phone: str = ""
    posting_days: int = 7
    posting_from: str = ""  # YYYY-MM-DD; empty: the officer writes the dates by hand

    def period(self) -> str:
        from datetime import date, timedelta

        if not self.posting_from:
            return f"公示期：　　　　年　　月　　日至　　　　年　　月　　日（{self.posting_days} 天）"
        a = date.fromisoformat(self.posting_from)
        b = a + timedelta(days=self.posting_days - 1)
        return f"公示期：{a.year}年{a.month}月{a.day}日至{b.year}年{b.month}月{b.day}日（{self.posting_days} 天）"

    def lines(self) -> list[str]:
        return [self.period(),
                "监督电话：" + (self.phone or "＿＿＿＿＿＿＿＿＿＿") + "（对公示名单有异议的，请在公示期内反映）",
                "公示单位：" + (self.office or "＿＿＿＿＿＿＿＿＿＿＿＿＿＿（盖章）")]


def load_office(home: Path | None, config_dir: Path | None) -> Office:
    """The office file an officer edits: HOME/office.toml, else CONFIG/office.toml; placeholders
    for what is unset. A file that is there but wrong is exit 2 naming the file and the key."""
    from datetime import date

    for d in (home, config_dir):
        f = Path(d) / "office.toml" if d is not None else None
        if f is None or not f.is_file():
            continue
        try:
            with open(f, "rb") as fh:
                t = tomllib.loads(fh.read().decode("utf-8-sig"))  # Notepad saves with a BOM
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(_("{path}: cannot read the office file ({error})").format(path=f, error=exc)) from None
        unknown = set(t) - OFFICE_KEYS
        if unknown:
            raise UsageError(_("{path}: unknown key(s) {keys}; the office file has {known}").format(
                path=f, keys=", ".join(sorted(unknown)), known=", ".join(sorted(OFFICE_KEYS))))
        days = t.get("posting_days", 7)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
            raise UsageError(_("{path}: posting_days = {value!r}: the days the list is posted, a whole number from 1").format(path=f, value=days))
        start = t.get("posting_from", "")
        if not isinstance(start, str):
            start = str(start) if isinstance(start, date) else None
        try:
            if start:
                date.fromisoformat(start)
        except (TypeError, ValueError):
            start = None
        if start is None:
            raise UsageError(_("{path}: posting_from = {value!r}: a date YYYY-MM-DD, or \"\" to write the dates by hand").format(
                path=f, value=t.get("posting_from")))
        for k in ("office", "phone"):
            if not isinstance(t.get(k, ""), str):
                raise UsageError(_("{path}: {key} must be a text in quotes").format(path=f, key=k))
        return Office(office=t.get("office", ""), phone=t.get("phone", ""), posting_days=days, posting_from=start)
    return Office()


def write_public_list(run: Run, dest: Path, encoding: str | None = None, office: Office | None = None) -> FileResult:
    """The 公示 list: masked name and ID, region code and name, 乡镇/村 when the roster gave them,
    category, persons, amount, with the posting period, the office's phone and name; XLSX
    (print-ready) when dest ends .xlsx, else CSV (utf-8-sig unless an encoding is given, so Excel opens it)."""
    import numpy as np

    from cpi_link.core.categories import CATEGORY_LABELS
    from cpi_link.core.privacy import mask_id
    from cpi_link.core.regions import region_name

    office = office or Office()
    dest = _check_dest(dest, "--public")
    problems = check_totals(run)
    if problems:
        raise UsageError(_("{path}: totals disagree ({problems}): no public list written").format(path=run.path, problems="; ".join(problems)))
    pay = _ordered(run)
    n = len(pay)
    names = [mask_name(x) for x in pay["name"].tolist()] if n else []
    ids = [mask_id(x) for x in pay["person_id"].tolist()] if n else []
    counties = pay["region_code"].astype(str).tolist() if n else []
    place: dict[str, str] = {}
    region_names = [place.setdefault(r, region_name(r, run.month) or "") if r not in place else place[r] for r in counties]
    # the 12-digit 统计用区划代码 where the roster gave one (as the workbook's county sheets show it)
    full_codes = n > 0 and "region_code_full" in pay.columns and bool(pay["region_code_full"].notna().any())
    if full_codes:
        full = pay["region_code_full"].astype(object)
        regions = full.where(full.notna(), pay["region_code"].astype(str)).astype(str).tolist()
    else:
        regions = counties
    cats = [CATEGORY_LABELS.get(c, c) for c in pay["category"].tolist()] if n else []
    persons = pay["persons"].to_numpy(dtype=np.int64).tolist() if n else []
    fen = pay["amount_fen"].to_numpy(dtype=np.int64).tolist() if n else []
    total = int(sum(fen))
    if total != run.total_fen:
        raise RuntimeError("the public list does not add up to the run's total")
    places = [(title, w, [v if isinstance(v, str) else "" for v in pay[c].tolist()])
              for c, title, w in PUBLIC_PLACES if n and c in pay.columns and pay[c].notna().any()]
    head = [h if h[0] != "行政区划代码" or not full_codes else (h[0], 14) for h in PUBLIC_HEADERS]
    headers = head[:5] + [(title, w) for title, w, _v in places] + head[5:]
    texts = [names, ids, regions, region_names] + [v for _t, _w, v in places] + [cats]  # columns 1.. as text
    amount_col = len(headers) - 1
    stack = ExitStack()
    tmp = _tmp_for(dest, stack.enter_context(scratch_for(dest)))
    try:
        if dest.suffix.lower() == ".xlsx":
            _public_xlsx(tmp, run, headers, texts, persons, fen, office)
            got = _sum_xlsx_col(tmp, amount_col, first_row=4)
        else:
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\r\n")
            w.writerow([h for h, _w in headers])
            for i in range(n):
                w.writerow([i + 1, *[neutral(t[i]) for t in texts], persons[i], _yuan_str(fen[i])])  # no formula injection
            w.writerow(["合计", *[""] * len(texts), sum(persons), _yuan_str(total)])
            for line in office.lines():
                w.writerow([line])
            tmp.write_bytes(buf.getvalue().encode(encoding or "utf-8-sig"))
            rows = list(csv.reader(io.StringIO(tmp.read_bytes().decode(encoding or "utf-8-sig"), newline="")))
            got = sum(_to_fen(r[amount_col], "yuan") for r in rows[1:n + 1])
        if got != total:
            raise RuntimeError(f"the public list sums to {_yuan_str(got)}, not the run's {_yuan_str(total)}")
        _finish(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        stack.close()
    return FileResult(path=dest, rows=n, total_fen=total)


def _public_xlsx(path: Path, run: Run, headers: list, texts: list, persons, fen, office: Office) -> None:
    """The 公示 list as a print-ready sheet: `texts` the text columns after 序号 (name first), then
    persons and the amount."""
    from cpi_link.outputs.xlsx import open_workbook

    wb = open_workbook(path)
    ws = wb.add_worksheet("公示名单")
    ws.set_paper(9)
    ws.set_portrait()
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0, 2)
    ws.set_start_page(1)
    ws.set_footer("&C第 &P 页 共 &N 页")
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    border = {"border": 1, "font_size": 10, "valign": "vcenter"}
    title = wb.add_format({"bold": True, "font_size": 14})
    sub = wb.add_format({"font_size": 10, "valign": "vcenter"})
    head = wb.add_format({**border, "bold": True, "bg_color": "#DDEBF7", "align": "center", "text_wrap": True})
    text = wb.add_format({**border, "num_format": "@"})
    num = wb.add_format({**border, "num_format": "0"})
    money = wb.add_format({**border, "num_format": "#,##0.00"})
    for j, (_h, w) in enumerate(headers):
        ws.set_column(j, j, w)
    ws.set_default_row(18)
    ws.set_row(0, 24)
    ws.write_string(0, 0, f"价格临时补贴发放公示名单（统计月份 {run.month}）", title)
    lines = office.lines()
    ws.write_string(1, 0, "　".join(lines[:2]), sub)
    for j, (h, _w) in enumerate(headers):
        ws.write_string(2, j, h, head)
    cache: dict[int, Decimal] = {}
    c_persons = len(texts) + 1
    for i in range(len(persons)):
        r = i + 3
        ws.write_number(r, 0, i + 1, num)
        for j, col in enumerate(texts, 1):
            ws.write_string(r, j, col[i], text)
        ws.write_number(r, c_persons, persons[i], num)
        d = cache.get(fen[i])
        if d is None:
            d = cache[fen[i]] = Decimal(int(fen[i])).scaleb(-2)
        ws.write_number(r, c_persons + 1, d, money)
    r = len(persons) + 3
    ws.write_string(r, 0, "合计", text)
    for j in range(1, c_persons):
        ws.write_blank(r, j, None, text)
    ws.write_number(r, c_persons, int(sum(persons)), num)
    ws.write_number(r, c_persons + 1, Decimal(int(sum(fen))).scaleb(-2), money)
    ws.write_string(r + 2, 0, lines[2], sub)
    ws.write_string(r + 3, 0, "日期：　　　　年　　月　　日", sub)
    wb.close()


def _sum_xlsx_col(path: Path, col: int, first_row: int) -> int:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = list(wb.worksheets[0].iter_rows(min_row=first_row, min_col=1, max_col=col + 1, values_only=True))
        out = 0
        for r in rows:
            if r[0] == "合计":
                break
            out += _to_fen(r[col], "yuan") if r[col] is not None else 0
        return out
    finally:
        wb.close()
