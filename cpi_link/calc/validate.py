"""`validate`: the calculator's checks without amounts, reported by reason."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def validate_roster(path: Path, month: str | None = None, rules=None, standards=None, examples: int = 5,
                    sheet=None) -> dict:
    """Problems by reason: rows, example_rows (data rows), example_file_rows (the row a person sees:
    spreadsheet row or CSV line) and example_details. `roster`: how the file was read (header_row...)."""
    import numpy as np

    from cpi_link.calc.legacy import check_batch
    from cpi_link.roster.check import check_batches
    from cpi_link.roster.read import open_roster
    from cpi_link.roster.schema import ROSTER_SCHEMA

    reader = open_roster(Path(path), sheet)

    problems: dict[str, dict] = {}
    rows = ok_rows = 0
    cache: dict = {}
    ids = []  # (person_id, source_row) of rows without problems, for duplicates

    def add(reason: str, source_rows, details, file_rows) -> None:
        p = problems.setdefault(reason, {"rows": 0, "example_rows": [], "example_file_rows": [], "example_details": []})
        p["rows"] += len(source_rows)
        room = examples - len(p["example_rows"])
        if room > 0:
            p["example_rows"] += [int(x) for x in source_rows[:room]]
            p["example_file_rows"] += [int(x) for x in file_rows[:room]]
            p["example_details"] += [str(x) for x in details[:room]]

    for batch in (t.cast(ROSTER_SCHEMA) for t in check_batches(reader.batches(1_000_000))):
        df = batch.to_pandas()
        rows += len(df)
        if rules is not None:
            c = check_batch(df, rules, standards, month, cache)
            reason, detail, ok = c["reason"], c["detail"], c["ok"]
        else:
            reason = df["reason"].to_numpy(dtype=object)
            detail = df["detail"].to_numpy(dtype=object)
            ok = df["reason"].isna().to_numpy()
        bad = pd.DataFrame({"source_row": df["source_row"].to_numpy()[~ok], "file_row": df["file_row"].to_numpy()[~ok],
                            "reason": reason[~ok], "detail": detail[~ok]})
        for r, g in bad.groupby("reason", sort=True):
            add(str(r), g["source_row"].to_numpy(), g["detail"].to_numpy(), g["file_row"].to_numpy())
        good = df[ok]
        ok_rows += len(good)
        ids.append(good[["person_id", "source_row", "file_row"]])
    if ids:
        allids = pd.concat(ids, ignore_index=True)
        dup = allids[allids.duplicated("person_id", keep="first")]
        if len(dup):
            first = allids.drop_duplicates("person_id").set_index("person_id")["source_row"]
            add("duplicate_person", dup["source_row"].to_numpy(),
                ("same person as data row " + dup["person_id"].map(first).astype(str)).to_numpy(), dup["file_row"].to_numpy())
            ok_rows -= len(dup)
    for p in problems.values():  # the rows a person sees, exactly (a CSV with blank lines or quoted line breaks)
        p["example_file_rows"] = [int(x) for x in reader.exact_file_rows(np.array(p["example_rows"], np.int64),
                                                                         np.array(p["example_file_rows"], np.int64))]
    info = reader.info()
    return {"roster": str(path), "month": month, "rows": rows, "ok_rows": ok_rows,
            "sheet": info["sheet"], "header_row": info["header_row"], "problems": dict(sorted(problems.items()))}
