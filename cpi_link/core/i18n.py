"""The language of everything a person reads (SPEC 4 "Language"): stdlib gettext over the
catalogs in cpi_link/locale (compiled to .mo when the wheel is built; Babel is a build tool only).

    from cpi_link.core.i18n import _, ngettext
    warn(_("no --standards given: using the bundled SAMPLE standards {path}").format(path=p))

Choice of language: set_language("zh"|"en") (the command line's --lang), else env CPI_LINK_LANG,
else the locale (the first of LC_ALL, LC_MESSAGES, LANG that is set; beginning with "zh" means
Chinese), else English. The msgids are the English texts, so English needs no catalog.

JSON keys, reason codes, status words and CSV headers are for scripts: never pass them to `_`.
"""

from __future__ import annotations

import contextlib
import gettext as _gettext
import os
import re
from contextvars import ContextVar
from pathlib import Path

DOMAIN = "cpi_link"
# typer's own strings (Usage, Options, errors) call stdlib gettext.gettext: its default domain
TOOLKIT_DOMAIN = "messages"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LANGUAGES = ("zh", "en")
_CATALOG_LANG = {"zh": "zh_CN"}

_chosen: str | None = None  # set_language's choice; None follows the environment
# language()'s choice for one block of one thread: the page's other requests keep theirs
_block: ContextVar[str | None] = ContextVar("cpi_link_language_block", default=None)
_cache: dict[tuple[str, str], _gettext.NullTranslations] = {}


class Text(str):
    """A translated string that remembers its msgid, so text made at import time (option help)
    can be rendered again in the language chosen later, when the options have been parsed."""

    msgid: str


def normalize(lang: str | None) -> str | None:
    """'zh', 'zh_CN', 'zh-CN.UTF-8' -> 'zh'; 'en', 'en_US', 'C' -> 'en'; empty -> None."""
    if not lang or not lang.strip():
        return None
    return "zh" if lang.strip().lower().startswith("zh") else "en"


def language_from_env(environ=None) -> str:
    env = os.environ if environ is None else environ
    chosen = normalize(env.get("CPI_LINK_LANG"))
    if chosen:
        return chosen
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):  # POSIX order: the first one set decides
        if env.get(var):
            return normalize(env[var]) or "en"
    return "en"


def current_language() -> str:
    return _block.get() or _chosen or language_from_env()


def set_language(lang: str | None) -> str | None:
    """Choose the language ('zh' or 'en'; None: follow the environment). Returns the previous
    choice, so a caller can put it back."""
    global _chosen
    previous = _chosen
    _chosen = normalize(lang)
    return previous


@contextlib.contextmanager
def language(lang: str | None):
    """Use `lang` inside the block, in this thread only (a chart drawn in Chinese because a CJK font
    exists, a workbook's Chinese cells written by the page's task while a page is served in
    English); None: the command's language."""
    token = _block.set(normalize(lang))
    try:
        yield
    finally:
        _block.reset(token)


def translations(domain: str = DOMAIN, lang: str | None = None) -> _gettext.NullTranslations:
    lang = lang or current_language()
    key = (domain, lang)
    tr = _cache.get(key)
    if tr is None:
        if lang == "en":
            tr = _gettext.NullTranslations()
        else:  # a wheel built without its catalog still runs, in English
            tr = _gettext.translation(domain, LOCALE_DIR, languages=[_CATALOG_LANG[lang]], fallback=True)
        _cache[key] = tr
    return tr


@contextlib.contextmanager
def toolkit_language(lang: str):
    """`lang` for the libraries that call stdlib gettext.gettext (typer: Usage, Options, its errors),
    the supported way: their default domain ("messages") bound to our catalog, and the catalog's
    language in LANGUAGE, the variable stdlib gettext reads first. Put back after the block."""
    _gettext.textdomain(TOOLKIT_DOMAIN)
    _gettext.bindtextdomain(TOOLKIT_DOMAIN, str(LOCALE_DIR))
    saved = os.environ.get("LANGUAGE")
    os.environ["LANGUAGE"] = _CATALOG_LANG.get(lang, lang)  # "en": no catalog, the English msgids
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("LANGUAGE", None)
        else:
            os.environ["LANGUAGE"] = saved


def _(message: str) -> str:
    """The message in the current language (the English msgid when not translated)."""
    out = Text(translations().gettext(message))
    out.msgid = message
    return out


def N_(message: str) -> str:
    """Mark an English text for the catalog without translating it here (it is kept as it is,
    e.g. in JSON, and translated where it is shown, with `translate`)."""
    return message


def pgettext(context: str, message: str) -> str:
    """A short message whose translation depends on where it stands (a person's or a scheme's name)."""
    return translations().pgettext(context, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations().ngettext(singular, plural, n)


def translate(text: str, domain: str = DOMAIN) -> str:
    """Render again, in the current language, a text made by `_` (or an English msgid)."""
    if not text:
        return text
    msgid = getattr(text, "msgid", text)
    return translations(domain).gettext(msgid)


def _template_regex(msgid: str, span: bool = False):
    parts = re.split(r"(\{[^}]*\})", msgid)
    names: list[str] = []
    out = []
    for p in parts:
        if p.startswith("{"):
            name = p[1:-1].split("!")[0].split(":")[0]
            # a field never spans "; ", which joins two messages in one text
            field = ".+?" if span else "(?:(?!; ).)+?"
            out.append(f"(?P={name})" if name in names else f"(?P<{name}>{field})")
            names.append(name)
        else:
            out.append(re.escape(p))
    return re.compile("".join(out) + r"\Z", re.S)


_regex_cache: dict[tuple[str, bool], re.Pattern] = {}


def translate_template(text: str, msgids, domain: str = DOMAIN, span: bool = False, field=None) -> str | None:
    """A text made in English from one of `msgids` (templates with {named} fields, e.g. kept in a
    Parquet file) in the current language, its fields filled from the text; None if none matches.
    A field spans "; " only with span=True (else "A; B" is two messages). field: a function each
    field's text goes through first (a field that is itself a message)."""
    tr = translations(domain)
    for msgid in msgids:
        rx = _regex_cache.get((msgid, span)) or _regex_cache.setdefault((msgid, span), _template_regex(msgid, span))
        m = rx.match(text)
        if m:
            try:
                fields = m.groupdict() if field is None else {k: field(v) for k, v in m.groupdict().items()}
                return tr.gettext(msgid).replace("!r}", "}").format(**fields)
            except (KeyError, IndexError, ValueError):
                return None
    return None


def is_zh() -> bool:
    return current_language() == "zh"


class Message(str):
    """An English text kept for scripts (JSON, ledger) that also carries the same text in the
    reader's language, `shown`: doctor's problems are English in --format json, Chinese on screen."""

    shown: str


def message(msgid: str, **fields) -> Message:
    """`msgid` (marked with N_) filled in English, and in the current language as `.shown`."""
    out = Message(msgid.format(**fields))
    out.shown = _(msgid).format(**{k: getattr(v, "shown", v) for k, v in fields.items()})  # a Message inside
    return out


def join(*parts: str) -> Message:
    """Messages joined with "; " in English (as before), with the reader's separator when shown."""
    out = Message("; ".join(parts))
    out.shown = ("；" if is_zh() else "; ").join(shown(p) for p in parts)
    return out


def shown(text: str) -> str:
    """The text a person reads: a Message's `shown`, else the text rendered again by `translate`."""
    if text is None:
        return text
    return getattr(text, "shown", None) or translate(text)
