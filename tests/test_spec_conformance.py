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
