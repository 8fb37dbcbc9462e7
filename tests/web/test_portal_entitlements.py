"""The portal's pages of services and entitlements on the seeded country: the front door
organised by life events and levels of government, my entitlements (each with its reason and
how it was worked out, in the reader's language; an offer accepted, declined or opted out of,
and nobody else's reached), and an offer's last day, after which it can no longer be
accepted."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient
from identity_support import csrf_of, load_world, sign_in
from sqlalchemy import select

from joinedup.core.clock import today
from joinedup.core.db import Database


def test_the_front_door_is_organised_by_life_events_and_levels(web: TestClient) -> None:
    home = web.get("/portal")
    assert home.status_code == 200
    for words in ("Life events", "Having a baby", "Starting school", "Local government"):
        assert words in home.text
    baby = web.get("/portal/life-events/birth")
    assert baby.status_code == 200
    for words in ("Birth grant", "Child benefit", "Parental benefit", "Social Insurance Board"):
        assert words in baby.text
    local = web.get("/portal/services", params={"level": "local"})
    assert local.status_code == 200
    assert "Municipality" in local.text
    national = web.get("/portal/services")
    assert "Food Bank Foundation" in national.text
    service = web.get("/portal/services/child-benefit")
    assert service.status_code == 200
    assert "Family Benefits Act" in service.text
    assert "You do not need to apply" in service.text
    assert web.get("/portal/services/no-such-service").status_code == 404
    assert web.get("/portal/life-events/graduation").status_code == 404
    assert web.get("/portal/services", params={"level": "galactic"}).status_code == 422


def test_my_entitlements_with_reasons_and_decisions(
    web: TestClient, other_browser: TestClient, seeded: Database
) -> None:
    from portal_support import register_birth

    from joinedup import proactive

    world = load_world(seeded)
    mother = next(a for a in world.tagged("parent-of-minor") if int(a.personal_code[0]) % 2 == 0)
    register_birth(seeded, mother=mother.personal_code, born=today())
    sign_in(web, mother)
    listing = web.get("/portal/entitlements")
    assert listing.status_code == 200
    for words in ("Offered to you", "Granted", "You may be entitled", "Birth grant", "Eligible:"):
        assert words in listing.text
    with seeded.reading() as session:
        found = {
            e.service_code: e
            for e in proactive.list_entitlements(session, person_code=mother.personal_code).items
        }
    grant, benefit = found["birth-grant"], found["child-benefit"]
    detail = web.get(f"/portal/entitlements/{grant.id}")
    assert grant.reason in detail.text
    assert "How this was worked out" in detail.text
    assert "Accept the offer" in detail.text
    assert "Decline the offer" in detail.text
    # the rules' verdict, stored in English, shown in the reader's language from its parts
    assert benefit.reason.startswith("Eligible: a child under 18 living in Joinland")
    verdict = (  # (a condition the rules word themselves is put together from its parts too)
        "Õigus on olemas: leibkonda kuulub Joinlandis elav alla 18-aastane laps "
        "(Family Benefits Act 2019 §4(1))"
    )
    assert verdict in web.get(f"/portal/entitlements/{benefit.id}?lang=et").text
    assert verdict in web.get("/portal/entitlements").text
    assert benefit.reason in web.get("/portal/entitlements?lang=en").text

    declined = web.post(
        f"/portal/entitlements/{grant.id}/decision",
        data={"csrf_token": csrf_of(web), "decision": "decline"},
    )
    assert declined.status_code == 200
    assert "Offer declined" in declined.text
    assert "How satisfied were you with this?" in declined.text
    # the service's reason, stored in English, in the person's language (a rule's sentence
    # with a "%" in it goes through unformatted)
    assert "You declined the offer." in web.get(f"/portal/entitlements/{grant.id}").text
    estonian = web.get(f"/portal/entitlements/{grant.id}?lang=et").text
    assert "Te keeldusite pakkumisest." in estonian
    assert "Te keeldusite pakkumisest." in web.get("/portal/entitlements").text
    web.get("/portal/entitlements?lang=en")
    again = web.post(
        f"/portal/entitlements/{grant.id}/decision",
        data={"csrf_token": csrf_of(web), "decision": "accept"},
    )
    assert again.status_code == 409  # declined already: nothing to accept
    opted = web.post(
        f"/portal/entitlements/{benefit.id}/decision",
        data={"csrf_token": csrf_of(web), "decision": "opt_out"},
    )
    assert "You opted out" in opted.text
    bad = web.post(
        f"/portal/entitlements/{benefit.id}/decision",
        data={"csrf_token": csrf_of(web), "decision": "maybe"},
    )
    assert bad.status_code == 422
    with seeded.reading() as session:
        now = {
            e.service_code: e.status
            for e in proactive.list_entitlements(session, person_code=mother.personal_code).items
        }
    assert now["birth-grant"] is proactive.EntitlementStatus.DECLINED
    assert now["child-benefit"] is proactive.EntitlementStatus.OPTED_OUT

    # another person: neither the page nor a decision reaches the mother's entitlement
    sign_in(other_browser, world.one("pensioner"))
    parental = found["parental-benefit"]
    assert other_browser.get(f"/portal/entitlements/{parental.id}").status_code == 404
    assert (
        other_browser.post(
            f"/portal/entitlements/{parental.id}/decision",
            data={"csrf_token": csrf_of(other_browser), "decision": "decline"},
        ).status_code
        == 404
    )
    assert other_browser.get("/portal/entitlements/not-an-id").status_code == 404


def _worked_out(page: str) -> list[str]:
    """The "How this was worked out" list of an entitlement's page."""
    found = re.search(r'govuk-list--bullet">(.*?)</ul>', page, re.S)
    assert found is not None
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)]


