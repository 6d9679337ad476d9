"""Payment deadlines on China's official calendar (issue 19): public holidays skipped, make-up
working days counted, weekends only (with a warning) for a year not yet announced, overdue shown."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cpi_link.rules import calendar as cal

TWENTY = "working_days_after_release = 20"  # the coded rule (rules.schemes.file)


def test_national_2019_12_deadline_after_the_spring_festival():
    # published 2020-01-09 (a Thursday; the date on file). Working days: Jan 10 (1), 13-17 (6), Sun 19
    # make-up (7), Jan 20-23 (11); Jan 24 - Jan 31 Spring Festival, extended (skipped); Feb 3-7 (16), Feb 10-13 (20)
    dl = cal.payment_deadline("2019-12", TWENTY)
    assert dl.deadline == date(2020, 2, 13)
    assert "2020-01-24..2020-01-31" in dl.note and "Spring Festival" in dl.note and "2020-01-19" in dl.note


def test_national_day_and_make_up_days():
    # no date on file for 2020-08: the rule of thumb, the 10th. 2020-09-10 + 20: Sep 11 (1), 14-18 (6), 21-25 (11), Sun 27 make-up (12), 28-30 (15),
    # Oct 1-8 holiday, Oct 9 (16), Sat 10 make-up (17), 12-14 (20) -> 2020-10-14
    assert cal.payment_deadline("2020-08", TWENTY).deadline == date(2020, 10, 14)


def test_a_year_not_announced_is_weekends_only_and_says_so():
    year = max(cal._calendar().covered) + 1
    assert not cal.year_covered(year)
    dl = cal.payment_deadline(f"{year}-06", TWENTY)
    # weekends only: 20 weekdays after the 10th of July
    d, n = date(year, 7, 10), 0
    while n < 20:
        d += timedelta(days=1)
        n += d.weekday() < 5
    assert dl.deadline == d and f"arrangement for {year} is not known yet" in dl.note


def test_overdue():
    dl_text = cal.deadline_sentence("2024-01", "v", TWENTY, today=date(2026, 12, 1))
    assert "OVERDUE" in dl_text
    assert cal.calendar_json("2024-01", TWENTY, today=date(2026, 12, 1))["overdue"] is True
    assert cal.calendar_json("2024-01", TWENTY, today=date(2024, 1, 1))["overdue"] is False
    assert "OVERDUE" not in cal.deadline_sentence("2024-01", "v", TWENTY, today=date(2024, 1, 1))


def test_same_working_days_as_chinese_calendar_2016_2026():
    chinese_calendar = pytest.importorskip("chinese_calendar")
    d, end, differ = date(2016, 1, 1), date(2026, 12, 31), []
    while d <= end:
        if cal.is_working_day(d) != chinese_calendar.is_workday(d):
            differ.append(d)
        d += timedelta(days=1)
    assert differ == []


def test_trigger_shows_the_deadline_and_reason(cli):
    r = cli("trigger", "--scheme", "national", "--month", "2019-12")
    assert r.exit_code == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert "2020-02-13" in text and "Spring Festival" in text
    [j] = cli.json("trigger", "--scheme", "national", "--month", "2019-12", "--format", "json")
    assert j["payment_deadline"] == "2020-02-13" and j["overdue"] is True and "2020-01-19" in j["payment_deadline_note"]


def test_holiday_names_in_chinese_include_the_spring_festival(cli):
    """Issue 34: a Chinese run named the Spring Festival in English: its English name holds its own
    parentheses, "Chinese New Year (Spring Festival)", which the note's (names) pattern cut in two."""
    r = cli("--lang", "zh", "trigger", "--scheme", "national", "--month", "2019-12")
    assert r.exit_code == 0, r.stderr
    text = "".join(r.stdout.split())
    assert "2020-01-24..2020-01-31（春节/春节延长假期）" in text, text
    assert "Spring" not in text and "Holiday" not in text
