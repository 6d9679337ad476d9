"""Issue 28: resident IDs as Windows copy-paste and officers' typing leave them.

Invisible format characters (Unicode Cf) are removed; an ID written with spaces, dashes or dots
between its digit groups is paid and flagged `id_reformatted`, or rejected when its digits do not
add up; a look-alike check character is named; a person born after the index month is invalid_id.
Every such ID is masked wherever it is shown (messages, validate's table, the workbook, the log).
"""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from calc_helpers import make_id

A = make_id("140105", "19611021", "101")
B = make_id("140105", "19630413", "103")
C = make_id("140105", "19500101", "201")
D = make_id("140105", "19550505", "401")
E = make_id("140105", "19710101", "601")
LATE = make_id("140105", "20250305", "301")  # born after the index month 2024-01
LATE_2020 = make_id("140105", "20200305", "302")  # born before it: paid

CASES = [  # (as typed, normalised ID or None, flag, reason, words in the detail)
    (f"{A[:6]} {A[6:14]} {A[14:]}", A, "id_reformatted", None, None),
    (f"{B[:6]}-{B[6:14]}-{B[14:]}", B, "id_reformatted", None, None),
    (".".join(E[k:k + 4] for k in range(0, 18, 4)), E, "id_reformatted", None, None),  # groups of four
    (f"{A[:6]}\u3000{A[6:14]}\u3000{A[14:]}", A, "id_reformatted", None, None),  # ideographic spaces
    (f"\u200e\u202a{C}\u202c\u2060", C, None, None, None),  # LRM, LRE ... PDF, word joiner
    (f"\u00ad{C[:9]}\u200d{C[9:]}", C, None, None, None),  # soft hyphen, zero-width joiner
    (f"\ufeff{C}\u200b", C, None, None, None),
    (D[:17] + "\u0425", None, None, "invalid_id", "Cyrillic Х (U+0425), which only looks like X"),
    (D[:17] + "\u00d7", None, None, "invalid_id", "multiplication sign × (U+00D7)"),
    (f"{D[:4]}-{D[4:12]}-{D[12:16]}-1", None, None, "invalid_id", "written with separators, it has 17 digits"),
    (f"{D[:6]}-{D[6:14]}-{D[14:]}7", None, None, "invalid_id", "written with separators, it has 19 digits"),
]


@pytest.mark.parametrize("typed,want,flag,reason,words", CASES)
def test_check_id_and_the_column_check_agree(typed, want, flag, reason, words):
    from cpi_link.roster.ids import REASONS, check_id, normalise_ids

    c = check_id(typed)
    assert (c.person_id, c.flag, c.reason) == (want, flag, reason), c
    if words:
        assert words in c.detail
    # the vectorised check of a column (here beside a clean ID, and alone) says the same
    for col in ([A, typed], [typed]):
        ids = normalise_ids(pa.array(col))
        i = len(col) - 1
        assert ids.person_id[i].as_py() == want and ids.flag[i].as_py() == flag
        assert REASONS[ids.reason[i]] == reason and (words is None or words in ids.detail[i])


def _roster(path):
    rows = [(typed, f"人{i}") for i, (typed, *_rest) in enumerate(CASES)] + [(LATE, "晚"), (LATE_2020, "早")]
    path.write_text("身份证号,姓名,保障类别,行政区划代码,城乡,保障人数\n"
                    + "".join(f"{t},{n},城市低保,140105,城市,1\n" for t, n in rows), encoding="utf-8")
    return path


