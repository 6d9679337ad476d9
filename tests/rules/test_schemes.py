"""Scheme files (SPEC 5.4): the bundled schemes resolve to the rules POLICY.md describes, month by
month, and every kind of mistake in a scheme file is one ConfigError naming file, key and month."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from cpi_link.core.errors import ConfigError, ExitStatus
from cpi_link.core.categories import CATEGORIES, category_code
from cpi_link.rules.schemes import list_schemes, load_scheme

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"

NATIONAL_2016 = {
    "urban_dibao": "urban",
    "rural_dibao": "rural",
    "urban_tekun": "urban",
    "rural_tekun": "rural",
    "unemployment_insurance": "urban",
    "special_care": "by_area",
}
NATIONAL_2021 = {**NATIONAL_2016, "orphan": "by_area", "de_facto_orphan": "by_area", "hiv_child": "by_area"}


@pytest.fixture(scope="module")
def shanxi():
    return load_scheme("shanxi", CONFIG)


# -- the bundled schemes ---------------------------------------------------------------------


def test_every_bundled_scheme_loads_and_examples_are_marked():
    schemes = {s.name: s for s in list_schemes(CONFIG)}
    assert {"shanxi", "national", "example-hubei", "example-jiangsu", "example-guilin", "example-qingdao"} <= set(schemes)
    for name, s in schemes.items():
        assert s.example == name.startswith("example-"), name
        assert s.path.name == f"{name}.toml"
        assert len(s.sha256) == 64


def test_shanxi_2016_version(shanxi):
    r = shanxi.rules_for("2016-07")
    assert r.scheme == "shanxi" and r.version == "shanxi-2016-174"
    assert r.document == "晋政办发〔2016〕174号"
    assert r.verified is False  # POLICY.md: the 174号 values are unverified
    assert r.index_region == "140000"
    assert r.trigger == {"cpi": Decimal("3.5"), "food": Decimal("6.0")}
    assert r.rate == "triggering_max" and r.method == "fixed" and r.rounding == "yuan_half_up"
    assert r.minimum == 0 and r.multiplier == 1
    assert r.categories == NATIONAL_2016
    assert r.overlays == () and r.tiers == () and r.per_point is None
    assert r.indicators_needed() == ("cpi", "food")
    assert r.scheme_path.endswith("shanxi.toml") and len(r.scheme_sha256) == 64


def test_version_changes_at_2021_11(shanxi):
    before, after = shanxi.rules_for("2021-10"), shanxi.rules_for("2021-11")
    assert before.version == "shanxi-2016-174" and before.categories == NATIONAL_2016
    assert after.version == "shanxi-2021" and after.categories == NATIONAL_2021
    assert "发改价格〔2021〕1553号" in after.documents and "晋政办发电〔2021〕3号" in after.documents
    assert after.payment_timing == "end_of_release_month"


@pytest.mark.parametrize(
    "month, cpi, overlays",
    [
        ("2022-07", "3.5", ()),
        ("2022-08", "3.0", ("national-2022-temporary",)),
        ("2022-12", "3.0", ("national-2022-temporary",)),
        ("2023-02", "3.0", ("national-2022-temporary",)),
        ("2023-03", "3.5", ()),
    ],
)
def test_2022_overlay_lowers_cpi_only_for_its_span(shanxi, month, cpi, overlays):
    r = shanxi.rules_for(month)
    assert r.trigger == {"cpi": Decimal(cpi), "food": Decimal("6.0")}  # food untouched by the overlay
    assert r.overlays == overlays
    has_extra = bool(overlays)
    assert ("unemployment_allowance" in r.categories) is has_extra
    assert ("dibao_edge" in r.categories) is has_extra
    if has_extra:
        assert r.categories["unemployment_allowance"] == "urban" and r.categories["dibao_edge"] == "by_area"
        assert r.version == "shanxi-2021" and r.verified is False
        assert len(r.documents) == 4  # 1553号, 174号, 3号, and the overlay's


@pytest.mark.parametrize(
    "month, multiplier, extra",
    [("2020-02", "1", False), ("2020-03", "2", True), ("2020-06", "2", True), ("2020-07", "1", False)],
)
def test_2020_doubling(shanxi, month, multiplier, extra):
    r = shanxi.rules_for(month)
    assert r.multiplier == Decimal(multiplier)
    for c in ("orphan", "de_facto_orphan", "unemployment_allowance"):
        assert (c in r.categories) is extra
    assert r.overlays == (("national-2020-temporary",) if extra else ())


def test_national_same_rules_on_national_figures():
    n = load_scheme("national", CONFIG)
    r = n.rules_for("2019-10")
    assert r.index_region == "000000" and r.trigger == {"cpi": Decimal("3.5"), "food": Decimal("6.0")}
    assert n.rules_for("2022-08").trigger["cpi"] == Decimal("3.0")
    assert n.rules_for("2020-04").multiplier == 2


def test_example_schemes_rules():
    hubei = load_scheme("example-hubei", CONFIG).rules_for("2020-01")
    assert hubei.trigger == {"cpi": Decimal("3.0"), "food": Decimal("5.5")} and hubei.rate == "triggering_max"
    js = load_scheme("example-jiangsu", CONFIG).rules_for("2020-01")
    assert js.method == "tiered_fraction" and js.rate == "cpi" and js.rounding == "fen_half_up"
    assert js.tiers == ((Decimal("3.0"), Fraction(1, 12)), (Decimal("5.0"), Fraction(1, 8)))
    assert js.indicators_needed() == ("cpi",)
    gl = load_scheme("example-guilin", CONFIG).rules_for("2020-01")
    assert gl.minimum == Decimal("10") and gl.rate == "scpi"
    assert gl.indicators_needed() == ("cpi", "food", "scpi")
    qd = load_scheme("example-qingdao", CONFIG).rules_for("2020-01")
    assert qd.method == "per_point" and qd.per_point == Decimal("5") and qd.rate == "scpi"


def test_no_version_before_the_first(shanxi):
    with pytest.raises(ConfigError) as e:
        shanxi.rules_for("2016-06")
    assert "shanxi.toml" in e.value.message and "2016-06" in e.value.message
    assert e.value.exit_status == ExitStatus.BAD_INPUT


def test_categories_of_spec_5_2():
    assert set(CATEGORIES) == {
        "urban_dibao", "rural_dibao", "urban_tekun", "rural_tekun", "orphan", "de_facto_orphan",
        "hiv_child", "unemployment_insurance", "unemployment_allowance", "special_care", "dibao_edge",
    }
    assert CATEGORIES["urban_dibao"][:2] == ("城市低保", "城镇低保")
    assert category_code("城镇低保") == "urban_dibao"
    assert category_code("事实无人抚养儿童") == "de_facto_orphan"
    assert category_code("低保边缘人口") == "dibao_edge"
    assert category_code("nobody") is None


def test_unknown_scheme_name_lists_known(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_scheme("atlantis", CONFIG)
    assert "atlantis" in e.value.message and "shanxi" in e.value.message


# -- scheme files written by hand: valid variants -------------------------------------------

BASE = '''
scheme = "t"
name = "test scheme"

[[version]]
id = "t-2016"
document = "doc A"
verified = true
from = "2016-07"
index_region = "140000"
trigger = { cpi = "3.5", food = "6.0" }
rate = "triggering_max"
method = "proportional"
rounding = "yuan_half_up"
categories = { urban_dibao = "urban", rural_dibao = "rural" }
'''


def write(tmp_path: Path, text: str, name: str = "t.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_and_load_by_path(tmp_path):
    p = write(tmp_path, BASE)
    r = load_scheme(str(p), CONFIG).rules_for("2030-01")
    assert r.minimum == 0 and r.multiplier == 1 and r.payment_timing is None and r.verified is True
    assert r.scheme_path == str(p)


def test_overlay_remove_and_add_categories_and_versions_in_any_order(tmp_path):
    text = BASE + '''
[[version]]
id = "t-2010"
document = "doc 0"
from = "2010-01"
index_region = "140000"
trigger = { cpi = "4.0" }
rate = "cpi"
method = "proportional"
rounding = "yuan_ceil"
categories = { urban_dibao = "urban" }

[[overlay]]
id = "o"
document = "doc O"
verified = true
from = "2017-01"
until = "2017-01"
remove_categories = ["rural_dibao"]
add_categories = { orphan = "by_area" }
minimum = "20"
'''
    s = load_scheme(str(write(tmp_path, text)), CONFIG)
    assert [v.id for v in s.versions] == ["t-2010", "t-2016"]
    old = s.rules_for("2016-06")
    assert old.version == "t-2010" and old.verified is False  # verified defaults to false
    assert old.trigger == {"cpi": Decimal("4.0")} and old.indicators_needed() == ("cpi",)
    r = s.rules_for("2017-01")
    assert r.categories == {"urban_dibao": "urban", "orphan": "by_area"}
    assert r.minimum == Decimal("20") and r.overlays == ("o",) and r.documents == ("doc A", "doc O")
    assert s.rules_for("2017-02").categories == {"urban_dibao": "urban", "rural_dibao": "rural"}


# -- scheme files written by hand: every error ----------------------------------------------


def replace(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new)


ERRORS = [
    # (file text, words the message must contain)
    (BASE + 'colour = "red"\n', ["unknown key colour"]),
    ("bogus = 1\n" + BASE, ["unknown key bogus", "top level"]),
    (replace('verified = true', 'verified = true\nthreshold = "3"'), ['version "t-2016"', "unknown key threshold"]),
    (replace('"3.5"', '"3,5"'), ['version "t-2016"', "trigger.cpi", '"3,5" is not a decimal']),
    (replace('"3.5"', "3.5"), ["trigger.cpi", "string", '"3.5"']),
    (replace('"3.5"', '"abc"'), ["trigger.cpi", "not a decimal"]),
    (replace('food = "6.0"', 'fuel = "6.0"'), ["trigger.fuel", "unknown indicator"]),
    (replace('"triggering_max"', '"highest"'), ["key rate", "'highest'"]),
    (replace('"proportional"', '"magic"'), ["key method", "'magic'"]),
    (replace('"yuan_half_up"', '"banker"'), ["key rounding", "'banker'"]),
    (replace('urban_dibao = "urban"', 'kings = "urban"'), ["categories.kings", "unknown category"]),
    (replace('urban_dibao = "urban"', 'urban_dibao = "city"'), ["categories.urban_dibao", "'city'"]),
    (replace('"2016-07"', '"2016-13"'), ["key from", "2016-13", "not a month"]),
    (replace('"2016-07"', '"July 2016"'), ["key from", "not a month"]),
    (replace('"140000"', '"14"'), ["key index_region"]),
    (replace('"proportional"', '"tiered_fraction"'), ["key tiers", "tiered_fraction needs tiers"]),
    (replace('"proportional"', '"per_point"'), ["key per_point", "per_point needs"]),
    (
        replace('"proportional"', '"tiered_fraction"\ntiers = [{ from = "3.0", fraction = "1:12" }]'),
        ["tiers[1].fraction", '"a/b"'],
    ),
    (
        replace('"proportional"', '"tiered_fraction"\ntiers = [{ from = "3.0", fraction = "1/0" }]'),
        ["tiers[1].fraction"],
    ),
    (
        replace('"proportional"', '"tiered_fraction"\ntiers = [{ from = "5.0", fraction = "1/8" }, { from = "3.0", fraction = "1/12" }]'),
        ["tiers[2].from", "ascending"],
    ),
    (
        replace('"proportional"', '"tiered_fraction"\ntiers = [{ from = "3.0", fraction = "1/12", upto = "5" }]'),
        ["unknown key upto", "tiers[1]"],
    ),
    (replace('verified = true', 'verified = true\ntiers = [{ from = "3.0", fraction = "1/12" }]'), ["key tiers", "only used by"]),
    (replace('verified = true', 'verified = true\nminimum = "-1"'), ["key minimum", "negative"]),
    (replace('verified = true', 'verified = true\nmultiplier = 2'), ["key multiplier", "string"]),
    (replace('verified = true', 'verified = "yes"'), ["key verified", "true or false"]),
    (replace('rate = "triggering_max"\n', ""), ['version "t-2016"', "missing key rate"]),
    (BASE + BASE.split("\n", 3)[3].replace('id = "t-2016"', 'id = "t-2016b"'), ["from", "2016-07", "overlap"]),
    (BASE + BASE.split("\n", 3)[3], ['"t-2016"', "used twice"]),
    (
        BASE + '[[overlay]]\nid = "o"\ndocument = "d"\nfrom = "2022-08"\nuntil = "2022-07"\ntrigger = { cpi = "3.0" }\n',
        ['overlay "o"', "key until", "2022-07", "before", "2022-08"],
    ),
    (
        BASE + '[[overlay]]\nid = "o"\ndocument = "d"\nfrom = "2022-08"\nuntil = "2023-02"\ncategories = { orphan = "by_area" }\n',
        ['overlay "o"', "categories", "add_categories"],
    ),
    (
        BASE + '[[overlay]]\nid = "o"\ndocument = "d"\nfrom = "2022-08"\nuntil = "2023-02"\nhoorah = "x"\n',
        ['overlay "o"', "unknown key hoorah"],
    ),
    (
        BASE + '[[overlay]]\nid = "o"\ndocument = "d"\nfrom = "2022-08"\nuntil = "2023-02"\n',
        ['overlay "o"', "changes nothing"],
    ),
    (
        BASE + '[[overlay]]\nid = "o"\ndocument = "d"\nfrom = "2022-08"\nuntil = "2023-02"\nmethod = "per_point"\n',
        ['overlay "o"', "2022-08", "per_point"],
    ),
    (
        BASE + '[[overlay]]\nid = "o"\ndocument = "d"\nfrom = "2022-08"\nuntil = "2023-02"\nremove_categories = ["ghosts"]\n',
        ["remove_categories", "unknown category"],
    ),
    ('scheme = "t"\nname = "n"\n', ["at least one [[version]]"]),
    ("scheme = [broken\n", ["not valid TOML"]),
]


@pytest.mark.parametrize("text, words", ERRORS, ids=[f"e{i:02d}" for i in range(len(ERRORS))])
def test_scheme_errors_name_file_and_key(tmp_path, text, words):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_scheme(str(p), CONFIG)
    msg = e.value.message
    assert msg.startswith(str(p) + ":"), msg
    for w in words:
        assert w in msg, (w, msg)
    assert "\n" not in msg


def test_no_version_for_month_names_file_and_month(tmp_path):
    p = write(tmp_path, BASE)
    s = load_scheme(str(p), CONFIG)
    with pytest.raises(ConfigError) as e:
        s.rules_for("2016-06")
    assert str(p) in e.value.message and "2016-06" in e.value.message and "2016-07" in e.value.message


def test_list_schemes_reports_a_broken_file(tmp_path):
    (tmp_path / "schemes").mkdir()
    write(tmp_path / "schemes", BASE.replace('"3.5"', '"3,5"'), "bad.toml")
    with pytest.raises(ConfigError) as e:
        list_schemes(tmp_path)
    assert "bad.toml" in e.value.message and "trigger.cpi" in e.value.message
