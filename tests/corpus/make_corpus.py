"""Build the bad-input corpus (issue 7): `python tests/corpus/make_corpus.py [DIR]`.

Every file is small and deterministic, and written here so the corpus can be rebuilt and read in
one place. The text files and the few small binary ones (XLSX, garbage) are committed under
tests/corpus/{roster,scheme,standards,figures}/. The 1 MB line is NOT committed: tests call
`long_line_roster(path)` to make it at test time.

tests/roster/test_bad_input_corpus.py holds the expected outcome of each file (exit code and a message substring,
or the rejection reasons) and checks that every file here has one.
"""

from __future__ import annotations

import io
import random
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def make_id(region: str, birth: str, seq: str) -> str:
    body = region + birth + seq
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, W)) % 11]


A = make_id("140105", "19500101", "001")
B = make_id("140802", "19600202", "002")
C = make_id("140202", "19700303", "003")
D = make_id("140105", "19800404", "004")
E = make_id("140105", "19900505", "005")
HEAD = "person_id,name,category,region_code,area,persons,bank_account\n"
GOOD = f"{A},张三,urban_dibao,140105,,1,6222\n{B},李四,rural_dibao,140802,,2,\n"


def _files() -> dict[str, bytes | str]:
    f: dict[str, bytes | str] = {}
    # -- rosters (calc / validate) ------------------------------------------------------------
    r = "roster/"
    f[r + "empty.csv"] = b""
    f[r + "header_only.csv"] = HEAD
    f[r + "bom_only.csv"] = b"\xef\xbb\xbf"
    f[r + "blank_lines_only.csv"] = "\n\n\n"
    f[r + "garbage.csv"] = bytes(random.Random(7).randrange(256) for _ in range(4096))
    f[r + "tab_delimited.csv"] = (HEAD + GOOD).replace(",", "\t")
    f[r + "semicolon.csv"] = (HEAD + GOOD).replace(",", ";")
    f[r + "pipe_delimited.csv"] = (HEAD + GOOD).replace(",", "|")
    f[r + "mixed_encodings.csv"] = (HEAD + f"{A},张三,urban_dibao,140105,,1,\n").encode("utf-8") + \
        f"{B},李四,农村低保,140802,,1,\n".encode("gb18030")
    f[r + "nul_byte.csv"] = (HEAD + f"{A},张\x00三,urban_dibao,140105,,1,\n").encode()
    f[r + "utf16.csv"] = (HEAD + GOOD).encode("utf-16")
    f[r + "quoted_newlines.csv"] = HEAD + f'{A},"张\n三",urban_dibao,140105,,1,\n{B},"李四\r\n",rural_dibao,140802,,1,\n'
    f[r + "duplicate_headers.csv"] = "person_id,name,category,region_code,name\n" + f"{A},张三,urban_dibao,140105,x\n"
    f[r + "duplicate_headers_cn.csv"] = "身份证号,姓名,类别,行政区划代码,身份证号码\n" + f"{A},张三,城市低保,140105,{A}\n"
    f[r + "missing_person_id.csv"] = "name,category,region_code\n张三,urban_dibao,140105\n"
    f[r + "missing_region.csv"] = "person_id,name,category\n" + f"{A},张三,urban_dibao\n"
    f[r + "missing_category_cn.csv"] = "身份证号,姓名,行政区划代码\n" + f"{A},张三,140105\n"
    f[r + "ragged_row.csv"] = HEAD + GOOD + f"{C},王五,urban_tekun,140213,,1,,extra,more\n"
    f[r + "unclosed_quote.csv"] = HEAD + f'{A},"张三,urban_dibao,140105,,1,\n{B},李四,rural_dibao,140802,,1,\n'
    f[r + "gb18030_chinese_headers.csv"] = ("身份证号,姓名,类别,行政区划代码,城乡,保障人数\n"
                                           f"{A},张三,城市低保,140105,,1\n{B},李四,农村低保,140802,,1\n").encode("gb18030")
    f[r + "bad_ids.csv"] = HEAD + "".join([
        f"{A[:-1]}{'0' if A[-1] != '0' else '1'},checksum,urban_dibao,140105,,1,\n",   # invalid_id (check char)
        "1.40105E+17,sci,urban_dibao,140105,,1,\n",                                        # id_lost_precision
        "140105195001011,short,urban_dibao,140105,,1,\n",                                  # 15 digits, bad date? converted or invalid
        "14010519501301001X,month13,urban_dibao,140105,,1,\n",                             # invalid_id (birth date)
        "abcdefghijklmnopqr,letters,urban_dibao,140105,,1,\n",                             # invalid_id
        ",noid,urban_dibao,140105,,1,\n",                                                  # missing_field
        f"{C.lower()},lower x ok,urban_tekun,140213,,1,\n",
    ])
    f[r + "bad_fields.csv"] = HEAD + "".join([
        f"{A},,urban_dibao,140105,,1,\n",            # missing_field name
        f"{B},李四,,140802,,1,\n",                   # missing_field category
        f"{C},王五,urban_tekun,,,1,\n",              # missing_field region
        f"{D},赵六,martian,140105,,1,\n",            # unknown_category
        f"{E},钱七,urban_dibao,140105,,0,\n",         # bad_persons
        f"{make_id('140105', '19500101', '011')},a,urban_dibao,140105,,-1,\n",   # bad_persons
        f"{make_id('140105', '19500101', '012')},b,urban_dibao,140105,,1.5,\n",  # bad_persons
        f"{make_id('140105', '19500101', '013')},c,urban_dibao,140105,,abc,\n",  # bad_persons
        f"{make_id('140105', '19500101', '014')},d,hiv_child,140105,,1,\n",      # category_not_covered
        f"{make_id('140105', '19500101', '015')},e,special_care,140105,,1,\n",   # missing_field (area, by_area)
        f"{make_id('310101', '19500101', '016')},f,urban_dibao,310101,,1,\n",    # unknown_region
        f"{make_id('140105', '19500101', '017')},g,urban_dibao,14010,,1,\n",     # missing_field (5-digit region)
        f"{make_id('140105', '19500101', '018')},h,urban_dibao,140105,moon,1,\n",  # bad area value
        f"{A},张三,urban_dibao,140105,,1,\n",          # paid
        f"{A},张三again,urban_dibao,140105,,1,\n",     # duplicate_person
    ])
    f[r + "formula_injection.csv"] = HEAD + f'{A},"=HYPERLINK(""http://x"",""y"")",urban_dibao,140105,,1,+86123\n' \
        f"{B},@SUM(A1),rural_dibao,140802,,1,-1+1\n"
    f[r + "padded_header.csv"] = " person_id , NAME ,Category,region_code \n" + f" {A} ,张三, urban_dibao ,140105\n"
    f[r + "not_really.xlsx"] = HEAD + GOOD
    f[r + "truncated.xlsx"] = _xlsx([["person_id", "name", "category", "region_code"], [A, "张三", "urban_dibao", "140105"]])[:300]
    f[r + "garbage.parquet"] = b"PAR1" + bytes(random.Random(8).randrange(256) for _ in range(512)) + b"PAR1"
    f[r + "old_excel.xls"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    f[r + "xlsx_multi_sheet.xlsx"] = _xlsx(
        [["person_id", "name", "category", "region_code"], [A, "张三", "urban_dibao", "140105"], [B, "李四", "rural_dibao", "140802"]],
        extra_sheets={"说明": [["这是说明页"], ["not", "a", "roster"]], "Sheet3": [["person_id"], ["1"]]})
    f[r + "xlsx_merged_header.xlsx"] = _xlsx(
        [["2024年1月低保名册", None, None, None], ["person_id", "name", "category", "region_code"], [A, "张三", "urban_dibao", "140105"]],
        merge="A1:D1")
    f[r + "xlsx_numeric_id.xlsx"] = _xlsx(
        [["身份证号", "姓名", "类别", "行政区划代码"], [int(A[:17] + "0") if A[-1] == "X" else int(A), "张三", "城市低保", 140105],
         [float(B[:15]) * 1000, "李四", "农村低保", "140802"], [C, "王五", "城市特困", "140213"]])
    f[r + "xlsx_empty_sheet.xlsx"] = _xlsx([])
    f[r + "xlsx_second_sheet_roster.xlsx"] = _xlsx(
        [["封面"]], extra_sheets={"名册": [["person_id", "name", "category", "region_code"], [A, "张三", "urban_dibao", "140105"]]})

    # -- scheme files (trigger --scheme PATH) -------------------------------------------------
    s = "scheme/"
    f[s + "unknown_key.toml"] = _scheme(extra='colour = "red"')
    f[s + "bad_toml.toml"] = _scheme() + "\n[[version]\nid = \n"
    f[s + "bad_rounding.toml"] = _scheme(rounding="bankers")
    f[s + "bad_threshold.toml"] = _scheme(trigger='cpi = "three point five"')
    f[s + "float_threshold.toml"] = _scheme(trigger="cpi = 3.5")
    f[s + "unknown_indicator.toml"] = _scheme(trigger='ppi = "3.5"')
    f[s + "bad_method.toml"] = _scheme(method="magic")
    f[s + "tiers_missing.toml"] = _scheme(method="tiered_fraction")
    f[s + "bad_fraction.toml"] = _scheme(method="tiered_fraction", extra='tiers = [{ from = "3.0", fraction = "one twelfth" }]')
    f[s + "negative_minimum.toml"] = _scheme(minimum="-5")
    f[s + "zero_multiplier.toml"] = _scheme(multiplier="0")
    f[s + "unknown_category.toml"] = _scheme(categories='{ urban_dibao = "urban", martians = "urban" }')
    f[s + "bad_standard_kind.toml"] = _scheme(categories='{ urban_dibao = "suburban" }')
    f[s + "bad_month.toml"] = _scheme(frm="2016-13")
    f[s + "no_version_for_month.toml"] = _scheme(frm="2030-01")
    f[s + "overlapping_versions.toml"] = _scheme() + _version(vid="t-v2", frm="2016-01")
    f[s + "duplicate_ids.toml"] = _scheme() + _version(vid="t-v1", frm="2020-01")
    f[s + "no_versions.toml"] = 'scheme = "t"\nname = "x"\n'
    f[s + "missing_trigger.toml"] = _scheme().replace('trigger = { cpi = "3.5", food = "6.0" }\n', "")
    f[s + "overlay_until_before_from.toml"] = _scheme() + \
        '\n[[overlay]]\nid = "o1"\ndocument = "临时文件"\nfrom = "2023-02"\nuntil = "2022-08"\ntrigger = { cpi = "3.0" }\n'
    f[s + "overlay_changes_nothing.toml"] = _scheme() + '\n[[overlay]]\nid = "o1"\ndocument = "临时文件"\nfrom = "2023-01"\nuntil = "2023-02"\n'
    f[s + "empty.toml"] = b""
    f[s + "binary.toml"] = bytes(random.Random(9).randrange(256) for _ in range(1024))
    f[s + "bad_scheme_name.toml"] = _scheme().replace('scheme = "t"', 'scheme = "../../etc"')

    # -- standards files (calc --standards PATH) ----------------------------------------------
    d = "standards/"
    sh = "region_code,effective_from,urban_monthly,rural_monthly\n"
    f[d + "negative.csv"] = sh + "140000,2020-01,500,400\n140100,2023-01,-870,620\n"
    f[d + "non_numeric.csv"] = sh + "140000,2020-01,500,四百\n"
    f[d + "bad_month.csv"] = sh + "140000,2020-13,500,400\n"
    f[d + "bad_region.csv"] = sh + "14000,2020-01,500,400\n"
    f[d + "three_decimals.csv"] = sh + "140000,2020-01,500.001,400\n"
    f[d + "duplicate_row.csv"] = sh + "140000,2020-01,500,400\n140000,2020-01,510,400\n"
    f[d + "missing_column.csv"] = "region_code,effective_from,urban_monthly\n140000,2020-01,500\n"
    f[d + "no_rural.csv"] = sh + "140000,2020-01,500,\n"
    f[d + "empty.csv"] = b""
    f[d + "nan.csv"] = sh + "140000,2020-01,NaN,400\n"
    f[d + "infinity.csv"] = sh + "140000,2020-01,inf,400\n"

    # -- figures files (fetch --source file --file PATH) --------------------------------------
    g = "figures/"
    fh = "region_code,month,indicator,value\n"
    f[g + "impossible_month.csv"] = fh + "140000,2024-13,cpi,103.5\n"
    f[g + "impossible_index.csv"] = fh + "140000,2024-01,cpi,103.5\n140000,2024-02,cpi,-3.5\n"
    f[g + "implausible_index.csv"] = fh + "140000,2024-01,food,1035\n"
    f[g + "yoy_not_index.csv"] = fh + "140000,2024-01,cpi,3.5\n"
    f[g + "non_numeric.csv"] = fh + "140000,2024-01,cpi,一百零三\n"
    f[g + "unknown_indicator.csv"] = fh + "140000,2024-01,ppi,103.5\n"
    f[g + "future_month.csv"] = fh + "140000,2099-01,cpi,103.5\n"
    f[g + "duplicate.csv"] = fh + "140000,2024-01,cpi,103.5\n140000,2024-01,居民消费价格指数,103.6\n"
    f[g + "missing_column.csv"] = "region_code,month,value\n140000,2024-01,103.5\n"
    f[g + "bad_region.csv"] = fh + "Shanxi,2024-01,cpi,103.5\n"
    f[g + "two_decimals.csv"] = fh + "140000,2024-01,cpi,103.55\n"
    f[g + "empty.csv"] = b""
    f[g + "nul_byte.csv"] = (fh + "140000,2024-01,cpi,103.5\x00\n").encode()
    f[g + "mixed_encodings.csv"] = "地区代码,月份,指标,指数\n140000,2024-01,食品,106.0\n".encode("utf-8") + \
        "140000,2024-02,食品价格,106.1\n".encode("gb18030")
    f[g + "semicolon.csv"] = (fh + "140000,2024-01,cpi,103.5\n").replace(",", ";")
    f[g + "xlsx_bad_cell.xlsx"] = _xlsx([["地区代码", "月份", "指标", "指数"], ["140000", "2024-01", "CPI", 103.5],
                                         ["140000", "2024-02", "CPI", "n/a"]])
    f[g + "garbage.xlsx"] = bytes(random.Random(10).randrange(256) for _ in range(2048))
    return f


def _version(vid: str = "t-v1", frm: str = "2016-01", trigger: str = 'cpi = "3.5", food = "6.0"', method: str = "proportional",
             rounding: str = "yuan_half_up", minimum: str = "0", multiplier: str = "1",
             categories: str = '{ urban_dibao = "urban", rural_dibao = "rural", urban_tekun = "urban" }', extra: str = "") -> str:
    return (f'\n[[version]]\nid = "{vid}"\ndocument = "测试文件"\nverified = true\nfrom = "{frm}"\nindex_region = "140000"\n'
            f"trigger = {{ {trigger} }}\n") + \
        f'rate = "triggering_max"\nmethod = "{method}"\nrounding = "{rounding}"\nminimum = "{minimum}"\n' \
        f'multiplier = "{multiplier}"\ncategories = {categories}\n{extra}\n'


def _scheme(frm: str = "2016-01", **kw) -> str:
    return 'scheme = "t"\nname = "corpus scheme"\n' + _version(frm=frm, **kw)


def _xlsx(rows: list[list], extra_sheets: dict | None = None, merge: str | None = None) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    for row in rows:
        ws.append(row)
    if merge:
        ws.merge_cells(merge)
    for name, srows in (extra_sheets or {}).items():
        s = wb.create_sheet(name)
        for row in srows:
            s.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return _stable_zip(buf.getvalue())


def _stable_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps so the committed XLSX files are reproducible."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                import re

                body = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2026-01-01T00:00:00Z", body)
            zi = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(zi, body)
    return out.getvalue()


def long_line_roster(path: Path, size: int = 1 << 20) -> Path:
    """A roster with one data line over 1 MB (a 1 MB name), between two good rows: not committed."""
    path.write_text(HEAD + f"{A},张三,urban_dibao,140105,,1,\n" + f"{D}," + "长" * (size // 3 + 1) + ",urban_dibao,140105,,1,\n"
                    + f"{B},李四,rural_dibao,140802,,1,\n", encoding="utf-8")
    return path


def build(root: Path = HERE) -> list[Path]:
    written = []
    for rel, body in _files().items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body.encode("utf-8") if isinstance(body, str) else body)
        written.append(p)
    return written


if __name__ == "__main__":
    out = build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
    print(f"{len(out)} corpus files written under {out[0].parent.parent}")
