"""The command line in the chosen language: `--lang` (and the other global options) wherever they
stand, help rendered in that language, and typer's own strings (Usage, Options, errors) from the
"messages" catalog."""

from __future__ import annotations

import importlib.abc
import importlib.util
import inspect
import re
import sys

import typer
from typer.core import TyperGroup

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


# typer.rich_utils computes these with gettext when it is first imported
_RICH_CONSTANTS = {
    "DEPRECATED_STRING": "(deprecated) ",
    "DEFAULT_STRING": "[default: {}]",
    "ENVVAR_STRING": "[env var: {}]",
    "REQUIRED_LONG_STRING": "[required]",
    "ARGUMENTS_PANEL_TITLE": "Arguments",
    "OPTIONS_PANEL_TITLE": "Options",
    "COMMANDS_PANEL_TITLE": "Commands",
    "ERRORS_PANEL_TITLE": "Error",
    "ABORTED_TEXT": "Aborted.",
    "RICH_HELP": "Try [blue]'{command_path} {help_option}'[/] for help.",
}

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
    "Got unexpected extra arguments ({args})",
    "No such command {name}.",
    "Missing command.",
    "{value!r} is not one of {choices}.",
    "'{value}' is not one of {choices}.",
    "Show this message and exit.",
]


def toolkit_text(text: str) -> str:
    """A parser message in the current language (unchanged when it matches no template)."""
    first, sep, tail = text.partition("\n")
    m = re.match(r"Invalid value for (.+?): (.*)\Z", first, re.S)
    if m:  # the reason inside is a parser message too
        first = f"Invalid value for {m.group(1)}: " + (i18n.translate_template(m.group(2), _PARSER_MESSAGES, i18n.TOOLKIT_DOMAIN) or m.group(2))
    out = i18n.translate_template(first, _PARSER_MESSAGES, i18n.TOOLKIT_DOMAIN)
    return text if out is None else out + sep + tail


_patched = False


def install_toolkit() -> None:
    """Point typer's gettext at the "messages" catalog of the current language."""
    global _patched
    tr = i18n.translations(i18n.TOOLKIT_DOMAIN)
    import typer.core

    if "typer.rich_utils" in sys.modules:
        _set_rich(sys.modules["typer.rich_utils"])
    elif _RichUtilsHook not in sys.meta_path:
        sys.meta_path.insert(0, _RichUtilsHook)
    from typer._click import core as cc
    from typer._click import exceptions as cx
    from typer._click import formatting as fm

    typer.core._ = tr.gettext
    if _patched:
        return
    _patched = True
    write_usage = fm.HelpFormatter.write_usage

    def _write_usage(self, prog, args="", prefix=None):
        usage = i18n.translations(i18n.TOOLKIT_DOMAIN).gettext("Usage: ")
        return write_usage(self, prog, args, usage if prefix in (None, "Usage: ") else prefix)

    fm.HelpFormatter.write_usage = _write_usage
    get_help_option = cc.Command.get_help_option

    def _get_help_option(self, ctx):
        opt = get_help_option(self, ctx)
        if opt is not None:
            opt.help = i18n.translations(i18n.TOOLKIT_DOMAIN).gettext("Show this message and exit.")
        return opt

    cc.Command.get_help_option = _get_help_option
    format_message = cx.ClickException.format_message

    def _format_message(self):
        return toolkit_text(format_message(self))

    cx.ClickException.format_message = _format_message
    for cls in vars(cx).values():  # subclasses that override it
        if isinstance(cls, type) and issubclass(cls, cx.ClickException) and "format_message" in vars(cls):
            original = vars(cls)["format_message"]
            cls.format_message = (lambda f: lambda self: toolkit_text(f(self)))(original)


def _set_rich(ru) -> None:
    tr = i18n.translations(i18n.TOOLKIT_DOMAIN)
    ru._ = tr.gettext
    for name, msgid in _RICH_CONSTANTS.items():
        setattr(ru, name, tr.gettext(msgid))


class _RichUtilsHook:
    """Translates typer.rich_utils' constants as soon as typer imports it, which it does only to
    print help or an error: importing it up front cost every Chinese command 40 ms."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != "typer.rich_utils":
            return None
        sys.meta_path.remove(cls)  # once: then the module is in sys.modules
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _AfterExec(spec.loader)
        return spec


class _AfterExec(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        _set_rich(module)


class LangGroup(TyperGroup):
    """The root command: global options anywhere, the language set before anything is printed."""

    def main(self, args=None, *rest, **kwargs):
        args = list(sys.argv[1:] if args is None else args)
        args, lang = split_globals(args)
        if lang is not None and re.split(r"[-_.]", lang.strip().lower())[0] not in i18n.LANGUAGES:
            typer.echo(f"error: --lang {lang!r}: use zh or en / 请用 zh 或 en", err=True)  # both languages: none chosen
            raise SystemExit(2)
        previous = i18n.set_language(lang or i18n.language_from_env())
        try:
            install_toolkit()
            _localise(self)
            return super().main(args, *rest, **kwargs)
        finally:
            i18n.set_language(previous)
            install_toolkit()