def test_calc_pays_reformatted_ids_once_and_rejects_the_rest(tmp_path, cli, setup):
    cfg, std = setup
    roster = _roster(tmp_path / "r.csv")
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
            "--out", tmp_path / "out")
    assert r.exit_code == 0, r.output
    pay = pq.read_table(tmp_path / "out" / "payments.parquet").to_pandas().set_index("source_row")
    rej = pq.read_table(tmp_path / "out" / "rejected.parquet").to_pandas().set_index("source_row")
    # 140105 in 2024-01: the 140100 standard from 2023-01, urban 870; food 6.5% triggers and is the
    # rate: 870 x 6.5% = 56.55, yuan half up 57.00
    assert {str(v) for v in pay["amount"]} == {"57.00"}
    # rows 1, 4 are A twice; 5, 6, 7 are C three times: each paid once
    assert sorted(pay["person_id"]) == sorted([A, B, E, C, LATE_2020])
    assert pay.loc[2, "id_flag"] == "id_reformatted" and pay.loc[3, "id_flag"] == "id_reformatted"
    assert set(rej.loc[[4, 6, 7], "reason"]) == {"duplicate_person"}
    assert list(rej.loc[[8, 9, 10, 11, 12], "reason"]) == ["invalid_id"] * 5
    assert rej.loc[12, "detail"] == "born after the index month 2024-01 (birth date in characters 7-14 of the ID)"
    assert len(pay) + len(rej) == len(CASES) + 2  # every row paid or rejected


def _digits_of_ids():
    # every full ID of the roster, and its middle (birth date and sequence), which masking hides
    return [x[6:14] for x in (A, B, C, D, E, LATE, LATE_2020)]


def test_ids_masked_in_validate_workbook_and_log(tmp_path, cli, setup, home):
    cfg, std = setup
    roster = _roster(tmp_path / "r.csv")
    # a row shifted one column: its ID, written in groups, lands in the category cell
    with roster.open("a", encoding="utf-8") as fh:
        fh.write(f"甲,{D[:6]} {D[6:14]} {D[14:]},城市低保,140105,城市,\n")
    shown = []
    for fmt in ("table", "json"):
        r = cli("--config", cfg, "validate", "--roster", roster, "--month", "2024-01", "--standards", std,
                "--scheme", "t", "--format", fmt)
        assert r.exit_code in (0, 1), r.output
        shown.append(r.output)
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
            "--out", tmp_path / "out")
    assert r.exit_code == 0, r.output
    shown.append(r.output)
    x = tmp_path / "book.xlsx"
    r = cli("report", tmp_path / "out", "--xlsx", x, "--mask-ids")
    assert r.exit_code == 0, r.output
    import openpyxl

    wb = openpyxl.load_workbook(x)
    shown += [str(c) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    shown += [p.read_text(encoding="utf-8", errors="replace") for p in home.rglob("*.log")]
    text = "\n".join(shown)
    assert "140105" in text  # the IDs' visible part is there
    for middle in _digits_of_ids():
        # no birth date + sequence of any ID, in any spelling (with separators taken out)
        assert middle not in re.sub(r"[\s\-.·\u3000]", "", text), middle


@pytest.mark.parametrize("text,want", [
    ("id 140105 19611021 1015 bad", "id 140105********1015 bad"),
    ("140105-19630413-1030", "140105********1030"),
    ("1401.0519.6110.2110.15", "140105********1015"),
    ("1401 0519 6110 2110 15", "140105********1015"),
    ("140105\u300019611021\u30001015", "140105********1015"),
    ("140105 19611021 101X", "140105********101X"),
    ("ids 140105-1961-1021-1015 ok", "ids 140105********1015 ok"),
    ("6222 0200 1234 5678 901", "622202********8901"),  # an account in groups of four
    # not IDs: dates, a decimal, a figure line, a number's decimals
    ("2024-01-15 2024-02-15 10", None),
    ("140105 2019-10 102.3", None),
    ("value 12345678901234.5", None),
    ("1.0000000000000001", None),
    ("total 1,234,567,890.00 yuan", None),
])
def test_mask_digits_finds_ids_however_broken_up(text, want):
    from cpi_link.core.privacy import mask_digits

    assert mask_digits(text) == (text if want is None else want)


def test_workbook_mask_of_a_grouped_id():
    import pandas as pd

    from cpi_link.outputs.workbook import _mask_series

    got = _mask_series(pd.Series(["1401 0519 6110 2110 15", "140105-19630413-1030", "abc", None]))
    assert got.tolist() == ["140105********1015", "140105********1030", "***", ""]
