"""Issue 32: `cpi-link serve` starts light. Until its address is printed the process has imported
none of the heavy libraries (numpy, pandas, pyarrow, matplotlib, openpyxl): the routes import them
when a page first needs them. The time itself is measured by `make bench-serve` (benchmarks/README.md)."""

from __future__ import annotations

import os
import re
import subprocess

from desk_helpers import CPI_LINK

HEAVY = ("numpy", "pandas", "pyarrow", "matplotlib", "openpyxl", "xlsxwriter", "python_calamine")


def test_the_page_starts_without_the_heavy_libraries(home, tmp_path):
    imports = tmp_path / "imports.txt"
    env = {**os.environ, "CPI_LINK_HOME": str(home), "PYTHONPROFILEIMPORTTIME": "1"}  # every import, to stderr
    with imports.open("w") as err:
        proc = subprocess.Popen([CPI_LINK, "serve", "--port", "0", "--no-browser"], env=env, stdout=subprocess.PIPE,
                                stderr=err, text=True)
        try:
            line = proc.stdout.readline()
            assert re.search(r"http://127\.0\.0\.1:\d+/\?token=", line), line
            before = imports.read_text()  # what the process imported before it printed its address
        finally:
            proc.terminate()
            proc.wait(30)
    names = {ln.split("|")[-1].strip().split(".")[0] for ln in before.splitlines() if ln.startswith("import time:")}
    assert "flask" in names and "waitress" in names  # the profile is the serving process's
    assert not names & set(HEAVY), sorted(names & set(HEAVY))
