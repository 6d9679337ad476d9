"""Resident IDs (GB 11643-1999): checksum, normalising, 15 -> 18 conversion, the vectorised path."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpi_link.roster.ids import REASONS, check_char, check_id, normalise_ids
from cpi_link.core.privacy import mask_id

TODAY = 20260115

# Weights:      7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2;  check = "10X98765432"[sum % 11]
#
# 11010519491231002X, the standard's own example:
#   digits      1 1  0 1 0  5 1 9  4  9 1  2  3 1 0 0 2
#   products    7 9  0 5 0 20 2 9 24 27 7 18 30 5 0 0 4  -> sum 167; 167 % 11 = 2 -> "X"
#
# 140105198001011233 (invented; Taiyuan Xiaodian, born 1980-01-01):
#   digits      1  4  0 1 0  5 1 9  8 0 0 1 0 1 1 2 3
#   products    7 36  0 5 0 20 2 9 48 0 0 9 0 5 8 8 6  -> sum 163; 163 % 11 = 9 -> "3"
STANDARD = "11010519491231002X"
MINE = "140105198001011233"


def test_check_char_worked_examples():
    assert check_char(STANDARD[:17]) == "X"
    assert check_char(MINE[:17]) == "3"


def test_check_char_needs_17_digits():
    with pytest.raises(ValueError):
        check_char("1234")
    with pytest.raises(ValueError):
        check_char("1401051980010112X")


@pytest.mark.parametrize(
    "text",
    [
        STANDARD,
        "11010519491231002x",  # lowercase x
        " 11010519491231002X\t",  # padding, tab
        "\u300011010519491231002X\u3000",  # full-width spaces
        "'11010519491231002X",  # Excel's leading apostrophe
        "１１０１０５１９４９１２３１００２ｘ",  # full-width digits and x
    ],
)
def test_normalised_forms_are_valid(text):
    c = check_id(text, today=TODAY)
    assert (c.person_id, c.flag, c.reason) == (STANDARD, None, None)


def test_15_digit_converted():
    # 140105800101123 -> insert "19" after the region: 14010519800101123, whose check is 3 (above)
    c = check_id("140105800101123", today=TODAY)
    assert (c.person_id, c.flag, c.reason) == (MINE, "converted_from_15", None)
    # 110105491231002 -> 11010519491231002 + X
    assert check_id("110105491231002", today=TODAY).person_id == STANDARD


@pytest.mark.parametrize(
    "text, reason, words",
    [
        ("110105194912310021", "invalid_id", "check character should be X, not 1"),
        ("110105194913310027", "invalid_id", "not a real date"),  # month 13
        ("110105190002290020", "invalid_id", "not a real date"),  # 1900 was not a leap year
        ("110105189912310020", "invalid_id", "before 1900"),
        ("110105203001010020", "invalid_id", "in the future"),
        ("11010519491231002", "invalid_id", "got 17 characters"),
        ("1101051949123100XX", "invalid_id", "must be 17 digits"),
        ("1.40105E+17", "id_lost_precision", "spreadsheet"),
        ("1.40105e17", "id_lost_precision", "spreadsheet"),
        ("140105198001011000.0", "id_lost_precision", "spreadsheet"),
        ("", "missing_field", "empty"),
        ("   ", "missing_field", "empty"),
    ],
)
def test_rejections(text, reason, words):
    c = check_id(text, today=TODAY)
    assert c.person_id is None and c.reason == reason
    assert words in c.detail
    assert STANDARD not in c.detail and text.strip() not in c.detail or not text.strip()


def test_zero_tail_hint():
    c = check_id("140105198001011000", today=TODAY)
    assert c.reason == "invalid_id" and "zeros" in c.detail


def test_leap_day_valid():
    first17 = "14010520000229001"  # 2000 was a leap year
    assert check_id(first17 + check_char(first17), today=TODAY).reason is None


def test_mask_id():
    assert mask_id(STANDARD) == "110105********002X"
    assert mask_id(None) == ""
    assert mask_id("12345") == "*****"


def test_vectorised_column():
    col = pa.array(
        [STANDARD, "11010519491231002x", "140105800101123", "1.40105E+17", None, "", "110105194912310021",
         " '140105198001011233 ", "140105800101123 "]
    )
    r = normalise_ids(col, today=TODAY)
    assert r.person_id.to_pylist() == [STANDARD, STANDARD, MINE, None, None, None, None, MINE, MINE]
    assert r.flag.to_pylist() == [None, None, "converted_from_15", None, None, None, None, None, "converted_from_15"]
    assert [REASONS[i] for i in r.reason] == [
        None, None, None, "id_lost_precision", "missing_field", "missing_field", "invalid_id", None, None
    ]


def test_vectorised_empty_and_chunked():
    assert len(normalise_ids(pa.array([], pa.string())).person_id) == 0
    r = normalise_ids(pa.chunked_array([[STANDARD], ["x"]]), today=TODAY)
    assert r.person_id.to_pylist() == [STANDARD, None]


def _id_like():
    digits = st.text(alphabet="0123456789", min_size=17, max_size=17)
    good = digits.map(lambda d: "1401051980" + d[10:])
    valid = good.map(lambda d: d + check_char(d))
    return st.one_of(
        valid,
        valid.map(str.lower),
        valid.map(lambda s: s[:-1] + "X"),
        digits.map(lambda d: d + "X"),
        st.text(alphabet="0123456789", min_size=15, max_size=15),
        st.text(alphabet="0123456789xX .E+'\u3000１", max_size=20),
        st.text(max_size=20),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(_id_like(), max_size=30))
def test_vectorised_agrees_with_scalar(texts):
    r = normalise_ids(pa.array(texts, pa.string()), today=TODAY)
    for i, t in enumerate(texts):
        c = check_id(t, today=TODAY)
        assert r.person_id[i].as_py() == c.person_id, t
        assert r.flag[i].as_py() == c.flag, t
        assert REASONS[r.reason[i]] == c.reason, t
        assert r.detail[i] == c.detail, t
        # the dedup key: the 17 digits before the check character, as a number; 0 when rejected
        assert r.key[i] == (int(c.person_id[:17]) if c.person_id else 0), t


@given(st.lists(_id_like(), max_size=30))
def test_candidate_keys_cover_every_valid_id(texts):
    """The first pass's cheap keys: every ID that normalises to a valid one has its key among them."""
    from cpi_link.roster.ids import candidate_keys

    r = normalise_ids(pa.array(texts, pa.string()), today=TODAY)
    cand = set(candidate_keys(pa.array(texts, pa.string()), today=TODAY).tolist())
    for i, t in enumerate(texts):
        if r.person_id[i].as_py() is not None:
            assert int(r.key[i]) in cand, t


