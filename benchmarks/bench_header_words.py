#!/usr/bin/env python
"""What looking for a repeated header costs per million ID cells (issue 27): the ID column of a
batch compared with the header words as exact text (before), and as the first header's matcher
reads a cell (roster.read._HeaderWords: core.tabular.header_name on the cells that are not
ID-shaped), for a sheet's Python cells and a CSV's Arrow column. Best CPU of 5.

    .venv/bin/python benchmarks/bench_header_words.py

Not a test: it never runs under pytest."""

import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cpi_link.roster.read import _HeaderWords
from cpi_link.roster.schema import HEADER_ALIASES

N = 1_000_000
ids = [f"1401051990{i:07d}X" for i in range(N)]
cells = np.empty(N, object)
cells[:] = ids
arrow = pa.chunked_array([pa.array(ids)])
raw = {w for v in HEADER_ALIASES.values() for w in v if not w.isascii()} | {"序号", "身份证号", "姓名", "类别", "行政区划代码", "保障人数"}
words = _HeaderWords(raw)
exact = raw | {"\ufeff" + w for w in raw}
exact_arrow = pa.array(sorted(exact))


def best(f) -> float:
    out = []
    for _ in range(5):
        t = time.process_time()
        f()
        out.append(time.process_time() - t)
    return min(out)


for name, f in (
    ("sheet, exact text", lambda: np.flatnonzero(np.fromiter(map(exact.__contains__, cells), bool, count=N))),
    ("sheet, header_name", lambda: words.rows(cells)),
    ("csv, exact text", lambda: np.flatnonzero(pc.fill_null(pc.is_in(arrow, value_set=exact_arrow), False)
                                                 .to_numpy(zero_copy_only=False))),
    ("csv, header_name", lambda: words.rows(arrow)),
):
    print(f"{name}: {best(f) * 1000:.0f} ms CPU per 1M ID cells")
