"""Keep the message catalogs in cpi_link/locale up to date (Babel; a build/maintenance tool, not
needed at run time).

    python scripts/i18n_catalog.py update    # extract msgids -> .pot, merge into zh_CN .po files
    python scripts/i18n_catalog.py check     # exit 1 if a msgid lacks a (non-fuzzy) translation
    python scripts/i18n_catalog.py compile   # .mo beside the .po (only for running from the source
                                             # tree, e.g. an editable install; wheels compile their own)
    python scripts/i18n_catalog.py fill OLD.po [DOMAIN]   # copy translations from OLD.po into the
                                             # zh_CN DOMAIN.po (default cpi_link) where a msgid has none

The catalogs are written sorted by msgid and without source locations: a message added on one branch
and another added on a second branch then land in different places of the file and merge cleanly.

Two domains: "cpi_link" (every `_()`/`ngettext()` call in cpi_link/, the page's templates in
cpi_link/web/templates, plus the commands' docstrings,
which typer shows as their help) and "messages" (typer's own strings, which it passes to stdlib
gettext's default domain, and the parser messages listed in cpi_link/cli/lang.py).
The .mo files are compiled when the wheel is built (hatch_build.py), not kept in git.
"""

from __future__ import annotations

import inspect
import sys
from datetime import datetime, timezone
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "cpi_link" / "locale"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}
LANGS = ["zh_CN"]


# a fixed date: regenerating an unchanged catalog changes no byte (and merges stay clean)
CREATED = datetime(2026, 12, 1, tzinfo=timezone.utc)


def _catalog(domain: str) -> Catalog:
    return Catalog(domain=domain, project="cpi-link", charset="utf-8", creation_date=CREATED)


def extract_app() -> Catalog:
    cat = _catalog("cpi_link")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT / "cpi_link"), method_map=[("**.py", "python"), ("web/templates/**.html", "jinja2")], keywords=KEYWORDS
    ):
        cat.add(message, locations=[(f"cpi_link/{filename}", lineno)], auto_comments=comments, context=context)
    for msgid, where in command_docstrings():
        cat.add(msgid, locations=[(where, 0)], auto_comments=["command help (docstring)"])
    return cat


def command_docstrings():
    """The help typer takes from each command's docstring (cleaned as typer cleans it), from the
    installed cpi-link (`make messages` installs the worktree first)."""
    _importable()
    import typer.main

    from cpi_link.cli import app

    def walk(cmd, path):
        cb = getattr(cmd, "callback", None)
        if cmd.help and cb is not None and cb.__doc__ and inspect.getdoc(cb) == cmd.help:
            cb = inspect.unwrap(cb)
            yield cmd.help, f"{cb.__module__.replace('.', '/')}.py:{cb.__name__}"
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, f"{path} {name}")

    yield from walk(typer.main.get_command(app), "cpi-link")


def extract_toolkit() -> Catalog:
    import typer

    cat = _catalog("messages")
    base = Path(typer.__file__).parent
    for name in ("core.py", "rich_utils.py"):
        for lineno, message, comments, context in extract_from_file("python", str(base / name), keywords=KEYWORDS):
            cat.add(message, locations=[(f"typer/{name}", lineno)])
    _importable()
    from cpi_link.cli.lang import _PARSER_MESSAGES

    for m in [*_PARSER_MESSAGES, "Usage: "]:
        cat.add(m, locations=[("cpi_link/cli/lang.py", 0)])
    return cat


def _importable() -> None:
    import importlib.util

    if importlib.util.find_spec("cpi_link") is None:  # not installed: the source tree
        sys.path.insert(0, str(ROOT))


def update() -> None:
    for domain, pot in (("cpi_link", extract_app()), ("messages", extract_toolkit())):
        with open(LOCALE / f"{domain}.pot", "wb") as f:
            write_po(f, pot, width=100, omit_header=False, sort_output=True, no_location=True)
        for lang in LANGS:
            po_path = LOCALE / lang / "LC_MESSAGES" / f"{domain}.po"
            po_path.parent.mkdir(parents=True, exist_ok=True)
            if po_path.exists():
                with open(po_path, "rb") as f:
                    po = read_po(f, locale=lang, domain=domain)
            else:
                po = Catalog(locale=lang, domain=domain, project="cpi-link", charset="utf-8", creation_date=CREATED)
            po.update(pot, no_fuzzy_matching=True)
            po.obsolete.clear()
            with open(po_path, "wb") as f:
                write_po(f, po, width=100, sort_output=True, no_location=True)
            print(f"{po_path.relative_to(ROOT)}: {len(po)} messages")


def fill(old_path: Path, domain: str = "cpi_link") -> None:
    """Translations from old_path for the messages of the same domain that have none here."""
    with open(old_path, "rb") as f:
        old = read_po(f)
    po_path = LOCALE / LANGS[0] / "LC_MESSAGES" / f"{domain}.po"
    with open(po_path, "rb") as f:
        po = read_po(f, locale=LANGS[0])
    n = 0
    for m in po:
        if m.id and not (m.string if isinstance(m.string, str) else all(m.string)):
            o = old.get(m.id, context=m.context)
            if o is not None and o.string and not o.fuzzy:
                m.string, m.flags = o.string, set(m.flags) - {"fuzzy"}
                n += 1
    with open(po_path, "wb") as f:
        write_po(f, po, width=100, sort_output=True, no_location=True)
    print(f"{po_path.relative_to(ROOT)}: {n} translations filled from {old_path}")


def untranslated() -> list[str]:
    bad = []
    for po_path in sorted(LOCALE.glob("*/LC_MESSAGES/*.po")):
        with open(po_path, "rb") as f:
            po = read_po(f)
        for m in po:
            if m.id and (m.fuzzy or not (m.string if isinstance(m.string, str) else all(m.string))):
                bad.append(f"{po_path.relative_to(ROOT)}: {m.id!r}")
    return bad


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "update"
    if cmd == "update":
        update()
    elif cmd == "compile":
        from babel.messages.mofile import write_mo

        for po_path in sorted(LOCALE.glob("*/LC_MESSAGES/*.po")):
            with open(po_path, "rb") as f:
                catalog = read_po(f)
            with open(po_path.with_suffix(".mo"), "wb") as f:
                write_mo(f, catalog, use_fuzzy=False)
            print(po_path.with_suffix(".mo").relative_to(ROOT))
    elif cmd == "fill" and len(sys.argv) in (3, 4):
        fill(Path(sys.argv[2]), *sys.argv[3:])
    elif cmd == "check":
        bad = untranslated()
        print("\n".join(bad) or "every message translated")
        sys.exit(1 if bad else 0)
    else:
        sys.exit(__doc__)
