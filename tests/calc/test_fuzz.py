"""Random rosters through calculate_month (issue 7), bounded by env FUZZ_SECONDS (default 10 s).

Invariants: no exception escapes; every input row appears exactly once in payments ∪ rejected (by
source_row); amounts ≥ 0; amount = amount_per_person × persons; one payment per person_id.
`make fuzz` runs it with FUZZ_SECONDS=120. The number of examples run is printed (pytest -s).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calc_helpers import STANDARDS, make_id, put_figures, write_scheme

FUZZ_SECONDS = float(os.environ.get("FUZZ_SECONDS", "10"))
REGIONS = ["140105", "140100", "140802", "140213", "140000", "310101", "14010", "", "1401050", "１４０１０５"]
CATEGORIES = ["urban_dibao", "rural_dibao", "urban_tekun", "special_care", "orphan", "hiv_child", "城市低保", "农村低保",
              "城镇低保", "martian", "", " urban_dibao ", "URBAN_DIBAO"]
AREAS = ["", "urban", "rural", "城市", "农村", "moon"]
PERSONS = ["", "1", "2", "0", "-1", "1.5", "abc", "999999", "1e3", " 3 "]


@st.composite
def person_id(draw):
    kind = draw(st.sampled_from(["valid", "valid", "valid", "lower_x", "bad_check", "short", "sci", "empty", "junk", "legacy15"]))
    region = draw(st.sampled_from(["140105", "140802", "140213", "310101"]))
    birth = draw(st.sampled_from(["19500101", "19800229", "20000101", "19991231"]))
    seq = f"{draw(st.integers(0, 12)):03d}"  # few sequences: duplicates happen
    pid = make_id(region, birth, seq)
    if kind == "lower_x":
        return pid.lower()
    if kind == "bad_check":
        return pid[:-1] + ("0" if pid[-1] != "0" else "1")
    if kind == "short":
        return pid[:draw(st.integers(0, 17))]
    if kind == "sci":
        return "1.40105E+17"
    if kind == "empty":
        return ""
    if kind == "junk":
        return draw(st.text(max_size=20))
    if kind == "legacy15":
        return region + birth[2:] + seq
    return pid


row = st.fixed_dictionaries({
    "person_id": person_id(),
    "name": st.one_of(st.sampled_from(["张三", "", "=cmd()", "O'Brien, Jr."]), st.text(max_size=12)),
    "category": st.sampled_from(CATEGORIES),
    "region_code": st.sampled_from(REGIONS),
    "area": st.sampled_from(AREAS),
    "persons": st.sampled_from(PERSONS),
    "bank_account": st.one_of(st.just(""), st.text(alphabet="0123456789", max_size=19)),
})

STATS = {"examples": 0, "rows": 0, "paid": 0}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from cpi_link.core.paths import Home
    from cpi_link.rules.schemes import load_scheme
    from cpi_link.rules.standards import load_standards
    from cpi_link.store.series import SeriesStore

    tmp = tmp_path_factory.mktemp("fuzz")
    home = tmp / "home"
    put_figures(home, "2024-01", cpi="103.6", food="101.0")
    scheme_path = write_scheme(tmp, name="t", extra="")
    (tmp / "std.csv").write_text(STANDARDS, encoding="utf-8")
    h = Home(home)
    yield {"tmp": tmp, "home": h, "scheme": load_scheme(str(scheme_path), tmp), "store": SeriesStore(h),
           "standards": load_standards(tmp / "std.csv")}
    print(f"\nfuzz: {STATS['examples']} rosters, {STATS['rows']} rows ({STATS['paid']} paid) in {FUZZ_SECONDS:g} s budget")


def _write(rows: list[dict], path: Path) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["person_id", "name", "category", "region_code"],
                       lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def test_random_rosters_keep_the_invariants(world):
    from decimal import Decimal

    from calc_helpers import calc_month as calculate_month

    deadline = time.monotonic() + FUZZ_SECONDS

    # small rounds, repeated until the budget is spent: hypothesis would otherwise keep generating
    # (cheaply skipped) examples long after the deadline
    @settings(max_examples=20, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(row, min_size=0, max_size=40))
    def check(rows):
        if time.monotonic() > deadline:
            return
        # blank lines are not data rows (SPEC: row numbers count data rows only); a row with every cell empty is skipped
        rows = [r for r in rows if any(v.strip() for v in r.values())]
        rows = [{k: v.replace("\x00", "").replace("\r", " ") for k, v in r.items()} for r in rows]
        work = Path(tempfile.mkdtemp(dir=world["tmp"]))
        try:
            roster = work / "roster.csv"
            _write(rows, roster)
            res = calculate_month("2024-01", roster, world["scheme"], world["store"], world["standards"], world["home"],
                                  out_dir=work / "out", batch_rows=7)
            pay = pq.read_table(work / "out" / "payments.parquet").to_pylist()
            rej = pq.read_table(work / "out" / "rejected.parquet").to_pylist()
            seen = sorted([p["source_row"] for p in pay] + [r["source_row"] for r in rej])
            assert seen == list(range(1, len(rows) + 1))
            assert res.input_rows == len(rows) == res.paid_rows + len(rej)
            ids = [p["person_id"] for p in pay]
            assert len(ids) == len(set(ids))
            for p in pay:
                assert p["amount"] >= 0 and p["amount_per_person"] >= 0 and p["persons"] >= 1
                assert p["amount"] == p["amount_per_person"] * p["persons"]
                assert len(p["person_id"]) == 18
            assert sum((p["amount"] for p in pay), Decimal(0)) * 100 == res.total_fen
            assert all(r["reason"] for r in rej)
            # the first pass only picks which rows wait for the dedup: holding every row must agree
            import cpi_link.calc.stream as calc

            keep = calc._first_pass
            calc._first_pass = lambda *a, **k: None
            try:
                calculate_month("2024-01", roster, world["scheme"], world["store"], world["standards"], world["home"],
                                out_dir=work / "held", batch_rows=7)
            finally:
                calc._first_pass = keep
            for name in ("payments.parquet", "rejected.parquet"):
                a = pq.read_table(work / "out" / name).sort_by("source_row")
                b = pq.read_table(work / "held" / name).sort_by("source_row")
                assert a.equals(b), name
            STATS["examples"] += 1
            STATS["rows"] += len(rows)
            STATS["paid"] += len(pay)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    while time.monotonic() < deadline:
        check()
    assert STATS["examples"] > 0
