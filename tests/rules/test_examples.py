"""Worked examples beside the rules and `scheme check` (issue 19, SPEC 5.4); the bundled Shanxi
scheme as the 2019 evidence shows it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"


def _national_with(tmp_path: Path, examples: str) -> Path:
    """The bundled national scheme with more [[example]] tables after it, as a file of its own."""
    p = tmp_path / "n.toml"
    p.write_text((CONFIG / "schemes" / "national.toml").read_text(encoding="utf-8") + examples, encoding="utf-8")
    return p


def test_every_bundled_scheme_carries_examples_that_hold(cli):
    r = cli("--config", CONFIG, "scheme", "check", "--format", "json")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)
    names = {p.stem for p in (CONFIG / "schemes").glob("*.toml")}
    assert {x["scheme"] for x in rows} == names  # every bundled scheme has examples
    assert all(x["ok"] for x in rows)
    got = {(x["scheme"], x["expected"]) for x in rows}
    # the sources' figures: Wuhan 870 x 5.5% = 47.85 -> 48; Jiangsu 900/12 = 75 and 900/8 = 112.5;
    # Shanxi's flat 30 / 20 (x 3 persons = 60) / 30; national food exactly 6.0: 600 x 6% = 36
    assert {("example-hubei", "48"), ("example-jiangsu", "75"), ("example-jiangsu", "112.5"), ("shanxi", "30"),
            ("shanxi", "60"), ("national", "36"), ("national", "14")} <= got


def test_a_failing_example_is_exit_2_naming_it(tmp_path, cli):
    cfg = tmp_path / "cfg"
    shutil.copytree(CONFIG, cfg)
    p = cfg / "schemes" / "example-hubei.toml"
    p.write_text(p.read_text(encoding="utf-8").replace('amount = "48"', 'amount = "47"'), encoding="utf-8")
    r = cli("--config", cfg, "scheme", "check", "example-hubei")
    assert r.exit_code == 2
    assert "example-hubei" in r.stderr and "example #1" in r.stderr and "expected 47" in r.stderr and "48.00" in r.stderr
    # the others still hold
    assert cli("--config", cfg, "scheme", "check", "shanxi", "national").exit_code == 0


def test_example_expecting_no_start_that_starts_fails(tmp_path, cli):
    p = _national_with(tmp_path, '''
[[example]]
month = "2017-05"
category = "urban_dibao"
standard = "600"
cpi = "103.5"
food = "101.0"
triggered = false
''')
    r = cli("scheme", "check", p)
    assert r.exit_code == 2 and "example #5" in r.stderr and "expected not triggered" in r.stderr


def test_malformed_example_names_the_key(tmp_path, cli):
    p = _national_with(tmp_path, '\n[[example]]\nmonth = "2017-05"\ncategory = "urban_dibao"\nstandard = 600\namount = "1"\n')
    r = cli("scheme", "check", p)
    assert r.exit_code == 2 and "example #5 key standard" in r.stderr


def test_shanxi_ships_the_2019_flat_amounts_with_sources(cli):
    from cpi_link.rules.schemes import load_scheme

    s = load_scheme("shanxi", CONFIG)
    r = s.rules_for("2019-04")
    assert r.method == "fixed" and r.verified is False
    assert (r.amounts["urban_dibao"], r.amounts["rural_dibao"], r.amounts["rural_tekun"]) == ("30", "20", "30")
    v = s.versions[0]
    for k in ("amounts.urban_dibao", "amounts.rural_dibao", "amounts.rural_tekun"):
        assert "2019" in v.sources[k] and "省民政厅" in v.sources[k]
    # the alternative reading is its own scheme
    alt = load_scheme("shanxi-proportional", CONFIG).rules_for("2019-04")
    assert alt.method == "proportional"
    shown = cli("--config", CONFIG, "scheme", "show", "shanxi")
    assert shown.exit_code == 0
    assert "source of amounts.urban_dibao" in shown.stdout and "stay covered" in shown.stdout
    assert "amounts (yuan per person per month): urban_dibao 30, rural_dibao 20" in shown.stdout


def test_scheme_check_in_chinese_says_what_the_rules_give_in_chinese(tmp_path, cli):
    """Issue 34: a Chinese scheme check showed "not triggered" and "category ... is not covered by ..." in English
    (JSON and CSV keep the English words for scripts)."""
    p = _national_with(tmp_path, '''
[[example]]
month = "2019-04"
category = "orphan"
standard = "600"
cpi = "102.5"
food = "106.0"
amount = "36"
''')
    cli.env["COLUMNS"] = "400"
    r = cli("--lang", "zh", "scheme", "check", p)
    assert r.exit_code == 2, r.stderr
    row3 = next(line for line in r.stdout.splitlines() if "│ 3 │ 2017-05" in line)
    assert row3.count("未启动") == 2 and "not triggered" not in r.stdout, r.stdout
    assert "2019-04 适用的 national-2016-1835 不包括类别 orphan" in r.stdout and "不包括类别 orphan" in r.stderr
    assert "is not covered" not in r.stdout + r.stderr
    rows = json.loads(cli("--lang", "zh", "scheme", "check", p, "--format", "json").stdout)
    assert (rows[2]["expected"], rows[2]["got"]) == ("not triggered", "not triggered")
    assert rows[-1]["got"] == "category orphan is not covered by national-2016-1835 in 2019-04" and rows[-1]["ok"] is False


def test_an_example_the_rules_cannot_decide_is_english_in_json_and_csv_and_chinese_in_the_table(tmp_path, cli):
    """Issue 34: an example whose figures are incomplete (no food figure) or whose month no version covers gave
    a Chinese "got" in a Chinese run's JSON: scripts read the same English in both languages; the table and the
    failure list say it in Chinese."""
    import csv
    import io

    p = _national_with(tmp_path, '''
[[example]]
month = "2019-04"
category = "urban_dibao"
standard = "600"
cpi = "102.5"
amount = "36"

[[example]]
month = "2001-04"
category = "urban_dibao"
standard = "600"
cpi = "102.5"
food = "106.0"
amount = "36"
''')
    missing = "no food figure for 000000 in 2019-04 (needed by national-2016-1835)"
    no_version = f'{p}: no version in force for 2001-04 (the first version, "national-2016-1835", starts 2016-07)'
    for lang in ("zh", "en"):
        r = cli("--lang", lang, "scheme", "check", p, "--format", "json")
        assert r.exit_code == 2, r.stderr
        assert [row["got"] for row in json.loads(r.stdout)[-2:]] == [missing, no_version], (lang, r.stdout)
        r = cli("--lang", lang, "scheme", "check", p, "--format", "csv")
        assert [row["got"] for row in csv.DictReader(io.StringIO(r.stdout.lstrip("\ufeff")))][-2:] == [missing, no_version]
    cli.env["COLUMNS"] = "400"
    r = cli("--lang", "zh", "scheme", "check", p)
    assert r.exit_code == 2
    for said in (r.stdout, r.stderr):
        assert "000000（全国） 2019-04 缺少食品价格数据（national-2016-1835 需要）" in said, said
        assert f"{p}：2001-04 没有生效的版本（第一个版本“national-2016-1835”从 2016-07 起生效）" in said, said
    assert "第 6 个算例（2001-04 urban_dibao）：应为 36" in r.stderr and "no food figure" not in r.stdout + r.stderr
    r = cli("--lang", "en", "scheme", "check", p)
    assert missing in r.stdout and no_version in " ".join(r.stderr.split()) and "example #6 (2001-04 urban_dibao)" in r.stderr
