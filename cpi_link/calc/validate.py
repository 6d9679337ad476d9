"""`validate`: the calculator's checks without amounts, reported by reason."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def validate_roster(path: Path, month: str | None = None, rules=None, standards=None, examples: int = 5) -> dict:
    from cpi_link.calc.legacy import check_batch
    from cpi_link.roster.check import iter_roster

    problems: dict[str, dict] = {}
    warnings: dict[str, dict] = {}
    rows = ok_rows = 0
    cache: dict = {}
    ids = []  # (person_id, source_row) of rows without problems, for duplicates

    def add(reason: str, source_rows, details, into: dict = problems) -> None:
        p = into.setdefault(reason, {"rows": 0, "example_rows": [], "example_details": []})
        p["rows"] += len(source_rows)
        room = examples - len(p["example_rows"])
        if room > 0:
            p["example_rows"] += [int(x) for x in source_rows[:room]]
            p["example_details"] += [str(x) for x in details[:room]]

    for batch in iter_roster(Path(path)):
        df = batch.to_pandas()
        rows += len(df)
        if rules is not None:
            c = check_batch(df, rules, standards, month, cache)
            reason, detail, ok = c["reason"], c["detail"], c["ok"]
        else:
            reason = df["reason"].to_numpy(dtype=object)
            detail = df["detail"].to_numpy(dtype=object)
            ok = df["reason"].isna().to_numpy()
        bad = pd.DataFrame({"source_row": df["source_row"].to_numpy()[~ok], "reason": reason[~ok], "detail": detail[~ok]})
        for r, g in bad.groupby("reason", sort=True):
            add(str(r), g["source_row"].to_numpy(), g["detail"].to_numpy())
        bank = df["bank_account"]
        odd = bank.notna().to_numpy() & ~bank.fillna("").str.fullmatch(r"[0-9]{12,30}").to_numpy(dtype=bool)
        if odd.any():  # banks differ: a warning, the row is paid with the account as given
            add("bank_account_length", df["source_row"].to_numpy()[odd],
                [_bank_note(a) for a in bank[odd].head(examples)], warnings)
        if rules is None:  # no month to check region codes against: at least those on no list at all
            from cpi_link.core.regions import is_valid

            codes = df["region_code"]
            unknown = {c for c in codes.dropna().unique() if not is_valid(c)}
            odd = (codes.isin(unknown) & pd.Series(ok, index=df.index)).to_numpy()
            if odd.any():
                add("region_not_on_list", df["source_row"].to_numpy()[odd],
                    [f"region_code {c} is not on the administrative-division list (GB/T 2260); "
                     "calc rejects it as unknown_region" for c in codes[odd].head(examples)], warnings)
        good = df[ok]
        ok_rows += len(good)
        ids.append(good[["person_id", "source_row"]])
    if ids:
        allids = pd.concat(ids, ignore_index=True)
        dup = allids[allids.duplicated("person_id", keep="first")]
        if len(dup):
            first = allids.drop_duplicates("person_id").set_index("person_id")["source_row"]
            add("duplicate_person", dup["source_row"].to_numpy(),
                ("same person as data row " + dup["person_id"].map(first).astype(str)).to_numpy())
            ok_rows -= len(dup)
    return {"roster": str(path), "month": month, "rows": rows, "ok_rows": ok_rows, "problems": dict(sorted(problems.items())),
            "warnings": dict(sorted(warnings.items()))}


def _bank_note(account: str) -> str:
    """The bank_account_length warning for one account (its length, not its digits)."""
    digits = sum(c.isdigit() for c in account)
    kind = f"{len(account)} digits" if digits == len(account) else f"{len(account)} characters, {len(account) - digits} not digits"
    return f"bank account has {kind}; accounts are usually 12-30 digits: check it (paid as given)"
