"""How calc's Parquet files are encoded (SPEC 6): the payments, rejected and summary schemas and
the payments writer's settings, in one place. Money is decimal(18, 2) built from integer fen."""

from __future__ import annotations

import numpy as np

from cpi_link.core.money import decimal128_from_fen, small_decimal_from_fen, small_decimal_type
from cpi_link.core.parquetmeta import columns_json, described, stored_schema, with_descriptions


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
            # carried from the roster when it has them (SPEC 6.1: 乡镇/村 and 备注, the full 12-digit code)
            ("township", pa.string()),
            ("village", pa.string()),
            ("remark", pa.string()),
            ("region_code_full", pa.string()),
        ]
    )
    rejected = pa.schema(
        [("source_row", pa.int64()), ("file_row", pa.int64()), ("reason", pa.string()), ("detail", pa.string())]
        + [(c, pa.string()) for c in ("person_id", "name", "category", "region_code", "area", "persons", "bank_account")]
    )
    summary = pa.schema(
        [("region_code", pa.string()), ("category", pa.string()), ("rows", pa.int64()), ("persons", pa.int64()), ("amount", money)]
    )
    return tuple(described(s, COLUMNS, PERSONAL) for s in (payments, rejected, summary))


# Few-valued string columns of the payments file, written from dictionary arrays (see below).
PAYMENTS_DICT_STRINGS = ("category", "region_code", "area", "index_month", "indicator", "standard_region",
                         "scheme", "version", "run_id", "township", "village", "region_code_full")
# The only payments columns that may be null (a monthly standard, no bank account, a normal ID).
PAYMENTS_NULLABLE = ("standard_annual", "bank_account", "id_flag", "township", "village", "remark", "region_code_full")


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
    return pa.schema([f.with_nullable(f.name in PAYMENTS_NULLABLE).remove_metadata() for f in schema])


def payments_read_schema():
    """The payments schema as every reader sees the file (plain strings, decimal128, the required
    columns not null) with each column's description: stored in the file as its Arrow schema."""
    import pyarrow as pa

    return pa.schema([f.with_nullable(f.name in PAYMENTS_NULLABLE) for f in _schemas()[0]])


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


def summary_table(summary, metadata: dict | None = None):
    """The summary Parquet table from dicts of region_code, category, rows, persons, amount_fen
    (calc.stream's totals); with the run's metadata, also its index_month and run_id columns."""
    import pyarrow as pa

    _, _, schema = _schemas()
    rows = summary
    t = pa.Table.from_arrays(
        [
            pa.array([r["region_code"] for r in rows], pa.string()),
            pa.array([r["category"] for r in rows], pa.string()),
            pa.array([int(r["rows"]) for r in rows], pa.int64()),
            pa.array([int(r["persons"]) for r in rows], pa.int64()),
            decimal128_from_fen(_fen_array([r["amount_fen"] for r in rows]), what="a summary amount"),
        ],
        schema=schema,
    )
    return with_run_columns(t, metadata)


def with_run_columns(table, metadata: dict | None):
    """A summary or rejected table with the run's index_month and run_id as columns (a glob over
    run folders can group by month) and its key-value metadata (file_metadata)."""
    import pyarrow as pa

    if not metadata:
        return table
    for name in ("index_month", "run_id"):
        if name in metadata and name not in table.schema.names:
            field = described(pa.schema([pa.field(name, pa.string())]), COLUMNS)[0]
            table = table.append_column(field, pa.array([metadata[name]] * table.num_rows, pa.string()))
    return table.replace_schema_metadata(own_columns(metadata, table.schema.names))


def own_columns(metadata, names) -> dict[str, str]:
    """A file's key-value metadata (str or bytes keys, as pyarrow gives it) with its `columns`
    entry describing only the columns it has (the entry is repeated in the stored Arrow schema)."""
    meta = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in (metadata or {}).items()}
    if "columns" in meta:
        meta["columns"] = columns_json([n for n in names if n in COLUMNS], COLUMNS, PERSONAL)
    return meta


def _fen_array(values) -> np.ndarray:
    """int64 fen from exact ints; a total past int64 is refused (InputError) rather than wrapped."""
    from cpi_link.core.money import check_fen

    big = [int(v) for v in values]
    limit = 10 ** 18 - 1
    if any(abs(v) > limit for v in big):
        check_fen(np.array([min(max(v, -limit - 1), limit + 1) for v in big], dtype=np.int64), what="a summary amount")
    return np.array(big, dtype=np.int64)


def rejected_schema():
    return _schemas()[1]


# -- how the files are written ---------------------------------------------------------------