def test_how_an_entitlement_was_worked_out_is_in_the_readers_language(
    web: TestClient, seeded: Database
) -> None:
    from portal_support import register_birth

    from joinedup import proactive
    from joinedup.proactive.models import Entitlement, EntitlementRevision

    world = load_world(seeded)
    mother = next(a for a in world.tagged("parent-of-minor") if int(a.personal_code[0]) % 2 == 0)
    register_birth(seeded, mother=mother.personal_code, born=today())
    sign_in(web, mother)
    with seeded.reading() as session:
        found = {
            e.service_code: e
            for e in proactive.list_entitlements(session, person_code=mother.personal_code).items
        }
    for code in ("child-benefit", "birth-grant"):
        item = found[code]
        english = _worked_out(web.get(f"/portal/entitlements/{item.id}?lang=en").text)
        assert english == item.explanation["sentences"]
        estonian = _worked_out(web.get(f"/portal/entitlements/{item.id}?lang=et").text)
        assert len(estonian) == len(english)
        words = " ".join(estonian)
        for sentence in ("Õigus on olemas: ", "Arvutus: ", "Reegel kehtib alates "):
            assert sentence in words
        for sentence in ("Eligible", "Computed as", "Rule in force", " for 20", "household"):
            assert sentence not in words
    # an explanation stored before its sentences had parts is shown as it was written
    benefit = found["child-benefit"]
    with seeded.unit_of_work() as session:
        row = session.scalars(select(Entitlement).where(Entitlement.uid == benefit.id)).one()
        current = session.scalars(
            select(EntitlementRevision).where(
                EntitlementRevision.entitlement_id == row.id,
                EntitlementRevision.revision == row.revision,
            )
        ).one()  # (an entitlement's explanation is its current revision's)
        current.explanation = {
            k: v for k, v in current.explanation.items() if k != "sentence_parts"
        }
    old = _worked_out(web.get(f"/portal/entitlements/{benefit.id}?lang=et").text)
    assert old == benefit.explanation["sentences"]
    web.get("/portal/entitlements?lang=en")


def test_an_offer_shows_its_last_day_and_once_it_has_passed_only_how_to_ask(
    web: TestClient, seeded: Database
) -> None:
    from datetime import timedelta

    from portal_support import register_birth
    from sqlalchemy import text

    from joinedup import proactive
    from joinedup.core.clock import utcnow

    world = load_world(seeded)
    mother = next(a for a in world.tagged("parent-of-minor") if int(a.personal_code[0]) % 2 == 1)
    register_birth(seeded, mother=mother.personal_code, born=today())
    sign_in(web, mother)
    with seeded.reading() as session:
        grant = next(
            e
            for e in proactive.list_entitlements(session, person_code=mother.personal_code).items
            if e.service_code == "birth-grant"
        )
    assert grant.respond_by is not None
    page = web.get(f"/portal/entitlements/{grant.id}").text
    assert "Accept by" in page
    assert grant.respond_by.isoformat() in page
    assert "Accept the offer" in page
    assert "Vastu võtta hiljemalt" in web.get(f"/portal/entitlements/{grant.id}?lang=et").text
    with seeded.unit_of_work() as session:  # as if offered over a year ago
        session.execute(
            text("UPDATE proactive_entitlement SET updated_at = :at WHERE uid = :uid"),
            {"at": utcnow() - timedelta(days=400), "uid": grant.id.hex},
        )
    late = web.get(f"/portal/entitlements/{grant.id}?lang=en").text
    assert "The time to accept this offer ran out on" in late
    assert "Accept the offer" not in late
    refused = web.post(
        f"/portal/entitlements/{grant.id}/decision",
        data={"csrf_token": csrf_of(web), "decision": "accept"},
    )
    assert refused.status_code == 409
