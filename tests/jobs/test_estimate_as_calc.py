"""Issue 34 (and 26): `estimate` prices headcounts through calc's batch engine, so the same people
cost the same whether given as a roster (calc) or as counts (estimate)."""

from __future__ import annotations

from calc_helpers import make_id

# 2024-01, scheme "t", food 6.5% (the `setup` fixture); yuan_half_up per person:
#   140105 urban (140100's 870; 140105's own standard starts 2024-02): 870 x 6.5% = 56.55 -> 57
#   140105 rural (620): 620 x 6.5% = 40.30 -> 40
#   140213 rural (140200's 5000 a year = 416.67 a month): 416.67 x 6.5% = 27.08 -> 27
PEOPLE = [  # region, category as officers write it, area, persons
    ("140105", "城市低保", "", 1), ("140105", "城市低保", "", 1), ("140105", "城市低保", "", 1),  # 3 x 57 = 171
    ("140105", "特困供养", "农村", 2),  # rural_tekun by its area: 2 x 40 = 80
    ("140213", "农村低保", "", 1), ("140213", "农村低保", "", 1),  # 2 x 27 = 54
    ("140105", "优抚对象", "城市", 1),  # special_care, by_area urban: 57
]
TOTAL = "362.00"  # 171 + 80 + 54 + 57


def _roster(path):
    lines = ["person_id,name,category,region_code,area,persons"]
    for i, (region, cat, area, persons) in enumerate(PEOPLE):
        lines.append(f"{make_id(region, '19600101', f'{i:03d}')},人{i},{cat},{region},{area},{persons}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _counts(path):
    heads: dict[tuple, int] = {}
    for region, cat, area, persons in PEOPLE:
        heads[(region, cat, area)] = heads.get((region, cat, area), 0) + persons
    path.write_text("行政区划代码,类别,城乡,人数\n" + "".join(f"{r},{c},{a},{n}\n" for (r, c, a), n in heads.items()),
                    encoding="utf-8")
    return path


def test_estimate_costs_what_calc_pays_the_same_people(tmp_path, cli, setup):
    cfg, std = setup
    common = ("--config", cfg)
    paid = cli.json(*common, "calc", "--roster", _roster(tmp_path / "r.csv"), "--month", "2024-01", "--scheme", "t",
                    "--standards", std, "--out", tmp_path / "run", "--format", "json")
    est = cli.json(*common, "estimate", "--counts", _counts(tmp_path / "c.csv"), "--month", "2024-01", "--scheme", "t",
                   "--standards", std, "--format", "json")
    assert paid["total_amount"] == est["total_amount"] == TOTAL
    assert est["persons"] == 8 and est["rejected"] == []
    rep = cli.json(*common, "report", tmp_path / "run", "--format", "json")
    assert {c["category"]: c["amount"] for c in rep["by_category"]} == {c["category"]: c["amount"] for c in est["by_category"]} \
        == {"urban_dibao": "171.00", "rural_tekun": "80.00", "rural_dibao": "54.00", "special_care": "57.00"}


def test_a_by_area_word_without_its_area_names_the_row(tmp_path, cli, setup):
    cfg, std = setup
    counts = tmp_path / "c.csv"
    counts.write_text("行政区划代码,类别,城乡,人数\n140105,城市低保,,3\n140105,特困供养,,2\n", encoding="utf-8")
    r = cli("--config", cfg, "estimate", "--counts", counts, "--month", "2024-01", "--scheme", "t", "--standards", std)
    assert r.exit_code == 2 and "row 3 (data row 2), column area" in r.stderr, r.stderr
