"""Reading a run folder back for reports: the manifest and the Parquet outputs, money as integer fen.

Reports never recompute amounts: every yuan shown comes from payments.parquet / summary.parquet,
read exactly (decimal128 -> integer fen), and the totals are checked against each other and the
manifest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from cpi_link.core.errors import UsageError
from cpi_link.core.i18n import _

RUN_FILES = ("manifest.json", "payments.parquet", "summary.parquet")


@dataclass
class Run:
    path: Path
    manifest: dict
    payments: object  # pandas DataFrame; money columns as int64 fen (*_fen)
    summary: object  # pandas DataFrame: region_code, category, rows, persons, amount_fen

    @property
    def month(self) -> str:
        return self.manifest.get("index_month", "")

    @property
    def run_id(self) -> str:
        return self.manifest.get("run_id", "")

    @property
    def triggered(self) -> bool:
        return bool(self.manifest.get("triggered"))

    @property
    def decisions(self) -> list[dict]:
        d = self.manifest.get("decision")
        if d is None:
            return []
        return d if isinstance(d, list) else [d]

    @property
    def scheme(self) -> dict:
        return self.manifest.get("scheme", {})

    @property
    def rules(self) -> dict:
        return self.manifest.get("rules", {})

    @property
    def flat(self) -> bool:
        """A fixed-amount scheme: amounts per person by category, whatever the rate."""
        return self.rules.get("method") == "fixed"

    @property
    def verified(self) -> bool:
        return bool(self.scheme.get("verified", False))

    @property
    def total_fen(self) -> int:
        return int(self.payments["amount_fen"].sum()) if len(self.payments) else 0

    @property
    def persons(self) -> int:
        return int(self.payments["persons"].sum()) if len(self.payments) else 0

    @property
    def sample_standards(self) -> bool:
        return any(i.get("role") == "standards" and i.get("sample") for i in self.manifest.get("inputs", []))


def _money_to_fen(table, name: str):
    import numpy as np

    from cpi_link.core.money import fen_from_decimal128

    col = table.column(name)
    if col.null_count:
        filled = col.combine_chunks().fill_null(0)
        return fen_from_decimal128(filled), np.asarray(col.is_null().to_numpy(zero_copy_only=False))
    return fen_from_decimal128(col), None


def verify_outputs(p: Path, manifest: dict) -> None:
    """Every output the manifest lists must exist with its recorded sha256 (SPEC 6): UsageError
    (exit 2) otherwise, so nothing is ever reported or paid from an edited file."""
    from cpi_link.core.atomic import sha256_file

    outputs = manifest.get("outputs")
    if not isinstance(outputs, dict) or not outputs:
        raise UsageError(_("{path}: lists no outputs with their sha256, so the run folder cannot be checked; "
                           "refusing to use it (re-run the month)").format(path=p / "manifest.json"))
    bad = []
    for name in sorted(set(outputs) | {f for f in RUN_FILES if f != "manifest.json"}):
        meta = outputs.get(name)
        f = p / name
        if not isinstance(meta, dict) or not meta.get("sha256"):
            bad.append(_("{name} is not listed in the manifest").format(name=name))
        elif not f.is_file():
            bad.append(_("{name} is missing").format(name=name))
        elif sha256_file(f) != meta["sha256"]:
            bad.append(_("{name} was changed after the run (sha256 differs from manifest.json)").format(name=name))
    if bad:
        raise UsageError(_("{path}: the run folder does not match its manifest: {problems}. Refusing to use it; "
                           "check it with `cpi-link doctor` and re-run the month").format(path=p, problems="; ".join(bad)))


def read_manifest(path: Path | str, verify: bool = True) -> dict:
    """A run folder's manifest; UsageError (exit 2) when the folder is missing, not a run folder,
    or (verify) any output differs from the sha256 its manifest records."""
    p = Path(path)
    if not p.exists():
        raise UsageError(_("{path}: no such run folder").format(path=p))
    if not p.is_dir():
        raise UsageError(_("{path}: not a folder; give a run folder (it holds manifest.json and payments.parquet)").format(path=p))
    missing = [f for f in RUN_FILES if not (p / f).is_file()]
    if missing:
        raise UsageError(_("{path}: not a run folder (no {missing}); run folders are under HOME/runs/MONTH/").format(
            path=p, missing=", ".join(missing)))
    try:
        manifest = json.loads((p / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(_("{path}: cannot read the manifest ({error})").format(path=p / "manifest.json", error=exc)) from None
    if not isinstance(manifest, dict) or "run_id" not in manifest or "index_month" not in manifest:
        raise UsageError(_("{path}: not a cpi-link run manifest (no run_id / index_month)").format(path=p / "manifest.json"))
    if verify:
        verify_outputs(p, manifest)
    return manifest


def load_run(path: Path | str, verify: bool = True) -> Run:
    """Read a run folder (read_manifest's checks first)."""
    import pyarrow.parquet as pq

    p = Path(path)
    manifest = read_manifest(p, verify)
    try:
        pay_t = pq.read_table(p / "payments.parquet")
        sum_t = pq.read_table(p / "summary.parquet")
    except Exception as exc:  # pyarrow raises several kinds
        raise UsageError(_("{path}: cannot read the run's Parquet files ({error})").format(
            path=p, error=f"{type(exc).__name__}: {exc}")) from None

    pay = pay_t.drop_columns([c for c in ("standard", "standard_annual", "amount_per_person", "amount", "rate_pct")
                              if c in pay_t.column_names]).to_pandas()
    for name in ("standard", "amount_per_person", "amount"):
        fen, _nulls = _money_to_fen(pay_t, name)
        pay[name + "_fen"] = fen
    if "standard_annual" in pay_t.column_names:
        fen, nulls = _money_to_fen(pay_t, "standard_annual")
        pay["standard_annual_fen"] = fen
        if nulls is not None:
            pay.loc[nulls, "standard_annual_fen"] = -1
    rate, _nulls = _money_to_fen(pay_t, "rate_pct")  # hundredths of a percent
    pay["rate_h"] = rate
    summ = sum_t.drop_columns(["amount"]).to_pandas()
    summ["amount_fen"] = _money_to_fen(sum_t, "amount")[0]
    return Run(path=p, manifest=manifest, payments=pay, summary=summ)


def load_rejected(run: Run):
    """rejected.parquet as a DataFrame with `row` = the row number the officer sees (`file_row`
    when the run has it, else `source_row`), sorted by it (several rosters: by file, then row); an
    empty frame when there is none."""
    import pandas as pd
    import pyarrow.parquet as pq

    f = run.path / "rejected.parquet"
    if not f.is_file():
        return pd.DataFrame({"row": pd.Series([], dtype="int64"), "reason": [], "detail": [], "person_id": [], "name": []})
    try:
        df = pq.read_table(f).to_pandas()
    except Exception as exc:  # pyarrow raises several kinds
        raise UsageError(_("{path}: cannot read ({error})").format(path=f, error=f"{type(exc).__name__}: {exc}")) from None
    row = df["file_row"] if "file_row" in df.columns else df["source_row"]
    if "file_row" in df.columns and "source_row" in df.columns:
        row = row.fillna(df["source_row"])
    df["row"] = row.astype("int64")
    for c in ("reason", "detail", "person_id", "name"):
        if c not in df.columns:
            df[c] = ""
        df[c] = df[c].fillna("")
    if "file" in df.columns and "source_row" in df.columns:  # several rosters read as one: in their order, each by row
        return df.sort_values("source_row", kind="stable").reset_index(drop=True)
    return df.sort_values("row", kind="stable").reset_index(drop=True)


def check_totals(run: Run) -> list[str]:
    """Disagreements between payments, summary and manifest totals (empty when all agree)."""
    from cpi_link.core.money import fen_to_yuan_str

    problems = []
    pay_total = run.total_fen
    sum_total = int(run.summary["amount_fen"].sum()) if len(run.summary) else 0
    if pay_total != sum_total:
        problems.append(f"payments total {fen_to_yuan_str(pay_total)} != summary total {fen_to_yuan_str(sum_total)}")
    counts = run.manifest.get("counts", {})
    if "total_amount" in counts and counts["total_amount"] != fen_to_yuan_str(pay_total):
        problems.append(f"payments total {fen_to_yuan_str(pay_total)} != manifest total_amount {counts['total_amount']}")
    return problems


def prefecture_of(code: str) -> str:
    code = str(code)
    return code[:4] + "00" if len(code) == 6 else code


def summarise(run: Run) -> dict:
    """Rows, persons and fen by prefecture, county (region_code) and category, from summary.parquet."""
    from cpi_link.core.categories import CATEGORY_LABELS

    s = run.summary
    out = {"by_prefecture": [], "by_county": [], "by_category": [], "by_county_category": []}
    if not len(s):
        return out
    s = s.copy()
    s["prefecture"] = s["region_code"].map(prefecture_of)

    def group(keys):
        g = s.groupby(keys, sort=True).agg(rows=("rows", "sum"), persons=("persons", "sum"), amount_fen=("amount_fen", "sum"))
        return [{**{k: v for k, v in zip(keys, (idx if isinstance(idx, tuple) else (idx,)))},
                 "rows": int(r.rows), "persons": int(r.persons), "amount_fen": int(r.amount_fen)}
                for idx, r in g.iterrows()]

    out["by_prefecture"] = group(["prefecture"])
    out["by_county"] = group(["prefecture", "region_code"])
    out["by_category"] = group(["category"])
    out["by_county_category"] = group(["region_code", "category"])
    for r in out["by_category"] + out["by_county_category"]:
        r["category_zh"] = CATEGORY_LABELS.get(r["category"], "")
    return out


def by_place(run: Run) -> dict:
    """Rows, persons and fen per 乡镇 and per 村 within each county, from the paid rows' roster
    text (payments township, village): {"by_township": [...], "by_village": [...]}, each empty when
    the roster had no such column. Rows without a township (village) are grouped under ""."""
    pay = run.payments
    out: dict = {"by_township": [], "by_village": []}
    for level, keys in (("by_township", ["region_code", "township"]), ("by_village", ["region_code", "township", "village"])):
        if not len(pay) or keys[-1] not in pay.columns or not pay[keys[-1]].notna().any():
            continue
        frame = pay[keys + ["persons", "amount_fen"]].copy()
        for k in keys[1:]:
            frame[k] = frame[k].fillna("").astype(str)
        frame["region_code"] = frame["region_code"].astype(str)
        g = frame.groupby(keys, sort=True).agg(rows=("persons", "size"), persons=("persons", "sum"), amount_fen=("amount_fen", "sum"))
        out[level] = [{**dict(zip(keys, idx)), "rows": int(r.rows), "persons": int(r.persons), "amount_fen": int(r.amount_fen)}
                      for idx, r in g.iterrows()]
    return out


def citation(run: Run) -> str:
    """'national (national-2016-1835 + overlays; 发改价格规〔2016〕1835号)'."""
    sch = run.scheme
    label = " + ".join([sch.get("version", "")] + list(sch.get("overlays", [])))
    docs = "; ".join(sch.get("documents", []))
    return f"{sch.get('name', '')} ({label}; {docs})"


def report_json(run: Run) -> dict:
    from cpi_link.core.money import fen_to_yuan_str

    summ = summarise(run)
    places = by_place(run)

    def money(rows):
        return [{**{k: v for k, v in r.items() if k != "amount_fen"}, "amount": fen_to_yuan_str(r["amount_fen"])} for r in rows]

    return {
        "run_id": run.run_id,
        "run_dir": str(run.path),
        "month": run.month,
        "triggered": run.triggered,
        "decision": run.decisions[0] if len(run.decisions) == 1 else run.decisions,
        "scheme": {k: run.scheme.get(k) for k in ("name", "title", "version", "overlays", "documents", "verified", "sha256")},
        "citation": citation(run),
        "verified": run.verified,
        "sample_standards": run.sample_standards,
        "totals": {"rows": int(len(run.payments)), "persons": run.persons, "amount": fen_to_yuan_str(run.total_fen),
                   "rejected_rows": int(run.manifest.get("counts", {}).get("rejected_rows", 0))},
        "by_prefecture": money(summ["by_prefecture"]),
        "by_county": money(summ["by_county"]),
        "by_category": money(summ["by_category"]),
        "by_county_category": money(summ["by_county_category"]),
        # 乡镇/村 as the roster wrote them (present when it had those columns)
        **{k: money(v) for k, v in places.items() if v},
        "consistency_problems": check_totals(run),
    }


def write_rejected_list(run: Run, dest: Path) -> int:
    """The rows not paid, for the officer to correct: the row number seen in the file, the reason
    in words, the detail, the name and the masked ID; CSV with a BOM (Excel and WPS open it)."""
    import csv
    import io

    from cpi_link.core.atomic import write_bytes
    from cpi_link.core.cells import neutral
    from cpi_link.core.i18n import _
    from cpi_link.core.privacy import mask_id
    from cpi_link.roster.reasons import detail_text, reason_text

    rej = load_rejected(run)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    extra = [c for c in ("file", "sheet") if c in rej.columns]
    w.writerow([_("row in the file"), *[{"file": _("file"), "sheet": _("sheet")}[c] for c in extra], _("reason"), _("detail"),
                _("name"), _("resident ID")])
    for r in rej.itertuples(index=False):
        cells = [r.row, *[getattr(r, c) for c in extra], reason_text(r.reason), detail_text(r.detail), r.name, mask_id(r.person_id)]
        w.writerow([neutral(str(c)) for c in cells])  # no formula injection
    write_bytes(Path(dest), buf.getvalue().encode("utf-8-sig"))
    return len(rej)
