"""Server-rendered pages: a Jinja2 environment with gettext per language, shared by every page.

Templates translate with ``_()``/``{% trans %}``; the functions installed read the language of
the current request (set by the middleware). A sentence with no variables (most of a page's
words) is translated when the template is compiled, in the environment of each language: a
page shows it as it shows its markup, with no call. So each language has its own environment
(:func:`templates_for`), all sharing one dict of globals; ``templates`` is the source
language's.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlencode

import jinja2
import jinja2.runtime
from babel import Locale
from babel.numbers import format_currency
from jinja2 import nodes
from jinja2.visitor import NodeTransformer
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from joinedup.core import i18n
from joinedup.web.context import request_id_of
from joinedup.web.csrf import form_token

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


class _SentencesOfOneLanguage(NodeTransformer):
    """Replaces each ``_("…")``/``gettext("…")`` of a constant sentence (``{% trans %}``
    compiles to the same call) by the sentence as :func:`_page_gettext` would give it in
    ``locale``: with no variables, the sentence itself (translated, formatted with none, markup
    when the template escapes); with variables, the translated sentence formatted with them
    where the page shows it (``%``: markup escapes each variable), not a call per sentence."""

    def __init__(self, locale: str, autoescape: bool) -> None:
        self.locale, self.autoescape = locale, autoescape

    def visit_Call(self, node: nodes.Call) -> nodes.Node:  # noqa: N802 (Jinja's visitor names)
        if (
            isinstance(node.node, nodes.Name)
            and node.node.name in _GETTEXT_NAMES
            and len(node.args) == 1
            and isinstance(node.args[0], nodes.Const)
            and isinstance(node.args[0].value, str)
            and not (node.dyn_args or node.dyn_kwargs)
        ):
            message = node.args[0].value
            if not node.kwargs:
                sentence = _sentence(self.locale, message, self.autoescape)
                return nodes.Const(sentence, lineno=node.lineno)
            # with variables: the translated sentence (markup when the page escapes) formatted
            # with them where the page shows it, as _page_gettext does (markup escapes them)
            translated = _as_page_text(
                i18n.translations(self.locale).gettext(message), self.autoescape
            )
            variables = nodes.Dict(
                [
                    nodes.Pair(
                        nodes.Const(keyword.key, lineno=node.lineno),
                        self.visit(keyword.value),
                        lineno=node.lineno,
                    )
                    for keyword in node.kwargs
                ],
                lineno=node.lineno,
            )
            return nodes.Mod(
                nodes.Const(translated, lineno=node.lineno), variables, lineno=node.lineno
            )
        return self.generic_visit(node)


#: The names a template translates a sentence with (installed by :func:`_environment`).
_GETTEXT_NAMES = frozenset({"_", "gettext"})


class _PageTemplate(jinja2.Template):
    """A template whose imports (``{% from "_portal.html" import … %}``) skip Jinja's check of
    the importing page's globals key by key: the same question as one subset test in C, not
    about 90 calls an import."""

    def _get_default_module(self, ctx: jinja2.runtime.Context | None = None) -> Any:
        if ctx is not None and not ctx.globals_keys.issubset(self.globals):
            return super()._get_default_module(ctx)  # new globals: Jinja makes a module
        return super()._get_default_module(None)  # the module made once, as Jinja would


class _PageEnvironment(jinja2.Environment):
    """An environment whose templates have their constant sentences in one language."""

    locale: str = i18n.SOURCE_LOCALE
    template_class = _PageTemplate

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        autoescape = self.autoescape(name) if callable(self.autoescape) else self.autoescape
        # a template's own {% autoescape %} blocks would change what a sentence must be:
        # such a template keeps its calls
        if any(True for _ in tree.find_all((nodes.ScopedEvalContextModifier,))):
            return tree
        transformed = _SentencesOfOneLanguage(self.locale, bool(autoescape)).visit(tree)
        return cast(nodes.Template, transformed)


def _environment(
    locale: str = i18n.SOURCE_LOCALE, globals_: dict[str, Any] | None = None
) -> jinja2.Environment:
    env = _PageEnvironment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        # the templates ship with the package: a changed one takes a restart, as changed code
        # does (not a file-system check on every page and every template it imports)
        auto_reload=False,
    )
    # Must match `trimmed = true` in babel.cfg, or extracted ids would not match at run time.
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(  # type: ignore[attr-defined]  # added by the i18n extension
        gettext=i18n.gettext,
        ngettext=i18n.ngettext,
        pgettext=i18n.pgettext,
        npgettext=i18n.npgettext,
        newstyle=True,
    )
    # the extension's newstyle gettext, without its costs on every call: it looked ``_`` up
    # through an alias, translated, wrapped and formatted each sentence again every time (a
    # third of the start page's rendering); the same result, a sentence made once per language
    env.globals.update(_=_page_gettext, gettext=_page_gettext, ngettext=_page_ngettext)
    env.globals["stored_text"] = stored_text
    env.globals["format_money"] = format_money
    env.locale = locale
    if globals_ is not None:  # one dict for every language: what is added later is in all
        globals_.update(env.globals)
        env.globals = globals_
    return env


def _as_page_text(translated: str, autoescape: bool) -> str:
    """A translated sentence as a page takes it: markup when the page escapes (the
    catalogue's sentences are the platform's own, as Jinja's gettext takes them)."""
    return Markup(translated) if autoescape else translated  # noqa: S704 (our catalogue)


@lru_cache(maxsize=8192)
def _sentence(locale: str, message: str, autoescape: bool) -> str:
    """``message`` in ``locale`` as a page shows it with no variables: escaped when the page
    is, and formatted with none (so ``%%`` is ``%``, as with variables)."""
    return _as_page_text(i18n.translations(locale).gettext(message), autoescape) % {}


@jinja2.pass_context
def _page_gettext(context: jinja2.runtime.Context, message: str, /, **variables: Any) -> str:
    """``_()`` and ``{% trans %}`` in a page: Jinja's newstyle gettext (translated, escaped
    when the page is, then ``%``-formatted with ``variables`` escaped)."""
    autoescape = context.eval_ctx.autoescape
    if not variables:
        return _sentence(i18n.current_locale(), message, autoescape)
    translated = i18n.gettext(message)
    return _as_page_text(translated, autoescape) % variables


@jinja2.pass_context
def _page_ngettext(
    context: jinja2.runtime.Context, singular: str, plural: str, num: int, /, **variables: Any
) -> str:
    """``ngettext()`` and a plural ``{% trans %}``: as Jinja's newstyle ngettext."""
    translated = i18n.ngettext(singular, plural, num)
    variables.setdefault("num", num)
    return _as_page_text(translated, context.eval_ctx.autoescape) % variables


def format_money(cents: int, currency: str) -> str:
    """An amount in cents the way the current language writes money ("€560.00",
    "560,00 €"), as the letters and the rules' sentences write it."""
    return _money(cents, currency, i18n.current_locale())


@lru_cache(maxsize=4096)
def _money(cents: int, currency: str, locale: str) -> str:
    """An amount written once per language (Babel reads its pattern again on every call: a
    tenth of "my overview"'s rendering)."""
    return format_currency(Decimal(cents).scaleb(-2), currency, locale=_locale(locale))


@lru_cache(maxsize=16)
def _locale(code: str) -> Locale:
    """Babel's data of a language, parsed once (not for every amount on a page)."""
    return Locale.parse(code)


def stored_text(text: str | None) -> str:
    """A sentence stored in English as its message id (a service's reason for a decision), in
    the current language where the catalogue has it. Not ``_()``: that formats its result with
    ``%``, which a stored sentence (a rule's reason, "50% of …") must not go through."""
    return i18n.gettext(text) if text else ""


def _path_of(scope: Mapping[str, Any]) -> str:
    """The page's path for its own links: percent-encoded again (the server decoded it: a
    ``%`` or a tab in it would otherwise mean something else in a link, and a browser drops
    tabs and line ends from an address), and never starting with ``//``, which a browser
    reads as another host — without building the whole URL from the headers for it."""
    path = quote(scope["path"], safe=_PATH_SAFE)
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    return path


#: What a path segment may hold as it is (RFC 3986 ``pchar`` and ``/``; letters, digits and
#: ``-._~`` are always kept).
_PATH_SAFE = "/:@!$&'()*+,;="


def _language_links(request: Request, path: str) -> list[dict[str, Any]]:
    """The current page in each language (``?lang=`` also remembers the choice)."""
    current = i18n.current_locale()
    kept = (
        [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
        if request.scope.get("query_string")
        else []
    )
    links = []
    for locale in i18n.available_locales():
        query = urlencode([*kept, ("lang", locale)])
        links.append(
            {
                "locale": locale,
                "name": i18n.ENDONYMS.get(locale, locale),
                "href": f"{path}?{query}",
                "current": locale == current,
            }
        )
    return links


def _page_context(request: Request) -> dict[str, Any]:
    # Set by joinedup.web.auth when the page asked who is signed in (None: nobody, absent:
    # the page did not ask, so the header says nothing about signing in).
    state = request.state
    principal = getattr(state, "principal", None)
    path = _path_of(request.scope)
    return {
        "locale": i18n.current_locale(),
        "languages": _language_links(request, path),
        "request_id": request_id_of(request.scope),
        "path": path,
        "auth_known": hasattr(state, "auth"),
        "principal": principal,
        "acting_for": getattr(state, "acting_for", None),
        "csrf_token": form_token(principal, getattr(state, "acting_for", None)),
        "mandate_ended": getattr(state, "mandate_ended", False),
        "mandate_unconfirmed": getattr(state, "mandate_unconfirmed", False),
    }


templates = Jinja2Templates(env=_environment(), context_processors=[_page_context])
_BY_LOCALE = {
    locale: (
        templates
        if locale == i18n.SOURCE_LOCALE
        else Jinja2Templates(
            env=_environment(locale, templates.env.globals), context_processors=[_page_context]
        )
    )
    for locale in i18n.available_locales()
}


def templates_for(locale: str) -> Jinja2Templates:
    """The pages in ``locale`` (the source language's for a language with no catalogue)."""
    return _BY_LOCALE.get(locale, templates)


@lru_cache(maxsize=64)  # a few macros, each in the languages the portal speaks
def macro_words(
    locale: str, template: str, macro: str, arguments: tuple[str, ...]
) -> dict[str, Markup]:
    """What the shared ``macro`` of ``template`` writes for each of ``arguments`` in
    ``locale``, by argument: for a page showing many (a tag for each letter, a name for each
    mandate kind), made once per language instead of a macro call each."""
    write = getattr(templates_for(locale).env.get_template(template).module, macro)
    return {argument: write(argument) for argument in arguments}


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    return templates_for(i18n.current_locale()).TemplateResponse(
        request, name, dict(context or {}), status_code=status_code, headers=headers
    )


def render_error_page(
    request: Request,
    *,
    status: int,
    headers: Mapping[str, str] | None = None,
    kind: str | None = None,
) -> HTMLResponse:
    """The HTML error page for ``status`` (the template words it per status, and per
    ``kind`` — the problem's slug — where a page says more)."""
    return render(
        request,
        "error.html",
        {"status": status, "kind": kind or ""},
        status_code=status,
        headers=headers,
    )


def compile_templates() -> int:
    """Compile every page template now (a web process's start-up) rather than when its first
    request comes: under load, the first requests of every page otherwise compile it at the
    same time in every thread of the pool, each slowed by the others. Returns how many."""
    names = templates.env.list_templates(extensions=["html"])
    for language in _BY_LOCALE.values():
        for name in names:
            language.env.get_template(name)
    return len(names)
