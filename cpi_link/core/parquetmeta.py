"""What a Parquet file says about its columns: each Arrow field's metadata (`description`,
`personal_data`), which pyarrow reads back from the Arrow schema stored in the file (the
`ARROW:schema` key). DuckDB and polars ignore field metadata; they read the file's key-value
metadata, where every file also carries its `columns` dictionary (docs/analysts.md)."""

from __future__ import annotations

ARROW_SCHEMA_KEY = "ARROW:schema"


def described(schema, descriptions: dict[str, str], personal=frozenset()):
    """The schema with each field's description and whether it holds personal data (IDs, names,
    bank accounts) as field metadata (a column not in `descriptions` is left as it is; the tests
    check that every column of every file is described)."""
    import pyarrow as pa

    fields = []
    for f in schema:
        if f.name not in descriptions:
            fields.append(f)
            continue
        meta = dict(f.metadata or {})
        meta[b"description"] = descriptions[f.name].encode("utf-8")
        meta[b"personal_data"] = b"true" if f.name in personal else b"false"
        fields.append(f.with_metadata(meta))
    return pa.schema(fields, metadata=schema.metadata)


def with_descriptions(table, descriptions: dict[str, str], personal=frozenset()):
    """The table with described() field metadata (the same arrays, no copy)."""
    import pyarrow as pa

    return pa.Table.from_arrays(table.columns, schema=described(table.schema, descriptions, personal))


def columns_json(names, descriptions: dict[str, str], personal=frozenset()) -> str:
    """The file-level `columns` dictionary for these columns: {name: {description, personal_data}}."""
    import json

    return json.dumps({c: {"description": descriptions[c], "personal_data": c in personal} for c in names},
                      ensure_ascii=False, sort_keys=True)


def stored_schema(schema, metadata: dict) -> dict:
    """The file's key-value metadata plus the entry that stores `schema` as its Arrow schema, the
    way pyarrow's own writer does (base64 of the IPC schema message, which carries the metadata
    too: pyarrow reads a file's metadata from it): for a writer fed other Arrow types than the
    ones readers should see (store_schema=False), so the field metadata still reaches them."""
    import base64

    ipc = schema.with_metadata(metadata).serialize().to_pybytes()
    return dict(metadata) | {ARROW_SCHEMA_KEY: base64.b64encode(ipc)}
