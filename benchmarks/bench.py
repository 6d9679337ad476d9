#!/usr/bin/env python
"""`make bench`: cpi-link calc on synthetic national-scale rosters, against a floor measured in the same run.

For each size (1M and 5M rows by default; 50M with --huge) and format (Parquet, CSV), and XLSX
rosters of 100k and 1M rows (--xlsx-sizes; officers' spreadsheets are smaller):

* generates a deterministic synthetic roster (valid GB 11643 IDs, Chinese headers and category
  names, about 1% duplicate persons spread over the whole file, a few bad rows of every kind),
  cached under bench-out/rosters/, in a child process of its own (roster_in_child);
* the floor: a child process in which pyarrow reads the same roster (pyarrow.csv for CSV,
  pyarrow.parquet for Parquet) and writes one Parquet file of the same rows; for XLSX,
  python-calamine reading the sheet into rows (Python lists), as the roster reader starts;
* `cpi-link calc --scheme national --month 2019-11` (a month that triggers) as a whole process,
  with the sample standards and --home in a temp folder.

Each measurement runs in its own child process; wall seconds come from a monotonic clock around
it and peak memory from that child's own rusage (os.wait4 -> ru_maxrss; Linux starts a child's
peak at its parent's, so this process stays small: rosters are made in children). With --repeat N, floor
and calc runs alternate N times and the best wall of each is kept. Prints a table per
size and format with the ratios calc/floor, and writes everything to bench-out/results.json.

This is not a test: it is slow and never runs under pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
CLI = VENV_BIN / "cpi-link"
STANDARDS = ROOT / "data" / "sample" / "standards.csv"
MONTH = "2019-11"
SCHEME = "national"
CHUNK = 1_000_000  # rows generated per chunk (bounded memory for any size)

# --------------------------------------------------------------------------------------------
# Synthetic rosters

# Counties under the sample standards' prefectures (Shanxi); a few codes outside them (unknown_region).
PREFECTURES = ["1401", "1402", "1403", "1404", "1405", "1406", "1407", "1408", "1409", "1410", "1411"]
def _counties() -> list[str]:
    """Up to 12 county-level codes of each prefecture, valid in the bench's month (the bundled
    division list): a roster of real codes, as calc rejects the others as unknown_region."""
    import csv

    with open(ROOT / "data" / "regions" / "divisions.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    year = int(MONTH[:4])
    valid = sorted(r["code"] for r in rows
                   if r["code"][:4] in PREFECTURES and not r["code"].endswith("00")
                   and int(r["from_year"] or 0) <= year <= int(r["until_year"] or 9999))
    return [c for p in PREFECTURES for c in [v for v in valid if v[:4] == p][:12]]


COUNTIES = _counties()
UNKNOWN_REGIONS = ["990101", "650102"]
# (text in the roster, weight): Chinese names mostly, some codes; orphan/dibao_edge are not
# covered by the national scheme in 2019-11 (category_not_covered).
CATEGORIES = [
    ("城市低保", 30), ("农村低保", 35), ("城市特困", 5), ("农村特困", 8), ("urban_dibao", 5),
    ("领取失业保险金人员", 5), ("优抚对象", 6), ("孤儿", 3), ("低保边缘人口", 2), ("rural_dibao", 1),
]
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈")
GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉梅金凤")
HEADER = ["身份证号", "姓名", "保障类别", "行政区划代码", "城乡", "保障人数", "银行账号"]
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
DUP_RATE = 0.01
BAD_ID_RATE = 0.002


def _str_array(mat):
    """An (n, w) uint8 ASCII matrix -> pyarrow string array."""
    import numpy as np
    import pyarrow as pa

    n, w = mat.shape
    offsets = pa.py_buffer(np.arange(0, w * (n + 1), w, dtype=np.int32).tobytes())
    return pa.StringArray.from_buffers(n, offsets, pa.py_buffer(np.ascontiguousarray(mat).tobytes()))


def _ids_for(p):
    """Person numbers -> distinct valid 18-character IDs (unique for p < 3.65e9)."""
    import numpy as np

    k = len(COUNTIES)
    county = np.array([[ord(ch) for ch in c] for c in COUNTIES], dtype=np.uint8)[p % k]
    days = (p // k) % 29000  # birth dates 1930-01-01 .. 2009
    date = np.datetime64("1930-01-01") + days.astype("timedelta64[D]")
    ymd = np.char.replace(np.datetime_as_string(date, unit="D"), "-", "")
    seq = (p // k // 29000) % 1000
    m = np.empty((len(p), 18), dtype=np.uint8)
    m[:, :6] = county
    m[:, 6:14] = np.frombuffer(ymd.astype("S8").tobytes(), dtype=np.uint8).reshape(-1, 8)
    for j, place in enumerate((100, 10, 1)):
        m[:, 14 + j] = 48 + (seq // place) % 10
    total = ((m[:, :17].astype(np.int64) - 48) @ np.array(WEIGHTS, dtype=np.int64)) % 11
    m[:, 17] = np.frombuffer(b"10X98765432", dtype=np.uint8)[total]
    return m, p % k


def _chunk(start: int, n: int, seed: int = 20191101):
    """Rows start..start+n-1 of the synthetic roster as a pyarrow table of strings (deterministic)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng([seed, start])
    rows = np.arange(start, start + n, dtype=np.int64)
    person = rows.copy()
    dup = rng.random(n) < DUP_RATE
    if start + n > 1:  # a duplicate repeats a person from anywhere earlier in the file (across batches)
        person[dup] = (rng.random(int(dup.sum())) * np.maximum(rows[dup], 1)).astype(np.int64)
    idm, county_i = _ids_for(person)
    bad = rng.random(n) < BAD_ID_RATE
    idm[bad, 17] = np.where(idm[bad, 17] == ord("0"), ord("1"), ord("0"))  # wrong check digit
    ids = _str_array(idm)

    region = pa.array(COUNTIES + UNKNOWN_REGIONS).take(
        pa.array(np.where(rng.random(n) < 0.001, len(COUNTIES), county_i))
    )
    names_pool = pa.array([s + g1 + g2 for s in SURNAMES for g1 in GIVEN[:12] for g2 in GIVEN])
    name = names_pool.take(pa.array(rng.integers(0, len(names_pool), n)))
    w = np.array([c[1] for c in CATEGORIES], dtype=float)
    category = pa.array([c[0] for c in CATEGORIES]).take(pa.array(rng.choice(len(CATEGORIES), n, p=w / w.sum())))
    area = pa.array(["城市", "农村", "urban", "rural", ""]).take(pa.array(rng.choice(5, n, p=[0.4, 0.45, 0.05, 0.05, 0.05])))
    persons = pa.array(["", "1", "2", "3", "4", "x"]).take(
        pa.array(rng.choice(6, n, p=[0.5, 0.2, 0.15, 0.1, 0.0495, 0.0005]))
    )
    acct = rng.integers(10**15, 10**16, n)
    bank = pc.binary_join_element_wise("62", pa.array(acct).cast(pa.string()), "")  # 18 digits
    bank = pc.if_else(pa.array(rng.random(n) < 0.1), pa.scalar("", pa.string()), bank)
    return pa.table([ids, name, category, region, area, persons, bank], names=HEADER)


