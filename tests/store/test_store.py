"""The series store and `fetch --source file` (issue 2)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from cpi_link.core.errors import InputError, StoreCorrupt
from cpi_link.sources.file import read_figures_file
from cpi_link.core.paths import Home
from cpi_link.store.series import SeriesStore

HEADER_CN = "地区代码,月份,指标,指数\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_bundled_figures_available_with_empty_home(tmp_path):
    store = SeriesStore(Home(tmp_path / "empty"))
    # 2019-11 national food index 119.1 (published), CPI 104.5
    assert store.get("000000", "food", "2019-11").value == Decimal("119.1")
    assert store.get("000000", "cpi", "2019-11").value == Decimal("104.5")
    assert store.get("000000", "cpi", "2019-11").yoy_pct == Decimal("4.5")
    assert store.get("140000", "cpi", "2020-01").value == Decimal("105.5")
    assert store.get("140000", "cpi", "2021-02") is None  # left out: reprints disagree
    nat = store.observations(region="000000")
    assert len(nat) == 264  # 2015-01..2025-12, cpi and food
    assert not (tmp_path / "empty").exists()  # reading writes nothing


def test_gb18030_chinese_headers_store_every_value_exactly(tmp_path):
    f = write(
        tmp_path / "figures.csv",
        HEADER_CN
        + "140000,2024-01,居民消费价格指数,100.3\n"
        + "140000,2024-01,食品,93.9\n"
        + "140000,2024年2月,CPI,101.0\n"
        + "140000,2024-02,食品价格,99.9\n",  # SPEC 2: one decimal (issue 28)
        "gb18030",
    )
    store = SeriesStore(Home(tmp_path / "h"))
    res = store.upsert(read_figures_file(f))
    assert res.added == 4
    again = SeriesStore(Home(tmp_path / "h"))  # re-read from Parquet
    assert again.get("140000", "cpi", "2024-01").value == Decimal("100.3")
    assert again.get("140000", "food", "2024-01").value == Decimal("93.9")
    assert again.get("140000", "cpi", "2024-02").value == Decimal("101.0")
    assert again.get("140000", "food", "2024-02").value == Decimal("99.9")
    assert again.get("140000", "food", "2024-02").yoy_pct == Decimal("-0.1")
    o = again.get("140000", "cpi", "2024-01")
    assert o.source == "file" and o.source_ref.startswith("figures.csv sha256:")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_encodings_detected(tmp_path, encoding):
    f = write(tmp_path / "f.csv", "region_code,month,indicator,value\n140000,2024-03,食品,102.1\n", encoding)
    obs = read_figures_file(f)
    assert [(o.indicator, o.value) for o in obs] == [("food", Decimal("102.1"))]


def test_xlsx_figures(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["地区代码", "月份", "指标", "指数"])
    ws.append(["140000", "2024-05", "居民消费价格指数", 100.8])  # typed as a number
    ws.append([140000, "2024-05", "食品", "97.2"])
    wb.save(tmp_path / "f.xlsx")
    obs = read_figures_file(tmp_path / "f.xlsx")
    assert sorted((o.indicator, o.value) for o in obs) == [("cpi", Decimal("100.8")), ("food", Decimal("97.2"))]


def test_revision_kept(tmp_path):
    h = Home(tmp_path / "h")
    store = SeriesStore(h)
    store.upsert(read_figures_file(write(tmp_path / "a.csv", HEADER_CN + "140000,2024-01,CPI,100.3\n")))
    res = store.upsert(read_figures_file(write(tmp_path / "b.csv", HEADER_CN + "140000,2024-01,CPI,100.4\n")))
    assert res.revised == 1
    store = SeriesStore(h)
    assert store.get("140000", "cpi", "2024-01").value == Decimal("100.4")
    revs = store.revisions()
    assert len(revs) == 1
    r = revs[0]
    assert (r["old_value"], r["new_value"]) == (Decimal("100.3"), Decimal("100.4"))
    assert r["old_source_ref"].startswith("a.csv") and r["new_source_ref"].startswith("b.csv")
    # the same value again is no revision
    res = store.upsert(read_figures_file(write(tmp_path / "c.csv", HEADER_CN + "140000,2024-01,CPI,100.40\n")))
    assert res.unchanged == 1 and len(SeriesStore(h).revisions()) == 1


def test_file_overrides_bundled_figure_and_keeps_revision(tmp_path):
    h = Home(tmp_path / "h")
    store = SeriesStore(h)
    store.upsert(read_figures_file(write(tmp_path / "a.csv", HEADER_CN + "000000,2019-11,CPI,104.6\n")))
    assert SeriesStore(h).get("000000", "cpi", "2019-11").value == Decimal("104.6")
    (rev,) = SeriesStore(h).revisions()
    assert rev["old_source"] == "bundled"


@pytest.mark.parametrize(
    "line, field",
    [
        ("14000,2024-01,CPI,100.3", "region_code"),
        ("140000,2024-13,CPI,100.3", "month"),
        ("140000,2024-01,GDP,100.3", "indicator"),
        ("140000,2024-01,CPI,abc", "value"),
        ("140000,2024-01,CPI,3.5", "value"),  # a YoY typed where the index belongs
        ("140000,2024-01,CPI,100.333", "value"),
    ],
)
def test_bad_row_named_and_store_untouched(tmp_path, cli, home, line, field):
    f = write(tmp_path / "bad.csv", HEADER_CN + "140000,2023-12,CPI,100.1\n" + line + "\n")
    with pytest.raises(InputError) as e:
        read_figures_file(f)
    assert "bad.csv" in e.value.message and "data row 2" in e.value.message and field in e.value.message
    r = cli("fetch", "--source", "file", "--file", f)
    assert r.exit_code == 2
    assert "bad.csv" in r.stderr and "Traceback" not in r.stderr
    assert not (home / "store" / "observations.parquet").exists()


def test_missing_column_and_empty_file(tmp_path):
    with pytest.raises(InputError, match="missing required column"):
        read_figures_file(write(tmp_path / "x.csv", "region_code,month,value\n140000,2024-01,100\n"))
    with pytest.raises(InputError, match="empty"):
        read_figures_file(write(tmp_path / "e.csv", ""))


def test_cli_fetch_file_then_series_json(tmp_path, cli):
    f = write(tmp_path / "f.csv", HEADER_CN + "140000,2024-01,CPI,100.3\n140000,2024-01,食品,93.9\n", "gb18030")
    r = cli("fetch", "--source", "file", "--file", f, "--format", "json")
    assert r.exit_code == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["added"] == 2
    rows = cli.json("series", "--region", "140000", "--since", "2024-01", "--format", "json")
    assert rows == [
        {"region_code": "140000", "month": "2024-01", "indicator": "cpi", "value": "100.3", "yoy_pct": "0.3",
         "source": "file", "source_ref": rows[0]["source_ref"], "fetched_at": rows[0]["fetched_at"]},
        {"region_code": "140000", "month": "2024-01", "indicator": "food", "value": "93.9", "yoy_pct": "-6.1",
         "source": "file", "source_ref": rows[1]["source_ref"], "fetched_at": rows[1]["fetched_at"]},
    ]


def test_series_csv_and_table(cli):
    r = cli("series", "--region", "000000", "--since", "2019-11", "--until", "2019-11", "--format", "csv")
    assert r.exit_code == 0
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("region_code,month,indicator,value,yoy_pct,source,fetched_at")
    assert lines[1].startswith("000000,2019-11,cpi,104.5,4.5,bundled")
    assert lines[2].startswith("000000,2019-11,food,119.1,19.1,bundled")
    r = cli("series", "--region", "000000", "--since", "2019-11", "--until", "2019-11")
    assert r.exit_code == 0 and "119.1" in r.stdout


def test_store_files_private_and_corruption_detected(tmp_path):
    h = Home(tmp_path / "h")
    store = SeriesStore(h)
    store.upsert(read_figures_file(write(tmp_path / "a.csv", HEADER_CN + "140000,2024-01,CPI,100.3\n")))
    p = h.store_dir / "observations.parquet"
    assert p.stat().st_mode & 0o777 == 0o600
    p.write_bytes(p.read_bytes()[:40])  # truncated
    with pytest.raises(StoreCorrupt, match="observations.parquet"):
        SeriesStore(h)


def test_bad_month_option_is_usage_error(cli):
    r = cli("series", "--since", "2024-13")
    assert r.exit_code == 2 and "not a real month" in r.stderr
