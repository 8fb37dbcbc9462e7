"""Every user-facing string goes through gettext and is translated into every language."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from joinedup.core import i18n

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = [locale for locale in i18n.available_locales() if locale != i18n.SOURCE_LOCALE]


def test_a_second_language_is_shipped() -> None:
    assert i18n.available_locales()[0] == "en"
    assert "et" in TRANSLATED


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The message ids ``pybabel extract`` finds in the code and templates today."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run(
        [str(pybabel), "extract", "-F", "babel.cfg", "-o", str(pot), "src/joinedup"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        return {message.id for message in read_po(handle) if message.id}  # type: ignore[misc]


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_extracted_string_is_translated(extracted: set[str], locale: str) -> None:
    path = i18n.LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    translated = {
        message.id: message.string
        for message in catalog
        if message.id and message.string and not message.fuzzy
    }
    missing = sorted(str(message_id) for message_id in extracted - set(translated))
    assert not missing, f"{locale}: not translated (run pybabel update, then translate): {missing}"
    stale = sorted(str(message_id) for message_id in set(translated) - extracted)
    assert not stale, f"{locale}: translations of strings no longer used: {stale}"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_placeholders_survive_translation(locale: str) -> None:
    path = i18n.LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    for message in catalog:
        if message.id and message.string:
            placeholders = re.compile(r"%\(\w+\)s")
            assert sorted(placeholders.findall(str(message.id))) == sorted(
                placeholders.findall(str(message.string))
            ), message.id


def test_negotiation_order_and_fallbacks() -> None:
    negotiate = i18n.negotiate_locale
    assert negotiate(query="et", cookie="en", accept_language="en", default="en") == "et"
    assert negotiate(query=None, cookie="et", accept_language="en", default="en") == "et"
    assert negotiate(query="xx", cookie=None, accept_language="fr, et-EE;q=0.5", default="en") == (
        "et"
    )
    assert negotiate(
        query=None, cookie=None, accept_language="et;q=0.1, en;q=0.9", default="et"
    ) == ("en")
    assert negotiate(query=None, cookie=None, accept_language="et;q=0", default="en") == "en"
    assert negotiate(query=None, cookie=None, accept_language=None, default="et") == "et"
    assert negotiate(query=None, cookie=None, accept_language="*", default="zz") == "en"


def test_use_locale_translates_python_strings_and_restores_the_language() -> None:
    assert i18n.current_locale() == "en"
    with i18n.use_locale("et"):
        assert i18n.gettext("Page not found") == "Lehte ei leitud"
        assert str(i18n.lazy_gettext("Home")) == "Avaleht"
    assert i18n.gettext("Page not found") == "Page not found"


def test_a_catalogue_edited_since_compiling_is_read_from_its_po(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "et" / "LC_MESSAGES"
    directory.mkdir(parents=True)
    (directory / "messages.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Home"\nmsgstr "Kodu"\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        assert i18n.translations("et").gettext("Home") == "Kodu"
    finally:
        i18n.translations.cache_clear()


def test_a_stored_sentence_is_translated_and_never_formatted() -> None:
    from joinedup.web.templating import stored_text

    with i18n.use_locale("et"):
        assert stored_text("You declined the offer.") == "Te keeldusite pakkumisest."
        assert stored_text("Eligible: 50% of the income") == "Eligible: 50% of the income"
    assert stored_text(None) == ""


def test_money_on_pages_is_written_the_way_the_language_writes_it() -> None:
    """The portal's ``money`` macro, as the letters and the rules' sentences: "€560.00" in
    English, "560,00 €" in Estonian (not "560.00 EUR" in every language)."""
    from joinedup.web.templating import templates

    macro = templates.env.from_string(
        '{% from "_portal.html" import money %}{{ money({"amount": 56000, "currency": "EUR"}) }}'
        "|{{ money(none) }}"
    )
    with i18n.use_locale("en"):
        assert macro.render() == "€560.00|–"
    with i18n.use_locale("et"):
        assert macro.render().replace("\xa0", " ") == "560,00 €|–"


def test_pages_translate_escape_and_format_as_jinjas_newstyle_gettext() -> None:
    """The pages' own ``_()``/``{% trans %}``/plural callables (a sentence made once per
    language) give what Jinja's newstyle gettext gives: translated into the language in
    force, the variables escaped, ``%%`` written ``%`` with or without variables."""
    from jinja2 import Environment
    from jinja2.ext import InternationalizationExtension  # noqa: F401 (the reference)

    from joinedup.web.templating import templates, templates_for

    source = (
        '{{ _("Who used my data") }}|{{ _("case %(reference)s", reference="<b>7</b>") }}'
        '|{{ _("100%% yours") }}|{% trans n=3 %}{{ n }} day{% pluralize %}{{ n }} days'
        "{% endtrans %}|{{ ngettext('%(num)s day', '%(num)s days', 1) }}"
        '|{% trans who="<i>" %}Hello {{ who }}{% endtrans %}'
        '|{% trans %}Who used my data{% endtrans %}|{{ ("x", _("100%% yours"))|join("/") }}'
    )
    reference = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    reference.policies["ext.i18n.trimmed"] = True
    reference.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=i18n.gettext, ngettext=i18n.ngettext, newstyle=True
    )
    theirs = reference.from_string(source)
    for locale in ("en", "et", "en"):  # a sentence made in one language is not the other's
        with i18n.use_locale(locale):
            ours = templates_for(locale).env.from_string(source)
            assert ours.render() == theirs.render(), locale
    with i18n.use_locale("et"):
        rendered = templates_for("et").env.from_string(source).render()
    assert rendered.startswith("Kes kasutas minu andmeid|asi &lt;b&gt;7&lt;/b&gt;|100% yours|")
    assert "|1 päev|" in rendered
    assert rendered.endswith("|Hello &lt;i&gt;|Kes kasutas minu andmeid|x/100% yours")
    # a sentence with no variables is in the compiled template of each language, not a call
    compiled = templates_for("et").env.compile('{{ _("Who used my data") }}', raw=True)
    assert "Kes kasutas minu andmeid" in compiled
    assert "Who used my data" not in compiled
    assert templates_for("xx") is templates
    # a text template (no escaping) gets the sentence as it is
    plain = templates.env.from_string(
        '{% autoescape false %}{{ _("case %(reference)s", reference="<b>") }}{% endautoescape %}'
    )
    with i18n.use_locale("en"):
        assert plain.render() == "case <b>"


def test_a_sentences_variables_may_have_any_name() -> None:
    """Variables named as the callables' own parameters (message, context, singular, num…)
    are the sentence's, as with Jinja's gettext."""
    from joinedup.web.templating import templates

    page = templates.env.from_string(
        '{{ _("Said: %(message)s", message="<b>") }}|{{ _("In %(context)s", context="x") }}'
        "|{% trans message='m' %}About {{ message }}{% endtrans %}"
        "|{{ ngettext('%(singular)s one', '%(singular)s many', 2, singular='s') }}"
        "|{% trans count=2, num=5 %}{{ num }} of one{% pluralize count %}{{ num }} of many"
        "{% endtrans %}"
    )
    with i18n.use_locale("en"):
        assert page.render() == "Said: &lt;b&gt;|In x|About m|s many|5 of many"
