#!/usr/bin/env python
"""`make bench-analyst`: the analyst's commands (diff, simulate, estimate, ledger export) against DuckDB in the same run.

* The 1M-row Parquet roster of `make bench` is generated in its own child process first (so no
  child's peak memory includes the parent's), then calc pays it for two months (2019-11, 2020-02)
  into two run folders, and the roster's rows are summed into a headcounts file.
* Each pair, cpi-link then DuckDB, alternates --repeat times (default 3); the table gives the
  median wall, CPU (user + system) and peak memory of each child (os.wait4's rusage of that child alone):
  - diff of the two runs (--show 5; --format csv) against one DuckDB full outer join with the
    same change classes (COPY ... TO CSV for the CSV);
  - simulate 2016-07..2025-12, national against national, against the same costing in SQL: the
    roster's rows checked (ID check character and birth date, category words, 6-digit region,
    persons 1..99), grouped by (category, region, area, persons, birth month after the first paid
    month), joined with each triggered month's rate, categories and multiplier (national.toml's
    versions and overlays) and the standards in force that month (county, else prefecture, else
    province), yuan rounded half up per person, a person listed twice paid once on their row with
    the highest amount (the first among equals); persons and totals of every month are checked
    equal to the fen first;
  - estimate of the headcounts for 2019-11 against the same costing in SQL (category words, the
    standard of the county, else its prefecture, else its province, in force that month; yuan
    rounded half up per person); both totals are checked equal to the fen first; and against a
    floor no Python command on this stack can go below: the interpreter importing numpy, pyarrow
    (compute, parquet), typer and rich and making one Arrow value (pyarrow imports pandas there);
  - ledger export of a ledger paid by `run --since 2019-04 --offline` (every triggered month from
    there on: 23 months of about 950k rows, built once under --out and reused) against DuckDB's
    `COPY (SELECT * FROM 'ledger/payments/*/*.parquet')`; the row counts are checked equal first.
DuckDB is a bench-only dependency (`pip install duckdb`); never imported by cpi-link.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the roster generator in its own child, and measure())

CLI = str(bench.CLI)


def measure(cmd: list[str], env=None) -> dict:
    """bench.measure with the child's stdout sent to /dev/null: a parent that captured a large
    output would pass its own peak to the next children it forks (their rusage starts from it)."""
    import time

    t0 = time.monotonic()
    with open(os.devnull, "wb") as null:
        p = subprocess.Popen(cmd, stdout=null, stderr=subprocess.DEVNULL, env=env)
        _, status, ru = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed")
    return {"wall_s": time.monotonic() - t0, "cpu_s": ru.ru_utime + ru.ru_stime, "peak_rss_mib": ru.ru_maxrss / 1024}
STD = str(bench.STANDARDS)

DUCK_DIFF = r"""
import sys, duckdb
a, b, out = sys.argv[1:4]
con = duckdb.connect()
q = f'''
WITH A AS (SELECT * FROM '{a}/payments.parquet'), B AS (SELECT * FROM '{b}/payments.parquet'),
J AS (SELECT coalesce(B.person_id, A.person_id) AS person_id, coalesce(B.name, A.name) AS name,
  coalesce(B.category, A.category) AS category, coalesce(B.region_code, A.region_code) AS region_code,
  CASE WHEN A.person_id IS NULL THEN 'added' WHEN B.person_id IS NULL THEN 'removed' ELSE 'changed' END AS change,
  coalesce(A.amount, 0) AS amount_a, coalesce(B.amount, 0) AS amount_b, coalesce(B.amount, 0) - coalesce(A.amount, 0) AS difference,
  concat_ws(';', CASE WHEN A.standard <> B.standard THEN 'standard' END, CASE WHEN A.rate_pct <> B.rate_pct THEN 'rate' END,
    CASE WHEN A.category <> B.category THEN 'category' END, CASE WHEN A.persons <> B.persons THEN 'persons' END,
    CASE WHEN A.area <> B.area THEN 'area' END, CASE WHEN A.standard_region <> B.standard_region THEN 'standard_region' END) AS reasons,
  coalesce(B.source_row, A.source_row) AS src
  FROM A FULL OUTER JOIN B USING (person_id)
  WHERE A.person_id IS NULL OR B.person_id IS NULL OR A.amount <> B.amount)
'''
if out == 'table':
    con.execute(q + 'SELECT change, count(*), sum(difference) FROM J GROUP BY change').fetchall()
    con.execute(q + 'SELECT * FROM J ORDER BY change, src LIMIT 5').fetchall()
