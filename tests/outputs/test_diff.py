"""`cpi-link diff RUN_A RUN_B`: added, removed, changed and why, from two real run folders (issue 8)."""

from __future__ import annotations

from pathlib import Path

from calc_helpers import STANDARDS, make_id, put_figures, write_scheme

P1, P2, P3, P4, P5 = (make_id("140105", "19500101", f"{i:03d}") for i in range(1, 6))
# Run A, 2024-01, rate 6.5 (food 106.5); 140105 falls back to 140100 (urban 870, rural 620):
#   P1 urban 140105: 870 x 6.5% = 56.55 -> 57      P2 rural 140105: 620 x 6.5% = 40.30 -> 40
#   P3 urban 140213 (770): 50.05 -> 50             P4 urban 140802 (500, 140000 row): 32.50 -> 33
#   total 180.00
ROSTER_A = [(P1, "甲", "urban_dibao", "140105", "1"), (P2, "乙", "rural_dibao", "140105", "1"),
            (P3, "丙", "urban_dibao", "140213", "1"), (P4, "丁", "urban_dibao", "140802", "1")]
# Run B, 2024-02, rate 7.0 (food 107.0); 140105 has its own row from 2024-02 (urban 900):
#   P1: 900 x 7% = 63 (standard 870 -> 900, row 140100 -> 140105, rate)
#   P2 now urban_dibao: 900 x 7% = 63 (category, area, standard, row, rate)
#   P3 household of 2: 770 x 7% = 53.9 -> 54 x 2 = 108 (rate, persons)
#   P4 removed (33.00); P5 added, urban_tekun 140802: 500 x 7% = 35
#   total 269.00; B - A = 89.00
ROSTER_B = [(P1, "甲", "urban_dibao", "140105", "1"), (P2, "乙", "urban_dibao", "140105", "1"),
            (P3, "丙", "urban_dibao", "140213", "2"), (P5, "=戊", "urban_tekun", "140802", "1")]


def make_runs(cli, home: Path, tmp_path: Path) -> tuple[Path, Path]:
    sch = write_scheme(tmp_path)
    put_figures(home, "2024-01", cpi="101.0", food="106.5")
    put_figures(home, "2024-02", cpi="101.0", food="107.0")
    std = tmp_path / "standards.csv"
    std.write_text(STANDARDS, encoding="utf-8")
    outs = []
    for month, rows in (("2024-01", ROSTER_A), ("2024-02", ROSTER_B)):
        roster = tmp_path / f"roster-{month}.csv"
        roster.write_text("person_id,name,category,region_code,area,persons\n"
                          + "".join(f"{p},{n},{c},{r},,{k}\n" for p, n, c, r, k in rows), encoding="utf-8")
        out = tmp_path / f"run-{month}"
        r = cli("calc", "--month", month, "--roster", roster, "--standards", std, "--scheme", sch, "--out", out)
        assert r.exit_code == 0, r.stderr
        outs.append(out)
    return outs[0], outs[1]


def test_diff_json(cli, home, tmp_path):
    a, b = make_runs(cli, home, tmp_path)
    d = cli.json("diff", a, b, "--format", "json", "--full-ids")
    assert d["a"]["amount"] == "180.00" and d["b"]["amount"] == "269.00"
    assert d["a"]["rate_pct"] == "6.5" and d["b"]["rate_pct"] == "7.0"
    t = d["totals"]
    assert t["difference"] == "89.00" and (t["added"], t["removed"], t["changed"], t["unchanged"]) == (1, 1, 3, 0)
    assert t["added_amount"] == "35.00" and t["removed_amount"] == "33.00" and t["changed_amount"] == "87.00"  # 35 - 33 + 87 = 89
    assert [x["person_id"] for x in d["added"]] == [P5] and d["added"][0]["amount"] == "35.00"
    assert [x["person_id"] for x in d["removed"]] == [P4]
    ch = {x["person_id"]: x for x in d["changed"]}
    assert ch[P1]["reasons"] == ["standard", "rate", "standard_region"]
    assert (ch[P1]["amount_a"], ch[P1]["amount_b"], ch[P1]["difference"]) == ("57.00", "63.00", "6.00")
    assert "standard 870.00 -> 900.00" in ch[P1]["detail"] and "rate 6.5% -> 7.0%" in ch[P1]["detail"]
    assert set(ch[P2]["reasons"]) == {"standard", "rate", "category", "area", "standard_region"}
    assert "category rural_dibao -> urban_dibao" in ch[P2]["detail"]
    assert ch[P3]["reasons"] == ["rate", "persons"] and ch[P3]["amount_b"] == "108.00"
    assert t["changed_by_reason"]["rate"] == 3 and t["changed_by_reason"]["persons"] == 1


def test_diff_table_csv_and_masking(cli, home, tmp_path):
    a, b = make_runs(cli, home, tmp_path)
    r = cli("diff", a, b)
    assert r.exit_code == 0 and "89.00" in r.stdout and "added 1" in r.stdout
    r = cli("diff", a, b, "--format", "csv", "--mask-ids")
    assert r.exit_code == 0
    assert P5 not in r.stdout and (P5[:6] + "********" + P5[-4:]) in r.stdout
    assert "'=戊" in r.stdout  # formula injection neutralised in CSV
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "change,person_id,name,category,region_code,month_a,month_b,amount_a,amount_b,difference,reasons,detail"
    assert len(lines) == 1 + 1 + 1 + 3


