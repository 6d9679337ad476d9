"""Every console block of README.md, README.zh-CN.md and docs/*.md runs here as a reader would type
it (issue 26: docs kept true by tests, the sqlite-utils way).

A file's blocks run in order in one fresh folder with one fresh home, through bash and the
installed `cpi-link`, as a reader following the page would:

- `$ ` starts a command (a trailing `\\` continues it; two spaces then `#` start a comment);
  `make …` lines are the set-up and are skipped; `export` lines set the environment.
- The lines after a command are what it prints (stdout, then stderr), compared exactly (trailing
  spaces aside), where a line `...` stands for any number of lines and a line ending in `...` for
  any line that starts so. A command that shows nothing must still succeed.
- `$ echo $?` checks the exit code of the command before it; otherwise a command must exit 0
  unless what it shows has an `error:`/`错误：` line.
- `/tmp/cpi-demo` in a page is the test's own folder, in commands and in what they print.

Blocks fenced as `sh` are recipes that need the outside world (the NBS portal, a proxy, cron):
they are not run, but every `cpi-link` command in them must name a real command and real options.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from docs_reference import commands, options, root_options

PAGES = sorted([REPO / "README.md", REPO / "README.zh-CN.md", *(REPO / "docs").glob("*.md")])
DEMO = "/tmp/cpi-demo"
BIN = Path(sys.executable).parent


def _blocks(text: str, lang: str) -> list[tuple[int, list[str]]]:
    """(line number of the fence, lines) of every ```lang block."""
    out, cur, start = [], None, 0
    for i, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if cur is None and s == f"```{lang}":
            cur, start = [], i
        elif cur is not None and s == "```":
            out.append((start, cur))
            cur = None
        elif cur is not None:
            cur.append(line)
    return out


def _steps(lines: list[str], first_line: int) -> list[tuple[int, str, list[str]]]:
    """(line, command, shown lines) of each `$ ` command of a block."""
    steps: list[tuple[int, str, list[str]]] = []
    indent = min((len(x) - len(x.lstrip()) for x in lines if x.lstrip().startswith("$ ")), default=0)
    i = 0
    while i < len(lines):
        line = lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i]
        if line.startswith("$ "):
            no = first_line + 1 + i
            cmd = _uncomment(line[2:])
            while cmd.endswith("\\"):
                i += 1
                cmd = cmd[:-1].rstrip() + " " + _uncomment(lines[i].strip())
            steps.append((no, cmd.strip(), []))
        elif steps and not line.lstrip().startswith("#"):
            steps[-1][2].append(line.rstrip())
        i += 1
    return steps


def _uncomment(cmd: str) -> str:
    return re.sub(r"\s{2,}#.*$", "", cmd).rstrip()


def _matches(shown: list[str], printed: list[str]) -> bool:
    """shown against printed, `...` matching any run of lines."""
    while shown and shown[-1] == "":
        shown = shown[:-1]
    parts = []
    for s in shown:
        if s.strip() in ("...", "…"):
            parts.append("(?:[^\n]*\n)*?")  # any run of whole lines
        elif s.endswith(("...", "…")):
            parts.append(re.escape(s.rstrip(".…")) + "[^\n]*\n")  # a line that starts so
        else:
            parts.append(re.escape(s) + "\n")
    return re.fullmatch("".join(parts), "".join(x + "\n" for x in printed)) is not None


