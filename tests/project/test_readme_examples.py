"""The README's first session is pasted from a real run, and runs again here as printed."""

from __future__ import annotations

import re
import shlex

from conftest import REPO


def _session() -> list[tuple[str, list[str]]]:
    """(command, the lines printed after it) for each `$ cpi-link ...` of the first console block."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## A first session.*?```console\n(.*?)```", text, re.S).group(1)
    steps: list[tuple[str, list[str]]] = []
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("$ "):
            cmd = line[2:]
            while cmd.endswith("\\"):
                i += 1
                cmd = cmd[:-1] + lines[i].strip()
            steps.append((cmd, []))
        elif steps:
            steps[-1][1].append(line)
        i += 1
    return steps


def test_the_first_session_prints_what_the_readme_shows(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(REPO)
    home = tmp_path / "cpi-demo"
    cli.env.update({"CPI_LINK_HOME": str(home), "COLUMNS": "80"})
    ran = 0
    code = None
    for cmd, shown in _session():
        args = shlex.split(cmd.split("  #")[0])
        if args[0] == "echo":
            assert [str(code)] == shown
            continue
        if args[0] != "cpi-link":
            continue  # make install, export: the set-up
        r = cli(*args[1:])
        code = r.exit_code
        printed = [x.rstrip() for x in (r.stdout + r.stderr).replace(str(home), "/tmp/cpi-demo").splitlines()]
        assert printed == shown, cmd
        ran += 1
    assert ran >= 3