def make_roster(rows: int, fmt: str, out: Path) -> Path:
    """Generate (or reuse) the roster of `rows` rows in `fmt` (parquet|csv) under out/rosters."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    d = out / "rosters"
    d.mkdir(parents=True, exist_ok=True)
    # v2: real division codes (the v1 rosters' made-up counties are now unknown_region)
    path = d / f"roster-v2-{rows // 1_000_000}M.{fmt}" if rows % 1_000_000 == 0 else d / f"roster-v2-{rows}.{fmt}"
    if path.exists():
        return path
    tmp = path.with_suffix(path.suffix + ".part")
    t0 = time.monotonic()
    if fmt == "xlsx":
        _write_xlsx(rows, tmp)
    elif fmt == "parquet":
        schema = pa.schema([(h, pa.string()) for h in HEADER])
        with pq.ParquetWriter(tmp, schema, compression="snappy") as w:
            for start in range(0, rows, CHUNK):
                w.write_table(_chunk(start, min(CHUNK, rows - start)), row_group_size=CHUNK)
    else:
        with open(tmp, "wb") as fh:
            fh.write(("\ufeff" + ",".join(HEADER) + "\n").encode("utf-8"))
            opts = pacsv.WriteOptions(include_header=False, quoting_style="none")
            for start in range(0, rows, CHUNK):
                pacsv.write_csv(_chunk(start, min(CHUNK, rows - start)), fh, write_options=opts)
    os.replace(tmp, path)
    print(f"  generated {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} in {time.monotonic() - t0:.1f} s", flush=True)
    return path


def split_roster(roster: Path, rows: int, fmt: str, parts: int) -> list[Path]:
    """The roster cut into `parts` files of consecutive rows, each with the header (or reused):
    `calc --roster` given once per part reads them as one roster."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = [roster.with_name(f"{roster.stem}-part{i + 1}of{parts}{roster.suffix}") for i in range(parts)]
    if all(p.exists() for p in paths):
        return paths
    per = -(-rows // parts)
    if fmt == "parquet":
        src = pq.ParquetFile(roster)
        batches = src.iter_batches(batch_size=per)
        for p, b in zip(paths, batches):
            pq.write_table(pa.Table.from_batches([b]), p, compression="snappy")
        return paths
    with open(roster, "rb") as fh:
        header = fh.readline()
        for i, p in enumerate(paths):
            with open(p, "wb") as out:
                out.write(header if i == 0 else header.removeprefix("\ufeff".encode()))
                for _ in range(per):
                    line = fh.readline()
                    if not line:
                        break
                    out.write(line)
    return paths


def places_roster(roster: Path, fmt: str) -> Path:
    """The roster with three more columns officers' rosters carry (乡镇（街道）: 40 values, 村（社区）:
    400, 备注: 新增 on 5% of rows), which calc reads and carries to payments.parquet (or reused)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = roster.with_name(f"{roster.stem}-places{roster.suffix}")
    if path.exists():
        return path
    t = pq.read_table(roster) if fmt == "parquet" else pacsv.read_csv(roster, convert_options=pacsv.ConvertOptions(
        column_types={h: pa.string() for h in HEADER}))
    n, rng = t.num_rows, np.random.default_rng(31)
    towns = np.array([f"第{k}镇" for k in range(40)], dtype=object)
    villages = np.array([f"第{k}村" for k in range(400)], dtype=object)
    t = t.append_column("乡镇（街道）", pa.array(towns[rng.integers(0, 40, n)], pa.string()))
    t = t.append_column("村（社区）", pa.array(villages[rng.integers(0, 400, n)], pa.string()))
    t = t.append_column("备注", pa.array(np.where(rng.random(n) < 0.05, "新增", "").astype(object), pa.string()))
    tmp = path.with_suffix(path.suffix + ".part")
    if fmt == "parquet":
        pq.write_table(t, tmp, compression="snappy")
    else:
        pacsv.write_csv(t, tmp)
    os.replace(tmp, path)
    return path


def _write_xlsx(rows: int, path: Path) -> None:
    """The roster as an officer's workbook: text cells, persons as numbers, written by a streaming
    writer (xlsxwriter's constant_memory mode, as EasyExcel/POI write big exports)."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    ws = wb.add_worksheet("花名册")
    ws.write_row(0, 0, HEADER)
    r = 1
    for start in range(0, rows, CHUNK):
        cols = [c.to_pylist() for c in _chunk(start, min(CHUNK, rows - start)).columns]
        for row in zip(*cols):
            row = list(row)
            if row[5].isdigit():
                row[5] = int(row[5])
            ws.write_row(r, 0, row)
            r += 1
    wb.close()


GENERATE_CODE = r"""
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import bench
rows, fmt, out, parts, places = int(sys.argv[2]), sys.argv[3], Path(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "1"
roster = bench.make_roster(rows, fmt, out)
split = [str(p) for p in bench.split_roster(roster, rows, fmt, parts)] if parts > 1 and fmt != "xlsx" else None
placed = str(bench.places_roster(roster, fmt)) if places and fmt != "xlsx" else None
print(json.dumps({"roster": str(roster), "parts": split, "places": placed}))
"""


def roster_in_child(rows: int, fmt: str, out: Path, parts: int = 0,
                    places: bool = False) -> tuple[Path, list[Path] | None, Path | None]:
    """make_roster (split_roster when parts > 1, places_roster when places) in a child process of
    its own: a child's peak memory as the kernel reports it (ru_maxrss) is at least its parent's
    peak, so the measuring process never holds a roster. Returns the roster, its parts (or None)
    and its copy with 乡镇/村/备注 (or None)."""
    p = subprocess.run([sys.executable, "-c", GENERATE_CODE, str(Path(__file__).resolve().parent), str(rows), fmt,
                        str(out), str(parts), "1" if places else "0"], check=True, stdout=subprocess.PIPE, text=True)
    *said, last = p.stdout.rstrip().splitlines()
    for line in said:  # the child's 'generated ...' lines
        print(line, flush=True)
    made = json.loads(last)
    return (Path(made["roster"]), [Path(x) for x in made["parts"]] if made["parts"] else None,
            Path(made["places"]) if made["places"] else None)


# --------------------------------------------------------------------------------------------
# Measuring one child process

FLOOR_CODE = r"""
import sys, pyarrow as pa, pyarrow.parquet as pq
src, dst, fmt = sys.argv[1:4]
if fmt == "xlsx":
    import python_calamine
    sheet = python_calamine.CalamineWorkbook.from_path(src).get_sheet_by_index(0)
    n = sum(1 for _ in sheet.iter_rows()) - 1
    print(n)
    sys.exit(0)
if fmt == "csv":
    import pyarrow.csv as pacsv
    # every column as text, like the roster reader; the BOM is skipped by the reader
    with open(src, "rb") as fh:
        names = fh.readline().decode("utf-8-sig").strip().split(",")
    t = pacsv.read_csv(src, convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names}))
else:
    t = pq.read_table(src)
pq.write_table(t, dst)
print(t.num_rows)
"""


def measure(cmd: list[str], env=None) -> dict:
    """Run cmd as a child; wall seconds and that child's own peak RSS (MiB)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    # read pipes while waiting (the outputs are small); wait4 gives this child's own rusage
    out, err = b"", b""
    import threading

    chunks = {"out": [], "err": []}

    def pump(stream, key):
        for line in stream:
            chunks[key].append(line)

    threads = [threading.Thread(target=pump, args=(p.stdout, "out")), threading.Thread(target=pump, args=(p.stderr, "err"))]
    for t in threads:
        t.start()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    for t in threads:
        t.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    out, err = b"".join(chunks["out"]).decode(errors="replace"), b"".join(chunks["err"]).decode(errors="replace")
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {p.returncode}:\n{err[-4000:]}\n{out[-2000:]}")
    return {"wall_s": wall, "peak_rss_mib": ru.ru_maxrss / 1024, "cpu_s": ru.ru_utime + ru.ru_stime, "stdout": out}


def run_floor(roster: Path, fmt: str, work: Path) -> dict:
    dst = work / "floor.parquet"
    r = measure([sys.executable, "-c", FLOOR_CODE, str(roster), str(dst), fmt])
    if dst.exists():
        r["output_mib"] = dst.stat().st_size / 2**20
        dst.unlink()
    return r


def run_calc(roster, work: Path) -> dict:
    """calc on the roster (a path, or a list of paths given as --roster each: one roster)."""
    home = work / "home"
    out = work / "run"
    env = dict(os.environ, CPI_LINK_HOME=str(home))
    given = [a for p in (roster if isinstance(roster, list) else [roster]) for a in ("--roster", str(p))]
    cmd = [str(CLI), "--home", str(home), "calc", "--scheme", SCHEME, "--month", MONTH, *given,
           "--standards", str(STANDARDS), "--out", str(out), "--format", "json"]
    r = measure(cmd, env=env)
    res = json.loads(r.pop("stdout"))
    r["paid_rows"] = res["paid_rows"]
    r["rejected_by_reason"] = res["rejected_by_reason"]
    r["total_amount"] = res["total_amount"]
    r["output_mib"] = sum(p.stat().st_size for p in out.iterdir()) / 2**20
    shutil.rmtree(out)
    return r


def help_time(repeat: int = 5) -> dict:
    walls = [measure([str(CLI), "--help"])["wall_s"] for _ in range(repeat)]
    return {"best_s": min(walls), "median_s": sorted(walls)[len(walls) // 2], "runs": walls}


# --------------------------------------------------------------------------------------------


def fmt_row(size: int, fmt: str, floor: dict, calc: dict) -> list[str]:
    return [
        _size(size), fmt,
        f"{floor['wall_s']:.1f}", f"{floor['peak_rss_mib']:.0f}",
        f"{calc['wall_s']:.1f}", f"{calc['peak_rss_mib']:.0f}", f"{size / calc['wall_s'] / 1e6:.2f}",
        f"{calc['wall_s'] / floor['wall_s']:.2f}", f"{calc['peak_rss_mib'] / floor['peak_rss_mib']:.2f}",
    ]


def _size(size: int) -> str:
    return f"{size // 1_000_000}M" if size % 1_000_000 == 0 else f"{size // 1000}k" if size % 1000 == 0 else str(size)


COLS = ["rows", "format", "floor s", "floor MiB", "calc s", "calc MiB", "calc M rows/s", "time ×floor", "memory ×floor"]


def print_table(rows: list[list[str]]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table

        t = Table(title=f"cpi-link calc vs the floor: pyarrow, calamine for XLSX ({platform.node()}, {os.cpu_count()} cores)")
        for c in COLS:
            t.add_column(c, justify="left" if c in ("rows", "format") else "right")
        for r in rows:
            t.add_row(*r)
        Console().print(t)
    except ImportError:
        print(" | ".join(COLS))
        for r in rows:
            print(" | ".join(r))


def markdown(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(COLS) + " |", "|" + "---|" * len(COLS)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000000,5000000", help="comma-separated row counts (default 1M,5M)")
    ap.add_argument("--huge", action="store_true", help="also 50M rows (slow: minutes, ~10 GB of rosters)")
    ap.add_argument("--formats", default="parquet,csv,xlsx")
    ap.add_argument("--xlsx-sizes", default="100000,1000000", help="row counts of the XLSX rosters (default 100k,1M)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-out", help="cache and results folder (git-ignored)")
    ap.add_argument("--repeat", type=int, default=1, help="measure each calc/floor this many times, keep the best wall")
    ap.add_argument("--results", type=Path, default=None, help="results JSON (default: OUT/results.json)")
    ap.add_argument("--skip-floor-for", default="", help="sizes whose floor is skipped (e.g. 50000000)")
    ap.add_argument("--places", action="store_true", help="also calc each CSV/Parquet roster with 乡镇/村/备注 columns "
                    "(carried to the payments)")
    ap.add_argument("--split", type=int, default=0, help="also calc each CSV/Parquet roster cut into this many files, "
                    "given as --roster each (several rosters read as one)")
    args = ap.parse_args(argv)

    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.huge and 50_000_000 not in sizes:
        sizes.append(50_000_000)
    skip_floor = {int(s) for s in args.skip_floor_for.split(",") if s}
    formats = [f for f in args.formats.split(",") if f]
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.results or args.out / "results.json"
    results = {
        "machine": {"node": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "command": "make bench" + (f" BENCH_ARGS='{' '.join(argv or sys.argv[1:])}'" if (argv or sys.argv[1:]) else ""),
        "month": MONTH, "scheme": SCHEME, "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "help": help_time(), "runs": [],
    }
    print(f"cpi-link --help: best {results['help']['best_s']:.3f} s, median {results['help']['median_s']:.3f} s", flush=True)
    rows = []
    runs = [(size, fmt) for size in sizes for fmt in formats if fmt != "xlsx"]
    if "xlsx" in formats:
        runs += [(int(s), "xlsx") for s in args.xlsx_sizes.split(",") if s]
    for size, fmt in runs:
        roster, parts, with_places = roster_in_child(size, fmt, args.out, args.split, args.places)
        with tempfile.TemporaryDirectory(dir=args.out, prefix="work-") as w:
            work = Path(w)
            # floor and calc runs alternate, so a slow spell of this shared machine hits both
            floors, calcs, splits, placed = [], [], [], []
            for _ in range(args.repeat):
                if size not in skip_floor:
                    floors.append(run_floor(roster, fmt, work))
                calcs.append(run_calc(roster, work))
                if parts:
                    splits.append(run_calc(parts, work))
                if with_places:
                    placed.append(run_calc(with_places, work))
            floor = min(floors, key=lambda r: r["wall_s"]) if floors else None
            if floor:
                floor.pop("stdout", None)
            calc = min(calcs, key=lambda r: r["wall_s"])
        entry = {"rows": size, "format": fmt, "roster_mib": roster.stat().st_size / 2**20, "floor": floor, "calc": calc}
        if splits:
            split = min(splits, key=lambda r: r["wall_s"])
            entry["split"] = {"files": args.split, **split}
            same = (split["paid_rows"], split["total_amount"]) == (calc["paid_rows"], calc["total_amount"])
            print(f"  {size:,} {fmt} in {args.split} files: calc {split['wall_s']:.2f} s wall, {split['cpu_s']:.2f} s CPU, "
                  f"{split['peak_rss_mib']:.0f} MiB (one file: {calc['wall_s']:.2f} s, {calc['cpu_s']:.2f} s CPU, "
                  f"{calc['peak_rss_mib']:.0f} MiB); paid {split['paid_rows']:,}, {split['total_amount']} yuan"
                  + ("" if same else " DIFFERENT FROM ONE FILE"), flush=True)
        if placed:
            pl = min(placed, key=lambda r: r["wall_s"])
            entry["places"] = pl
            print(f"  {size:,} {fmt} with 乡镇/村/备注: calc {pl['wall_s']:.2f} s wall, {pl['cpu_s']:.2f} s CPU, "
                  f"{pl['peak_rss_mib']:.0f} MiB (without: {calc['wall_s']:.2f} s, {calc['cpu_s']:.2f} s CPU, "
                  f"{calc['peak_rss_mib']:.0f} MiB); paid {pl['paid_rows']:,}, {pl['total_amount']} yuan", flush=True)
        if floor:
            entry["time_ratio"] = calc["wall_s"] / floor["wall_s"]
            entry["memory_ratio"] = calc["peak_rss_mib"] / floor["peak_rss_mib"]
            rows.append(fmt_row(size, fmt, floor, calc))
        else:
            rows.append([_size(size), fmt, "-", "-", f"{calc['wall_s']:.1f}", f"{calc['peak_rss_mib']:.0f}",
                         f"{size / calc['wall_s'] / 1e6:.2f}", "-", "-"])
        results["runs"].append(entry)
        print(f"  {size:,} {fmt}: floor {floor and round(floor['wall_s'], 2)} s / {floor and round(floor['peak_rss_mib'])} MiB; "
              f"calc {calc['wall_s']:.2f} s / {calc['peak_rss_mib']:.0f} MiB; paid {calc['paid_rows']:,}", flush=True)
        results_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    # every child's peak is at least this (the kernel carries a parent's peak into the child it starts)
    results["bench_process_peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print_table(rows)
    print(markdown(rows))
    print(f"this process's own peak: {results['bench_process_peak_mib']:.0f} MiB (the floor of every peak above)")
    print(f"results: {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
