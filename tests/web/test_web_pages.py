"""The landing page, the portal and back-office start pages, the API docs page, the assets."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

PAGES = ("/", "/portal", "/backoffice", "/api/docs")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.sources: list[str] = []
        self.inline_scripts = 0
        self.style_attributes = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if "style" in values:
            self.style_attributes += 1
        if tag == "a" and values.get("href"):
            self.hrefs.append(str(values["href"]))
        if tag == "link" and values.get("href"):
            self.sources.append(str(values["href"]))
        if tag == "script":
            if values.get("src"):
                self.sources.append(str(values["src"]))
            else:
                self.inline_scripts += 1
        if any(name.startswith("on") for name in values):
            self.inline_scripts += 1  # event handler attributes are inline script too


class _Text(HTMLParser):
    """The visible text of a page, one stripped text node at a time."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("aria-label", "title", "alt") and value:
                self.nodes.append(value.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.nodes.append(" ".join(data.split()))


def _text(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.nodes


#: Words that are the same in every language: the brand, language names, the phase tag.
SAME_IN_EVERY_LANGUAGE = {"joinedup", "– joinedup", "English", "Eesti", "Demo"}


@pytest.mark.parametrize("path", ["/", "/portal", "/backoffice", "/missing"])
def test_no_text_is_left_untranslated(client: TestClient, path: str) -> None:
    """Any text identical in English and Estonian is a string that skipped gettext."""
    headers = {"accept": "text/html"}
    english = _text(client.get(path + "?lang=en", headers=headers).text)
    estonian = _text(client.get(path + "?lang=et", headers=headers).text)
    assert len(english) == len(estonian)
    pairs = zip(english, estonian, strict=True)
    untranslated = [en for en, et in pairs if en == et and en not in SAME_IN_EVERY_LANGUAGE]
    assert not untranslated


def _parse(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def test_landing_page_explains_the_demo_and_links_the_three_front_doors(
    client: TestClient,
) -> None:
    response = client.get("/", headers={"accept-language": "en"})
    assert response.status_code == 200
    html = response.text
    assert '<html lang="en"' in html
    assert '<span class="joinedup-wordmark">joinedup</span>' in html
    assert "synthetic" in html.lower()
    assert "Demo" in html
    links = _parse(html).hrefs
    for target in ("/portal", "/backoffice", "/api/docs"):
        assert target in links


@pytest.mark.parametrize("path", PAGES)
def test_pages_carry_no_gov_uk_branding(client: TestClient, path: str) -> None:
    html = client.get(path).text
    assert "GOV.UK" not in html
    assert "govuk-logo" not in html
    assert "govuk-header__logotype" not in html
    assert "Crown" not in html
    assert "crown" not in html
    assert "govuk-skip-link" in html
    assert 'id="main-content"' in html
    assert "govuk-phase-banner" in html
    assert "govuk-footer" in html


@pytest.mark.parametrize("path", PAGES)
def test_every_link_and_asset_of_every_page_resolves(client: TestClient, path: str) -> None:
    page = _parse(client.get(path).text)
    for target in page.hrefs + page.sources:
        if target.startswith("#"):
            continue
        assert client.get(target).status_code == 200, f"{path} links {target}"


@pytest.mark.parametrize("path", PAGES)
def test_pages_need_no_inline_script_or_style(client: TestClient, path: str) -> None:
    page = _parse(client.get(path).text)
    assert page.inline_scripts == 0
    assert page.style_attributes == 0
    assert "<style" not in client.get(path).text


def test_landing_page_in_estonian(client: TestClient) -> None:
    html = client.get("/", headers={"accept-language": "et-EE,et;q=0.9,en;q=0.5"}).text
    assert '<html lang="et"' in html
    assert "Avalikud teenused, mis toimivad ühtse tervikuna" in html
    assert "Liigu põhisisu juurde" in html  # the skip link
    assert "Kodanikuportaal" in html
    assert "Public services that work as one" not in html
    assert '<span class="joinedup-wordmark">joinedup</span>' in html


def test_lang_parameter_wins_and_is_remembered_in_a_cookie(client: TestClient) -> None:
    response = client.get("/portal?lang=et", headers={"accept-language": "en"})
    assert '<html lang="et"' in response.text
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("lang=et;")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    # The cookie now chooses the language, over the browser's preference.
    again = client.get("/backoffice", headers={"accept-language": "en"})
    assert '<html lang="et"' in again.text
    assert "Ametniku töölaud" in again.text
    assert "set-cookie" not in again.headers


def test_an_unknown_language_falls_back_to_the_default(client: TestClient) -> None:
    response = client.get("/?lang=xx", headers={"accept-language": "fr-FR, de;q=0.8"})
    assert '<html lang="en"' in response.text
    assert "set-cookie" not in response.headers


def test_language_switcher_links_the_same_page_in_each_language(client: TestClient) -> None:
    html = client.get("/portal?lang=et").text
    assert re.search(r'href="/portal\?lang=en"[^>]*lang="en"', html)
    assert 'aria-current="true" class="joinedup-current-language">Eesti<' in html


def test_the_language_links_keep_the_query_and_stay_on_this_site(client: TestClient) -> None:
    """The other filters of a page are kept (``lang`` replaced); a path of ``//host``, which a
    browser reads as another site, is linked as this site's ``/host``, and the path is
    percent-encoded again (the server decoded it)."""
    html = client.get("/missing?lang=et&a=b+c", headers={"accept": "text/html"}).text
    assert 'href="/missing?a=b+c&amp;lang=en"' in html
    elsewhere = client.get(
        "http://testserver//elsewhere.example/x", headers={"accept": "text/html"}
    ).text
    assert 'href="/elsewhere.example/x?lang=en"' in elsewhere  # the cookie chose Estonian
    assert 'href="//elsewhere' not in elsewhere
    # a browser drops a tab from an address: /<tab>/host would lead to //host
    tabbed = client.get("/%09/elsewhere.example/x", headers={"accept": "text/html"}).text
    assert 'href="/%09/elsewhere.example/x?lang=en"' in tabbed
    assert "\t/elsewhere" not in tabbed


def test_the_error_page_is_translated_too(client: TestClient) -> None:
    response = client.get("/missing?lang=et", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert "Lehte ei leitud" in response.text


def test_govuk_frontend_assets_are_served_from_node_modules(client: TestClient) -> None:
    css = client.get("/assets/govuk-frontend.min.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert ".govuk-header" in css.text
    assert "public" in css.headers["cache-control"]
    for font in re.findall(r"url\((/assets/fonts/[^)]+)\)", css.text):
        assert client.get(font).status_code == 200
    js = client.get("/assets/govuk-frontend.min.js")
    assert js.status_code == 200
    assert 'const version="5.14.0"' in js.text
    module = client.get("/static/joinedup.mjs")
    assert module.headers["content-type"].startswith("text/javascript")
    assert '"/assets/govuk-frontend.min.js"' in module.text


def test_api_docs_page_lists_the_operations_by_tag(client: TestClient) -> None:
    html = client.get("/api/docs").text
    assert '<code class="joinedup-code">/readyz</code>' in html
    assert '<code class="joinedup-code">/healthz</code>' in html
    assert re.search(r'id="tag-\d+">operations</h2>', html)
    assert 'href="/openapi.json"' in html
