"""The docs stay true (the sqlite-utils way): every command and option is in `--help` and in the
the command reference in docs/commands.md."""

from __future__ import annotations

import re

from conftest import REPO
from docs_reference import commands, options, reference, root_options


def _section(text: str, name: str) -> str:
    return re.search(rf"<!-- section:{name} -->(.*?)<!-- /section:{name} -->", text, re.S).group(1)


def test_the_readme_lists_every_command_and_option():
    ref = _section((REPO / "docs" / "commands.md").read_text(encoding="utf-8"), "commands")
    missing = []
    for path, c in commands():
        line = next((x for x in ref.splitlines() if x.startswith(f"- **`cpi-link {' '.join(path)}`**")), None)
        if line is None:
            missing.append(" ".join(path))
            continue
        missing += [f"{' '.join(path)} {o}" for o in options(c) if f"`{o}`" not in line]
    missing += [o for o in root_options() if f"`{o}`" not in ref.splitlines()[1 if ref.startswith("\n") else 0] + ref]
    assert missing == [], "docs/commands.md lacks these; refresh it with: cd tests && python docs_reference.py"
    assert reference() in ref  # pasted as generated


def test_every_command_and_option_is_in_its_help(cli):
    for path, c in commands():
        r = cli(*path, "--help")
        assert r.exit_code == 0, (path, r.stderr)
        assert [o for o in options(c) if o not in r.stdout] == [], path
        assert c.help, f"cpi-link {' '.join(path)} has no help text"
        for p in c.params:
            if getattr(p, "param_type_name", "") == "option" and not getattr(p, "hidden", False):
                assert p.help, f"cpi-link {' '.join(path)} {p.opts[0]} has no help text"


def test_every_relative_link_in_the_docs_resolves():
    pages = [REPO / "README.md", REPO / "README.zh-CN.md", *(REPO / "docs").glob("*.md")]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:|#", target):
                continue
            if not (page.parent / target.split("#")[0]).exists():
                broken.append(f"{page.relative_to(REPO)}: {target}")
        for test_file in re.findall(r"tests/[\w/]+\.py", page.read_text(encoding="utf-8")):
            if not (REPO / test_file).exists():  # a guarantee must name a test that exists
                broken.append(f"{page.relative_to(REPO)}: {test_file}")
    assert broken == []
