"""Shared fixtures: an isolated home, a CLI runner with an injectable environment."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

# `python -m pytest` from the repository root puts the root first on sys.path, where `import
# cpi_link` would find the source tree (no compiled catalogs) instead of the installed wheel that
# `make test` runs against: the root is taken off the path, as running from tests/ does
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO]
# and the tests' own `python -m cpi_link` subprocesses would do the same from the root: they run
# from tests/, as under make test
os.chdir(Path(__file__).resolve().parent)
if Path(getattr(sys.modules.get("cpi_link"), "__file__", None) or "/").resolve().is_relative_to(REPO / "cpi_link"):
    raise RuntimeError("cpi_link was imported from the source tree before the tests' conftest; run make install, "
                       "then pytest from the repository root or from tests/")


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("CPI_LINK_HOME", str(h))
    monkeypatch.delenv("CPI_LINK_CONFIG", raising=False)
    return h


@dataclass
class Result:
    exit_code: int
    stdout_bytes: bytes
    stderr_bytes: bytes

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_bytes.decode("utf-8", errors="replace")

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Cli:
    """Runs `cpi-link` in-process through its real entry point, `cli.main(argv, env)`, with an
    Environment of its own: these variables over the test's, and buffers for the streams."""

    def __init__(self, env: dict[str, str]):
        self.env = env

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return run_cli([str(a) for a in args], self.env, input=input)

    def json(self, *args: str):
        r = self(*args)
        assert r.exit_code == 0, (r.exit_code, r.stdout, r.stderr)
        return json.loads(r.stdout)


def run_cli(args: list[str], env: dict[str, str], input: str | None = None) -> Result:
    import io
    import os

    from cpi_link.cli import Environment, main

    # text streams over bytes, as a terminal's are: commands may also write bytes (CSV in GB18030)
    out_b, err_b = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(out_b, encoding="utf-8", newline="", write_through=True)
    err = io.TextIOWrapper(err_b, encoding="utf-8", newline="", write_through=True)
    code = main(args, Environment(environ={**os.environ, **env}, stdin=io.StringIO(input or ""), stdout=out, stderr=err))
    out.flush()
    err.flush()
    return Result(code, out_b.getvalue(), err_b.getvalue())


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


@pytest.fixture
def setup(tmp_path, home):
    """Scheme "t" (calc_helpers), 2024-01 figures with food at 6.5% (triggered), and the
    standards file: (config folder, standards path)."""
    from calc_helpers import STANDARDS, put_figures, write_scheme

    cfg = tmp_path / "cfg"
    (cfg / "schemes").mkdir(parents=True)
    write_scheme(cfg / "schemes")
    put_figures(home, "2024-01", cpi="103.6", food="106.5")
    std = tmp_path / "standards.csv"
    std.write_text(STANDARDS, encoding="utf-8")
    return cfg, std