def _eighteen():
    """Only well-shaped 18-character IDs (the column fast path): valid, lower x, wrong check
    characters, impossible / old / future dates."""
    digits = st.text(alphabet="0123456789", min_size=17, max_size=17)
    dated = st.tuples(st.sampled_from(["18991231", "19000229", "20000229", "19990229", "19801301", "19800100",
                                       "19800431", "20991231", "19491231", "20260115", "20260116"]), digits)
    body = dated.map(lambda t: "110105" + t[0] + t[1][:3])
    return st.one_of(
        body.map(lambda b: b + check_char(b)),
        body.map(lambda b: (b + check_char(b)).lower()),
        st.tuples(body, st.sampled_from("0123456789Xx")).map(lambda t: t[0] + t[1]),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(_eighteen(), min_size=1, max_size=30), st.integers(0, 3))
def test_column_fast_path_agrees_with_scalar(texts, cut):
    """Columns of 18-character IDs take the one-matrix path; sliced arrays (an offset) too."""
    arr = pa.array(["x" * 5] * cut + texts, pa.string()).slice(cut)
    r = normalise_ids(arr, today=TODAY)
    for i, t in enumerate(texts):
        c = check_id(t, today=TODAY)
        assert r.person_id[i].as_py() == c.person_id, t
        assert REASONS[r.reason[i]] == c.reason, t
        assert r.detail[i] == c.detail, t
        assert r.flag[i].as_py() is None
        assert r.key[i] == (int(c.person_id[:17]) if c.person_id else 0), t


@settings(max_examples=200, deadline=None)
@given(st.lists(_eighteen(), min_size=1, max_size=30))
def test_first_pass_checks_rebuild_the_same_column(texts):
    """calc's first pass keeps its checks of a column (CheckedIds) for the second pass, which
    rebuilds the IdColumn over its own copy of the same IDs: identical to checking them again.
    A column with a lower-case x is not kept (its normalised IDs are new bytes)."""
    from cpi_link.roster.ids import CheckedIds

    first = pa.array(texts, pa.string())
    kept = CheckedIds.of(first, normalise_ids(first, today=TODAY))
    if any(t.endswith("x") for t in texts):
        assert kept is None
        return
    assert kept is not None
    second = pa.array(list(texts), pa.string())  # the second pass's own read of the same rows
    got, want = kept.for_column(second), normalise_ids(second, today=TODAY)
    assert got.person_id.equals(want.person_id) and got.flag.equals(want.flag)
    assert (got.reason == want.reason).all() and (got.key == want.key).all()
    assert list(got.detail) == list(want.detail)
    assert kept.for_column(pa.array(texts[:-1], pa.string())) is None  # not the same rows: checked again
