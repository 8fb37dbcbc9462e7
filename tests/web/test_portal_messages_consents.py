"""The portal's pages of what passes between a person and the agencies, on the seeded
country: my messages (opening is the read receipt, naming the parent who opens the child's
letter), consents (given and withdrawn, with the question after the task: a bad answer named
and nothing written) and a power of attorney starting centuries ahead (refused, naming the
first day)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from identity_support import csrf_of, load_world, minor_children, sign_in
from portal_support import send_decision_letter

from joinedup import notify
from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.pagination import PageRequest


def test_my_messages_list_and_open_with_a_read_receipt(web: TestClient, seeded: Database) -> None:
    world = load_world(seeded)
    person = world.one("newly-married")
    message_id = send_decision_letter(seeded, person.personal_code, "portal-test-1")
    sign_in(web, person)
    listing = web.get("/portal/messages")
    assert listing.status_code == 200
    assert "Your child benefit" in listing.text
    assert "1 unread letter" in listing.text
    opened = web.get(f"/portal/messages/{message_id}")
    assert opened.status_code == 200
    assert "We granted you the child benefit" in opened.text
    assert "You opened this letter" in opened.text
    with seeded.reading() as session:
        letter = notify.get_letter(
            session, message_id=message_id, recipient_code=person.personal_code
        )
    assert letter.read_by == person.personal_code
    assert letter.read_at is not None
    assert "0 unread letters" in web.get("/portal/messages").text


def test_a_parent_reads_the_childs_letter_and_the_receipt_names_the_parent(
    web: TestClient, seeded: Database
) -> None:
    world = load_world(seeded)
    parent = world.one("parent-of-minor")
    child = minor_children(seeded, parent.personal_code)[0]
    message_id = send_decision_letter(seeded, child, "portal-test-child")
    sign_in(web, parent)
    assert web.get(f"/portal/messages/{message_id}").status_code == 404  # not their own
    web.post("/portal/acting-for", data={"csrf_token": csrf_of(web), "subject": child})
    assert web.get(f"/portal/messages/{message_id}").status_code == 200
    with seeded.reading() as session:
        letter = notify.get_letter(session, message_id=message_id, recipient_code=child)
    assert letter.read_by == parent.personal_code


def test_consents_give_withdraw_and_feedback(web: TestClient, seeded: Database) -> None:
    from joinedup import consent, engagement
    from joinedup.demo.purposes import FOOD_PARCELS_AGREEMENT

    world = load_world(seeded)
    person = world.one("pensioner")
    sign_in(web, person)
    page = web.get("/portal/consents")
    assert page.status_code == 200
    assert "Food parcels delivered to your home" in page.text
    assert "Not given" in page.text
    given = web.post(
        f"/portal/consents/{FOOD_PARCELS_AGREEMENT}/give", data={"csrf_token": csrf_of(web)}
    )
    assert given.status_code == 200
    assert "Consent given" in given.text
    with seeded.reading() as session:
        assert consent.has_consent(
            session,
            agreement=FOOD_PARCELS_AGREEMENT,
            subject_code=person.personal_code,
            on=today(),
        )
    withdrawn = web.post(
        f"/portal/consents/{FOOD_PARCELS_AGREEMENT}/withdraw", data={"csrf_token": csrf_of(web)}
    )
    assert "Consent withdrawn" in withdrawn.text
    assert "How satisfied were you with this?" in withdrawn.text
    with seeded.reading() as session:
        assert not consent.has_consent(
            session,
            agreement=FOOD_PARCELS_AGREEMENT,
            subject_code=person.personal_code,
            on=today(),
        )

    # the question after the task: a bad answer is named and writes nothing, a good one is kept
    refused = web.post(
        "/portal/feedback",
        data={
            "csrf_token": csrf_of(web),
            "task": "consent-withdrawn",
            "rating": "",
            "comment": "x" * 1300,
            "return_to": "/portal/consents",
        },
    )
    assert refused.status_code == 400
    assert "Choose how satisfied you were" in refused.text
    assert "1,200 characters or fewer" in refused.text
    thanks = web.post(
        "/portal/feedback",
        data={
            "csrf_token": csrf_of(web),
            "task": "consent-withdrawn",
            "rating": "4",
            "comment": "Quick and clear.",
            "return_to": "https://elsewhere.example/",  # never an open redirect
        },
    )
    assert thanks.status_code == 200
    assert str(thanks.url).endswith("/portal?feedback=thanks")
    with seeded.reading() as session:
        answers = engagement.list_feedback(
            session, task="consent-withdrawn", page=PageRequest(limit=10)
        ).items
    assert [(a.rating, a.comment) for a in answers] == [(4, "Quick and clear.")]


def test_withdrawing_a_consent_never_given_is_refused(web: TestClient, seeded: Database) -> None:
    from joinedup.demo.purposes import FOOD_PARCELS_AGREEMENT

    world = load_world(seeded)
    sign_in(web, world.one("pensioner"))
    answer = web.post(
        f"/portal/consents/{FOOD_PARCELS_AGREEMENT}/withdraw", data={"csrf_token": csrf_of(web)}
    )
    assert answer.status_code == 409
    unknown = web.post("/portal/consents/not-an-id/give", data={"csrf_token": csrf_of(web)})
    assert unknown.status_code == 404


@pytest.mark.parametrize("valid_from", ["9995-01-01", "9999-12-31"])
def test_a_power_of_attorney_starting_centuries_ahead_is_refused_naming_the_start(
    web: TestClient, seeded: Database, valid_from: str
) -> None:
    world = load_world(seeded)
    sign_in(web, world.accounts[0], means="password-otp", level="substantial")
    answer = web.post(
        "/portal/powers-of-attorney/new",
        data={
            "csrf_token": csrf_of(web),
            "grantee_code": world.accounts[1].personal_code,
            "scope": "everything",
            "valid_from": valid_from,
            "valid_to": "9999-12-31",
        },
    )
    assert answer.status_code == 400
    assert "Enter a first day from today to 10 years from today" in answer.text