PAYMENTS_COMPRESSION = "snappy"  # the Parquet default: zstd cost more CPU than its bytes saved (benchmarks/README.md)
# Bank account numbers are random digits: compressing them costs more than it saves (benchmarks/README.md)
PAYMENTS_UNCOMPRESSED = ["bank_account"]
# Dictionary encoding only for the few-valued columns (for IDs, names and accounts it is built and
# then abandoned per page); min/max statistics and delta encoding only for source_row (row
# lookups); statistics on the other columns cost a sixth of the writer's time (measured at 1M rows).
PAYMENTS_DICTIONARY = ["category", "region_code", "area", "index_month", "indicator", "rate_pct", "standard",
                       "standard_annual", "standard_region", "amount_per_person", "scheme", "version", "run_id",
                       "id_flag", "township", "village", "region_code_full"]
PAYMENTS_STATS = ["source_row"]
PAYMENTS_ENCODING = {"source_row": "DELTA_BINARY_PACKED"}


# The rejected file: zstd like write_run's tables; dictionary encoding only for the few-valued
# columns and statistics only for source_row (5M-row bench roster, 325k rejected rows: writing it
# took 144 -> 104 ms, at the end of calc where nothing else runs; 6.8 -> 6.3 MB).
REJECTED_DICTIONARY = ["reason", "detail", "name", "category", "region_code", "area", "persons"]


SCHEMA_VERSION = "1"
# what each column holds; personal data (IDs, names, accounts: never in logs) marked
COLUMNS = {
    "source_row": "1-based data row of the roster", "file_row": "the row number a person sees in the file",
    "person_id": "resident ID, normalised to 18 characters", "name": "name as in the roster",
    "category": "category code (SPEC 5.2)", "region_code": "6-digit division code", "area": "urban or rural",
    "persons": "persons covered by the row", "index_month": "the month the price figures describe",
    "indicator": "the index that set the rate", "rate_pct": "the rate, percent",
    "standard": "the monthly standard used, yuan", "standard_annual": "an annual rural standard, yuan",
    "standard_region": "the standards row matched", "amount_per_person": "yuan per person",
    "amount": "yuan for the row (amount_per_person x persons)", "scheme": "scheme name", "version": "rules version",
    "run_id": "the run", "bank_account": "bank account as given", "id_flag": "converted_from_15 where converted, id_reformatted where written with separators",
    "township": "乡镇 (township or street) as in the roster", "village": "村 (village or community) as in the roster",
    "remark": "备注 as in the roster (several joined with ；)",
    "region_code_full": "the 12-digit 统计用区划代码 when the roster gave one (region_code is its county)",
    "reason": "reject reason code", "detail": "why, in words",
    "rows": "roster rows", "programme": "one-off programme id",
    "kind": "month (the month's run), supplement (补充发放) or topup (补发)",
    "paid_at": "when the ledger recorded the payment, ISO UTC",
}
PERSONAL = {"person_id", "name", "bank_account", "remark"}


def file_metadata(run_id: str, index_month: str, scheme: str, version: str, paid: bool | None = None) -> dict[str, str]:
    """The key-value metadata every Parquet file of a run carries (SPEC 6); paid: "true" for a run
    written for the ledger, "false" for a trial (calc) that pays nobody."""
    from cpi_link import __version__

    meta = {"run_id": run_id, "index_month": index_month, "scheme": scheme, "version": version,
            "cpi_link_version": __version__, "schema_version": SCHEMA_VERSION,
            "columns": columns_json(COLUMNS, COLUMNS, PERSONAL)}
    if paid is not None:
        meta["paid"] = "true" if paid else "false"
    return meta


def payments_writer(sink, metadata_of=None):
    """The streaming payments writer (fed payments_write_schema tables) on an open binary file;
    metadata_of() gives the file's key-value metadata when it is closed (the run id is known late).
    The file stores payments_read_schema as its Arrow schema, so readers get the column
    descriptions and plain types, never the writer's dictionaries and decimal64."""
    import pyarrow.parquet as pq

    class Writer(pq.ParquetWriter):
        def close(self):
            if self.is_open:
                meta = metadata_of() if metadata_of is not None else {}
                schema = payments_read_schema()
                self.add_key_value_metadata(stored_schema(schema, own_columns(meta, schema.names)))
            super().close()

    schema = payments_write_schema()
    codecs = {f.name: "none" if f.name in PAYMENTS_UNCOMPRESSED else PAYMENTS_COMPRESSION for f in schema}
    return Writer(sink, schema, compression=codecs,
                            store_schema=False,  # not the types it is fed: payments_read_schema is stored at close
                            store_decimal_as_integer=True, use_dictionary=PAYMENTS_DICTIONARY,
                            write_statistics=PAYMENTS_STATS, column_encoding=PAYMENTS_ENCODING)


def write_rejected(table, sink, metadata: dict | None = None) -> None:
    """The rejected rows (rejected_schema, sorted by source_row) as one Parquet file."""
    import pyarrow.parquet as pq

    table = with_descriptions(with_run_columns(table, metadata), COLUMNS, PERSONAL)
    pq.write_table(table, sink, compression="zstd", use_dictionary=REJECTED_DICTIONARY,
                   write_statistics=["source_row"], column_encoding={"source_row": "DELTA_BINARY_PACKED"})
