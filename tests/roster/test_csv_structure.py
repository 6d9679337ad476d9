"""Issue 28: CSV structure as Excel and Notepad leave it.

A stray quote at the start of a field that swallows the next line (which looks like a row) is
exit 2 naming the line; a row of separators only (Excel's CSV of formatted empty rows) is a blank
row; a trailing DOS Ctrl-Z is ignored. Figures and standards files too.
"""

from __future__ import annotations

import pyarrow.parquet as pq
from calc_helpers import make_id

HEAD = "身份证号,姓名,保障类别,行政区划代码,城乡,保障人数\n"
A, B, C = (make_id("140105", f"19{60 + i}0101", f"10{i}") for i in range(3))


def _calc(cli, setup, roster, out):
    cfg, std = setup
    return cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
               "--out", out)


def test_stray_quote_swallowing_a_row_is_exit_2_naming_the_line(tmp_path, cli, setup):
    roster = tmp_path / "r.csv"
    roster.write_text(HEAD + f"{A},甲,城市低保,140105,城市,1\n"
                      f'{B},"乙,城市低保,140105,城市,1\n'       # line 3: the quote opens here
                      f'{C},丙",城市低保,140105,城市,1\n', encoding="utf-8")  # ... and closes here: 丙 would vanish
    r = _calc(cli, setup, roster, tmp_path / "out")
    assert r.exit_code == 2, r.output
    assert "r.csv: line 3: the name (姓名) field opens a quote that runs on over the next line" in " ".join(r.stderr.split())
    assert C not in r.output and not (tmp_path / "out").exists()
    r = cli("validate", "--roster", roster)
    assert r.exit_code == 2 and "line 3" in r.stderr


def test_a_quoted_line_break_in_a_name_is_still_read(tmp_path, cli, setup):
    # a real two-line cell (Alt+Enter in Excel) holds no row: read as it is
    roster = tmp_path / "r.csv"
    roster.write_text(HEAD + f'{A},"甲\n(曾用名 甲甲)",城市低保,140105,城市,1\n{B},乙,城市低保,140105,城市,1\n', encoding="utf-8")
    r = _calc(cli, setup, roster, tmp_path / "out")
    assert r.exit_code == 0, r.output
    assert pq.read_table(tmp_path / "out" / "payments.parquet").num_rows == 2


def test_rows_of_separators_only_are_blank_rows(tmp_path, cli, setup):
    roster = tmp_path / "r.csv"
    roster.write_text(HEAD + f"{A},甲,城市低保,140105,城市,1\n" + ",,,,,\n" * 500 + f"{B},乙,城市低保,140105,城市,2\n"
                      + ",,,,,\r\n" * 3 + f"{C},,城市低保,140105,城市,1\n", encoding="utf-8")
    r = _calc(cli, setup, roster, tmp_path / "out")
    assert r.exit_code == 0, r.output
    pay = pq.read_table(tmp_path / "out" / "payments.parquet").to_pandas()
    rej = pq.read_table(tmp_path / "out" / "rejected.parquet").to_pandas()
    # 870 x 6.5% = 56.55 -> 57.00 a person; 乙's row covers 2: 114.00
    assert sorted(map(str, pay["amount"])) == ["114.00", "57.00"]
    assert list(rej["reason"]) == ["missing_field"]  # only 丙, whose name is empty
    assert int(rej["file_row"][0]) == 2 + 1 + 500 + 1 + 3  # the line a person sees
    r = cli("validate", "--roster", roster, "--format", "json")
    assert '"missing_field"' in r.stdout and r.stdout.count('"rows": 1') >= 1


def test_trailing_ctrl_z_is_ignored(tmp_path, cli, setup):
    roster = tmp_path / "r.csv"
    roster.write_bytes((HEAD + f"{A},甲,城市低保,140105,城市,1\r\n{B},乙,城市低保,140105,城市,1\r\n").encode("gb18030") + b"\x1a")
    r = _calc(cli, setup, roster, tmp_path / "out")
    assert r.exit_code == 0, r.output
    assert pq.read_table(tmp_path / "out" / "payments.parquet").num_rows == 2
    assert pq.read_table(tmp_path / "out" / "rejected.parquet").num_rows == 0


