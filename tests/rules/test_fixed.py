"""Method "fixed" in scheme files (versions and overlays), funding shares and overlapping
overlays (issue 19), with amounts worked by hand."""

from __future__ import annotations

import json
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from calc_helpers import STANDARDS, make_id, put_figures

FIXED = '''scheme = "f"
name = "fixed amounts"

[[version]]
id = "f-v1"
document = "测试文件"
verified = true
from = "2016-01"
index_region = "140000"
trigger = { cpi = "3.5", food = "6.0" }
rate = "triggering_max"
method = "fixed"
rounding = "yuan_half_up"
categories = { urban_dibao = "urban", rural_dibao = "rural", rural_tekun = "rural", special_care = "by_area" }
amounts = { urban_dibao = "30", rural_dibao = "20", rural_tekun = "30", special_care = { urban = "30", rural = "20" } }
funding = { central = "0.6", province = "0.4" }
%s
'''

DOUBLING = '''
[[overlay]]
id = "double"
document = "测试"
from = "2024-03"
until = "2024-03"
multiplier = "2"
add_categories = { orphan = "by_area" }
amounts = { orphan = "50.5" }
'''


def _scheme(tmp_path, body: str):
    from cpi_link.rules.schemes import parse_scheme_file

    p = tmp_path / "s.toml"
    p.write_text(body, encoding="utf-8")
    return parse_scheme_file(p)


def _err(tmp_path, body: str) -> str:
    from cpi_link.core.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        _scheme(tmp_path, body)
    return e.value.message


def test_fixed_version_and_overlay_parse(tmp_path):
    s = _scheme(tmp_path, FIXED % DOUBLING)
    r = s.rules_for("2024-01")
    assert r.method == "fixed" and r.amounts["urban_dibao"] == "30"
    assert r.amounts["special_care"] == {"urban": "30", "rural": "20"}
    assert r.funding == {"central": Decimal("0.6"), "province": Decimal("0.4")}
    r3 = s.rules_for("2024-03")  # the overlay adds orphan with its amount, keeps the others
    assert r3.amounts["orphan"] == "50.5" and r3.amounts["rural_dibao"] == "20" and r3.multiplier == 2


def test_fixed_errors_name_the_key(tmp_path):
    body = FIXED % ""
    assert "amounts.rural_tekun" in _err(tmp_path, body.replace(', rural_tekun = "30"', ""))
    assert "covered category rural_tekun" in _err(tmp_path, body.replace(', rural_tekun = "30"', ""))
    assert "amounts.special_care.rural" in _err(tmp_path, body.replace(', rural = "20" }', " }"))
    assert "more than two decimals" in _err(tmp_path, body.replace('"20", rural_tekun', '"20.005", rural_tekun'))
    assert "sum to 0.9" in _err(tmp_path, body.replace('province = "0.4"', 'province = "0.3"'))
    assert "amounts.nobody" in _err(tmp_path, body.replace('amounts = { ', 'amounts = { nobody = "1", '))
    # an overlay adding a group to a fixed version must give its amount
    assert "amounts.orphan" in _err(tmp_path, FIXED % DOUBLING.replace('amounts = { orphan = "50.5" }', ""))
    # amounts under another method
    prop = body.replace('method = "fixed"', 'method = "proportional"')
    assert "only used by method fixed" in _err(tmp_path, prop)


def test_overlapping_overlays_setting_the_same_key_are_an_error(tmp_path):
    two = DOUBLING + DOUBLING.replace('id = "double"', 'id = "halve"').replace('"2"', '"0.5"').replace(
        'from = "2024-03"', 'from = "2024-02"').replace("add_categories = { orphan = \"by_area\" }\namounts = { orphan = \"50.5\" }", "")
    msg = _err(tmp_path, FIXED % two)
    assert '"double"' in msg and '"halve"' in msg and "multiplier" in msg and "2024-03" in msg
    # the same key in months that do not overlap is fine
    _scheme(tmp_path, FIXED % two.replace('from = "2024-02"\nuntil = "2024-03"', 'from = "2024-01"\nuntil = "2024-02"'))


def test_fixed_roster_through_calc(tmp_path, cli, home):
    cfg = tmp_path / "cfg"
    (cfg / "schemes").mkdir(parents=True)
    (cfg / "schemes" / "f.toml").write_text(FIXED % DOUBLING, encoding="utf-8")
    put_figures(home, "2024-01", cpi="103.6", food="101.0")  # CPI 3.6 >= 3.5: starts; the rate does not matter
    put_figures(home, "2024-03", cpi="103.6", food="101.0")
    std = tmp_path / "standards.csv"
    std.write_text(STANDARDS, encoding="utf-8")
    roster = tmp_path / "r.csv"
    rows = [
        ("urban_dibao", "140105", "", "1"),   # 30
        ("rural_dibao", "140105", "", "3"),   # 20 x 3 = 60
        ("rural_tekun", "140802", "", "1"),   # 30
        ("special_care", "140213", "城市", "1"),  # urban 30
        ("special_care", "140213", "农村", "2"),  # rural 20 x 2 = 40
        ("urban_tekun", "140213", "", "1"),   # not covered
    ]
    lines = ["身份证号,姓名,类别,行政区划代码,城乡,保障人数"]
    for i, (cat, reg, area, n) in enumerate(rows, 1):
        lines.append(f"{make_id(reg, '19500101', f'{i:03d}')},人{i},{cat},{reg},{area},{n}")
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    r = cli("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "f",
            "--out", out, "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "190.00"  # 30 + 60 + 30 + 30 + 40
    pay = {x["source_row"]: x for x in pq.read_table(out / "payments.parquet").to_pylist()}
    assert {k: str(v["amount"]) for k, v in pay.items()} == {1: "30.00", 2: "60.00", 3: "30.00", 4: "30.00", 5: "40.00"}
    assert pay[2]["amount_per_person"] == Decimal("20.00")
    rej = pq.read_table(out / "rejected.parquet").to_pylist()
    assert [(x["source_row"], x["reason"]) for x in rej] == [(6, "category_not_covered")]
    # 2024-03 under the overlay: every amount doubled: (30 + 60 + 30 + 30 + 40) x 2 = 380
    out3 = tmp_path / "out3"
    r = cli("--config", cfg, "calc", "--month", "2024-03", "--roster", roster, "--standards", std, "--scheme", "f",
            "--out", out3, "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["total_amount"] == "380.00"
