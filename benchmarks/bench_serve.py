#!/usr/bin/env python
"""`make bench-serve`: how soon `cpi-link serve` answers its first page. Each start is its own
process with a fresh home: the time from the process start to the printed address, to the first
page answered (the printed address, its token turned into a cookie, then 价格数据: the figures
store read, pyarrow imported), the server's CPU seconds until then (which other processes' load
does not change), and the second page. Median and range of --runs starts (default 7).
Target: the first page under 1 s. Not a test.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

CLI = Path(sys.executable).parent / "cpi-link"


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process so far (Linux /proc): the load of other processes does not count."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_start() -> tuple[float, float, float, float]:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "CPI_LINK_HOME": home}
        t0 = time.monotonic()
        p = subprocess.Popen([str(CLI), "serve", "--port", "0", "--no-browser"], env=env, stdout=subprocess.PIPE, text=True)
        try:
            line = p.stdout.readline()
            printed = time.monotonic() - t0
            url = re.search(r"http://\S+", line).group(0)
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
            opener.open(url).read()
            first = time.monotonic() - t0
            cpu = cpu_seconds(p.pid)
            t1 = time.monotonic()
            opener.open(url.split("/?")[0] + "/history").read()
            second = time.monotonic() - t1
        finally:
            p.terminate()
            p.wait(30)
    return printed, first, cpu, second


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    runs = ap.parse_args().runs
    one_start()  # a warm-up start: the OS file cache, as on an office PC used every day
    rows = [one_start() for _ in range(runs)]
    print(f"cpi-link serve, {runs} starts (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs):")
    for i, what in enumerate(("address printed", "first page answered", "its CPU to then", "second page (历史)")):
        xs = [r[i] for r in rows]
        print(f"  {what:22s} median {statistics.median(xs):.2f} s  (min {min(xs):.2f}, max {max(xs):.2f})")


if __name__ == "__main__":
    main()
