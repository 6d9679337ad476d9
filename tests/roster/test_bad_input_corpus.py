"""The bad-input corpus (issue 7): every file through the real CLI gives rejected rows with reasons,
or exit 2 with ONE clear stderr line naming the file (and row/field) — never a traceback, never exit 1.

tests/corpus/make_corpus.py builds the files (committed); the 1 MB line is made here at test time.
EXPECT maps each file to (exit code, substring of stderr) or (0, {reason: rows} in rejected.parquet).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from calc_helpers import STANDARDS, put_figures, write_scheme

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
sys.path.insert(0, str(CORPUS))
from make_corpus import GOOD, HEAD, long_line_roster  # noqa: E402

NONE: dict = {}
EXPECT: dict[str, tuple[int, object]] = {
    # rosters: calc and validate
    "roster/empty.csv": (2, "the roster file is empty"),
    "roster/header_only.csv": (0, NONE),
    "roster/bom_only.csv": (2, "the roster file is empty"),
    "roster/blank_lines_only.csv": (2, "the roster file is empty"),
    "roster/garbage.csv": (2, "no header row found"),
    "roster/tab_delimited.csv": (0, NONE),
    "roster/semicolon.csv": (0, NONE),
    "roster/pipe_delimited.csv": (2, "no header row found"),
    "roster/mixed_encodings.csv": (2, "mixed encodings in one file"),
    "roster/nul_byte.csv": (2, "contains NUL bytes"),
    "roster/utf16.csv": (2, "contains NUL bytes"),
    "roster/quoted_newlines.csv": (0, NONE),
    "roster/duplicate_headers.csv": (2, "both give the column name"),
    "roster/duplicate_headers_cn.csv": (2, "both give the column person_id"),
    "roster/missing_person_id.csv": (2, "missing required column(s) person_id"),
    "roster/missing_region.csv": (2, "missing required column(s) region_code"),
    "roster/missing_category_cn.csv": (2, "missing required column(s) category"),
    "roster/ragged_row.csv": (2, "line 4 has 9 fields"),
    "roster/unclosed_quote.csv": (2, "fields but the header has 7"),
    "roster/gb18030_chinese_headers.csv": (0, NONE),
    "roster/bad_ids.csv": (0, {"invalid_id": 4, "id_lost_precision": 1, "missing_field": 1}),
    "roster/bad_fields.csv": (0, {"missing_field": 6, "unknown_category": 1, "bad_persons": 4, "category_not_covered": 1,
                                  "unknown_region": 1, "duplicate_person": 1}),
    "roster/formula_injection.csv": (0, NONE),
    "roster/padded_header.csv": (0, NONE),
    "roster/not_really.xlsx": (2, "not a readable XLSX workbook"),
    "roster/truncated.xlsx": (2, "not a readable XLSX workbook"),
    "roster/garbage.parquet": (2, "not a readable Parquet file"),
    "roster/old_excel.xls": (2, "not a readable XLS workbook"),  # .xls is read now: this one is damaged
    "roster/xlsx_multi_sheet.xlsx": (0, NONE),
    "roster/xlsx_merged_header.xlsx": (0, NONE),  # the title row above the header is skipped (SPEC 5.1)
    "roster/xlsx_numeric_id.xlsx": (0, {"id_lost_precision": 2}),
    "roster/xlsx_empty_sheet.xlsx": (2, "the sheet is empty"),
    "roster/xlsx_second_sheet_roster.xlsx": (0, NONE),  # the one sheet that looks like a roster is read
    "roster/long_line.csv": (0, NONE),  # generated below: a 1 MB name is still a name
    # scheme files: trigger --scheme PATH
    "scheme/unknown_key.toml": (2, "unknown key colour"),
    "scheme/bad_toml.toml": (2, "not valid TOML"),
    "scheme/bad_rounding.toml": (2, "key rounding: 'bankers'"),
    "scheme/bad_threshold.toml": (2, "key trigger.cpi"),
    "scheme/float_threshold.toml": (2, 'write the number as a string, "3.5"'),
    "scheme/unknown_indicator.toml": (2, "key trigger.ppi: unknown indicator"),
    "scheme/bad_method.toml": (2, "key method: 'magic'"),
    "scheme/tiers_missing.toml": (2, "method tiered_fraction needs tiers"),
    "scheme/bad_fraction.toml": (2, "tiers[1].fraction"),
    "scheme/negative_minimum.toml": (2, "key minimum"),
    "scheme/zero_multiplier.toml": (2, "key multiplier"),
    "scheme/unknown_category.toml": (2, "categories.martians: unknown category"),
    "scheme/bad_standard_kind.toml": (2, "categories.urban_dibao: 'suburban'"),
    "scheme/bad_month.toml": (2, 'key from: "2016-13" is not a month'),
    "scheme/no_version_for_month.toml": (2, "no version in force for 2024-01"),
    "scheme/overlapping_versions.toml": (2, "versions overlap"),
    "scheme/duplicate_ids.toml": (2, 'id "t-v1" is used twice'),
    "scheme/no_versions.toml": (2, "needs at least one [[version]]"),
    "scheme/missing_trigger.toml": (2, "missing key trigger"),
    "scheme/overlay_until_before_from.toml": (2, "key until: 2022-08 is before its from 2023-02"),
    "scheme/overlay_changes_nothing.toml": (2, 'overlay "o1": changes nothing'),
    "scheme/empty.toml": (2, "key scheme"),
    "scheme/binary.toml": (2, "not UTF-8 text"),
    "scheme/bad_scheme_name.toml": (2, "is not a plain name"),
    # standards files: calc --standards PATH
    "standards/negative.csv": (2, "line 3 (data row 2), field urban_monthly: a standard cannot be negative"),
    "standards/non_numeric.csv": (2, "line 2 (data row 1), field rural_monthly: '四百' is not a number"),
    "standards/bad_month.csv": (2, "line 2 (data row 1), field effective_from"),
    "standards/bad_region.csv": (2, "line 2 (data row 1), field region_code"),
    "standards/three_decimals.csv": (2, "more than two decimals"),
    "standards/duplicate_row.csv": (2, "line 3 (data row 2): 140000 from 2020-01 is already given on data row 1"),
    "standards/missing_column.csv": (2, "needs a rural_monthly or rural_annual column"),
    "standards/no_rural.csv": (2, "line 2 (data row 1): neither rural_monthly nor rural_annual"),
    "standards/empty.csv": (2, "the file is empty"),
    "standards/nan.csv": (2, "field urban_monthly: 'NaN' is not a number"),
    "standards/infinity.csv": (2, "field urban_monthly: 'inf' is not a number"),
    # figures files: fetch --source file --file PATH
    "figures/impossible_month.csv": (2, "data row 1, field month: '2024-13' is not a month"),
    "figures/impossible_index.csv": (2, "data row 2, field value: -3.5 is not a plausible index"),
    "figures/implausible_index.csv": (2, "data row 1, field value: 1035"),
    "figures/yoy_not_index.csv": (2, "data row 1, field value: 3.5 is not a plausible index"),
    "figures/non_numeric.csv": (2, "field value: '一百零三' is not a number"),
    "figures/unknown_indicator.csv": (2, "field indicator: 'ppi'"),
    "figures/future_month.csv": (2, "field month: 2099-01 is in the future"),
    "figures/duplicate.csv": (2, "data row 2: 140000 cpi 2024-01 already given on data row 1"),
    "figures/missing_column.csv": (2, "missing required column(s) indicator"),
    "figures/bad_region.csv": (2, "field region_code: 'Shanxi'"),
    "figures/two_decimals.csv": (2, "data row 1, field value: 103.55 has more than one decimal"),  # SPEC 2 (issue 28)
    "figures/empty.csv": (2, "the file is empty"),
    "figures/nul_byte.csv": (2, "contains NUL bytes"),
    "figures/mixed_encodings.csv": (2, "mixed encodings in one file"),
    "figures/semicolon.csv": (0, NONE),
    "figures/xlsx_bad_cell.xlsx": (2, "data row 2, field value: 'n/a' is not a number"),
    "figures/garbage.xlsx": (2, "not a readable XLSX workbook"),
}
GENERATED = {"roster/long_line.csv"}


def test_every_corpus_file_has_an_expected_outcome():
    on_disk = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".py"
               and "__pycache__" not in p.parts}
    assert on_disk == set(EXPECT) - GENERATED
    assert len(EXPECT) >= 40


def test_committed_corpus_matches_its_generator(tmp_path):
    from make_corpus import build

    for p in build(tmp_path):
        assert p.read_bytes() == (CORPUS / p.relative_to(tmp_path)).read_bytes(), p


@pytest.fixture
def env(tmp_path, home):
    cfg = tmp_path / "cfg"
    (cfg / "schemes").mkdir(parents=True)
    write_scheme(cfg / "schemes", name="t")
    put_figures(home, "2024-01", cpi="103.6", food="101.0")
    (tmp_path / "std.csv").write_text(STANDARDS, encoding="utf-8")
    (tmp_path / "roster.csv").write_text(HEAD + GOOD, encoding="utf-8")
    return {"cfg": cfg, "tmp": tmp_path, "home": home}


def _path(name: str, tmp: Path) -> Path:
    if name == "roster/long_line.csv":
        return long_line_roster(tmp / "long_line.csv")
    return CORPUS / name


def _commands(name: str, f: Path, env) -> list[list]:
    kind = name.split("/")[0]
    common = ["--config", env["cfg"]]
    if kind == "roster":
        calc = [*common, "calc", "--month", "2024-01", "--scheme", "t", "--roster", f, "--standards", env["tmp"] / "std.csv",
                "--out", env["tmp"] / "out", "--format", "json"]
        val = [*common, "validate", "--month", "2024-01", "--scheme", "t", "--roster", f, "--standards", env["tmp"] / "std.csv"]
        return [calc, val]
    if kind == "scheme":
        return [[*common, "trigger", "--scheme", f, "--month", "2024-01"]]
    if kind == "standards":
        return [[*common, "calc", "--month", "2024-01", "--scheme", "t", "--roster", env["tmp"] / "roster.csv", "--standards", f,
                 "--out", env["tmp"] / "out"]]
    return [[*common, "fetch", "--source", "file", "--file", f]]


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_corpus_file(cli, env, name):
    code, want = EXPECT[name]
    f = _path(name, env["tmp"])
    for args in _commands(name, f, env):
        r = cli(*args)
        assert "Traceback" not in r.stderr + r.stdout
        assert r.exit_code == code, (args[2], r.exit_code, r.stderr[-500:])
        if code == 2:
            lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
            assert len(lines) == 1, r.stderr
            assert want in lines[0], lines[0]
            assert f.name in lines[0]
            assert not (env["tmp"] / "out").exists()  # nothing written
        elif args[2] == "calc" and name.startswith("roster/"):
            out = json.loads(r.stdout)
            assert out["rejected_by_reason"] == want
            rej = pq.read_table(env["tmp"] / "out" / "rejected.parquet").to_pylist()
            assert all(x["reason"] and x["detail"] and x["source_row"] >= 1 for x in rej)
            assert out["input_rows"] == out["paid_rows"] + out["rejected_rows"]


def test_quoted_newlines_keep_row_numbers(cli, env):
    f = CORPUS / "roster/quoted_newlines.csv"
    r = cli("--config", env["cfg"], "calc", "--month", "2024-01", "--scheme", "t", "--roster", f, "--standards",
            env["tmp"] / "std.csv", "--out", env["tmp"] / "out")
    assert r.exit_code == 0, r.stderr
    paid = pq.read_table(env["tmp"] / "out" / "payments.parquet").select(["source_row", "name"]).to_pylist()
    assert [p["source_row"] for p in paid] == [1, 2]
    assert paid[0]["name"] in ("张\n三", "张\r\n三")


def test_long_line_is_read_whole(cli, env):
    f = long_line_roster(env["tmp"] / "long.csv")
    assert f.stat().st_size > 1 << 20
    r = cli("--config", env["cfg"], "calc", "--month", "2024-01", "--scheme", "t", "--roster", f, "--standards",
            env["tmp"] / "std.csv", "--out", env["tmp"] / "out", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["paid_rows"] == 3
    assert len(r.stderr) < 2000  # the megabyte is not echoed


def test_garbage_roster_message_is_short(cli, env):
    r = cli("validate", "--roster", CORPUS / "roster/garbage.csv")
    assert r.exit_code == 2
    assert len(r.stderr) < 500