else:
    con.execute(f"COPY ({q} SELECT * FROM J ORDER BY change, src) TO '{out}' (HEADER)")
"""

DUCK_SIMULATE = r'''
import sys, json, duckdb
from decimal import Decimal
roster, std, months_json, out = sys.argv[1:5]
MONTHS = json.loads(months_json)  # [[month, rate_pct, version], ...] of the triggered months
WORDS = {"城市低保": "urban_dibao", "农村低保": "rural_dibao", "城市特困": "urban_tekun", "农村特困": "rural_tekun",
         "领取失业保险金人员": "unemployment_insurance", "优抚对象": "special_care", "孤儿": "orphan", "低保边缘人口": "dibao_edge"}
CODES = ["urban_dibao", "rural_dibao", "urban_tekun", "rural_tekun", "unemployment_insurance", "special_care", "orphan",
         "de_facto_orphan", "hiv_child", "unemployment_allowance", "dibao_edge"]
# config/schemes/national.toml: categories per version (None: by the row's area); overlays by month
V2016 = {"urban_dibao": "urban", "rural_dibao": "rural", "urban_tekun": "urban", "rural_tekun": "rural",
         "unemployment_insurance": "urban", "special_care": None}
VERSIONS = {"national-2016-1835": V2016, "national-2021-1553": V2016 | {"orphan": None, "de_facto_orphan": None, "hiv_child": None}}
OVERLAYS = [("2020-03", "2020-06", 2, {"orphan": None, "de_facto_orphan": None, "unemployment_allowance": "urban"}),
            ("2022-08", "2023-02", 1, {"unemployment_allowance": "urban", "dibao_edge": None})]
plan = []  # (month, yyyymm, rate_h, multiplier, code, paid_area)
for month, rate, version in MONTHS:
    cats, mult = dict(VERSIONS[version]), 1
    for a, b, m, add in OVERLAYS:
        if a <= month <= b:
            cats, mult = cats | add, mult * m
    rate_h = int(Decimal(rate) * 100)  # hundredths of a percent: 19.1 -> 1910
    plan += [f"('{month}', {month.replace('-', '')}, {rate_h}, {mult}, '{c}', {'NULL' if a is None else repr(a)})" for c, a in cats.items()]
first = min(m.replace("-", "") for m, _r, _v in MONTHS)  # born before the first month: one group
words = ", ".join(f"('{w}', '{c}')" for w, c in WORDS.items()) + ", " + ", ".join(f"('{c}', '{c}')" for c in CODES)
q = f"""
WITH w(word, code) AS (VALUES {words}),
plan(month, ym, rate_h, mult, code, paid_area) AS (VALUES {", ".join(plan)}),
r AS (SELECT row_number() OVER () AS rn, trim(身份证号) AS id, trim(保障类别) AS cat, trim(行政区划代码) AS region,
        CASE WHEN trim(城乡) IN ('城市', '城镇', 'urban') THEN 'urban' WHEN trim(城乡) IN ('农村', 'rural') THEN 'rural' END AS area,
        CASE WHEN trim(保障人数) = '' OR 保障人数 IS NULL THEN 1 ELSE TRY_CAST(trim(保障人数) AS INTEGER) END AS persons
      FROM read_parquet('{roster}')),
