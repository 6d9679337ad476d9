"""How calc's Parquet files are encoded (SPEC 6): the payments, rejected and summary schemas and
the payments writer's settings, in one place. Money is decimal(18, 2) built from integer fen."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cpi_link.core.money import decimal128_from_fen, round_ratio, small_decimal_from_fen, small_decimal_type

if TYPE_CHECKING:  # pandas only where a function needs it: calc's streamed path runs without it
    import pandas as pd


def _schemas():
    import pyarrow as pa

    money = pa.decimal128(18, 2)
    payments = pa.schema(
        [
            ("source_row", pa.int64()),
            ("person_id", pa.string()),
            ("name", pa.string()),
            ("category", pa.string()),
            ("region_code", pa.string()),
            ("area", pa.string()),
            ("persons", pa.int64()),
            ("index_month", pa.string()),
            ("indicator", pa.string()),
            ("rate_pct", pa.decimal128(7, 2)),
            ("standard", money),
            ("standard_annual", money),
            ("standard_region", pa.string()),
            ("amount_per_person", money),
            ("amount", money),
            ("scheme", pa.string()),
            ("version", pa.string()),
            ("run_id", pa.string()),
            ("bank_account", pa.string()),
            ("id_flag", pa.string()),
        ]
    )
    rejected = pa.schema(
        [("source_row", pa.int64()), ("file_row", pa.int64()), ("reason", pa.string()), ("detail", pa.string())]
        + [(c, pa.string()) for c in ("person_id", "name", "category", "region_code", "area", "persons", "bank_account")]
    )
    summary = pa.schema(
        [("region_code", pa.string()), ("category", pa.string()), ("rows", pa.int64()), ("persons", pa.int64()), ("amount", money)]
    )
    return payments, rejected, summary


def _str(values) -> "object":
    import pyarrow as pa

    return pa.array(np.asarray(values, dtype=object), type=pa.string(), from_pandas=True)


def payments_table(paid: pd.DataFrame, month: str, scheme: str, version: str, run_id: str):
    import pyarrow as pa

    schema, _, _ = _schemas()
    n = len(paid)
    std12 = paid["standard12"].to_numpy(dtype=np.int64)
    annual = paid["standard_annual_fen"].to_numpy(dtype=np.int64)
    annual_arr = decimal128_from_fen(np.where(annual >= 0, annual, 0))
    annual_arr = pa.Array.from_buffers(annual_arr.type, n, [pa.array(annual >= 0).buffers()[1], annual_arr.buffers()[1]])
    rate = decimal128_from_fen(paid["rate_h"].to_numpy(dtype=np.int64))  # hundredths of a percent, scale 2
    cols = {
        "source_row": pa.array(paid["source_row"].to_numpy(dtype=np.int64)),
        "person_id": _str(paid["person_id"]),
        "name": _str(paid["name"]),
        "category": _str(paid["category"]),
        "region_code": _str(paid["region_code"]),
        "area": _str(paid["area"]),
        "persons": pa.array(paid["persons"].to_numpy(dtype=np.int64)),
        "index_month": pa.array([month] * n, pa.string()) if n < 1000 else pa.repeat(month, n),
        "indicator": _str(paid["indicator"]),
        "rate_pct": rate.cast(pa.decimal128(7, 2)),
        # the monthly standard used, to the fen; an annual rural standard is also kept whole
        "standard": decimal128_from_fen(round_ratio(std12, 12, "fen_half_up")),
        "standard_annual": annual_arr,
        "standard_region": _str(paid["standard_region"]),
        "amount_per_person": decimal128_from_fen(paid["amount_per_person_fen"].to_numpy(dtype=np.int64)),
        "amount": decimal128_from_fen(paid["amount_fen"].to_numpy(dtype=np.int64)),
        "scheme": pa.repeat(scheme, n),
        "version": pa.repeat(version, n),
        "run_id": pa.repeat(run_id, n),
        "bank_account": _str(paid["bank_account"]),
        "id_flag": _str(paid["id_flag"]),
    }
    return pa.Table.from_arrays([cols[f.name].cast(f.type) for f in schema], schema=schema)


# Few-valued string columns of the payments file, written from dictionary arrays (see below).
PAYMENTS_DICT_STRINGS = ("category", "region_code", "area", "index_month", "indicator", "standard_region",
                         "scheme", "version", "run_id")
# The only payments columns that may be null (a monthly standard, no bank account, a normal ID).
PAYMENTS_NULLABLE = ("standard_annual", "bank_account", "id_flag")


def payments_write_schema():
    """The payments schema as the streaming writer is fed: decimals as decimal32/64, the few-valued
    string columns as dictionary<int32, string>. The file is written without the Arrow
    schema, so every reader sees plain strings and decimal128: with store_decimal_as_integer a
    decimal(18, 2) is DECIMAL on INT64 in the file whichever Arrow type it came from (the same
    bytes), but a decimal64 needs no 128-bit conversion per value. The dictionaries spare the
    writer from hashing millions of equal values."""
    import pyarrow as pa

    schema = _schemas()[0]
    for f in list(schema):  # decimals as decimal32/64 (money.small_decimal_from_fen): the same file
        if pa.types.is_decimal(f.type):
            schema = schema.set(schema.get_field_index(f.name), pa.field(f.name, small_decimal_type(f.type.precision)))
    for name in PAYMENTS_DICT_STRINGS:
        i = schema.get_field_index(name)
        schema = schema.set(i, pa.field(name, pa.dictionary(pa.int32(), schema.field(name).type)))
    # every paid row has these: declared required, the writer skips their null bookkeeping (a
    # seventh of its time at 5M rows), and a null that slipped through fails the run, not the file
    return pa.schema([f.with_nullable(f.name in PAYMENTS_NULLABLE) for f in schema])


def payments_from_arrow(t, month: str, scheme: str, version: str, run_id: str):
    """The payments table (payments_write_schema) for a pyarrow Table of payable rows
    (calculate.compute_batch_arrow: its rate, standards and amount per person already dictionary
    decimals), no pandas."""
    import pyarrow as pa

    schema = payments_write_schema()
    n = t.num_rows

    def i64(c: str) -> np.ndarray:
        return t.column(c).to_numpy().astype(np.int64, copy=False)

    zeros = pa.array(np.zeros(n, np.int32))  # one index array for the constant columns

    def const(value: str):
        return pa.DictionaryArray.from_arrays(zeros, pa.array([value], pa.string()))

    cols = {
        "index_month": const(month),
        "amount": small_decimal_from_fen(i64("amount_fen")),
        "scheme": const(scheme),
        "version": const(version),
        "run_id": const(run_id),
    }
    arrays = [cols[f.name] if f.name in cols else t.column(f.name) for f in schema]
    return pa.Table.from_arrays([a.cast(f.type) if a.type != f.type else a for a, f in zip(arrays, schema)], schema=schema)


def rejected_table(rej: pd.DataFrame):
    import pyarrow as pa

    _, schema, _ = _schemas()
    arrays = [pa.array(rej[c].to_numpy(dtype=np.int64)) for c in ("source_row", "file_row")] + \
        [_str(rej[f.name]) for f in list(schema)[2:]]
    return pa.Table.from_arrays(arrays, schema=schema)


def summary_frame(paid: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    if paid.empty:
        return pd.DataFrame({"region_code": [], "category": [], "rows": [], "persons": [], "amount_fen": []})
    g = paid.groupby(["region_code", "category"], sort=True).agg(
        rows=("source_row", "size"), persons=("persons", "sum"), amount_fen=("amount_fen", "sum")
    )
    return g.reset_index()


def summary_table(summary):
    """The summary Parquet table from a summary_frame or a list of dicts with the same keys
    (region_code, category, rows, persons, amount_fen: calc's streamed totals, no pandas)."""
    import pyarrow as pa

    _, _, schema = _schemas()
    rows = summary.to_dict("records") if hasattr(summary, "to_dict") else summary
    return pa.Table.from_arrays(
        [
            pa.array([r["region_code"] for r in rows], pa.string()),
            pa.array([r["category"] for r in rows], pa.string()),
            pa.array([int(r["rows"]) for r in rows], pa.int64()),
            pa.array([int(r["persons"]) for r in rows], pa.int64()),
            decimal128_from_fen(np.array([int(r["amount_fen"]) for r in rows], dtype=np.int64)),
        ],
        schema=schema,
    )


def rejected_schema():
    return _schemas()[1]
