"""`cpi-link plot`: the chart data (threshold steps, triggered spans) and a real PNG (issue 8)."""

from __future__ import annotations

import json
import os
import stat
import struct
from decimal import Decimal
from pathlib import Path

from calc_helpers import put_figures, write_scheme

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def national_data(home, since="2016-07", until="2025-12"):
    from cpi_link.core.paths import Home, bundled_config_dir
    from cpi_link.outputs.plot import chart_data
    from cpi_link.rules.schemes import load_scheme
    from cpi_link.store.series import SeriesStore

    sch = load_scheme("national", bundled_config_dir())
    return chart_data(sch, SeriesStore(Home(home)), None, since, until)


def test_triggered_spans_national_bundled(home):
    # verified by hand by the scheme engineer (README, "Deciding the trigger")
    data = national_data(home)
    assert data.region == "000000"
    assert data.spans(True) == [("2019-04", "2020-09"), ("2022-07", "2022-10"), ("2023-01", "2023-01")]
    assert data.spans(None) == []  # every month decided


def test_threshold_steps_follow_versions_and_overlays(home):
    data = national_data(home, "2022-06", "2023-04")
    thr = dict(zip(data.months, data.cpi_threshold))
    # national-2022-temporary lowers the CPI threshold to 3.0 for 2022-08..2023-02
    assert thr["2022-07"] == Decimal("3.5") and thr["2022-08"] == Decimal("3.0")
    assert thr["2023-02"] == Decimal("3.0") and thr["2023-03"] == Decimal("3.5")
    assert set(data.food_threshold) == {Decimal("6.0")}
    assert data.versions[2] == "national-2021-1553 + national-2022-temporary"


def test_missing_months_are_undecided_not_no(home, tmp_path):
    sch = write_scheme(tmp_path)
    put_figures(home, "2024-01", cpi="103.6", food="106.5")
    put_figures(home, "2024-03", cpi="101.0", food="101.0")
    from cpi_link.core.paths import Home
    from cpi_link.outputs.plot import chart_data
    from cpi_link.rules.schemes import load_scheme
    from cpi_link.store.series import SeriesStore

    data = chart_data(load_scheme(str(sch), tmp_path), SeriesStore(Home(home)), "140000", "2024-01", "2024-03")
    assert data.triggered[0] is True and data.triggered[2] is False
    assert data.spans(None) == [("2024-02", "2024-02")]


def test_plot_renders_a_real_png(cli, tmp_path):
    out = tmp_path / "charts" / "national.png"
    r = cli("plot", "--scheme", "national", "--since", "2016-07", "--until", "2025-12", "--out", out, "--format", "json")
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["triggered_spans"][0] == {"from": "2019-04", "until": "2020-09"}
    assert out.stat().st_size > 30_000
    assert png_size(out) == (res["width_px"], res["height_px"]) == (1200, 600)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert not list(out.parent.glob(".*tmp*"))


def test_labels_chinese_with_cjk_font_else_english(home):
    from cpi_link.outputs.plot import labels

    data = national_data(home, "2019-01", "2019-12")
    zh, en = labels(True, data), labels(False, data)
    assert "食品价格" in zh["food"] and "启动" in zh["triggered"]
    assert en["food"] == "food YoY %" and all(ord(c) < 0x3000 for c in en["title"] + en["triggered"])


def test_plot_english_without_cjk_font(cli, tmp_path, monkeypatch):
    import cpi_link.outputs.plot as plot

    monkeypatch.setattr(plot, "find_cjk_font", lambda: None)
    out = tmp_path / "c.png"
    r = cli("plot", "--scheme", "national", "--since", "2019-01", "--until", "2020-12", "--out", out)
    assert r.exit_code == 0 and "English" in r.stderr
    assert png_size(out)[0] == 1200
