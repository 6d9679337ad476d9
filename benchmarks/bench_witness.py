#!/usr/bin/env python
"""`make bench-witness`: what the two witnesses of every payment cost each `run`.

Builds (once, cached under bench-out/) a home with N paid months (default 18) of a synthetic roster
of R rows (default 1M, the `make bench` roster), all through the real CLI: a copy of the national
scheme decided on region 110000, figures for 110000 imported for N months from 2019-04 with food at
10% (every month triggers), then one `cpi-link run --offline`. Then, each in a fresh child process,
best of --repeat:

* `check`: the ledger's check before paying (jobs.ledger.Ledger.check_or_refuse: the journal chain,
  every payment file's sha256 against the journal, every paid folder against its entry and seal),
  every file hashed whole, as `run` and `doctor` do;
* `hash only`: sha256 of the same files (ledger payment files and each run folder's payments.parquet),
  the floor of that check;
* `run, nothing due`: the whole `cpi-link run --offline` a cron job starts when every month is paid.

Prints the table and writes bench-out/witness.json. This is not a test: it is slow and never runs under pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import CLI, ROOT, STANDARDS, make_roster  # noqa: E402

FIRST = "2019-04"

CHILD_CHECK = r"""
import json, sys, time, resource
from pathlib import Path
from cpi_link.core.paths import Home
from cpi_link.jobs.ledger import Ledger
t0, c0 = time.perf_counter(), time.process_time()
st = Ledger(Home(Path(sys.argv[1]))).check_or_refuse()
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "entries": len(st.entries)}))
"""

CHILD_HASH = r"""
import json, sys, time
from pathlib import Path
from cpi_link.core.atomic import sha256_file
home = Path(sys.argv[1])
files = sorted((home / "ledger" / "payments").rglob("*.parquet")) + sorted((home / "runs").glob("*/*/payments.parquet"))
t0, c0 = time.perf_counter(), time.process_time()
for f in files:
    sha256_file(f)
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "files": len(files),
                  "bytes": sum(f.stat().st_size for f in files)}))
"""


def months_from(first: str, n: int) -> list[str]:
    y, m = map(int, first.split("-"))
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def cli(home: Path, cfg: Path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "CPI_LINK_HOME": str(home), "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([str(CLI), "--config", str(cfg), *map(str, args)], env=env, capture_output=True, text=True)


def build(out: Path, rows: int, n: int) -> tuple[Path, Path, Path, float | None]:
    roster = make_roster(rows, "parquet", out)
    base = out / f"witness-{rows}-{n}"
    home, cfg = base / "home", base / "cfg"
    months = months_from(FIRST, n)
    done = home / "ledger" / "months"
    if done.exists() and len(list(done.glob("*.json"))) == n:
        return home, cfg, roster, None
    import shutil

    shutil.rmtree(base, ignore_errors=True)
    (cfg / "schemes").mkdir(parents=True)
    text = (ROOT / "config" / "schemes" / "national.toml").read_text("utf-8")
    text = re.sub(r'(?m)^scheme = "national"', 'scheme = "bench"', text).replace('index_region = "000000"', 'index_region = "110000"')
    (cfg / "schemes" / "bench.toml").write_text(text, "utf-8")
    figs = base / "figures.csv"
    figs.write_text("region_code,month,indicator,value\n" + "".join(
        f"110000,{m},cpi,102.0\n110000,{m},food,110.0\n" for m in months), "utf-8")
    r = cli(home, cfg, "fetch", "--source", "file", "--file", figs)
    assert r.returncode == 0, r.stderr
    t0 = time.monotonic()
    r = cli(home, cfg, "run", "--roster", roster, "--standards", STANDARDS, "--scheme", "bench", "--offline",
            "--since", FIRST, "--format", "json")
    assert r.returncode == 0, r.stderr
    paid = [m for m in json.loads(r.stdout) if m["status"] == "paid"]
    assert len(paid) == n, [(m["month"], m["status"]) for m in json.loads(r.stdout)]
    return home, cfg, roster, time.monotonic() - t0


def child(code: str, home: Path, *args: str) -> dict:
    r = subprocess.run([sys.executable, "-c", code, str(home), *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="roster rows (default 1M)")
    ap.add_argument("--months", type=int, default=18, help="paid months (default 18)")
    ap.add_argument("--repeat", type=int, default=3, help="keep the best of this many (default 3)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-out", help="cache and results folder (git-ignored)")
    a = ap.parse_args(argv)
    home, cfg, roster, built = build(a.out, a.rows, a.months)
    if built is not None:
        print(f"built {a.months} paid months of {a.rows:,} rows in {built:.1f} s")
    res = {"rows": a.rows, "months": a.months}
    res["check"] = min((child(CHILD_CHECK, home) for _ in range(a.repeat)), key=lambda d: d["wall"])
    res["hash_only"] = min((child(CHILD_HASH, home) for _ in range(a.repeat)), key=lambda d: d["wall"])
    walls = []
    for _ in range(a.repeat):
        t0 = time.monotonic()
        r = cli(home, cfg, "run", "--roster", roster, "--standards", STANDARDS, "--scheme", "bench", "--offline",
                "--format", "json")
        walls.append(time.monotonic() - t0)
        assert r.returncode == 0, r.stderr
    res["run_nothing_due_wall"] = min(walls)
    h = res["hash_only"]
    print(f"{a.months} paid months x {a.rows:,} rows: {h['files']} payment files, {h['bytes'] / 2**20:.0f} MiB")
    c = res["check"]
    print(f"  check before paying, every file hashed whole: {c['wall']:.2f} s wall, {c['cpu']:.2f} s CPU")
    print(f"  sha256 of the same files alone:               {h['wall']:.2f} s wall, {h['cpu']:.2f} s CPU")
    print(f"  cpi-link run, nothing due:                    {res['run_nothing_due_wall']:.2f} s wall")
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "witness.json").write_text(json.dumps(res, indent=2) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
