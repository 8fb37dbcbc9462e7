"""What the portal's pages make once and keep (the start page's part made of the catalogue,
the shared macros' words for a closed set of codes) is made per language, and the catalogue's
part is made again with the copy of the catalogue it shows."""

from __future__ import annotations

import re
import time

from fastapi.testclient import TestClient
from identity_support import csrf_of, load_world, minor_children, sign_in
from sqlalchemy import text

from joinedup import notify
from joinedup.core import i18n
from joinedup.core.db import Database
from joinedup.demo.agencies import organisation


def _say(locale: str, message: str) -> str:
    return i18n.translations(locale).gettext(message)


def _births(page: str, locale: str) -> int:
    """How many services the start page says a birth concerns."""
    found = re.search(
        r'href="/portal/life-events/birth">' + re.escape(_say(locale, "Having a baby")) + r"</a>"
        r' <span class="govuk-hint govuk-!-display-inline">\((\d+) ',
        page,
    )
    assert found, page
    return int(found.group(1))


def test_the_start_pages_catalogue_part_is_in_its_language_and_follows_the_catalogue(
    web: TestClient, seeded: Database
) -> None:
    assert _say("et", "Having a baby") != "Having a baby"
    english = web.get("/portal?lang=en").text
    estonian = web.get("/portal?lang=et").text
    births = _births(english, "en")
    assert births > 1
    assert _births(estonian, "et") == births
    assert "Having a baby" not in estonian
    assert _say("et", "Local government") in estonian
    assert _births(web.get("/portal?lang=en").text, "en") == births  # English again, not Estonian
    with seeded.unit_of_work() as session:
        session.execute(
            text("UPDATE catalogue_service SET active = :no WHERE code = 'birth-grant'"),
            {"no": False},
        )
    assert _births(web.get("/portal").text, "en") == births  # the copy is kept for a while
    # ... for CACHE_SECONDS (joinedup.web.portal.catalogue): as when they have passed
    _, copy = web.app.state.catalogue_cache  # type: ignore[attr-defined]
    web.app.state.catalogue_cache = (time.monotonic() - 1, copy)  # type: ignore[attr-defined]
    assert _births(web.get("/portal?lang=et").text, "et") == births - 1  # a new copy's words
    assert _births(web.get("/portal?lang=en").text, "en") == births - 1


def test_the_words_made_once_per_language_are_the_pages_language(
    web: TestClient, seeded: Database
) -> None:
    world = load_world(seeded)
    parent = world.one("parent-of-minor")
    child = minor_children(seeded, parent.personal_code)[0]
    sib = organisation("social-insurance")
    with seeded.unit_of_work() as session:
        notify.send_letter(
            session,
            recipient_code=child,
            sender=f"{sib.member_class}/{sib.member_code}",
            kind="offer",
            subject="A letter for the child",
            paragraphs=["Text."],
            reference="start-words",
            actor="test",
        )
    sign_in(web, parent)
    start = web.get("/portal?lang=en").text
    assert '<span class="govuk-hint">Yourself</span>' in start
    assert f'<dd class="govuk-summary-list__value">{_say("en", "low")}</dd>' in start
    web.post("/portal/acting-for", data={"csrf_token": csrf_of(web), "subject": child})
    for locale in ("en", "et", "en"):
        start = web.get(f"/portal?lang={locale}").text
        kind = _say(locale, "Your child (until they are 18)")
        assert f'<span class="govuk-hint">{kind}</span>' in start
        assert f'<dd class="govuk-summary-list__value">{_say(locale, "low")}</dd>' in start
        mailbox = web.get(f"/portal/messages?lang={locale}").text
        assert "A letter for the child" in mailbox
        offer = _say(locale, "Offer")
        assert f'<strong class="govuk-tag govuk-tag--blue">{offer}</strong>' in mailbox
    assert _say("et", "Your child (until they are 18)") not in start
