"""`validate`: a roster through calc's own checks, without writing anything.

With a month it runs the same stream as calc (calc.stream.stream_month, payments discarded), so it
reports exactly the rows and reasons calc would reject, duplicates included. Without a month only
the roster's own checks run; a person listed twice counts as calc counts them (all rows but one
rejected), each naming every row of the person: which one calc keeps, the highest amount, needs
the month.
"""

from __future__ import annotations

import tempfile
from pathlib import Path


def validate_roster(path: Path, month: str | None = None, scheme=None, store=None, standards=None, examples: int = 5,
                    work_dir: Path | None = None, sheet=None, remark_check: bool = True) -> dict:
    """{roster, month, rows, ok_rows, problems, warnings}: per reason its rows, example_rows (data
    rows), example_file_rows (the row a person sees: spreadsheet row or CSV line) and example_details."""
    from cpi_link.calc.handle import open_roster, place_of

    paths = [Path(p) for p in path] if isinstance(path, (list, tuple)) else [Path(path)]
    # early=False: no first pass, so without a month nothing is made under the work folder
    with open_roster(paths, work_dir if work_dir is not None else paths[0].parent, sheet=sheet, early=False,
                     remark_check=remark_check) as handle:
        if month is None:
            rej, rows, assumed, info = _roster_only(handle.reader(), remark_check)
        else:
            from cpi_link.calc.month import month_plan
            from cpi_link.calc.stream import stream_month
            from cpi_link.core.paths import private_dir

            private_dir(Path(work_dir))
            plan, primary = month_plan(month, scheme, store, standards, assume_triggered=True)
            compute = primary is None or primary.triggered
            with tempfile.TemporaryDirectory(prefix=".validate-", dir=work_dir) as spill:
                r = stream_month(handle, plan, compute, Path(spill), payments=False)
            rej, rows, assumed, info = r.rejected, r.input_rows, list(plan.assumed), r.roster
        # each source with the sheet read (the one found when none was named), as its rejected rows name it
        read = info.get("sources") or [info]
        sources = [(s.path, s.sheet if s.sheet is not None else i.get("sheet")) for s, i in zip(handle.sources, read)]
        skipped = list(handle.skipped)
    problems: dict[str, dict] = {}
    bad = 0
    if rej is not None and rej.num_rows:
        import pyarrow.compute as pc

        rej = rej.take(pc.sort_indices(rej, [("reason", "ascending"), ("source_row", "ascending")]))
        bad = rej.num_rows
        reasons = rej.column("reason").to_pylist()
        srows = rej.column("source_row").to_pylist()
        frows = rej.column("file_row").to_pylist()
        details = rej.column("detail").to_pylist()
        several = "file" in rej.column_names
        places = ([place_of(f, s) for f, s in zip(rej.column("file").to_pylist(), rej.column("sheet").to_pylist())]
                  if several else [None] * rej.num_rows)
        for reason, srow, frow, detail, place in zip(reasons, srows, frows, details, places):
            p = problems.setdefault(reason, {"rows": 0, "example_rows": [], "example_file_rows": [], "example_details": []})
            p["rows"] += 1
            if len(p["example_rows"]) < examples:
                p["example_rows"].append(int(srow))
                p["example_file_rows"].append(int(frow) if frow is not None else None)
                p["example_details"].append(str(detail))
                if several:  # the file (and sheet) each example row is in
                    p.setdefault("example_places", []).append(place)
    warnings: dict = {}
    for p, sh in sources:  # each source's own rows (data rows within it)
        for reason, w in _warnings(p, month is None, examples, sh).items():
            if len(sources) > 1:
                w["example_places"] = [place_of(p, sh)] * len(w["example_rows"])
            if reason in warnings:
                have = warnings[reason]
                have["rows"] += w["rows"]
                room = examples - len(have["example_rows"])
                for k in ("example_rows", "example_file_rows", "example_details", "example_places"):
                    have[k] = have.get(k, []) + w.get(k, [])[:room]
            else:
                warnings[reason] = w
    out = {"roster": str(paths[0]) if len(paths) == 1 else [str(p) for p in paths], "month": month,
           "sheet": info.get("sheet"), "header_row": info.get("header_row"),
           "header_end": info.get("header_end"), "header_cells": info.get("header_cells", []),
           "rows": rows, "ok_rows": rows - bad, "problems": problems, "warnings": dict(sorted(warnings.items()))}
    if info.get("format") == "several":  # every file and sheet, and the sheets `--sheet all` skipped
        out["sources"] = [{k: i.get(k) for k in ("path", "sheet", "rows", "header_row", "header_end", "header_cells")}
                          for i in info["sources"]]
    if skipped:  # the sheets `--sheet all` did not read, with the reason
        out["skipped_sheets"] = skipped
    if not remark_check or info.get("remark_check") is False:
        out["remark_check"] = False  # the remark_says_stopped check was off (command or scheme)
    if assumed:
        out["figures_missing_for"] = sorted(assumed)  # taken as triggered: only the amounts' order may differ
    return out


