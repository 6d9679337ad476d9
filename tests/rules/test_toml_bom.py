"""Issue 28: TOML files saved by Notepad start with a BOM; schemes, programmes and bank templates
are read all the same (they used to fail with "Invalid statement")."""

from __future__ import annotations

from conftest import REPO


def _bom_copy(src, dst):
    dst.write_bytes(b"\xef\xbb\xbf" + src.read_bytes())
    return dst


def test_scheme_with_bom(tmp_path, cli):
    p = _bom_copy(REPO / "config/schemes/shanxi.toml", tmp_path / "shanxi-bom.toml")
    plain = cli("trigger", "--month", "2023-02", "--format", "json")
    r = cli("trigger", "--month", "2023-02", "--scheme", p, "--format", "json")
    assert r.exit_code == plain.exit_code == 0, r.output
    import json

    a, b = json.loads(r.stdout), json.loads(plain.stdout)
    assert [(x["version"], x["triggered"], x["rate_pct"]) for x in a] == [(x["version"], x["triggered"], x["rate_pct"]) for x in b]


def test_programme_with_bom(tmp_path):
    from cpi_link.rules.programmes import parse_programme_file

    src = REPO / "config/programmes/shanxi-2021-spring-festival.toml"
    p = _bom_copy(src, tmp_path / "p.toml")
    assert parse_programme_file(p).amounts == parse_programme_file(src).amounts


def test_bank_template_with_bom(tmp_path):
    from cpi_link.outputs.bank import load_template

    src = REPO / "config/banks/generic-csv.toml"
    a, b = load_template(_bom_copy(src, tmp_path / "b.toml")), load_template(src)
    assert (a.format, a.columns) == (b.format, b.columns)


def test_sources_config_with_bom(tmp_path, cli):
    import shutil

    cfg = tmp_path / "cfg"
    shutil.copytree(REPO / "config", cfg)
    _bom_copy(REPO / "config/sources.toml", cfg / "sources.toml")
    r = cli("--config", cfg, "sources", "show", "--format", "json")
    assert r.exit_code == 0, r.output
