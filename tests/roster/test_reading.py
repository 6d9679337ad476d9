"""Roster reading (SPEC 5.1): formats, encodings, headers, batches and the per-row checks."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cpi_link.core.categories import CATEGORY_LABELS, CATEGORY_NAMES
from cpi_link.core.errors import InputError
from cpi_link.roster.ids import check_char
from cpi_link.roster.schema import ROSTER_SCHEMA
from cpi_link.roster.check import iter_roster, read_roster, roster_info

REPO = Path(__file__).resolve().parents[2]
STANDARD = "11010519491231002X"  # GB 11643's example (see test_ids)
MINE = "140105198001011233"


def make_id(region: str, birth: str, seq: int) -> str:
    first17 = f"{region}{birth}{seq:03d}"
    return first17 + check_char(first17)


def write(tmp_path: Path, text: str, name="roster.csv", encoding="utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


EN = "person_id,name,category,region_code,area,persons,bank_account\n"
ZH = "身份证号,姓名,保障类别,行政区划代码,城乡,保障人数,银行账号\n"


def rows(path, **kw) -> list[dict]:
    return read_roster(path).to_pylist() if not kw else pa.concat_tables(iter_roster(path, **kw)).to_pylist()


# -- categories


def test_categories_cover_spec():
    assert len(CATEGORY_LABELS) == 11
    for code, label in CATEGORY_LABELS.items():
        assert CATEGORY_NAMES[code] == code and CATEGORY_NAMES[label] == code
    for alias, code in [("城镇低保", "urban_dibao"), ("城镇特困", "urban_tekun"), ("失业保险金", "unemployment_insurance"),
                        ("失业补助金", "unemployment_allowance"), ("低保边缘", "dibao_edge")]:
        assert CATEGORY_NAMES[alias] == code


# -- encodings and headers


def test_utf8_english(tmp_path):
    p = write(tmp_path, EN + f"{STANDARD},Zhang San,urban_dibao,140105,urban,2,6222001\n")
    (r,) = rows(p)
    assert r["source_row"] == 1 and r["person_id"] == STANDARD and r["reason"] is None
    assert (r["category"], r["region_code"], r["area"], r["persons"], r["bank_account"]) == (
        "urban_dibao", "140105", "urban", 2, "6222001")
    assert roster_info(p)["encoding"] == "utf-8" and roster_info(p)["format"] == "csv"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_chinese_headers_and_names(tmp_path, encoding):
    body = ZH + f"{STANDARD},张三,城镇低保,140105,城镇,,\n{MINE},李四,农村特困,140105,农村,3,\n"
    p = write(tmp_path, body, encoding=encoding)
    got = rows(p)
    assert [(r["name"], r["category"], r["area"], r["persons"]) for r in got] == [
        ("张三", "urban_dibao", "urban", 1), ("李四", "rural_tekun", "rural", 3)]
    info = roster_info(p)
    assert info["encoding"] == encoding
    assert info["columns"]["person_id"] == "身份证号" and len(info["sha256"]) == 64


def test_alternative_chinese_headers_tab_separated(tmp_path):
    body = "身份证号码\t姓名\t类别\t地区代码\t城乡类别\n" + f"{STANDARD}\t王五\t孤儿\t140105\t\n"
    (r,) = rows(write(tmp_path, body))
    assert r["category"] == "orphan" and r["area"] is None and r["reason"] is None


def test_missing_required_column_names_file_and_column(tmp_path):
    p = write(tmp_path, "person_id,name,category\n1,2,3\n")
    with pytest.raises(InputError) as e:
        list(iter_roster(p))
    assert str(p) in e.value.message and "region_code" in e.value.message


def test_area_column_optional(tmp_path):
    (r,) = rows(write(tmp_path, "person_id,name,category,region_code\n" + f"{STANDARD},a,orphan,140105\n"))
    assert r["reason"] is None and r["area"] is None and r["persons"] == 1 and r["orig_area"] is None


@pytest.mark.parametrize("header", ["person_id,name,name,category,region_code\n",
                                    "person_id,身份证号,name,category,region_code\n"])
def test_duplicate_header_is_an_error(tmp_path, header):
    with pytest.raises(InputError, match="twice|both"):
        list(iter_roster(write(tmp_path, header)))


def test_empty_file_and_header_only(tmp_path):
    with pytest.raises(InputError, match="empty"):
        list(iter_roster(write(tmp_path, "")))
    with pytest.raises(InputError, match="empty"):
        list(iter_roster(write(tmp_path, "\n  \n", name="blank.csv")))
    batches = list(iter_roster(write(tmp_path, EN, name="header.csv")))
    assert len(batches) == 1 and batches[0].num_rows == 0 and batches[0].schema == ROSTER_SCHEMA


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError, match="no such"):
        list(iter_roster(tmp_path / "nope.csv"))
    with pytest.raises(InputError, match="folder"):
        list(iter_roster(tmp_path))


def test_ragged_row_is_an_error_without_the_id(tmp_path):
    p = write(tmp_path, EN + f"{STANDARD},a,orphan,140105,,1,\n{MINE},b,orphan\n")
    with pytest.raises(InputError) as e:
        list(iter_roster(p))
    assert str(p) in e.value.message and MINE not in e.value.message
    assert "line 3" in e.value.message


def test_mixed_encodings_is_an_error(tmp_path):
    # decided UTF-8 on the first Chinese bytes; a GB18030 row far below cannot be read
    body = ZH.encode() + f"{STANDARD},张三,孤儿,140105,,,\n".encode() * 4000
    p = tmp_path / "mixed.csv"
    p.write_bytes(body + f"{MINE},李四,孤儿,140105,,,\n".encode("gb18030"))
    with pytest.raises(InputError, match="mixed encodings") as e:
        list(iter_roster(p))
    assert str(p) in e.value.message


# -- batches


def test_batches_continue_row_numbers(tmp_path):
    body = EN + "".join(f"{make_id('140105', '19800101', i)},p{i},orphan,140105,,,\n" for i in range(10))
    batches = list(iter_roster(write(tmp_path, body), batch_rows=3))
    assert [b.num_rows for b in batches] == [3, 3, 3, 1]
    assert [r for b in batches for r in b.column("source_row").to_pylist()] == list(range(1, 11))
    assert all(b.schema == ROSTER_SCHEMA for b in batches)


# -- row checks


def test_row_checks_and_precedence(tmp_path):
    ok = make_id("140105", "19800101", 1)
    lines = [
        f"{ok},甲,城市低保,140105,城市,3,",  # 1 fine
        "1.40105E+17,乙,吃瓜,,,0,",  # 2 id first, although everything else is wrong too
        f"{ok[:-1]}{'0' if ok[-1] != '0' else '1'},丙,orphan,140105,,,",  # 3 bad checksum
        f"{ok},,吃瓜,140105,,0,",  # 4 missing name before unknown category before persons
        f"{ok},丁,吃瓜,140105,,0,",  # 5 unknown category before persons
        f"{ok},戊,orphan,140105,,0,",  # 6 persons 0
        f"{ok},己,orphan,140105,,-1,",  # 7 negative
        f"{ok},庚,orphan,140105,,1.5,",  # 8 fraction
        f"{ok},辛,orphan,140105,,two,",  # 9 text
        f"{ok},壬,orphan,140105,,2.0,",  # 10 2.0 is 2
        f"{ok},癸,orphan,1401,,,",  # 11 region not 6 digits
        f"{ok},子,orphan,140105,xyz,,",  # 12 bad area
        f"{ok},丑,URBAN_DIBAO,140105, 农村 ,,",  # 13 code in capitals, padded area
        f"{ok},寅,,140105,,,",  # 14 missing category
        "140105800101123,卯,孤儿,140105,rural,,",  # 15 legacy ID
    ]
    got = rows(write(tmp_path, EN + "\n".join(lines) + "\n"))
    reasons = [r["reason"] for r in got]
    assert reasons == [None, "id_lost_precision", "invalid_id", "missing_field", "unknown_category",
                       "bad_persons", "bad_persons", "bad_persons", "bad_persons", None, "missing_field",
                       "missing_field", None, "missing_field", None]
    assert got[0]["persons"] == 3 and got[0]["area"] == "urban" and got[0]["category"] == "urban_dibao"
    assert "check character should be" in got[2]["detail"] and ok not in got[2]["detail"]
    assert got[3]["detail"] == "name is empty"
    assert "吃瓜" in got[4]["detail"]
    assert got[5]["persons"] is None and got[5]["orig_persons"] == "0"
    assert got[9]["persons"] == 2
    assert "region_code" in got[10]["detail"] and got[10]["region_code"] is None
    assert got[11]["detail"] == "area 'xyz' is not urban/rural (城市/城镇/农村)"
    assert (got[12]["category"], got[12]["area"]) == ("urban_dibao", "rural")
    assert got[13]["detail"] == "category is empty"
    assert (got[14]["person_id"], got[14]["id_flag"]) == (MINE, "converted_from_15")
    assert got[1]["orig_person_id"] == "1.40105E+17" and got[1]["person_id"] is None
    for r in got:
        assert r["detail"] is None or ok not in r["detail"]


def test_original_text_kept(tmp_path):
    (r,) = rows(write(tmp_path, EN + f" {STANDARD.lower()} , 张三 ,孤儿,140105,,,\n"))
    assert r["person_id"] == STANDARD and r["name"] == "张三"
    assert r["orig_person_id"] == f" {STANDARD.lower()} " and r["orig_name"] == " 张三 "


def test_text_trimmed_only_where_needed(tmp_path):
    """Names and accounts are trimmed of spaces (full-width and no-break ones too); a column with
    nothing to trim is kept as read, not copied (calc holds batches while its first pass runs)."""
    from cpi_link.roster.check import check_batches
    from cpi_link.roster.read import raw_batches

    a, b = make_id("140105", "19800101", 1), make_id("140105", "19800101", 2)
    path = write(tmp_path, EN + f"{a},\u3000李四\u00a0,孤儿,140105,,,6222 \n{b},王五,孤儿,140105,,,6223\n")
    r = rows(path)
    assert [x["name"] for x in r] == ["李四", "王五"] and [x["bank_account"] for x in r] == ["6222", "6223"]
    assert r[0]["orig_name"] == "\u3000李四\u00a0"
    clean = write(tmp_path, EN + f"{a},李四,孤儿,140105,,,6222\n{b},王五,孤儿,140105,,,6223\n", name="clean.csv")
    (t,) = check_batches(raw_batches(clean))
    for col in ("name", "bank_account"):
        assert t.column(col).chunk(0).buffers()[2].address == t.column("orig_" + col).chunk(0).buffers()[2].address


# -- XLSX


def test_xlsx_text_and_numeric_ids(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["身份证号", "姓名", "保障类别", "行政区划代码", "城乡", "保障人数"])
    ws.append([STANDARD, "张三", "城市低保", 140105, "城市", 2])
    ws.append([140105198001011233, "李四", "农村低保", "140105", "农村", None])  # an int cell
    ws.append([1.40105198001011e17, "王五", "农村低保", "140105", "农村", 1.0])  # a float cell
    ws.append([None, None, None, None, None, None])  # an empty row is not a data row
    ws.append([MINE, "赵六", "孤儿", "140105", None, "3"])
    p = tmp_path / "roster.xlsx"
    wb.save(p)
    got = rows(p)
    assert [r["source_row"] for r in got] == [1, 2, 3, 4]
    assert [r["reason"] for r in got] == [None, "id_lost_precision", "id_lost_precision", None]
    assert got[0]["region_code"] == "140105" and got[0]["persons"] == 2
    assert got[2]["persons"] == 1 and got[3]["persons"] == 3
    assert roster_info(p)["format"] == "xlsx" and roster_info(p)["encoding"] is None


def test_xlsx_broken(tmp_path):
    p = tmp_path / "bad.xlsx"
    p.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="XLSX"):
        list(iter_roster(p))


# -- Parquet


def test_parquet_strings_and_float_ids(tmp_path):
    t = pa.table({
        "person_id": [STANDARD, MINE],
        "name": ["a", "b"],
        "category": ["orphan", "孤儿"],
        "region_code": pa.array([140105, 140105], pa.int64()),
        "persons": pa.array([2.0, None]),
    })
    p = tmp_path / "r.parquet"
    pq.write_table(t, p)
    got = rows(p)
    assert [(r["person_id"], r["region_code"], r["persons"], r["reason"]) for r in got] == [
        (STANDARD, "140105", 2, None), (MINE, "140105", 1, None)]

    pq.write_table(t.set_column(0, "person_id", pa.array([1.40105e17, None])), p)
    got = rows(p)
    assert [r["reason"] for r in got] == ["id_lost_precision", "missing_field"]
    assert roster_info(p)["format"] == "parquet"


def test_parquet_batches(tmp_path):
    ids = [make_id("140105", "19800101", i) for i in range(10)]
    p = tmp_path / "r.parquet"
    pq.write_table(pa.table({"person_id": ids, "name": ["n"] * 10, "category": ["orphan"] * 10,
                             "region_code": ["140105"] * 10}), p)
    batches = list(iter_roster(p, batch_rows=3))
    assert [r for b in batches for r in b.column("source_row").to_pylist()] == list(range(1, 11))


# -- the bundled sample


def test_sample_roster_traps():
    got = rows(REPO / "data" / "sample" / "roster.csv")
    reasons = [r["reason"] for r in got]
    assert {"invalid_id", "id_lost_precision", "unknown_category", "missing_field", "bad_persons"} <= set(reasons)
    ok = [r for r in got if r["reason"] is None]
    assert {r["category"] for r in ok} == set(CATEGORY_LABELS)
    assert any(r["id_flag"] == "converted_from_15" for r in ok)
    assert any(r["persons"] == 3 for r in ok)
    assert any(r["orig_person_id"].endswith("x") for r in ok)
    ids = [r["person_id"] for r in ok]
    assert len(ids) > len(set(ids))  # one person listed twice (the calculator pays once)
    assert roster_info(REPO / "data" / "sample" / "roster.csv")["encoding"] == "utf-8-sig"
