"""Shared fixtures: an isolated home, a CLI runner with an injectable environment."""

from __future__ import annotations

import json
import os
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