def test_diff_csv_rows_are_whole_and_sum_to_b_minus_a(cli, home, tmp_path):
    """Issue 34: category, both months, both amounts and the difference on every row."""
    import csv
    import io
    from decimal import Decimal

    a, b = make_runs(cli, home, tmp_path)
    r = cli("diff", a, b, "--format", "csv", "--full-ids")
    rows = {x["person_id"]: x for x in csv.DictReader(io.StringIO(r.stdout))}
    assert all(x["category"] and x["month_a"] == "2024-01" and x["month_b"] == "2024-02" for x in rows.values())
    assert (rows[P5]["change"], rows[P5]["amount_a"], rows[P5]["amount_b"], rows[P5]["difference"]) == ("added", "0.00", "35.00", "35.00")
    assert (rows[P4]["change"], rows[P4]["amount_a"], rows[P4]["amount_b"], rows[P4]["difference"]) == ("removed", "33.00", "0.00", "-33.00")
    assert rows[P2]["category"] == "urban_dibao" and rows[P3]["reasons"] == "rate;persons"
    assert sum(Decimal(x["difference"]) for x in rows.values()) == Decimal("89.00")  # 269.00 - 180.00


def test_diff_summary_for_cron_mail(cli, home, tmp_path):
    a, b = make_runs(cli, home, tmp_path)
    r = cli("diff", a, b, "--summary")
    assert r.exit_code == 0 and "89.00" in r.stdout and "added 1" in r.stdout and "甲" not in r.stdout
    d = cli.json("diff", a, b, "--summary", "--format", "json")
    assert d["totals"]["difference"] == "89.00" and "changed" not in d


def test_diff_bad_folder_exits_2(cli, home, tmp_path):
    a, _ = make_runs(cli, home, tmp_path)
    r = cli("diff", a, tmp_path / "missing")
    assert r.exit_code == 2 and "missing" in r.stderr


def test_diff_csv_encodings_write_the_rows_once(cli, home, tmp_path):
    """Issue 34: --encoding on the streamed diff CSV: utf-8-sig puts one BOM before the header (not one
    before every batch, which glued a BOM to the first row's `change`), gb18030 the same text."""
    a, b = make_runs(cli, home, tmp_path)
    plain = cli("diff", a, b, "--format", "csv").stdout_bytes
    sig = cli("diff", a, b, "--format", "csv", "--encoding", "utf-8-sig").stdout_bytes
    assert sig.startswith(b"\xef\xbb\xbfchange,") and sig.count(b"\xef\xbb\xbf") == 1
    assert sig[3:] == plain and plain.decode("utf-8").splitlines()[1].startswith("added,")
    gb = cli("diff", a, b, "--format", "csv", "--encoding", "gb18030").stdout_bytes
    assert gb.decode("gb18030") == plain.decode("utf-8") and "丙".encode("gb18030") in gb


def test_diff_summary_names_the_indicator_in_chinese(cli, home, tmp_path):
    """Issue 34: a Chinese diff table said "6.5 (food)"; the indicator is named as trigger names it."""
    a, b = make_runs(cli, home, tmp_path)
    r = cli("--lang", "zh", "diff", a, b, "--summary")
    assert r.exit_code == 0, r.stderr
    assert "6.5 (食品价格)" in r.stdout and "7.0 (食品价格)" in r.stdout and "food" not in r.stdout, r.stdout
    assert "6.5 (food)" in cli("--lang", "en", "diff", a, b, "--summary").stdout


def test_diff_detail_in_chinese_in_the_table_english_for_scripts(cli, home, tmp_path):
    """Issue 34: a Chinese diff table gave each changed row's detail in English ("standard 870.00 -> 900.00; rate ...")."""
    a, b = make_runs(cli, home, tmp_path)
    cli.env["COLUMNS"] = "400"
    r = cli("--lang", "zh", "diff", a, b)
    assert r.exit_code == 0, r.stderr
    # P1: 870 -> 900 (row 140100 -> 140105), 6.5% -> 7.0%
    assert "月保障标准 870.00 -> 900.00；补贴涨幅 6.5% -> 7.0%；适用标准行 140100 -> 140105" in r.stdout, r.stdout
    assert "补贴涨幅 6.5% -> 7.0%；保障人数 1 -> 2" in r.stdout  # P3
    assert "类别 rural_dibao -> urban_dibao" in r.stdout and "standard" not in r.stdout and "rate " not in r.stdout
    rows = cli("--lang", "zh", "diff", a, b, "--format", "csv", "--full-ids").stdout.splitlines()
    assert any(x.startswith(f"changed,{P1},") and x.endswith(",standard 870.00 -> 900.00; rate 6.5% -> 7.0%; standard row 140100 -> 140105")
               for x in rows), rows
