"""The history page words a flat-amount month's decision with the amounts it was paid at (the run's
manifest "rules"), not with today's scheme file: edited since, it made the page state amounts never paid."""

from __future__ import annotations

import shutil

import requests

from desk_helpers import cli_run, copy_sample_standards, start_desk, write_roster


def test_history_states_the_amounts_a_flat_month_was_paid_at(tmp_path, home):
    from conftest import REPO

    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    figs = tmp_path / "山西.csv"
    figs.write_text("地区代码,月份,指标,指数\n140000,2025-06,居民消费价格指数,103.6\n140000,2025-06,食品,101.0\n", encoding="utf-8")
    assert cli_run(home, "--config", str(config), "fetch", "--source", "file", "--file", str(figs)).returncode == 0
    roster = tmp_path / "花名册.xlsx"
    write_roster(roster, "2025年6月")
    std = copy_sample_standards(tmp_path / "standards.csv")
    r = cli_run(home, "--config", str(config), "run", "--roster", str(roster), "--standards", str(std), "--scheme", "shanxi",
                "--since", "2025-06", "--offline", "--format", "json")
    assert r.returncode == 0, r.stderr
    # 2025-06 paid 城市低保 30 and 农村低保 20 a person (160.00); the scheme file then says 35 and 25
    scheme = config / "schemes" / "shanxi.toml"
    text = scheme.read_text(encoding="utf-8")
    assert text.count('urban_dibao = "30", rural_dibao = "20"') == 2
    scheme.write_text(text.replace('urban_dibao = "30", rural_dibao = "20"', 'urban_dibao = "35", rural_dibao = "25"'), encoding="utf-8")
    desk = start_desk(home, {"CPI_LINK_CONFIG": str(config)})
    try:
        s = requests.Session()
        s.get(desk.url)  # the printed address: its token becomes the session's cookie
        page = s.get(desk.base + "/history").text
    finally:
        log = desk.stop()
    assert "Traceback" not in log
    row = next(line for line in page.split("<tr") if 'data-month="2025-06"' in line)
    assert "城市低保 30 元" in row and "农村低保 20 元" in row, row
    assert "35 元" not in row and "25 元" not in row, row
