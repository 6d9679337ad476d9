"""The command line in the chosen language: `--lang` (and the other global options) wherever they
stand, help rendered in that language, and typer's own strings (Usage, Options, errors) from the
"messages" catalog: typer asks stdlib gettext for them (i18n.toolkit_language), and the few that
its copy of click writes in plain English are made by overridden public methods (format_usage,
get_help_option) or raised again translated (ctx.fail). Nothing of typer or click is patched."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import re
import sys

import typer
from typer.core import TyperCommand, TyperGroup

from cpi_link.core import i18n

# Global options (SPEC 4) accepted before or after the command; True: takes a value
GLOBAL_OPTIONS = {"--home": True, "--config": True, "--debug": False, "--lang": True}


def split_globals(args: list[str]) -> tuple[list[str], str | None]:
    """Move the global options found after the command to the front, and take --lang out.
    Returns (args, lang). Nothing after a bare "--" is touched."""
    front: list[str] = []
    rest: list[str] = []
    lang = None
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            rest += args[i:]
            break
        name, eq, value = a.partition("=")
        takes = GLOBAL_OPTIONS.get(name)
        if takes is None or (eq and not takes):
            rest.append(a)
            i += 1
            continue
        if takes and not eq:
            if i + 1 >= len(args):  # no value: let the parser say so
                rest.append(a)
                i += 1
                continue
            value = args[i + 1]
            i += 2
        else:
            i += 1
        if name == "--lang":
            lang = value
        else:
            front += [name, value] if takes else [name]
    return front + rest, lang


def _localise(cmd) -> None:
    """Help texts of a command tree in the current language (kept msgids let this run again)."""
    for obj in [cmd, *getattr(cmd, "params", [])]:
        for attr in ("help", "short_help", "epilog"):
            key = "_i18n_" + attr
            if key not in obj.__dict__:
                text = getattr(obj, attr, None)
                obj.__dict__[key] = getattr(text, "msgid", None) or (inspect.cleandoc(text) if text else text)
            msgid = obj.__dict__[key]
            if msgid:
                setattr(obj, attr, i18n.translations().gettext(msgid))
    for sub in getattr(cmd, "commands", {}).values():
        _localise(sub)


# The command-line parser's messages that are plain English in typer's copy of click: translated
# when they are shown, by matching these templates (msgids of the "messages" catalog).
_PARSER_MESSAGES = [
    "No such option: {name}",
    "No such option: {name} Did you mean {possibility}?",
    "Missing option '{name}'.",
    "Missing argument '{name}'.",
    "Missing parameter '{name}'.",
    "Invalid value for '{name}': {message}",
    "Invalid value: {message}",
    "Option '{name}' requires an argument.",
    "Got unexpected extra argument ({args})",
    "Got unexpected extra argument(s) ({args})",
    "Got unexpected extra arguments ({args})",
    "No such command {name}.",
    "Missing command.",
    "{value!r} is not one of {choices}.",
    # a whole-number option (--show, --port) given something else: typer 0.29 words it as pydantic
    # does, 0.28 as its copy of click
    "Input should be a valid integer, unable to parse string as an integer",
    "{value!r} is not a valid int.",
    "'{value}' is not one of {choices}.",
    "Show this message and exit.",
]


def toolkit_text(text: str) -> str:
    """A parser message in the current language (unchanged when it matches no template)."""
    first, sep, tail = text.partition("\n")
    m = re.match(r"Invalid value for (.+?): (.*)\Z", first, re.S)
    if m:  # the reason inside is a parser message too; typer 0.29 passes pydantic's "Value error, " on
        reason = i18n.translate_template(m.group(2).removeprefix("Value error, "), _PARSER_MESSAGES, i18n.TOOLKIT_DOMAIN)
        first = f"Invalid value for {m.group(1)}: " + (reason or m.group(2))
    out = i18n.translate_template(first, _PARSER_MESSAGES, i18n.TOOLKIT_DOMAIN)
    return text if out is None else out + sep + tail


@contextlib.contextmanager
def _parser_errors_translated():
    """The parser's errors (plain English f-strings in typer's copy of click) raised again in the
    current language, through the public `ctx.fail`; anything else passes unchanged."""
    try:
        yield
    except typer.TyperException as exc:
        ctx = getattr(exc, "ctx", None)
        text = exc.format_message()
        shown = toolkit_text(text)
        if ctx is None or shown == text or type(exc).__name__ == "NoArgsIsHelpError":
            raise
        ctx.fail(shown)


class _LocalHelp:
    """The usage line's "Usage: " and the help option's text in the current language: click
    writes both in English, so the commands override the two public methods that make them."""

    def format_usage(self, ctx, formatter) -> None:
        usage = i18n.translations(i18n.TOOLKIT_DOMAIN).gettext("Usage: ")
        formatter.write_usage(ctx.command_path, " ".join(self.collect_usage_pieces(ctx)), prefix=usage)

    def get_help_option(self, ctx):
        opt = super().get_help_option(ctx)
        if opt is not None:
            opt.help = i18n.translations(i18n.TOOLKIT_DOMAIN).gettext("Show this message and exit.")
        return opt


class LangCommand(_LocalHelp, TyperCommand):
    """A command whose usage line and help option are in the current language."""


class LangSubGroup(_LocalHelp, TyperGroup):
    """A command group (scheme, fetch, ...) whose usage line and help option are in the current language."""


class LangTyper(typer.Typer):
    """typer.Typer whose commands and groups are the classes above: every module of the command line
    makes its apps with it, so no command shows English "Usage:" in a Chinese session."""

    def __init__(self, *args, cls=None, **kwargs):
        super().__init__(*args, cls=cls or LangSubGroup, **kwargs)

    def command(self, *args, cls=None, **kwargs):
        return super().command(*args, cls=cls or LangCommand, **kwargs)


# The language typer.rich_utils was loaded in: it computes its panel titles and "[default: ...]"
# when imported (which typer does only to print help or an error); None: not loaded, or unknown
_rich_language: str | None = None


def _rich_strings_in(lang: str) -> None:
    """A process that already printed help in another language (the tests, which call main() in
    turn in both) has typer load rich_utils again, so its strings come from gettext in `lang`."""
    global _rich_language
    rich_utils = sys.modules.get("typer.rich_utils")
    if rich_utils is not None and _rich_language != lang:
        importlib.reload(rich_utils)
        _rich_language = lang


class LangGroup(LangSubGroup):
    """The root command: global options anywhere, the language set before anything is printed."""

    def main(self, args=None, *rest, **kwargs):
        global _rich_language
        args = list(sys.argv[1:] if args is None else args)
        args, lang = split_globals(args)
        if lang is not None and re.split(r"[-_.]", lang.strip().lower())[0] not in i18n.LANGUAGES:
            typer.echo(f"error: --lang {lang!r}: use zh or en / 请用 zh 或 en", err=True)  # both languages: none chosen
            raise SystemExit(2)
        previous = i18n.set_language(lang or i18n.language_from_env())
        chosen = i18n.current_language()
        try:
            with i18n.toolkit_language(chosen):
                _rich_strings_in(chosen)
                _localise(self)
                try:
                    return super().main(args, *rest, **kwargs)
                finally:
                    if _rich_language is None and "typer.rich_utils" in sys.modules:
                        _rich_language = chosen  # loaded during this command, in this language
        finally:
            i18n.set_language(previous)

    def make_context(self, info_name, args, parent=None, **extra):
        with _parser_errors_translated():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx):
        with _parser_errors_translated():
            return super().invoke(ctx)