-- a valid ID: 17 digits, the GB 11643 check character, a real birth date
ok AS (SELECT r.rn, upper(r.id) AS id, w.code, r.region, coalesce(r.area, '') AS area, r.persons, CASE WHEN substr(r.id, 7, 6)::INTEGER > {first} THEN substr(r.id, 7, 6)::INTEGER ELSE 0 END AS born FROM r JOIN w ON w.word = r.cat
       WHERE regexp_full_match(r.id, '[0-9]{{17}}[0-9Xx]') AND r.persons BETWEEN 1 AND 99 AND regexp_full_match(r.region, '[0-9]{{6}}')
         AND TRY_STRPTIME(substr(r.id, 7, 8), '%Y%m%d') IS NOT NULL
         AND substr('10X98765432', 1 + ((7 * (ascii(substr(r.id, 1, 1)) - 48) + 9 * (ascii(substr(r.id, 2, 1)) - 48) + 10 * (ascii(substr(r.id, 3, 1)) - 48) + 5 * (ascii(substr(r.id, 4, 1)) - 48) + 8 * (ascii(substr(r.id, 5, 1)) - 48) + 4 * (ascii(substr(r.id, 6, 1)) - 48) + 2 * (ascii(substr(r.id, 7, 1)) - 48) + 1 * (ascii(substr(r.id, 8, 1)) - 48) + 6 * (ascii(substr(r.id, 9, 1)) - 48) + 3 * (ascii(substr(r.id, 10, 1)) - 48) + 7 * (ascii(substr(r.id, 11, 1)) - 48) + 9 * (ascii(substr(r.id, 12, 1)) - 48) + 10 * (ascii(substr(r.id, 13, 1)) - 48) + 5 * (ascii(substr(r.id, 14, 1)) - 48) + 8 * (ascii(substr(r.id, 15, 1)) - 48) + 4 * (ascii(substr(r.id, 16, 1)) - 48) + 2 * (ascii(substr(r.id, 17, 1)) - 48)) % 11)::INTEGER, 1) = upper(substr(r.id, 18, 1))),
s AS (SELECT p.month, s.region_code, s.urban_monthly::DECIMAL(12, 2) AS um, s.rural_annual::DECIMAL(12, 2) AS ra
      FROM (SELECT DISTINCT month FROM plan) p JOIN read_csv('{std}', all_varchar=true) s ON s.effective_from <= p.month
      QUALIFY row_number() OVER (PARTITION BY p.month, s.region_code ORDER BY s.effective_from DESC) = 1),