def _run_page(page: Path, tmp: Path) -> int:
    text = page.read_text(encoding="utf-8")
    work = tmp / "work"
    work.mkdir()
    for name in ("data", "config"):  # the pages run from the repository's top folder
        (work / name).symlink_to(REPO / name)
    (work / ".venv").symlink_to(BIN.parent)  # the virtualenv `make install` made
    demo = tmp / "cpi-demo"
    env = {**os.environ, "CPI_LINK_HOME": str(tmp / "home"), "COLUMNS": "80", "NO_COLOR": "1",
           "CPI_LINK_NBS_URL": "http://127.0.0.1:9/", "CPI_LINK_NBS_ALLOW_HTTP": "1", "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    env.pop("CPI_LINK_LANG", None)
    env.pop("CPI_LINK_CONFIG", None)
    ran, last = 0, 0
    for start, lines in _blocks(text, "console"):
        steps = _steps(lines, start)
        for k, (no, cmd, shown) in enumerate(steps):
            next_cmd = steps[k + 1][1] if k + 1 < len(steps) else ""
            where = f"{page.relative_to(REPO)}:{no}: {cmd}"
            cmd = cmd.replace(DEMO, str(demo))
            if cmd.startswith("make "):
                continue
            if cmd == "echo $?":
                assert [str(last)] == [s for s in shown if s], where
                continue
            if cmd.startswith("export "):
                for kv in shlex.split(cmd[len("export "):]):
                    k, _, v = kv.partition("=")
                    v = v.replace("$PWD/.venv/bin", str(BIN)).replace("$PWD", str(work))
                    env[k] = v.replace("$PATH", env.get("PATH", ""))
                continue
            p = subprocess.run(["bash", "-c", cmd], cwd=work, env=env, capture_output=True, timeout=300)
            last = p.returncode
            printed = (p.stdout + p.stderr).decode("utf-8", "replace").replace(str(demo), DEMO)
            printed_lines = [x.rstrip() for x in printed.replace(str(tmp / "home"), "HOME").splitlines()]
            if any(s.strip() for s in shown):
                assert _matches(shown, printed_lines), f"{where}\n--- shown:\n" + "\n".join(shown) + "\n--- printed:\n" + "\n".join(printed_lines)
            errors_shown = any(s.startswith(("error:", "错误：", "错误:")) for s in shown)
            if last != 0 and not errors_shown and next_cmd != "echo $?":
                raise AssertionError(f"{where}\nexit {last}\n" + printed[-2000:])
            ran += 1
    return ran


def _commands_of(cmd: str) -> list[list[str]]:
    """The simple commands of a shell line, each without its redirections."""
    lex = shlex.shlex(cmd, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    out: list[list[str]] = [[]]
    skip = False
    for tok in lex:
        if tok in ("&&", "||", ";", "|", "&"):
            out.append([])
            skip = False
        elif set(tok) <= set("<>&|;()"):
            skip = True  # a redirection: the rest of this command is not its arguments
        elif not skip:
            out[-1].append(tok)
    return out


STALE: set[str] = set()  # pages whose blocks are known not to run (none: README.zh-CN.md was rewritten in issue 31)


@pytest.mark.parametrize("page", [pytest.param(p, marks=pytest.mark.xfail(reason="stale guide (issue 31)"))
                                  if p.name in STALE else p for p in PAGES], ids=lambda p: str(p.relative_to(REPO)))
def test_console_blocks_run_as_shown(page, tmp_path):
    if not _blocks(page.read_text(encoding="utf-8"), "console"):
        pytest.skip("no console block")
    assert _run_page(page, tmp_path) >= 1


def test_recipes_name_real_commands_and_options():
    """Every `cpi-link …` line in any block (console or sh) names a command and options that exist."""
    tree = {tuple(path): set(options(c)) for path, c in commands()}
    glob = set(root_options())
    bad = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for lang in ("console", "sh"):
            for start, lines in _blocks(text, lang):
                for no, cmd, _ in _steps(lines, start):
                    for words in _commands_of(cmd):
                        if not words or words[0] != "cpi-link":
                            continue
                        path: tuple[str, ...] = ()
                        for w in words[1:]:
                            if (*path, w) in tree:
                                path = (*path, w)
                            elif not w.startswith("-"):
                                break
                        if not path:
                            bad.append(f"{page.name}:{no}: no such command: {cmd}")
                            continue
                        known = tree[path] | glob | {"--help"}
                        for w in words[1:]:
                            if w.startswith("--") and w.split("=")[0] not in known:
                                bad.append(f"{page.name}:{no}: {' '.join(path)} has no option {w}")
    assert bad == [], "\n".join(bad)
