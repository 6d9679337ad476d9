"""The streaming calculator's two passes (issue 6): duplicates across batches, held rows written
last, the XLSX path that holds every payable row, and the payments file's plain string columns.

Amounts by hand. Scheme `t`, 2024-01, CPI 103.6 (3.6% ≥ 3.5: triggered at 3.6%). Region 140105's
own standard starts 2024-02, so its prefecture 140100 applies: urban 870, rural 620.
  urban: 870 × 3.6% = 31.32 → 31 yuan; rural: 620 × 3.6% = 22.32 → 22 yuan.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from calc_helpers import STANDARDS, make_id, put_figures, write_scheme

A = make_id("140105", "19500101", "011")
B = make_id("140105", "19620315", "022")
C = make_id("140105", "19800229", "033")
D = make_id("140105", "19991231", "044")
E = make_id("140105", "20000101", "055")
B15 = B[:6] + B[8:17]  # B's legacy 15-digit form: the same person

ROWS = [
    # person_id, category, persons
    (A, "urban_dibao", "1"),            # 1: 31, kept (A's highest, first)
    (B, "rural_dibao", "1"),            # 2: 22, dropped: B's row 5 pays more
    (C, "urban_dibao", "1"),            # 3: 31, kept (tie with row 7: the first row)
    (A, "rural_dibao", "1"),            # 4: 22, dropped for row 1
    (B15, "urban_dibao", "1"),          # 5: 31, kept
    (D, "urban_dibao", "1"),            # 6: 31, nobody else: written at once
    (" " + C.lower() + " ", "城市低保", "1"),  # 7: 31, dropped for row 3 (tie)
    (E, "urban_dibao", "2"),            # 8: 62, written at once
    (A, "martian", "1"),                # 9: unknown_category (not payable: no duplicate)
]
PAID = {1: "31.00", 3: "31.00", 5: "31.00", 6: "31.00", 8: "62.00"}
DUPS = {2: 5, 4: 1, 7: 3}  # dropped row -> kept row
TOTAL_FEN = 18600


def _csv(path):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["person_id", "name", "category", "region_code", "persons"])
    for i, (pid, cat, persons) in enumerate(ROWS, 1):
        w.writerow([pid, f"人{i}", cat, "140105", persons])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


@pytest.fixture
def world(tmp_path):
    from cpi_link.core.paths import Home
    from cpi_link.rules.schemes import load_scheme
    from cpi_link.rules.standards import load_standards
    from cpi_link.store.series import SeriesStore

    home = tmp_path / "home"
    put_figures(home, "2024-01", cpi="103.6", food="101.0")
    (tmp_path / "std.csv").write_text(STANDARDS, encoding="utf-8")
    h = Home(home)
    return {"tmp": tmp_path, "home": h, "scheme": load_scheme(str(write_scheme(tmp_path)), tmp_path),
            "store": SeriesStore(h), "standards": load_standards(tmp_path / "std.csv")}


def _run(world, roster, out, **kw):
    from calc_helpers import calc_month

    return calc_month("2024-01", roster, world["scheme"], world["store"], world["standards"], world["home"],
                           out_dir=out, **kw)


def _check(world, res, out):
    pay = pq.read_table(out / "payments.parquet")
    rej = pq.read_table(out / "rejected.parquet").to_pylist()
    rows = pay.column("source_row").to_pylist()
    assert {r: str(a) for r, a in zip(rows, pay.column("amount").to_pylist())} == PAID
    assert sorted(pay.column("person_id").to_pylist()) == sorted([A, B, C, D, E])
    dup = {r["source_row"]: r for r in rej if r["reason"] == "duplicate_person"}
    assert set(dup) == set(DUPS)
    for row, kept in DUPS.items():
        assert dup[row]["detail"] == f"the same person is paid on data row {kept} (the highest amount)"
    assert dup[7]["person_id"] == " " + C.lower() + " "  # the original text, as given
    assert [(r["source_row"], r["reason"]) for r in rej if r["source_row"] == 9] == [(9, "unknown_category")]
    assert res.total_fen == TOTAL_FEN and res.paid_rows == 5 and res.input_rows == 9
    summary = pq.read_table(out / "summary.parquet").to_pylist()
    assert summary == [{"region_code": "140105", "category": "urban_dibao", "rows": 5, "persons": 6,
                        "amount": Decimal("186.00"), "index_month": "2024-01", "run_id": res.run_id}]
    # an analyst sees plain strings and exact decimals, not the writer's dictionaries
    schema = pay.schema
    for name in ("category", "region_code", "area", "index_month", "indicator", "standard_region", "scheme",
                 "version", "run_id"):
        assert schema.field(name).type == pa.string(), name
    assert schema.field("amount").type == pa.decimal128(18, 2)
    assert set(pay.column("run_id").to_pylist()) == {res.run_id}
    # every column a paid row always has is declared required; the others hold nulls here
    from cpi_link.calc.encoding import PAYMENTS_NULLABLE

    assert [f.name for f in schema if f.nullable] == list(PAYMENTS_NULLABLE)
    assert pay.column("bank_account").null_count == pay.num_rows  # the roster has no bank_account column
    assert pay.column("standard_annual").null_count == pay.num_rows  # urban rows: a monthly standard
    # the payments file is hashed as it is written and the rejected one beside the writer: the
    # manifest's hashes are those of the files as they lie in the run folder
    import hashlib

    outputs = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["outputs"]
    for name in ("payments.parquet", "rejected.parquet", "summary.parquet"):
        assert outputs[name]["sha256"] == hashlib.sha256((out / name).read_bytes()).hexdigest(), name
    assert set(pay.column("area").to_pylist()) == {"urban"}
    return rows


@pytest.mark.parametrize("batch_rows", [1, 3, 4, 1000])
def test_duplicates_across_batches_by_hand(world, batch_rows):
    roster = _csv(world["tmp"] / "roster.csv")
    out = world["tmp"] / f"out{batch_rows}"
    res = _run(world, roster, out, batch_rows=batch_rows)
    rows = _check(world, res, out)
    # rows of nobody else's person are written as their batch is done; the held ones come last
    assert rows == [6, 8, 1, 3, 5]


def test_holding_every_row_gives_the_same_files(world, monkeypatch):
    """Without the first pass (as for XLSX) every payable row is held: same rows, same amounts."""
    import cpi_link.calc.stream as calc

    roster = _csv(world["tmp"] / "roster.csv")
    _run(world, roster, world["tmp"] / "two", batch_rows=2)
    monkeypatch.setattr(calc, "_first_pass", lambda *a, **k: None)
    res = _run(world, roster, world["tmp"] / "one", batch_rows=2)
    assert _check(world, res, world["tmp"] / "one") == [1, 3, 5, 6, 8]
    for name in ("payments.parquet", "rejected.parquet", "summary.parquet"):
        a = pq.read_table(world["tmp"] / "two" / name).sort_by("source_row" if name != "summary.parquet" else "region_code")
        b = pq.read_table(world["tmp"] / "one" / name).sort_by("source_row" if name != "summary.parquet" else "region_code")
        assert a.equals(b), name


def test_parquet_and_xlsx_rosters(world):
    import openpyxl
    import pyarrow.csv as pacsv

    src = _csv(world["tmp"] / "roster.csv")
    t = pacsv.read_csv(src, convert_options=pacsv.ConvertOptions(column_types={"person_id": pa.string(),
                                                                               "persons": pa.string(),
                                                                               "region_code": pa.string()}))
    pq.write_table(t, world["tmp"] / "roster.parquet")
    res = _run(world, world["tmp"] / "roster.parquet", world["tmp"] / "pq", batch_rows=4)
    assert _check(world, res, world["tmp"] / "pq") == [6, 8, 1, 3, 5]

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(t.column_names)
    for r in t.to_pylist():
        ws.append(list(r.values()))
    wb.save(world["tmp"] / "roster.xlsx")
    res = _run(world, world["tmp"] / "roster.xlsx", world["tmp"] / "xl", batch_rows=4)
    assert _check(world, res, world["tmp"] / "xl") == [1, 3, 5, 6, 8]  # no first pass: all held, roster order


def test_spilled_held_rows_and_keys(world, monkeypatch):
    """Held rows past SPILL_BYTES go to an IPC file, keys past SPILL_ROWS to bucket files: same answer."""
    import cpi_link.calc.stream as calc
    import cpi_link.calc.dedup as dedup

    monkeypatch.setattr(calc, "SPILL_BYTES", 1)
    monkeypatch.setattr(dedup, "SPILL_ROWS", 1)
    roster = _csv(world["tmp"] / "roster.csv")
    res = _run(world, roster, world["tmp"] / "out", batch_rows=2)
    assert _check(world, res, world["tmp"] / "out") == [6, 8, 1, 3, 5]


def test_no_payable_rows_gives_an_empty_payments_file(world):
    roster = world["tmp"] / "r.csv"
    roster.write_text("person_id,name,category,region_code\n" + f"{A},甲,martian,140105\n", encoding="utf-8")
    res = _run(world, roster, world["tmp"] / "out", batch_rows=2)
    pay = pq.read_table(world["tmp"] / "out" / "payments.parquet")
    assert pay.num_rows == 0 and res.paid_rows == 0
    assert pay.schema.field("category").type == pa.string()


def test_csv_error_in_the_first_pass_is_an_input_error(world):
    from cpi_link.core.errors import InputError

    roster = world["tmp"] / "bad.csv"
    rows = "".join(f"{make_id('140105', '19500101', f'{i:03d}')},甲,urban_dibao,140105\n" for i in range(20))
    roster.write_text("person_id,name,category,region_code\n" + rows + "1,2,3,4,5,6\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 22 has 6 fields but the header has 4"):
        _run(world, roster, world["tmp"] / "out", batch_rows=2)
    assert not (world["tmp"] / "out").exists() or not any((world["tmp"] / "out").iterdir())


# -- the CLI starts the first pass early (while the scheme, figures and standards load)


def _first_passes(monkeypatch):
    """Record every FirstPass made and whether calc used it; key files spill from the first key."""
    import cpi_link.calc.dedup as dedup
    import cpi_link.calc.firstpass as fp

    monkeypatch.setattr(dedup, "SPILL_ROWS", 0)
    made = []

    class Recording(fp.FirstPass):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            self.results = 0
            made.append(self)

        def result(self):
            self.results += 1
            return super().result()

    monkeypatch.setattr(fp, "FirstPass", Recording)
    return made


def _leftovers(root):
    return [p for p in root.rglob("*") if p.name.startswith((".first-pass-", ".spill-", ".tmp-"))]


def test_cli_uses_the_early_first_pass_and_cleans_up(tmp_path, cli, cli_setup, monkeypatch):
    cfg, std = cli_setup
    made = _first_passes(monkeypatch)
    roster = _csv(tmp_path / "roster.csv")
    out = tmp_path / "runs" / "out"
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
            "--out", out, "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "186.00"
    assert len(made) == 1 and made[0].results == 1  # started by the CLI, taken over by calc
    assert made[0]._made is not None  # its key files spilled (SPILL_ROWS 0) ...
    assert not made[0]._made.exists() and _leftovers(tmp_path) == []  # ... and were removed


def test_cli_closes_the_first_pass_when_it_is_not_needed(tmp_path, cli, cli_setup, monkeypatch):
    cfg, std = cli_setup
    made = _first_passes(monkeypatch)
    roster = _csv(tmp_path / "roster.csv")
    # not triggered: no amounts, so no dedup
    r = cli("--config", cfg, "calc", "--month", "2024-02", "--roster", roster, "--standards", std, "--scheme", "t",
            "--out", tmp_path / "o1", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["triggered"] is False
    # an unknown scheme: exit 2 before calc starts
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "nope",
            "--out", tmp_path / "o2", "--format", "json")
    assert r.exit_code == 2
    assert not (tmp_path / "o2").exists()
    assert len(made) == 2 and all(f.results == 0 and f.done() for f in made)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("spill_rows", [0, 3, 10**9])
def test_repeated_keys_in_memory_and_spilled(tmp_path, monkeypatch, spill_rows):
    import numpy as np

    import cpi_link.calc.dedup as dedup

    monkeypatch.setattr(dedup, "SPILL_ROWS", spill_rows)
    rk = dedup.RepeatedKeys(tmp_path)
    for part in ([5, 1, 9], [2, 9, 7], [1, 1, 3], [10**17 - 1, 10**17 - 1]):
        rk.add(np.array(part, dtype=np.int64))
    assert rk.repeated().tolist() == sorted(dedup.hash32(np.array([1, 9, 10**17 - 1])).tolist())
    assert rk.repeated().dtype == np.uint32
    assert list(tmp_path.iterdir()) == []  # bucket files are read back and removed


def test_hash32_is_stable_and_spreads():
    """Equal keys give equal hashes (the dedup's first pass relies on it); nearby keys (people
    of one county born on one day) spread over the whole range."""
    import numpy as np

    from cpi_link.calc.dedup import HashBitmap, hash32

    keys = np.arange(14010519500101000, 14010519500101000 + 100_000, dtype=np.int64)
    h = hash32(keys)
    assert (hash32(keys.copy()) == h).all()
    assert len(np.unique(h)) >= 99_990  # some 1 in 86,000 pairs may collide
    assert h.min() < 2**28 and h.max() > 2**32 - 2**28
    bitmap = HashBitmap(np.unique(h[[5, 77]]))
    hits = bitmap.hits(keys)
    assert hits[5] and hits[77] and hits.sum() < 10  # the two, and rarely a neighbour in the bitmap
    assert not HashBitmap(np.zeros(0, np.uint32)).hits(keys).any()
    # many hashes, several sharing a byte of the bitmap, given unsorted and repeated: every key
    # whose hash is in the set is a hit, and a hit is a key whose hash shares its top 27 bits
    some = h[::7]
    bitmap = HashBitmap(np.concatenate([some[::-1], some[:50]]))
    hits = bitmap.hits(keys)
    top = set((some >> np.uint32(5)).tolist())
    assert hits[::7].all() and hits.tolist() == [int(x) in top for x in (h >> np.uint32(5))]


def test_few_valued_columns_as_dictionaries(world, monkeypatch):
    """Category, region, area and persons are read as dictionaries (Parquet dictionary columns,
    CSV blocks each with its own dictionary) and checked once per distinct value: same answers."""
    import cpi_link.roster.read as roster_mod

    src = _csv(world["tmp"] / "roster.csv")
    # CSV: tiny blocks, so every batch joins several blocks with different dictionaries
    monkeypatch.setattr(roster_mod, "_CSV_BLOCK", 128)
    res = _run(world, src, world["tmp"] / "small-blocks", batch_rows=4)
    assert _check(world, res, world["tmp"] / "small-blocks") == [6, 8, 1, 3, 5]
    # Parquet with dictionary (categorical) columns, one of them padded and one cell missing
    import pyarrow.csv as pacsv

    t = pacsv.read_csv(src, convert_options=pacsv.ConvertOptions(column_types={
        "person_id": pa.string(), "persons": pa.string(), "region_code": pa.string()}))
    t = t.set_column(t.schema.get_field_index("category"), "category", t.column("category").dictionary_encode())
    t = t.set_column(t.schema.get_field_index("region_code"), "region_code",
                     pa.array([" 140105 "] + ["140105"] * 8).dictionary_encode())
    t = t.set_column(t.schema.get_field_index("persons"), "persons", pa.array(["1", None, "1", "1", "1", "1", "1", "2", "1"]).dictionary_encode())
    pq.write_table(t, world["tmp"] / "dict.parquet")
    assert pq.read_schema(world["tmp"] / "dict.parquet").field("category").type == pa.dictionary(pa.int32(), pa.string())
    res = _run(world, world["tmp"] / "dict.parquet", world["tmp"] / "dict", batch_rows=4)
    assert _check(world, res, world["tmp"] / "dict") == [6, 8, 1, 3, 5]
    rej = {r["source_row"]: r for r in pq.read_table(world["tmp"] / "dict" / "rejected.parquet").to_pylist()}
    assert 1 not in rej  # the padded region code is trimmed: paid
    assert rej[2]["reason"] == "duplicate_person" and rej[2]["persons"] is None  # an empty cell counts 1; shown as given


def test_a_roster_rewritten_while_calc_reads_it_is_an_input_error(world, monkeypatch):
    """Both passes must see one file (else the dedup could miss a person): a change is exit 2."""
    import os

    import cpi_link.calc.stream as stream_mod
    from cpi_link.core.errors import InputError
    from cpi_link.calc.handle import open_roster

    roster = _csv(world["tmp"] / "roster.csv")
    first = open_roster(roster, world["tmp"])
    first.first_pass.result()
    with open(roster, "a", encoding="utf-8") as fh:  # someone saves the file again meanwhile
        fh.write(f"{A},人10,urban_dibao,140105,3\n")
    with pytest.raises(InputError, match="changed while it was being read"):
        _run(world, first, world["tmp"] / "out1")
    first.close()
    assert not (world["tmp"] / "out1").exists() or not any((world["tmp"] / "out1").iterdir())

    real = stream_mod.stream_month

    def touching(*a, **k):
        r = real(*a, **k)
        st = os.stat(roster)
        os.utime(roster, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        return r

    monkeypatch.setattr(stream_mod, "stream_month", touching)
    with pytest.raises(InputError, match="changed while it was being read"):
        _run(world, roster, world["tmp"] / "out2")
    assert not (world["tmp"] / "out2").exists() or not any((world["tmp"] / "out2").iterdir())


def test_few_valued_payment_columns_stay_dictionary_encoded(world):
    """Two region codes falling back to one prefecture standard: the per-batch dictionaries of
    standard_region and indicator must list each string once, or the Parquet writer drops
    dictionary encoding for the column (same values, but each string stored and hashed again).
    The decimal columns are handed over per row (decimal32/64) and dictionary-encoded by the writer."""
    import pyarrow as pa

    from cpi_link.calc.batch import _decimals, _strings

    entry, dictionary = _strings(["140100", "140100", None])
    assert dictionary.to_pylist() == ["140100"] and entry.tolist() == [0, 0, -1]
    from cpi_link.core.money import small_decimal_from_fen

    fen, (precision, nulls) = _decimals(__import__("numpy").array([87000, -1, 87000, 62000]), nulls=True)
    assert fen.tolist() == [87000, -1, 87000, 62000] and precision == 18 and nulls
    assert _decimals(__import__("numpy").array([360]), 7)[1] == (7, False)
    amounts = small_decimal_from_fen(fen, 18, fen >= 0)
    assert amounts.type == pa.decimal64(18, 2) and [str(v) for v in amounts.to_pylist()] == [
        "870.00", "None", "870.00", "620.00"]
    assert small_decimal_from_fen(__import__("numpy").array([360]), 7).type == pa.decimal32(7, 2)
    with pytest.raises(OverflowError):
        small_decimal_from_fen(__import__("numpy").array([10**10]), 7)

    ids = [make_id(region, "19700101", f"{i:03d}") for i, region in enumerate(["140105", "140106"] * 3)]
    path = world["tmp"] / "two-regions.csv"
    path.write_text("person_id,name,category,region_code\n" + "".join(
        f"{pid},人{i},urban_dibao,{pid[:6]}\n" for i, pid in enumerate(ids)), encoding="utf-8")
    out = world["tmp"] / "two-regions"
    res = _run(world, path, out, batch_rows=4)
    assert res.paid_rows == 6 and res.total_fen == 6 * 3100  # 870 x 3.6% = 31.32 -> 31 yuan each
    pay = pq.read_table(out / "payments.parquet")
    assert set(pay.column("standard_region").to_pylist()) == {"140100"}
    assert sorted(set(pay.column("region_code").to_pylist())) == ["140105", "140106"]
    meta = pq.ParquetFile(out / "payments.parquet").metadata
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    for g in range(meta.num_row_groups):
        for name in ("category", "region_code", "indicator", "standard_region", "run_id", "rate_pct", "standard",
                     "amount_per_person"):
            assert "RLE_DICTIONARY" in meta.row_group(g).column(names.index(name)).encodings, (g, name)
    assert [str(v) for v in pay.column("standard").to_pylist()] == ["870.00"] * 6  # 140100's, monthly
    assert pay.column("standard_annual").null_count == 6


def test_the_second_pass_reuses_the_first_pass_id_checks(world, monkeypatch):
    """The first pass checks every ID as the second pass would and hands the checks over
    (ids.CheckedIds): same files as checking them again, bad IDs included; batches of another
    shape (a 15-digit ID, a lower-case x) are checked again by the second pass."""
    import cpi_link.calc.firstpass as fp
    import cpi_link.roster.ids as ids_mod

    bad = make_id("140105", "19700101", "123")
    bad = bad[:17] + ("0" if bad[17] != "0" else "1")  # wrong check character
    rows = ROWS + [(bad, "urban_dibao", "1"), (make_id("140105", "19991301", "066")[:14] + "0661", "urban_dibao", "1")]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["person_id", "name", "category", "region_code", "persons"])
    for i, (pid, cat, persons) in enumerate(rows, 1):
        w.writerow([pid, f"人{i}", cat, "140105", persons])
    roster = world["tmp"] / "roster.csv"
    roster.write_text(buf.getvalue(), encoding="utf-8")

    used = []
    real = ids_mod.CheckedIds.for_column
    monkeypatch.setattr(ids_mod.CheckedIds, "for_column", lambda self, raw: used.append(len(raw)) or real(self, raw))
    # the first pass done before the second starts (else the second may overtake it: then it
    # checks those batches itself, as it must, and this test would depend on timing)
    from cpi_link.calc.handle import open_roster

    first = open_roster(roster, world["tmp"], batch_rows=2)
    first.first_pass.result()
    _run(world, first, world["tmp"] / "reused", batch_rows=2)
    first.close()
    assert used  # some batches came from the first pass ...
    assert sum(used) < len(rows)  # ... but not those holding B15 (15 digits) or C in lower case
    monkeypatch.setattr(fp, "KEEP_ROWS", 0)  # past it: candidate keys, nothing handed over
    used.clear()
    _run(world, roster, world["tmp"] / "checked-again", batch_rows=2)
    assert not used
    for name in ("payments.parquet", "rejected.parquet", "summary.parquet"):
        a = pq.read_table(world["tmp"] / "reused" / name)
        b = pq.read_table(world["tmp"] / "checked-again" / name)
        assert a.equals(b), name
    rej = {r["source_row"]: r for r in pq.read_table(world["tmp"] / "reused" / "rejected.parquet").to_pylist()}
    assert rej[10]["reason"] == "invalid_id" and rej[10]["detail"].startswith("check character should be ")
    assert rej[11]["reason"] == "invalid_id" and "not a real date" in rej[11]["detail"]


def test_the_handover_drops_checks_the_second_pass_has_passed():
    """A batch the second pass reached before the first pass checked it was checked by the
    second pass itself: its late checks are not kept (they would only take memory)."""
    from cpi_link.calc.firstpass import Handover

    h = Handover()
    h.put(1, "a")
    assert h.take(1) == "a" and h.take(1) is None
    assert h.take(5) is None  # not there yet: the second pass checks rows 5.. itself
    h.put(3, "late")
    h.put(5, "late too")
    h.put(7, "early")
    assert h.items == {7: "early"} and h.take(7) == "early"


@pytest.mark.parametrize("batch_rows", [1, 2, 1000])
def test_three_files_read_as_one_roster_pay_as_the_one_file(world, batch_rows):
    """Several sources (issue 29): ROWS cut into three CSV files, given together, pay exactly as the
    one file does, at any batch size (the first pass and the dedup run over all three, data rows
    numbered on across them); each rejected row names its file and its line there, a blank line
    in the third file counted."""
    from cpi_link.calc.handle import open_roster

    one = _csv(world["tmp"] / "roster.csv")
    head, *lines = one.read_text(encoding="utf-8").splitlines()
    parts = []
    for i, (lo, hi) in enumerate(((0, 3), (3, 6), (6, 9)), 1):
        body = lines[lo:hi]
        if i == 3:
            body = body[:1] + [""] + body[1:]  # a blank line before rows 8 and 9
        p = world["tmp"] / f"part{i}.csv"
        p.write_text("\n".join([head, *body]) + "\n", encoding="utf-8")
        parts.append(p)
    _run(world, one, world["tmp"] / "one", batch_rows=batch_rows)
    with open_roster(parts, world["tmp"], batch_rows=batch_rows) as handle:
        assert handle.first_pass is not None  # the early first pass covers all three
        res = _run(world, handle, world["tmp"] / "three", batch_rows=batch_rows)
    assert res.total_fen == TOTAL_FEN and res.paid_rows == 5 and res.input_rows == 9
    a = pq.read_table(world["tmp"] / "one" / "payments.parquet").sort_by("source_row").drop_columns(["run_id"])
    b = pq.read_table(world["tmp"] / "three" / "payments.parquet").sort_by("source_row").drop_columns(["run_id"])
    assert a.equals(b)
    rej = {r["source_row"]: r for r in pq.read_table(world["tmp"] / "three" / "rejected.parquet").to_pylist()}
    # row 2 (part1 line 3) is paid on row 5 (part2's 2nd data row); row 4 on row 1; row 7 on row 3
    assert {r: (x["file"], x["sheet"], x["file_row"], x["reason"]) for r, x in rej.items()} == {
        2: ("part1.csv", None, 3, "duplicate_person"), 4: ("part2.csv", None, 2, "duplicate_person"),
        7: ("part3.csv", None, 2, "duplicate_person"), 9: ("part3.csv", None, 5, "unknown_category")}
    assert rej[2]["detail"] == "the same person is paid on data row 2 of part2.csv (the highest amount)"
    assert rej[4]["detail"] == "the same person is paid on data row 1 of part1.csv (the highest amount)"
    assert rej[7]["detail"] == "the same person is paid on data row 3 of part1.csv (the highest amount)"
