"""The product contract's own examples hold: the SPEC 5.4 scheme loads verbatim."""

from __future__ import annotations

import re

import pytest

from conftest import SHARED


def _spec_scheme() -> str:
    spec = SHARED / "SPEC.md"
    if not spec.is_file():
        pytest.skip("the contract (../shared/SPEC.md) is not beside this checkout")
    text = spec.read_text(encoding="utf-8")
    return re.search(r"```toml\n(.*?)```", text[text.index("### 5.4"):], re.S).group(1)


def test_the_spec_5_4_example_loads_verbatim(tmp_path, cli):
    from cpi_link.rules.schemes import load_scheme

    path = tmp_path / "spec-example.toml"
    path.write_text(_spec_scheme(), encoding="utf-8")
    s = load_scheme(path, tmp_path)
    assert [v.id for v in s.versions] == ["shanxi-2016-174"]
    assert [o.id for o in s.overlays] == ["national-2022-temporary"] and s.overlays[0].document is None
    rules = s.rules_for("2022-09")  # the overlay in force: CPI 3.0, two more groups covered
    assert {k: str(v) for k, v in rules.trigger.items()} == {"cpi": "3.0", "food": "6.0"}
    assert rules.categories["dibao_edge"] == "by_area" and rules.categories["unemployment_allowance"] == "urban"
    assert rules.documents == ("晋政办发〔2016〕174号",)  # the overlay cites none
    r = cli("scheme", "show", path)
    assert r.exit_code == 0, r.stderr
    assert "no document cited" in r.stdout


def test_every_parquet_file_carries_the_runs_metadata(tmp_path, cli, cli_setup):
    """SPEC 6: run_id, index_month, scheme, version, cpi_link_version, schema_version, and column
    descriptions with the personal-data columns marked."""
    import json

    import pyarrow.parquet as pq

    from calc_helpers import make_id

    cfg, std = cli_setup
    roster = tmp_path / "r.csv"
    pid = make_id("140105", "19500101", "001")
    roster.write_text(f"person_id,name,category,region_code\n{pid},甲,urban_dibao,140105\n{pid},甲,urban_dibao,140105\n"
                      "123,乙,urban_dibao,140105\n", encoding="utf-8")
    res = cli.json("--config", cfg, "calc", "--month", "2024-01", "--roster", roster, "--standards", std, "--scheme", "t",
                   "--out", tmp_path / "out", "--format", "json")
    for name in ("payments.parquet", "rejected.parquet", "summary.parquet"):
        meta = {k.decode(): v.decode() for k, v in pq.read_metadata(tmp_path / "out" / name).metadata.items()}
        assert {k: meta[k] for k in ("run_id", "index_month", "scheme", "version", "schema_version")} == {
            "run_id": res["run_id"], "index_month": "2024-01", "scheme": "t", "version": "t-v1", "schema_version": "1"}, name
        assert meta["cpi_link_version"]
        columns = json.loads(meta["columns"])  # the file's own columns, each described (issue 34)
        assert set(columns) == set(pq.read_schema(tmp_path / "out" / name).names), name
        assert all(c["description"] for c in columns.values()), name
        assert columns.get("person_id", {"personal_data": True})["personal_data"], name
        assert not columns.get("amount", {"personal_data": False})["personal_data"], name
