"""Helpers for calculator tests: valid IDs, a test scheme, figures and standards in a tmp home."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def make_id(region: str, birth: str, seq: str) -> str:
    """A valid 18-digit ID (GB 11643): region(6) + birth(8) + seq(3) + check."""
    body = region + birth + seq
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, W)) % 11]


SCHEME_HEAD = '''scheme = "{name}"
name = "test scheme"

[[version]]
id = "{name}-v1"
document = "测试文件"
verified = true
from = "2016-01"
index_region = "140000"
trigger = {{ {trigger} }}
rate = "{rate}"
method = "{method}"
rounding = "{rounding}"
minimum = "{minimum}"
multiplier = "{multiplier}"
categories = {{ urban_dibao = "urban", rural_dibao = "rural", urban_tekun = "urban", rural_tekun = "rural", unemployment_insurance = "urban", special_care = "by_area", orphan = "by_area" }}
{extra}
'''


def write_scheme(dir: Path, name: str = "t", trigger: str = 'cpi = "3.5", food = "6.0"', rate: str = "triggering_max",
                 method: str = "proportional", rounding: str = "yuan_half_up", minimum: str = "0", multiplier: str = "1",
                 extra: str = "") -> Path:
    p = dir / f"{name}.toml"
    p.write_text(SCHEME_HEAD.format(name=name, trigger=trigger, rate=rate, method=method, rounding=rounding,
                                    minimum=minimum, multiplier=multiplier, extra=extra), encoding="utf-8")
    return p


def put_figures(home: Path, month: str, region: str = "140000", **values: str) -> None:
    from cpi_link.core.paths import Home
    from cpi_link.sources.observation import Observation
    from cpi_link.store.series import SeriesStore

    store = SeriesStore(Home(home))
    store.upsert([Observation(region, ind, month, Decimal(v), "file", "test", "2026-01-01T00:00:00Z") for ind, v in values.items()])


STANDARDS = """region_code,effective_from,urban_monthly,rural_monthly,rural_annual
140000,2020-01,500,,4800
140100,2023-01,870,620,
140105,2024-02,900,700,
140200,2023-06,770,,5000
"""


def calc_month(month: str, roster, scheme, store, standards, home, out_dir=None, batch_rows: int | None = None, **kw):
    """calculate_month on a roster file or an open handle (a file is opened for this one month)."""
    from cpi_link.calc.firstpass import BATCH_ROWS
    from cpi_link.calc.handle import RosterHandle, open_roster
    from cpi_link.jobs.pipeline import calculate_month

    if isinstance(roster, RosterHandle):
        return calculate_month(month, roster, scheme, store, standards, home, out_dir=out_dir, **kw)
    work = Path(out_dir).parent if out_dir is not None else home.runs_dir
    with open_roster(roster, work, batch_rows=batch_rows or BATCH_ROWS, early=False) as handle:
        return calculate_month(month, handle, scheme, store, standards, home, out_dir=out_dir, **kw)


def make_job(tmp_path, home, roster_text: str) -> dict:
    """The monthly-job set-up the ledger tests share: scheme "t", 2024-01 figures (CPI 3.6%), the
    roster text and STANDARDS written beside it."""
    cfg = tmp_path / "cfg"
    (cfg / "schemes").mkdir(parents=True)
    write_scheme(cfg / "schemes", name="t")
    put_figures(home, "2024-01", cpi="103.6", food="101.0")
    (tmp_path / "roster.csv").write_text(roster_text, encoding="utf-8")
    (tmp_path / "std.csv").write_text(STANDARDS, encoding="utf-8")
    return {"cfg": cfg, "roster": tmp_path / "roster.csv", "std": tmp_path / "std.csv", "home": home, "tmp": tmp_path}
