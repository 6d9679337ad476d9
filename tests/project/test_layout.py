"""The house shows the pipeline: stage subpackages that import only the stages before them."""

from __future__ import annotations

import ast

from conftest import REPO

# web stands beside cli above jobs: it may import every stage below it, never cli; only cli/serve.py imports web
STAGES = ["core", "sources", "store", "rules", "roster", "calc", "outputs", "jobs", "web", "cli"]
PKG = REPO / "cpi_link"


def _imports() -> dict[str, set[str]]:
    """module -> the cpi_link modules it imports (imports inside functions count)."""
    mods = {}
    for f in PKG.rglob("*.py"):
        parts = list(f.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = f
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        pkg = m if f.name == "__init__.py" else m.rpartition(".")[0]
        for n in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            names = []
            if isinstance(n, ast.Import):
                names = [a.name for a in n.names]
            elif isinstance(n, ast.ImportFrom):
                base = n.module or ""
                if n.level:
                    up = pkg.split(".")[: len(pkg.split(".")) - (n.level - 1)]
                    base = ".".join(up + ([base] if base else []))
                names = [base] + [f"{base}.{a.name}" for a in n.names]
            for x in names:
                while x and x not in mods:
                    x = x.rpartition(".")[0]
                if x and x != m and not m.startswith(x + "."):
                    graph[m].add(x)
    return graph


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


def test_every_module_lives_in_a_stage():
    loose = [f.name for f in PKG.glob("*.py") if f.name not in ("__init__.py", "__main__.py")]
    assert loose == []
    assert sorted(p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()) == sorted(STAGES)


def test_imports_point_only_to_earlier_stages():
    upward = []
    for m, deps in _imports().items():
        s = _stage(m)
        for d in deps:
            t = _stage(d)
            if s and t and STAGES.index(t) > STAGES.index(s):
                upward.append(f"{m} -> {d}")
    assert upward == []


def test_no_import_cycle():
    graph = _imports()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert cycles == []


def test_only_the_serve_command_imports_web():
    """Issue 32: the page is a stage beside cli; of the commands only `serve` starts it."""
    importers = sorted(m for m, deps in _imports().items() if _stage(m) == "cli" and any(_stage(d) == "web" for d in deps))
    assert importers == ["cpi_link.cli.serve"]
