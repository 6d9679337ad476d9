#!/usr/bin/env python
"""`make print-check`: print the disbursement workbook through a real spreadsheet application.

Builds four runs in a temp home: the bundled sample roster and a roster with one county of 150
rows (with 乡镇（街道）, 村（社区）, 备注 and 12-digit 统计用区划代码 columns, as officers' rosters have),
each under the flat `shanxi` scheme and the proportional `national` one. Writes each workbook with
`cpi-link report --xlsx`, converts it to PDF with LibreOffice (`soffice --headless --convert-to
pdf`) and checks, page by page with pdfinfo / pdftotext:

* the cover (封面) is exactly one portrait page;
* every county sheet prints landscape, with every one of its column headers on every one of its
  pages: the columns fit one page width and the header repeats;
* the sheet is printed at a scale that leaves it legible and signable: a data row at least
  MIN_ROW_PT points high (measured between printed row numbers; text at 10 pt x the same scale);
* a county sheet has as many pages as its page breaks say, and its last page holds 合计 with the
  经办人/审核人/负责人 line; every page has its "第 N 页" footer;
* the 未发放名单 sheet lists every rejected row.

With --png DIR, renders the cover and county 140105's first page of the flat sample to
DIR/workbook-cover-flat.png and DIR/workbook-county-page-flat.png, and of the proportional 150-row
county to DIR/workbook-cover.png and DIR/workbook-county-page.png.
Not a test (LibreOffice is not needed by `make test`); exit 0 when every check holds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # xlsx_structure, shared with the structure test
CLI = Path(sys.executable).parent / "cpi-link"
W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
# a county sheet's data rows are ROW_PT (27 pt) high at 100 %: printed at 80 % or more they stay
# about 7.6 mm high, room for a signature, and the 10 pt text stays 8 pt or more
MIN_ROW_PT = 21.6
TOWNS = [("坞城街道", "许西社区"), ("北格镇", "张花村"), ("刘家堡乡", "东桥头村"), ("黄陵街道", "黄陵村")]
REMARKS = ["2019年8月新增", "户主长期患病，子女在外地务工，2019年复核", "低保边缘户转入", ""]


def make_id(region: str, birth: str, seq: int) -> str:
    body = f"{region}{birth}{seq:03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, W)) % 11]


def sh(*cmd, env=None, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    if check and r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}\n{r.stderr[-3000:]}")
    return r


def pdf_pages(pdf: Path) -> list[tuple[str, bool]]:
    """(text, landscape) per page."""
    info = sh("pdfinfo", "-f", "1", "-l", "100000", pdf).stdout
    sizes = re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", info)
    pages = []
    for i, (w, h) in enumerate(sizes, 1):
        text = sh("pdftotext", "-f", str(i), "-l", str(i), "-layout", pdf, "-").stdout
        pages.append((text, float(w) > float(h)))
    return pages


def row_pitch(pdf: Path, page: int) -> float | None:
    """The printed height of a data row on a county page, in points: the median distance between
    consecutive row numbers (序号 1, 2, ...) in the first column, from pdftotext's word boxes."""
    html = sh("pdftotext", "-f", str(page), "-l", str(page), "-bbox", pdf, "-").stdout
    words = [(float(a), float(b), float(c), w) for a, b, c, w in
             re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>', html)]
    head = next((w for w in words if w[3] == "序号"), None)
    if head is None:
        return None
    left, right = head[0] - 12, head[2] + 12  # the numbers are right-aligned in a column a bit wider than 序号
    nums = sorted((b, int(w)) for a, b, c, w in words if w.isdigit() and len(w) <= 4 and a >= left and c <= right)
    gaps = sorted(y2 - y1 for (y1, k1), (y2, k2) in zip(nums, nums[1:]) if k2 == k1 + 1)
    return gaps[len(gaps) // 2] if gaps else None


def sheet_headers(xlsx: Path) -> dict[str, list[str]]:
    """Each county sheet's column headers (row 2), by the county code in its title (row 1)."""
    import openpyxl

    wb = openpyxl.load_workbook(xlsx, read_only=True)
    out = {}
    for ws in wb.worksheets[1:]:
        rows = list(ws.iter_rows(min_row=1, max_row=2, values_only=True))
        m = re.search(r"发放花名册\s*(\d{6})", str(rows[0][0] or ""))
        if m:
            out[m.group(1)] = [str(h) for h in rows[1] if h]
    wb.close()
    return out


def check_workbook(xlsx: Path, run_dir: Path, out: Path) -> tuple[list[str], Path, dict]:
    from cpi_link.outputs.report import load_rejected, load_run
    from cpi_link.outputs.workbook import page_breaks

    sh("soffice", "--headless", "--norestore", "--convert-to", "pdf", "--outdir", out, xlsx)
    pdf = out / (xlsx.stem + ".pdf")
    pages = pdf_pages(pdf)
    run = load_run(run_dir)
    problems = []
    covers = [i for i, (t, _) in enumerate(pages) if "发放花名册（统计月份" in t]
    if len(covers) != 1 or pages[covers[0]][1]:
        problems.append(f"{xlsx.name}: the cover should be one portrait page, found pages {[i + 1 for i in covers]}")
    counts = run.payments.groupby("region_code").size().to_dict()
    headers = sheet_headers(xlsx)
    stats = {"pages": len(pages), "counties": {}}
    for code, n in sorted(counts.items()):
        mine = [(i, t, land) for i, (t, land) in enumerate(pages) if re.search(rf"发放花名册\s*{code}[\s（]", t)]
        want = len(page_breaks(n)) + 1
        heads = headers.get(code, [])
        pitch = row_pitch(pdf, mine[0][0] + 1) if mine and n > 1 else None
        stats["counties"][code] = {"rows": n, "pages": len(mine), "first_page": mine[0][0] + 1 if mine else None, "columns": heads,
                                   "row_pt": round(pitch, 1) if pitch else None}
        if len(mine) != want:
            problems.append(f"{xlsx.name} {code}: {len(mine)} pages, expected {want} for {n} rows")
        if pitch is not None and pitch < MIN_ROW_PT:
            problems.append(f"{xlsx.name} {code}: rows print {pitch:.1f} pt high (scale {pitch / 27:.0%}), "
                            f"less than {MIN_ROW_PT} pt: too small to read and sign")
        for i, t, land in mine:
            if not land:
                problems.append(f"{xlsx.name} {code}: page {i + 1} is not landscape")
            flat_text = re.sub(r"\s+", "", t)
            # a header may wrap inside its cell: its first two characters are on the page
            cut = [h for h in heads or ["序号", "银行账号", "领取人签字"] if h[:2] not in flat_text]
            if cut:
                problems.append(f"{xlsx.name} {code}: page {i + 1} lacks the headers {cut} (no header row, or cut across its width)")
            if not re.search(r"第\s*\d+\s*页", t):
                problems.append(f"{xlsx.name} {code}: page {i + 1} has no page number")
        # page numbers run per county: 第 1 页 共 N 页 ... 第 N 页 共 N 页 (issue 31)
        numbers = [re.search(r"第\s*(\d+)\s*页\s*共\s*(\d+)\s*页", t) for _, t, _ in mine]
        if [(int(m.group(1)), int(m.group(2))) if m else None for m in numbers] != [(k, want) for k in range(1, want + 1)]:
            problems.append(f"{xlsx.name} {code}: page numbers {[m.group(0) if m else None for m in numbers]}, "
                            f"expected 第 1..{want} 页 共 {want} 页")
        if mine:
            last = mine[-1][1]
            if not ("合计" in last and "经办人" in last and "审核人" in last and "负责人" in last):
                problems.append(f"{xlsx.name} {code}: the last page lacks 合计 with the signature line")
            if any("经办人" in t for _, t, _ in mine[:-1]):
                problems.append(f"{xlsx.name} {code}: the signature line is not on the last page")
    if covers and not all(w in pages[covers[0]][0] for w in ("经办人", "审核人", "负责人", "人民币")):
        problems.append(f"{xlsx.name}: the cover lacks its signature block or the total in words")
    rej = load_rejected(run)
    rej_text = "".join(t for t, _ in pages if "未发放名单" in t)
    missing = [r for r in rej["name"].astype(str) if r and r not in rej_text]
    if missing:
        problems.append(f"{xlsx.name}: 未发放名单 lacks {len(missing)} rejected rows")
    stats["rejected_rows"] = len(rej)
    return problems, pdf, stats


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--png", type=Path, default=None, help="render the 150-row county's first page and the cover here")
    ap.add_argument("--keep", type=Path, default=None, help="keep the workbooks and PDFs in this folder")
    args = ap.parse_args(argv)
    for tool in ("soffice", "pdfinfo", "pdftotext"):
        if shutil.which(tool) is None:
            print(f"print-check: {tool} not found (apt-get install -y libreoffice-calc poppler-utils)", file=sys.stderr)
            return 2
    # the workbook's column widths are in Calibri's digits, as Excel and WPS lay them out; without
    # Carlito (Calibri's metric twin) LibreOffice lays them out in a wider font and prints smaller
    match = sh("fc-match", "Calibri", check=False).stdout if shutil.which("fc-match") else ""
    if "Carlito" not in match:
        print(f"print-check: Calibri is drawn as {match.strip() or '?'}, not Carlito: the columns would print wider "
              "than in Excel or WPS (apt-get install -y fonts-crosextra-carlito)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="cpi-print-"))
    try:
        home = work / "home"
        env = dict(os.environ, CPI_LINK_HOME=str(home), HOME=str(work))  # LibreOffice's profile goes under HOME
        std = ROOT / "data/sample/standards.csv"
        sh(CLI, "run", "--offline", "--scheme", "national", "--since", "2019-11",
           "--roster", ROOT / "data/sample/roster.csv", "--standards", std, "--format", "json", env=env)
        # shanxi needs Shanxi's food index for 2019-11 (119.4), which is not bundled: imported as an officer does
        food = work / "food.csv"
        food.write_text("地区代码,月份,指标,指数\n140000,2019-11,食品,119.4\n", encoding="utf-8")
        sh(CLI, "fetch", "--source", "file", "--file", food, env=env)
        big = work / "county150.csv"
        lines = ["乡镇（街道）,村（社区）,身份证号,姓名,保障类别,行政区划代码,城乡,保障人数,银行账号,备注"]
        for i in range(150):
            town, village = TOWNS[i % len(TOWNS)]
            rural = i % 5 == 4
            code = f"140105{1 + i % len(TOWNS):03d}{200 if rural else 1 + i % 7:03d}"
            lines.append(f"{town},{village},{make_id('140105', '19600101', i + 1)},测试{i + 1:03d}号,"
                         f"{'农村' if rural else '城市'}低保,{code},{'农村' if rural else '城市'},{1 + i % 3},"
                         f"62000000000{i:08d},{REMARKS[i % len(REMARKS)]}")
        lines.append(f",,{make_id('140213', '19600101', 1)},另县一,城市低保,140213,城市,1,,")
        lines.append(",,12345,坏号,城市低保,140105,城市,1,,")
        big.write_text("\n".join(lines) + "\n", encoding="utf-8")
        runs = {}
        for scheme, kind in (("shanxi", "flat"), ("national", "proportional")):
            for name, roster in (("sample", ROOT / "data/sample/roster.csv"), ("county150", big)):
                runs[f"{name}-{kind}"] = work / f"run-{name}-{kind}"
                sh(CLI, "calc", "--scheme", scheme, "--month", "2019-11", "--roster", roster, "--standards", std,
                   "--out", runs[f"{name}-{kind}"], env=env)
        big_run = runs["county150-proportional"]
        out = args.keep or work / "out"
        out.mkdir(parents=True, exist_ok=True)
        problems = []
        report = {}
        pictures = {"sample-flat": "-flat", "county150-proportional": ""}
        for name, run_dir in runs.items():
            xlsx = out / f"{name}.xlsx"
            sh(CLI, "report", run_dir, "--xlsx", xlsx, env=env)
            p, pdf, stats = check_workbook(xlsx, run_dir, out)
            problems += p
            report[name] = stats
            if args.png and name in pictures:
                args.png.mkdir(parents=True, exist_ok=True)
                # page 1 is the cover; county 140105's first page (Taiyuan's 小店区, in both rosters)
                first = str(stats["counties"]["140105"]["first_page"])
                sh("pdftoppm", "-png", "-r", "70", "-f", first, "-l", first, "-singlefile", pdf,
                   args.png / f"workbook-county-page{pictures[name]}")
                sh("pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", pdf,
                   args.png / f"workbook-cover{pictures[name]}")
        # every other XLSX the tool writes: the structure WPS needs, and LibreOffice converts it
        from xlsx_structure import problems as xlsx_problems

        others = {"bank": out / "bank.xlsx", "public": out / "公示.xlsx", "figures form": out / "figures.xlsx"}
        sh(CLI, "report", big_run, "--bank", "generic-xlsx", "--bank-out", others["bank"], "--public", others["public"], env=env)
        sh(CLI, "fetch", "template", "--region", "140000", "--since", "2019-01", "--until", "2019-12", "--out",
           others["figures form"], env=env)
        for what, f in others.items():
            problems += [f"{f.name}: {p}" for p in xlsx_problems(f)]
            r = sh("soffice", "--headless", "--norestore", "--convert-to", "pdf", "--outdir", out, f, check=False)
            pdf = out / (f.stem + ".pdf")
            if r.returncode != 0 or not pdf.is_file() or not pdf_pages(pdf):
                problems.append(f"{f.name}: LibreOffice did not convert it to PDF ({r.stderr[-300:]})")
            else:
                report[what] = {"pages": len(pdf_pages(pdf))}
        for name in runs:
            problems += [f"{name}.xlsx: {p}" for p in xlsx_problems(out / f"{name}.xlsx")]
        print(json.dumps(report, ensure_ascii=False, indent=2))
        for p in problems:
            print("FAIL:", p, file=sys.stderr)
        print("print-check: " + ("OK" if not problems else f"{len(problems)} problems"), file=sys.stderr)
        return 1 if problems else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