ok2 AS (SELECT *, count(*) OVER (PARTITION BY id) > 1 AS twice FROM ok),
g AS (SELECT code, region, area, persons, born, count(*) FILTER (WHERE NOT twice) AS n FROM ok2 GROUP BY ALL),
priced AS (SELECT plan.month, g.*, ((2 * (CASE coalesce(plan.paid_area, nullif(g.area, '')) WHEN 'urban' THEN coalesce(s1.um, s2.um, s3.um) * 1200
              WHEN 'rural' THEN coalesce(s1.ra, s2.ra, s3.ra) * 100 END)::BIGINT * plan.rate_h + 12000000) // 24000000) * 100 * plan.mult AS fen
      FROM g JOIN plan ON plan.code = g.code AND g.born <= plan.ym
      LEFT JOIN s s1 ON s1.month = plan.month AND s1.region_code = g.region
      LEFT JOIN s s2 ON s2.month = plan.month AND s2.region_code = left(g.region, 4) || '00'
      LEFT JOIN s s3 ON s3.month = plan.month AND s3.region_code = left(g.region, 2) || '0000'),
paid AS (SELECT * FROM priced WHERE fen IS NOT NULL),
-- people listed once: by group; a person listed twice: the row with the highest amount, the first among equals
single AS (SELECT month, sum(n * persons) AS persons, sum(n * persons * fen) AS fen FROM paid GROUP BY month),
dup AS (SELECT p.month, sum(persons) AS persons, sum(persons * fen) AS fen FROM (
          SELECT p.month, ok2.persons, p.fen FROM ok2 JOIN paid p USING (code, region, area, persons, born) WHERE ok2.twice
          QUALIFY row_number() OVER (PARTITION BY p.month, ok2.id ORDER BY p.fen * ok2.persons DESC, ok2.rn) = 1) p GROUP BY p.month)
SELECT month, (single.persons + coalesce(dup.persons, 0))::BIGINT, (single.fen + coalesce(dup.fen, 0))::BIGINT
FROM single LEFT JOIN dup USING (month) ORDER BY month
"""
rows = duckdb.connect().execute(q).fetchall()
open(out, "w").write(json.dumps([[m, p, f"{f // 100}.{f % 100:02d}"] for m, p, f in rows]))
'''

DUCK_ESTIMATE = r'''
import sys, duckdb
counts, std, out = sys.argv[1:4]
RATE_H = 1910  # 2019-11's decision under national (food YoY 19.1%), as `cpi-link trigger` gives it
WORDS = {"城市低保": "urban_dibao", "农村低保": "rural_dibao", "城市特困": "urban_tekun", "农村特困": "rural_tekun",
         "领取失业保险金人员": "unemployment_insurance", "优抚对象": "special_care", "孤儿": "orphan", "低保边缘人口": "dibao_edge"}
# national-2016-1835: the categories covered and the standard each is paid on (special_care: the row's area)
COVERED = {"urban_dibao": "urban", "rural_dibao": "rural", "urban_tekun": "urban", "rural_tekun": "rural",
           "unemployment_insurance": "urban", "special_care": None}
words = ", ".join(f"('{w}', '{c}')" for w, c in WORDS.items())
covered = ", ".join(f"('{c}', {'NULL' if a is None else repr(a)})" for c, a in COVERED.items())
q = f"""
WITH w(word, code) AS (VALUES {words}), cov(code, paid_area) AS (VALUES {covered}),
s AS (SELECT region_code, urban_monthly, rural_annual FROM read_csv('{std}', all_varchar=true)
      WHERE effective_from <= '2019-11' QUALIFY row_number() OVER (PARTITION BY region_code ORDER BY effective_from DESC) = 1),
c AS (SELECT c.region_code, c.persons,
        coalesce(cov.paid_area, CASE WHEN c.area IN ('urban', '城市') THEN 'urban' WHEN c.area IN ('rural', '农村') THEN 'rural' END) AS area
      FROM read_csv('{counts}', all_varchar=true) c LEFT JOIN w ON w.word = c.category JOIN cov ON cov.code = coalesce(w.code, c.category)),
p AS (SELECT c.*, coalesce(s1.urban_monthly, s2.urban_monthly, s3.urban_monthly)::DECIMAL(12, 2) AS um,
        coalesce(s1.rural_annual, s2.rural_annual, s3.rural_annual)::DECIMAL(12, 2) AS ra
      FROM c LEFT JOIN s s1 ON s1.region_code = c.region_code LEFT JOIN s s2 ON s2.region_code = left(c.region_code, 4) || '00'
        LEFT JOIN s s3 ON s3.region_code = left(c.region_code, 2) || '0000' WHERE c.area IS NOT NULL),
a AS (SELECT *, (CASE area WHEN 'urban' THEN um * 1200 ELSE ra * 100 END)::BIGINT AS std12 FROM p)
SELECT sum(persons::BIGINT), sum(((2 * std12 * {RATE_H} + 12000000) // 24000000) * 100 * persons::BIGINT)
FROM a WHERE std12 IS NOT NULL  -- a code on no standard row (not on the division list) is not costed
"""
persons, fen = duckdb.connect().execute(q).fetchone()
open(out, "w").write(f"{fen // 100}.{fen % 100:02d} {persons}")
'''

# the start-up every cpi-link command pays before reading a byte (estimate's work is milliseconds)
STARTUP_FLOOR = "import numpy, pyarrow, pyarrow.compute, pyarrow.parquet, typer, rich.console, rich.table; pyarrow.scalar(1)"

DUCK_EXPORT = r"""
import sys, duckdb
home, out = sys.argv[1:3]
duckdb.connect().execute(f"COPY (SELECT * FROM '{home}/ledger/payments/*/*.parquet') TO '{out}' (FORMAT parquet)")
"""

COUNTS = r"""
import sys, duckdb
duckdb.connect().execute(f'''COPY (SELECT 行政区划代码 AS region_code, 保障类别 AS category, 城乡 AS area, sum(coalesce(TRY_CAST(保障人数 AS INTEGER), 1)) AS persons
  FROM '{sys.argv[1]}' WHERE length(行政区划代码) = 6 GROUP BY ALL) TO '{sys.argv[2]}' (HEADER)''')
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=bench.ROOT / "bench-out")
    ap.add_argument("--only", default="diff,diff-csv,simulate,estimate,ledger-export")
    a = ap.parse_args(argv)
    py = sys.executable
    roster, _parts, _places = bench.roster_in_child(a.rows, "parquet", a.out)
    work = Path(tempfile.mkdtemp(prefix="cpi-link-bench-analyst-"))
    try:
        return _measure_all(a, py, roster, work)
    finally:  # the runs hold the synthetic roster's IDs and accounts: nothing is left in /tmp
        shutil.rmtree(work, ignore_errors=True)


def _measure_all(a, py: str, roster: Path, work: Path) -> int:
    home = work / "home"
    env = dict(os.environ, CPI_LINK_HOME=str(home))
    runs = []
    for month in ("2019-11", "2020-02"):
        run = work / month
        bench.measure([CLI, "--home", str(home), "calc", "--scheme", "national", "--month", month, "--roster", str(roster),
                       "--standards", STD, "--out", str(run), "--format", "json"], env=env)
        runs.append(str(run))
    counts = work / "counts.csv"
    measure([py, "-c", COUNTS, str(roster), str(counts)])
    only = a.only.split(",")
    if "estimate" in only:  # the twin gives the same result, or there is nothing to compare
        est = json.loads(subprocess.run([CLI, "--home", str(home), "estimate", "--counts", str(counts), "--month", "2019-11",
                                         "--scheme", "national", "--standards", STD, "--format", "json"], env=env, check=True,
                                        capture_output=True, text=True).stdout)
        measure([py, "-c", DUCK_ESTIMATE, str(counts), STD, str(work / "duck-estimate.txt")])
        twin = (work / "duck-estimate.txt").read_text().split()
        if twin != [est["total_amount"], str(est["persons"])]:
            raise RuntimeError(f"estimate: {est['total_amount']} yuan for {est['persons']} persons; DuckDB {twin}")
    sim = [CLI, "--home", str(home), "simulate", "--scheme", "national", "--baseline", "national", "--since", "2016-07",
           "--until", "2025-12", "--roster", str(roster), "--standards", STD, "--format", "json"]
    sim_months = "[]"
    if "simulate" in only:  # the twin is given each triggered month's rate and version, as `cpi-link trigger` decides them
        res = json.loads(subprocess.run(sim, env=env, check=True, capture_output=True, text=True).stdout)["months"]
        paid = [m for m in res if m["baseline_triggered"]]
        sim_months = json.dumps([[m["month"], m["baseline_rate_pct"], m["baseline_version"]] for m in paid])
        measure([py, "-c", DUCK_SIMULATE, str(roster), STD, sim_months, str(work / "duck-simulate.json")])
        twin = json.loads((work / "duck-simulate.json").read_text())
        ours = [[m["month"], m["baseline_persons"], m["baseline_amount"]] for m in paid]
        if twin != ours or any(m["baseline_amount"] != "0.00" for m in res if not m["baseline_triggered"]):
            raise RuntimeError(f"simulate per month: {ours}; DuckDB {twin}")
        print(f"simulate: {len(paid)} paid months equal to the fen in DuckDB", flush=True)
    # a ledger of every triggered month from 2019-04 on, paid by run once and kept (minutes to build)
    ledger_home = a.out / f"ledger-home-{a.rows}"
    if "ledger-export" in only:
        if not (ledger_home / "ledger-built").exists():
            subprocess.run([CLI, "--home", str(ledger_home), "run", "--roster", str(roster), "--standards", STD, "--scheme",
                            "national", "--since", "2019-04", "--offline", "--quiet"], check=True,
                           env=dict(env, CPI_LINK_HOME=str(ledger_home)), stdout=subprocess.DEVNULL)
            (ledger_home / "ledger-built").write_text("")
        (work / "export").mkdir()
        ours = json.loads(subprocess.run([CLI, "--home", str(ledger_home), "ledger", "export", "--out",
                                          str(work / "export" / "a.parquet"), "--format", "json"],
                                         check=True, capture_output=True, text=True).stdout)
        theirs = subprocess.run([py, "-c", "import sys, duckdb; print(duckdb.connect().execute(f\"SELECT count(*) FROM '{sys.argv[1]}/ledger/payments/*/*.parquet'\").fetchone()[0])",
                                 str(ledger_home)], check=True, capture_output=True, text=True).stdout.strip()
        if str(ours["rows"]) != theirs:
            raise RuntimeError(f"ledger export wrote {ours['rows']} rows; the payment files hold {theirs}")
        print(f"ledger: {ours['months']} paid months, {ours['rows']:,} rows", flush=True)
    pairs = {
        "diff": ([CLI, "--home", str(home), "diff", *runs, "--show", "5"], [py, "-c", DUCK_DIFF, *runs, "table"]),
        "diff-csv": ([CLI, "--home", str(home), "diff", *runs, "--format", "csv"], [py, "-c", DUCK_DIFF, *runs, str(work / "d.csv")]),
        "simulate": (sim, [py, "-c", DUCK_SIMULATE, str(roster), STD, sim_months, str(work / "duck-simulate.json")]),
        "estimate": ([CLI, "--home", str(home), "estimate", "--counts", str(counts), "--month", "2019-11", "--scheme", "national",
                      "--standards", STD, "--format", "json"], [py, "-c", DUCK_ESTIMATE, str(counts), STD, str(work / "duck-estimate.txt")]),
        "ledger-export": ([CLI, "--home", str(ledger_home), "ledger", "export", "--out", str(work / "export" / "a.parquet")],
                          [py, "-c", DUCK_EXPORT, str(ledger_home), str(work / "export" / "d.parquet")]),
    }
    results = {}
    for name in only:
        ours, duck = pairs[name]
        m = {"cpi-link": [], "duckdb": [], "floor": []}
        for _ in range(a.repeat):
            m["cpi-link"].append(measure(ours, env=env))
            if duck:
                m["duckdb"].append(measure(duck))
            if name == "estimate":
                m["floor"].append(measure([py, "-c", STARTUP_FLOOR]))
        results[name] = {k: {"wall_s": statistics.median(x["wall_s"] for x in v), "cpu_s": statistics.median(x["cpu_s"] for x in v),
                             "peak_mib": statistics.median(x["peak_rss_mib"] for x in v)} for k, v in m.items() if v}
        r = results[name]
        def cell(k):
            return f"{r[k]['wall_s']:6.2f} s ({r[k]['cpu_s']:.2f} s CPU) {r[k]['peak_mib']:5.0f} MiB"

        line = f"{name:10} cpi-link {cell('cpi-link')}"
        if "duckdb" in r:
            line += f" | duckdb {cell('duckdb')} | ratio {r['cpi-link']['wall_s'] / r['duckdb']['wall_s']:.2f}x"
        if "floor" in r:
            line += (f"\n{'':10} start-up floor {cell('floor')} | floor/duckdb {r['floor']['wall_s'] / r['duckdb']['wall_s']:.2f}x"
                     f" | cpi-link above the floor {r['cpi-link']['wall_s'] - r['floor']['wall_s']:+.2f} s")
        print(line, flush=True)
    (a.out / "analyst-results.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