def _warnings(path: Path, regions_too: bool, examples: int, sheet=None) -> dict:
    """What is paid as given but worth a look: bank accounts that are not 12-30 digits, and (without a
    month, when calc's region check does not run) region codes on no division list."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from cpi_link.core.regions import is_valid
    from cpi_link.roster.check import iter_roster

    found: dict[str, dict] = {}

    def add(reason: str, t, details: list) -> None:
        w = found.setdefault(reason, {"rows": 0, "example_rows": [], "example_file_rows": [], "example_details": []})
        w["rows"] += t.num_rows
        room = examples - len(w["example_rows"])
        w["example_rows"] += t.column("source_row").to_pylist()[:room]
        w["example_file_rows"] += t.column("file_row").to_pylist()[:room]
        w["example_details"] += details[:room]

    for t in iter_roster(path, sheet=sheet):
        ok = pc.is_null(t.column("reason"))
        bank = t.column("bank_account")
        odd = pc.and_(pc.and_(ok, pc.is_valid(bank)), pc.invert(pc.fill_null(pc.match_substring_regex(bank, r"^[0-9]{12,30}$"), True)))
        if pc.any(odd).as_py():
            b = t.filter(odd)
            add("bank_account_length", b,
                [_bank_note(a) for a in b.column("bank_account").to_pylist()[:examples]])
        if regions_too:
            codes = t.column("region_code")
            bad = [c for c in pc.unique(codes.filter(ok)).drop_null().to_pylist() if not is_valid(c)]
            if bad:
                r = t.filter(pc.and_(ok, pc.is_in(codes, value_set=pa.array(bad))))
                add("region_not_on_list", r,
                    [f"region_code {c} is not on the administrative-division list (GB/T 2260); calc rejects it as unknown_region"
                     for c in r.column("region_code").to_pylist()[:examples]])
    households = _household_sizes(path, examples, sheet)
    if households:
        found["household_size"] = households
    return dict(sorted(found.items()))


def _household_sizes(path: Path, examples: int, sheet=None) -> dict | None:
    """With one row per family member: each household whose head's 保障人数 differs from the members
    listed (roster.check.HouseholdSizes, as calc and run find it while they stream)."""
    from cpi_link.roster.check import HouseholdSizes
    from cpi_link.roster.read import open_roster

    r = open_roster(path, sheet)
    if not HouseholdSizes.wanted(r.mapping):
        return None
    tally = HouseholdSizes(examples)
    first = 1
    for t, _numeric in r.batches(100_000):
        tally.add(t, first)
        first += t.num_rows
    return tally.found()


def _bank_note(account: str) -> str:
    """The bank_account_length warning for one account (its length, not its digits)."""
    digits = sum(c.isdigit() for c in account)
    kind = f"{len(account)} digits" if digits == len(account) else f"{len(account)} characters, {len(account) - digits} not digits"
    return f"bank account has {kind}; accounts are usually 12-30 digits: check it (paid as given)"


def _listed_twice(ok):
    """People listed more than once among the rows without problems, as calc resolves them: every
    row of a person but one is rejected duplicate_person, and which one calc keeps (the highest
    amount) is known only with a month. The rows but the first, each naming all of its person's rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    groups = ok.group_by("person_id").aggregate([("source_row", "list"), ("source_row", "count")])
    groups = groups.filter(pc.greater(groups.column("source_row_count"), 1))
    if not groups.num_rows:
        return None
    said = {}
    for pid, rows in zip(groups.column("person_id").to_pylist(), groups.column("source_row_list").to_pylist()):
        rows = sorted(rows)
        times = "twice" if len(rows) == 2 else f"{len(rows)} times"
        said[pid] = (rows[0], f"listed {times}: rows {', '.join(map(str, rows))}; calc keeps the highest amount")
    ok = ok.filter(pc.is_in(ok.column("person_id"), value_set=groups.column("person_id")))
    pids = ok.column("person_id").to_pylist()
    firsts = ok.column("source_row").to_pylist()
    take, details = [], []
    for i, (pid, row) in enumerate(zip(pids, firsts)):
        hit = said.get(pid)
        if hit is not None and row != hit[0]:
            take.append(i)
            details.append(hit[1])
    dup = ok.take(pa.array(take, pa.int64()))
    return dup.append_column("detail", pa.array(details, pa.string()))


def _roster_only(reader, remark_check: bool = True):
    """The roster's own checks, plus people listed twice among the rows without problems (reader:
    the handle's, of one source or several)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from cpi_link.calc.batch import REJECT_ORIG
    from cpi_link.calc.encoding import rejected_schema
    from cpi_link.calc.stream import exact_file_rows
    from cpi_link.roster.check import check_batches
    from cpi_link.roster.schema import ROSTER_SCHEMA

    orig = ["orig_" + c for c in REJECT_ORIG]
    names = ["source_row", "file_row", "reason", "detail", *REJECT_ORIG]
    parts, good, rows = [], [], 0
    for t in check_batches(reader.batches(1_000_000), remark_check=remark_check):
        t = t.cast(ROSTER_SCHEMA)
        rows += t.num_rows
        bad = pc.is_valid(t.column("reason"))
        parts.append(t.filter(bad).select(["source_row", "file_row", "reason", "detail", *orig]).rename_columns(names))
        good.append(t.filter(pc.invert(bad)).select(["person_id", "source_row", "file_row", *orig]))
    dup = _listed_twice(pa.concat_tables(good))
    if dup is not None:
        parts.append(pa.table([dup.column("source_row"), dup.column("file_row"), pa.repeat("duplicate_person", dup.num_rows),
                               dup.column("detail"), *[dup.column(c) for c in orig]], names=names))
    parts = [p for p in parts if p.num_rows]
    if not parts:
        return None, rows, [], reader.info()
    rej = pa.concat_tables([p.cast(rejected_schema()) for p in parts]).sort_by("source_row")
    return exact_file_rows(rej, reader), rows, [], reader.info()
