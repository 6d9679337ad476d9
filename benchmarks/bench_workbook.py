#!/usr/bin/env python
"""`make bench-workbook`: `cpi-link report RUN --xlsx` for a run of 200k paid rows, against a floor
measured in the same session: a plain xlsxwriter constant-memory write of the same cells (the
payments read with pyarrow, one sheet per county, the same 14 columns of values, no formats, no
cover, no print settings), and the same write with a shared-string table (xlsxwriter without
constant_memory: every cell held until close), the cost of shared strings.

The roster is synthetic (valid IDs, 132 counties of the sample standards, categories the national
scheme pays in 2019-11; with --places also 乡镇（街道） (40 values), 村（社区） (400), 备注 on 5 % of the
rows, one in five with a long remark, and 12-digit codes, the floor writing those cells too), computed
once with `cpi-link calc`; each measurement is its own child
process (wall from a monotonic clock, CPU and peak RSS from os.wait4). Target: workbook <= 1.5x
the floor's wall time, peak <= 300 MB. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import CLI, COUNTIES, STANDARDS, measure  # noqa: E402

W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CATS = ["城市低保", "农村低保", "城市特困", "农村特困", "领取失业保险金人员"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞"

FLOOR_CODE = r"""
import sys, xlsxwriter, pyarrow.parquet as pq, pyarrow.compute as pc
from decimal import Decimal
run, dest = sys.argv[1], sys.argv[2]
t = pq.read_table(run + "/payments.parquet")
t = t.sort_by([("region_code", "ascending"), ("source_row", "ascending")])
cols = {c: t.column(c).to_pylist() for c in ("person_id", "name", "category", "region_code", "area", "persons",
        "standard", "standard_region", "rate_pct", "amount_per_person", "amount", "bank_account")}
places = sys.argv[4] == "places"
if places:
    cols.update({c: t.column(c).to_pylist() for c in ("township", "village", "remark", "region_code_full")})
wb = xlsxwriter.Workbook(dest, {"constant_memory": sys.argv[3] == "inline"})
n = t.num_rows
i = 0
while i < n:
    code = cols["region_code"][i]
    ws = wb.add_worksheet(code)
    r = 0
    while i < n and cols["region_code"][i] == code:
        ws.write_number(r, 0, r + 1)
        ws.write_string(r, 1, cols["person_id"][i])
        ws.write_string(r, 2, cols["name"][i])
        ws.write_string(r, 3, cols["category"][i])
        ws.write_string(r, 4, cols["region_code_full"][i] or code if places else code)
        ws.write_string(r, 5, cols["area"][i])
        ws.write_number(r, 6, cols["persons"][i])
        ws.write_number(r, 7, cols["standard"][i])
        ws.write_string(r, 8, cols["standard_region"][i])
        ws.write_string(r, 9, str(cols["rate_pct"][i]))
        ws.write_number(r, 10, cols["amount_per_person"][i])
        ws.write_number(r, 11, cols["amount"][i])
        b = cols["bank_account"][i]
        if b:
            ws.write_string(r, 12, b)
        if places:
            for j, c in ((13, "township"), (14, "village"), (15, "remark")):
                if cols[c][i]:
                    ws.write_string(r, j, cols[c][i])
        i += 1
        r += 1
wb.close()
"""


GEN = r"""
import sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from bench_workbook import make_roster
make_roster(int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4] == "places")
"""


def make_id(region: str, birth: str, seq: int) -> str:
    body = f"{region}{birth}{seq:03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, W)) % 11]


LONG_REMARK = "户主长期患病，子女在外地务工，2019年复核"


def make_roster(rows: int, path: Path, places: bool = False) -> Path:
    lines = ["身份证号,姓名,保障类别,行政区划代码,城乡,保障人数,银行账号"]
    if places:
        lines[0] += ",乡镇（街道）,村（社区）,备注"
    for i in range(rows):
        county = COUNTIES[i % len(COUNTIES)]
        k = i // len(COUNTIES)  # unique per county: birth day x sequence
        birth = f"1950{1 + k // 28000 % 12:02d}{1 + k // 1000 % 28:02d}"
        name = SURNAMES[i % 20] + GIVEN[(i // 20) % 20] + (GIVEN[(i // 400) % 20] if i % 3 else "")
        acct = f"62{i:017d}" if i % 10 else ""
        code, extra = county, ""
        if places:
            town, village = i % 40, i % 400
            code = f"{county}{1 + town:03d}{1 + village % 10:03d}"
            remark = "" if i % 20 else ("新增" if i % 100 else LONG_REMARK)
            extra = f",第{town + 1}镇,第{village + 1}村,{remark}"
        lines.append(f"{make_id(county, birth, k % 1000)},{name},{CATS[i % 5]},{code},,{1 + i % 3},{acct}{extra}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=1, help="alternate floor and workbook this many times, keep the best wall")
    ap.add_argument("--places", action="store_true", help="the roster has 乡镇/村/备注 columns and 12-digit codes")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "bench-out")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-wb-", dir=args.out))
    try:
        home = work / "home"
        env = dict(os.environ, CPI_LINK_HOME=str(home))
        # made in a child of its own: a child's peak memory starts at its parent's (Linux), so the
        # bench process stays small
        roster = work / "roster.csv"
        subprocess.run([sys.executable, "-c", GEN, str(Path(__file__).resolve().parent), str(args.rows), str(roster),
                        "places" if args.places else ""], check=True)
        run = work / "run"
        calc = measure([str(CLI), "calc", "--scheme", "national", "--month", "2019-11", "--roster", str(roster),
                        "--standards", str(STANDARDS), "--out", str(run), "--format", "json"], env=env)
        paid = json.loads(calc["stdout"])["paid_rows"]
        best = {}
        kind = "places" if args.places else "plain"
        for _ in range(args.repeat):
            floor = measure([sys.executable, "-c", FLOOR_CODE, str(run), str(work / "floor.xlsx"), "inline", kind])
            shared = measure([sys.executable, "-c", FLOOR_CODE, str(run), str(work / "shared.xlsx"), "shared", kind])
            wb = measure([str(CLI), "report", str(run), "--xlsx", str(work / "workbook.xlsx"), "--format", "json"], env=env)
            for k, m in (("floor", floor), ("shared", shared), ("workbook", wb)):
                m.pop("stdout", None)
                if k not in best or m["wall_s"] < best[k]["wall_s"]:
                    best[k] = m
        res = {"paid_rows": paid, "places": args.places, **best,
               "ratio_wall": best["workbook"]["wall_s"] / best["floor"]["wall_s"],
               "ratio_cpu": best["workbook"]["cpu_s"] / best["floor"]["cpu_s"],
               "shared_ratio_wall": best["shared"]["wall_s"] / best["floor"]["wall_s"],
               "workbook_mib": (work / "workbook.xlsx").stat().st_size / 2**20}
        print(f"paid rows {paid:,}")
        for k in ("floor", "shared", "workbook"):
            m = best[k]
            print(f"{k:9s} wall {m['wall_s']:6.1f} s  cpu {m['cpu_s']:6.1f} s  peak {m['peak_rss_mib']:6.0f} MiB")
        print(f"shared-string write / floor: wall {res['shared_ratio_wall']:.2f}x; peak {best['shared']['peak_rss_mib']:.0f} MiB")
        print(f"workbook / floor: wall {res['ratio_wall']:.2f}x, cpu {res['ratio_cpu']:.2f}x (target <= 1.5x); "
              f"peak {best['workbook']['peak_rss_mib']:.0f} MiB (target <= 300)")
        (args.out / f"workbook-results{'-places' if args.places else ''}.json").write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
