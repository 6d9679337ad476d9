"""Shared fixtures: an isolated home, a CLI runner with an injectable environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("CPI_LINK_HOME", str(h))
    monkeypatch.delenv("CPI_LINK_CONFIG", raising=False)
    return h


class Cli:
    """Runs `cpi-link` in-process with its own environment (stdout and stderr kept apart)."""

    def __init__(self, env: dict[str, str]):
        self.env = env

    def __call__(self, *args: str, input: str | None = None):
        from cpi_link.cli import app

        runner = CliRunner()
        result = runner.invoke(app, [str(a) for a in args], env=self.env, input=input, catch_exceptions=False)
        return result

    def json(self, *args: str):
        r = self(*args)
        assert r.exit_code == 0, (r.exit_code, r.stdout, r.stderr)
        return json.loads(r.stdout)


@pytest.fixture
def cli(home) -> Cli:
    return Cli({"CPI_LINK_HOME": str(home), "COLUMNS": "200", "NO_COLOR": "1"})


@pytest.fixture
def cli_setup(tmp_path, home):
    """A config folder with scheme "t" (calc_helpers), figures for 2024-01 (CPI 3.6%: triggered)
    and 2024-02 (not triggered), and a standards file: (config folder, standards path)."""
    from calc_helpers import STANDARDS, put_figures, write_scheme

    cfg = tmp_path / "cfg"
    (cfg / "schemes").mkdir(parents=True)
    write_scheme(cfg / "schemes")
    put_figures(home, "2024-01", cpi="103.6", food="101.0")
    put_figures(home, "2024-02", cpi="102.0", food="101.0")  # not triggered
    std = tmp_path / "standards.csv"
    std.write_text(STANDARDS, encoding="utf-8")
    return cfg, std
