"""Translations (gettext through Babel) and the language of the current request or task.

English is the source language: message ids are the English text. One catalogue (domain
``messages``) serves the whole platform; it lives in ``joinedup/web/locale/<lang>/LC_MESSAGES``
and is extracted with ``babel.cfg``. Compiled ``.mo`` files come from ``scripts/setup.sh``;
when one is missing or older than its ``.po`` (a catalogue just edited, a wheel without build
artefacts) the ``.po`` is compiled in memory, so a page is never silently left in English.

The language in force is a context variable: the web middleware sets it per request
(:func:`negotiate_locale`), a job sending a letter sets it to the recipient's language with
:func:`use_locale`. :func:`gettext` and friends translate into it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from functools import cache, lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import LazyProxy, NullTranslations, Translations

SOURCE_LOCALE = "en"
DOMAIN = "messages"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "web" / "locale"

#: What each language is called in itself (shown in the language switcher, never translated).
ENDONYMS = {"en": "English", "et": "Eesti", "da": "Dansk"}

_current_locale: ContextVar[str] = ContextVar("joinedup_locale", default=SOURCE_LOCALE)


@cache
def available_locales() -> tuple[str, ...]:
    """The source language, then every language with a catalogue, sorted (the catalogues
    ship with the package: looked for once, not on every page)."""
    found = {path.parent.parent.name for path in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    return (SOURCE_LOCALE, *sorted(found - {SOURCE_LOCALE}))


@lru_cache(maxsize=16)
def translations(locale: str) -> NullTranslations:
    """The compiled catalogue of ``locale`` (the source language's may be empty)."""
    directory = LOCALE_DIR / locale / "LC_MESSAGES"
    po_path, mo_path = directory / f"{DOMAIN}.po", directory / f"{DOMAIN}.mo"
    if not po_path.exists():
        if locale == SOURCE_LOCALE:
            return NullTranslations()
        raise LookupError(f"no catalogue for locale {locale!r} in {LOCALE_DIR}")
    if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
        with mo_path.open("rb") as mo_file:
            return Translations(mo_file, domain=DOMAIN)
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def supported(locale: str | None) -> str | None:
    """The available locale ``locale`` names (``et-EE`` → ``et``), or None."""
    if not locale:
        return None
    tag = locale.strip().replace("_", "-").lower()
    available = available_locales()
    if tag in available:
        return tag
    primary = tag.split("-", 1)[0]
    return primary if primary in available else None


def _accept_language(header: str) -> list[str]:
    """Language tags of an ``Accept-Language`` header, most preferred first (RFC 9110)."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*":
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate_locale(
    *, query: str | None, cookie: str | None, accept_language: str | None, default: str
) -> str:
    """The language of a request: ``?lang=``, then the cookie, then the browser's preference."""
    for candidate in (query, cookie):
        if found := supported(candidate):
            return found
    for tag in _accept_language(accept_language or ""):
        if found := supported(tag):
            return found
    return supported(default) or SOURCE_LOCALE


def current_locale() -> str:
    return _current_locale.get()


def activate(locale: str) -> Token[str]:
    """Make ``locale`` the language of the current context; pass the token to :func:`deactivate`."""
    return _current_locale.set(supported(locale) or SOURCE_LOCALE)


def deactivate(token: Token[str]) -> None:
    _current_locale.reset(token)


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    """Translate into ``locale`` inside the block (a letter in its recipient's language)."""
    token = activate(locale)
    try:
        yield
    finally:
        deactivate(token)


def gettext(message: str) -> str:
    return translations(current_locale()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_locale()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return str(translations(current_locale()).pgettext(context, message))


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations(current_locale()).npgettext(context, singular, plural, n)


def lazy_gettext(message: str) -> LazyProxy:
    """A translation resolved when used (module-level labels, choices of a form)."""
    return LazyProxy(gettext, message, enable_cache=False)


_ = gettext


def checked_texts(
    problems: list[dict[str, str]], field: str, texts: Mapping[str, str], limit: int
) -> dict[str, str]:
    """A text given in several languages (``{"en": …, "et": …}``), trimmed; what is wrong
    with it is appended to ``problems`` (the English text is required, every language must be
    one the platform speaks, every text 1 to ``limit`` characters)."""
    cleaned = {str(k): str(v).strip() for k, v in texts.items()}
    if not cleaned.get(SOURCE_LOCALE):
        problems.append({"field": field, "message": "needs the English text (en)"})
    for locale, text in cleaned.items():
        if supported(locale) != locale:
            problems.append({"field": f"{field}.{locale}", "message": "is not a known language"})
        elif not text or len(text) > limit:
            problems.append(
                {"field": f"{field}.{locale}", "message": f"must be 1 to {limit} characters"}
            )
    return cleaned


def in_language(texts: Mapping[str, str], locale: str | None = None) -> str | None:
    """The text in ``locale`` (default: the current language), else in English, else None."""
    return texts.get(locale or current_locale()) or texts.get(SOURCE_LOCALE)