def test_small_tables_ctrl_z_and_swallowed_rows(tmp_path):
    import pytest

    from cpi_link.core.errors import InputError
    from cpi_link.rules.standards import load_standards
    from cpi_link.sources.file import read_figures_file

    f = tmp_path / "f.csv"
    f.write_bytes("地区代码,月份,指标,指数\r\n140000,2019-10,食品,102.3\r\n".encode("gb18030") + b"\x1a")
    assert [o.month for o in read_figures_file(f)] == ["2019-10"]
    s = tmp_path / "s.csv"
    s.write_text('region_code,effective_from,urban_monthly,rural_monthly\n140000,2020-01,"500,400\n'
                 '140100,2021-01,600",500\n', encoding="utf-8")
    with pytest.raises(InputError, match="line 2: the column 3 field opens a quote"):
        load_standards(s)


def _many_rows(n: int) -> list[str]:
    """n data lines of valid, distinct IDs (about 60 bytes each: 80k of them span several of the
    reader's 2 MiB blocks, so later rows sit in later chunks and slices of the batch)."""
    from datetime import date, timedelta

    day0 = date(1960, 1, 1)
    return [f"{make_id('140105', (day0 + timedelta(days=i // 900)).strftime('%Y%m%d'), f'{i % 900 + 100:03d}')},"
            f"名{i},城市低保,140105,城市,1\n" for i in range(n)]


def test_a_swallowed_row_deep_in_a_large_file_is_found(tmp_path, cli, setup):
    """The line-break look reads each column chunk's own bytes: a quote far past the first block,
    in a dictionary column (保障类别) and in a text column (姓名), is still exit 2 naming its line."""
    rows = _many_rows(80_000)
    for k, (at, field) in enumerate(((70_000, 2), (75_000, 1))):
        lines = list(rows)
        cells = lines[at].split(",")
        cells[field] = '"' + cells[field]  # data row at + 1, line at + 2: the quote opens here
        nxt = lines[at + 1].split(",")
        nxt[field] = nxt[field] + '"'  # ... and closes on the next line
        lines[at], lines[at + 1] = ",".join(cells), ",".join(nxt)
        roster = tmp_path / f"r{k}.csv"
        roster.write_text(HEAD + "".join(lines), encoding="utf-8")
        r = _calc(cli, setup, roster, tmp_path / f"out{k}")
        assert r.exit_code == 2, r.output
        name = ("category (保障类别)", "name (姓名)")[k]
        assert f"r{k}.csv: line {at + 2}: the {name} field opens a quote" in " ".join(r.stderr.split())


def test_separator_rows_deep_in_a_large_file_are_blank_rows(tmp_path, cli, setup):
    """The blank-row look reads only the rejected rows of a batch: separator rows among 80k
    others, next to a rejected row, are dropped and the rejected row keeps its line."""
    rows = _many_rows(80_000)
    rows[60_000] = rows[60_000].replace(",城市低保,", ",,")  # rejected: category empty (line 60,002)
    lines = rows[:50_000] + [",,,,,\n"] * 2 + rows[50_000:79_000] + [",,,,,\r\n"] + rows[79_000:]
    roster = tmp_path / "r.csv"
    roster.write_text(HEAD + "".join(lines), encoding="utf-8")
    r = _calc(cli, setup, roster, tmp_path / "out")
    assert r.exit_code == 0, r.output
    rej = pq.read_table(tmp_path / "out" / "rejected.parquet").to_pandas()
    assert list(rej["reason"]) == ["missing_field"]
    assert int(rej["file_row"][0]) == 60_000 + 2 + 2  # two separator lines above it
    assert pq.read_table(tmp_path / "out" / "payments.parquet").num_rows == 79_999
