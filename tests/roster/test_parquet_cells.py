"""Issue 28: Parquet rosters as analysts write them (pandas with Decimal objects, DuckDB's DECIMAL).

decimal(18,0) IDs and decimal(20,0) accounts are exact: paid, never "lost precision". A float
persons value that is not finite or not whole (inf, nan, 1e300, 2.5) is bad_persons naming the
value, never cast to a huge negative number.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from calc_helpers import make_id

IDS = [make_id("140105", f"19{50 + i}0101", f"20{i}") for i in range(6)]


def _write(path, persons, id_type=pa.decimal128(18, 0), account_type=pa.decimal128(20, 0)):
    """As pyarrow (or DuckDB's DECIMAL) writes them: typed columns, NaN kept as NaN."""
    def number(values, t):
        if pa.types.is_floating(t):
            return pa.array([float(v) for v in values], t)
        return pa.array([Decimal(v) for v in values], t)

    t = pa.table({
        "身份证号": number(IDS, id_type),
        "姓名": [f"人{i}" for i in range(6)],
        "保障类别": ["城市低保"] * 6,
        "行政区划代码": ["140105"] * 6,
        "城乡": ["城市"] * 6,
        "保障人数": pa.array(persons, pa.float64()),
        "银行账号": number([6217000010012345678 + i for i in range(6)], account_type),  # 19 digits
    })
    pq.write_table(t, path)
    return path


def test_pandas_decimal_objects_are_decimal_columns(tmp_path):
    # pandas with Decimal objects writes decimal128 (what an analyst's to_parquet gives)
    df = pd.DataFrame({"身份证号": [Decimal(IDS[0])]})
    pq.write_table(pa.Table.from_pandas(df, schema=pa.schema([("身份证号", pa.decimal128(18, 0))])), tmp_path / "x.parquet")
    assert pq.read_schema(tmp_path / "x.parquet").field("身份证号").type == pa.decimal128(18, 0)


def test_decimal_ids_and_accounts_exact_and_float_persons_named(tmp_path, cli, setup):
    cfg, std = setup
    roster = _write(tmp_path / "r.parquet", [1.0, 3.0, float("inf"), 1e300, 2.5, float("nan")])
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
            "--out", tmp_path / "out")
    assert r.exit_code == 0, r.output
    pay = pq.read_table(tmp_path / "out" / "payments.parquet").to_pandas().set_index("source_row")
    rej = pq.read_table(tmp_path / "out" / "rejected.parquet").to_pandas().set_index("source_row")
    assert list(pay["person_id"]) == IDS[:2]
    assert list(pay["bank_account"]) == ["6217000010012345678", "6217000010012345679"]
    # 870 x 6.5% = 56.55 -> 57.00 a person; row 2 covers 3: 171.00
    assert list(map(str, pay["amount"])) == ["57.00", "171.00"]
    assert set(rej["reason"]) == {"bad_persons"}
    for row, shown in ((3, "inf"), (4, "1e+300"), (5, "2.5"), (6, "nan")):
        assert rej.loc[row, "detail"] == f"persons '{shown}' is not a whole number of at least 1", rej.loc[row, "detail"]
    assert "-922337" not in r.output + " ".join(rej["detail"])


def test_float_ids_still_lost_and_int_ids_exact(tmp_path, cli, setup):
    from cpi_link.roster.check import iter_roster

    roster = _write(tmp_path / "f.parquet", [1.0] * 6, id_type=pa.float64(), account_type=pa.float64())
    t = pa.concat_tables(iter_roster(roster)).to_pandas()
    assert set(t["reason"]) == {"id_lost_precision"}
    scaled = _write(tmp_path / "s.parquet", [1.0] * 6, id_type=pa.decimal128(20, 2), account_type=pa.decimal128(22, 2))
    t = pa.concat_tables(iter_roster(scaled)).to_pandas()
    assert set(t["reason"]) == {"id_lost_precision"}  # a decimal with a fraction is a number, not an ID
