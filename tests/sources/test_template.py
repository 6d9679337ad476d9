"""`fetch template` (SPEC 4.1): the officer's form round-trips through `fetch --source file` (issue 19)."""

from __future__ import annotations

import csv

import openpyxl


def test_xlsx_template_filled_in_and_imported(tmp_path, cli):
    out = tmp_path / "form.xlsx"
    r = cli("fetch", "template", "--region", "140000", "--since", "2024-01", "--until", "2024-03", "--out", out)
    assert r.exit_code == 0, r.stderr
    wb = openpyxl.load_workbook(out)
    ws = wb.worksheets[0]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows[0][:4] == ["地区代码", "月份", "指标", "指数"]
    assert len(rows) == 1 + 3 * 2 and all(r[3] is None for r in rows[1:])  # month x indicator, value blank
    assert rows[1][:3] == ["140000", "2024-01", "居民消费价格指数"] and rows[2][2] == "食品价格"
    assert "国家统计局山西调查总队" in " ".join(str(c.value) for c in wb["说明"]["A"])
    # the officer types the published indices (numbers, as Excel stores them) for two months
    typed = {("2024-01", "居民消费价格指数"): 100.4, ("2024-01", "食品价格"): 97.1, ("2024-02", "居民消费价格指数"): 101.2,
             ("2024-02", "食品价格"): 99.8}
    for row in ws.iter_rows(min_row=2):
        v = typed.get((row[1].value, row[2].value))
        if v is not None:
            row[3].value = v
    wb.save(out)
    res = cli.json("fetch", "--source", "file", "--file", out, "--format", "json")
    assert res["added"] == 4 and res["blank_rows_skipped"] == 2  # 2024-03 left blank
    got = {(o["month"], o["indicator"]): o["value"] for o in cli.json("series", "--region", "140000", "--since", "2024-01",
                                                                       "--until", "2024-03", "--format", "json")}
    assert got == {("2024-01", "cpi"): "100.4", ("2024-01", "food"): "97.1", ("2024-02", "cpi"): "101.2",
                   ("2024-02", "food"): "99.8"}


def test_csv_template_round_trip(tmp_path, cli):
    out = tmp_path / "form.csv"
    assert cli("fetch", "template", "--region", "000000", "--since", "2024-05", "--until", "2024-05", "--out", out,
               "--indicator", "cpi").exit_code == 0
    text = out.read_text(encoding="utf-8-sig")
    lines = list(csv.reader(text.splitlines()))
    assert lines[0][:4] == ["地区代码", "月份", "指标", "指数"] and lines[1][0].startswith("# 说明") and "国家统计局" in lines[1][0]
    assert lines[2] == ["000000", "2024-05", "居民消费价格指数", "", "", ""]  # 指数, 发布日期, 备注 left blank
    lines[2][3] = "100.3"
    with open(out, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(lines)
    res = cli.json("fetch", "--source", "file", "--file", out, "--format", "json")
    assert res["rows"] == 1
    [o] = cli.json("series", "--region", "000000", "--since", "2024-05", "--until", "2024-05", "--indicator", "cpi", "--format", "json")
    assert o["value"] == "100.3" and o["source"] == "file"


def test_template_refuses_to_overwrite_and_bad_suffix(tmp_path, cli):
    out = tmp_path / "x.csv"
    out.write_text("keep", encoding="utf-8")
    r = cli("fetch", "template", "--region", "140000", "--since", "2024-01", "--until", "2024-01", "--out", out)
    assert r.exit_code == 2 and out.read_text(encoding="utf-8") == "keep"
    r = cli("fetch", "template", "--region", "140000", "--since", "2024-01", "--until", "2024-01", "--out", tmp_path / "x.txt")
    assert r.exit_code == 2 and ".xlsx or .csv" in r.stderr
