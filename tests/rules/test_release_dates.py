"""Issue 33: deadlines count from the day the index was really released (the bundled dates with
their sources, or a 发布日期 the office imported), a province's own index from its own date or
the national one plus a stated lag; payment_timing is a coded rule. Deadlines worked by hand on
China's official calendar."""

from __future__ import annotations

from datetime import date

from cpi_link.rules import calendar as cal


def _trigger(cli, *args):
    [d] = cli.json("trigger", *args, "--format", "json")
    return d


def test_national_2019_09_counts_from_its_release_on_the_15th(cli):
    # released Tue 2019-10-15 (not the 10th): Oct 16-18 (3), 21-25 (8), 28-31 (12), Nov 1 (13),
    # Nov 4-8 (18), Nov 11, 12 (20) -> 2019-11-12
    d = _trigger(cli, "--scheme", "national", "--month", "2019-09")
    assert d["published"] == "2019-10-15" and d["published_basis"] == "on_file"
    assert "b3prt.cn" in d["published_source"]
    assert d["payment_deadline"] == "2019-11-12"


def test_national_2022_08_end_of_the_release_month(cli):
    d = _trigger(cli, "--scheme", "national", "--month", "2022-08")
    assert d["published"] == "2022-09-09" and d["payment_timing"] == "end_of_release_month"
    assert d["payment_deadline"] == "2022-09-30"


def test_national_2019_11_stays(cli):
    # released Tue 2019-12-10: Dec 11-13 (3), 16-20 (8), 23-27 (13), 30-31 (15), Jan 1 a holiday,
    # Jan 2-3 (17), Jan 6-8 (20) -> 2020-01-08
    d = _trigger(cli, "--scheme", "national", "--month", "2019-11")
    assert d["published"] == "2019-12-10" and d["payment_deadline"] == "2020-01-08"


def test_no_date_on_file_says_so():
    r = cal.release("2020-08")  # no national date found for August 2020
    assert (r.basis, r.date) == ("rule_of_thumb", date(2020, 9, 10))
    assert "no date on file: expected 9th-12th" in cal.payment_deadline("2020-08", "working_days_after_release = 20").note


def test_a_province_uses_its_own_date_else_the_national_one_plus_a_stated_lag():
    r = cal.release("2022-06", "140000")  # the Shanxi survey team's release, on its own site
    assert (r.basis, r.date) == ("on_file", date(2022, 7, 15)) and "sxzd.stats.gov.cn" in r.source
    r = cal.release("2019-09", "140000")  # no Shanxi date: the national 2019-10-15 plus the shortest lag seen
    assert (r.basis, r.date, r.lag_days) == ("national_plus_lag", date(2019, 10, 18), 3)
    assert "national release 2019-10-15 plus 3 days" in r.note()
    # stale only after the longest lag seen: 2019-10-15 + 15 days
    assert cal.latest_expected_release("2019-09", "140000") == date(2019, 10, 30)


def _figures(tmp_path, published="2019-11-20", food_published=None):
    f = tmp_path / "山西.csv"
    f.write_text("地区代码,月份,指标,指数,发布日期\n"
                 f"140000,2019-10,居民消费价格指数,103.2,{published}\n"
                 f"140000,2019-10,食品,120.0,{food_published or published}\n", encoding="utf-8")
    return f


def test_an_imported_release_date_sets_a_shanxi_deadline(cli, tmp_path):
    r = cli("fetch", "--source", "file", "--file", _figures(tmp_path), "--format", "json")
    assert r.exit_code == 0, r.stderr
    d = _trigger(cli, "--scheme", "shanxi", "--month", "2019-10")
    assert d["triggered"] is True  # food 20.0% >= 6.0%
    assert (d["published"], d["published_basis"], d["published_region"]) == ("2019-11-20", "on_file", "140000")
    assert d["published_source"].startswith("山西.csv sha256:")
    # Wed 2019-11-20 + 20 working days: Nov 21-22 (2), 25-29 (7), Dec 2-6 (12), 9-13 (17), 16-18 (20)
    assert d["payment_deadline"] == "2019-12-18"


def test_without_an_imported_date_shanxi_counts_from_the_national_one_plus_the_lag(cli, tmp_path):
    f = tmp_path / "山西.csv"
    f.write_text("地区代码,月份,指标,指数\n140000,2019-10,CPI,103.2\n140000,2019-10,食品,120.0\n", encoding="utf-8")
    assert cli("fetch", "--source", "file", "--file", f).exit_code == 0
    d = _trigger(cli, "--scheme", "shanxi", "--month", "2019-10")
    # no national date on file for 2019-10 either: the 10th, plus 3 days -> Wed 2019-11-13;
    # + 20 working days: Nov 14-15 (2), 18-22 (7), 25-29 (12), Dec 2-6 (17), 9-11 (20)
    assert (d["published"], d["published_basis"]) == ("2019-11-13", "national_plus_lag")
    assert d["payment_deadline"] == "2019-12-11"


def test_bad_release_dates_are_refused_naming_the_row(cli, tmp_path):
    r = cli("fetch", "--source", "file", "--file", _figures(tmp_path, "2019-11-20", "2019-11-21"))
    assert r.exit_code == 2 and "data row 2" in r.stderr and "2019-11-20" in r.stderr
    r = cli("fetch", "--source", "file", "--file", _figures(tmp_path, "2019-10-20"))
    assert r.exit_code == 2 and "2019-10-20" in r.stderr and "data row 1" in r.stderr
    r = cli("fetch", "--source", "file", "--file", _figures(tmp_path, "next week"))
    assert r.exit_code == 2 and "not a date" in r.stderr
    # nothing was stored by the refused files
    assert cli("series", "--region", "140000", "--since", "2019-10", "--until", "2019-10",
               "--format", "json").stdout.strip() in ("[]", "")


def test_payment_timing_is_a_coded_rule(tmp_path, cli):
    from conftest import REPO

    text = (REPO / "config" / "schemes" / "national.toml").read_text(encoding="utf-8")
    bad = text.replace("payment_timing = { working_days_after_release = 20 }",
                       'payment_timing = "within 20 working days after the index is published"', 1)
    assert bad != text
    path = tmp_path / "free-text.toml"
    path.write_text(bad, encoding="utf-8")
    r = cli("trigger", "--scheme", path, "--month", "2019-11")
    assert r.exit_code == 2 and "payment_timing" in r.stderr and "working_days_after_release" in r.stderr
