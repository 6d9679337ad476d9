"""The command reference as the CLI defines it: every command, its first help line and options."""

from __future__ import annotations


def commands():
    """(command path, click command) for every command and group of `cpi-link`, in order."""
    import typer.main

    from cpi_link.cli import app

    def walk(c, path):
        if path:
            yield path, c
        for name, sub in sorted(getattr(c, "commands", {}).items()):
            yield from walk(sub, path + [name])

    yield from walk(typer.main.get_command(app), [])


def options(c) -> list[str]:
    return [o for p in c.params if getattr(p, "param_type_name", "") == "option" and not getattr(p, "hidden", False)
            for o in p.opts if o.startswith("--")]


def root_options() -> list[str]:
    import typer.main

    from cpi_link.cli import app

    return options(typer.main.get_command(app))


def reference() -> str:
    """The command reference, as markdown (print it to refresh docs/commands.md)."""
    from cpi_link.core.i18n import language

    lines = [f"Global options (before or after the command): {', '.join(f'`{o}`' for o in root_options())}.", ""]
    with language("en"):
        for path, c in commands():
            first = " ".join(str(c.help or "").strip().split("\n\n")[0].split())
            opts = options(c)
            lines.append(f"- **`cpi-link {' '.join(path)}`**: {first}" + (f" Options: {', '.join(f'`{o}`' for o in opts)}." if opts else ""))
    return "\n".join(lines)


if __name__ == "__main__":
    print(reference())
