"""Applying online in the portal (and through the API): the service page offers it, the form
shows what the registers hold and asks only the rest, bad answers are named in a GOV.UK error
summary with nothing stored, a forged or missing CSRF token is refused, and the confirmation
page shows the decision with the question after the task."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.testclient import TestClient
from identity_support import csrf_of, form_value, load_world, sign_in
from sqlalchemy import text

from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.exchange.registry_answers import residence_municipality

OWNER = {"rent": "500.00", "housing_tenure": "owner"}


def _count(database: Database, table: str, person: str) -> int:
    column = "recipient_code" if table == "notify_letter" else "person_code"
    with database.reading() as session:
        return int(
            session.execute(
                text(f"SELECT count(*) FROM {table} WHERE {column} = :code"), {"code": person}
            ).scalar_one()
        )


@pytest.fixture
def resident(web: TestClient, seeded: Database) -> tuple[str, str]:
    """A demo account living in a municipality, signed in; and that municipality's housing
    support."""
    world = load_world(seeded)
    with seeded.reading() as session:
        for account in world.tagged("young-adult"):
            municipality = residence_municipality(session, account.personal_code, today())
            if municipality is not None:
                break
        else:  # pragma: no cover - the seeded country has residents
            raise AssertionError("no young adult with a residence")
    sign_in(web, account)
    return account.personal_code, f"housing-support-{municipality}"


def test_the_service_page_offers_to_apply_online(
    web: TestClient, other_browser: TestClient, resident: tuple[str, str]
) -> None:
    _, service = resident
    signed_in = web.get(f"/portal/services/{service}")
    assert signed_in.status_code == 200
    assert f'href="/portal/services/{service}/apply"' in signed_in.text
    assert "Apply online" in signed_in.text
    anonymous = other_browser.get(f"/portal/services/{service}")
    assert "Sign in to apply online" in anonymous.text
    automatic = web.get("/portal/services/child-benefit")
    assert "Apply online" not in automatic.text


def test_the_form_shows_what_the_registers_hold_and_asks_for_the_rent(
    web: TestClient, seeded: Database, resident: tuple[str, str]
) -> None:
    person, service = resident
    page = web.get(f"/portal/services/{service}/apply")
    assert page.status_code == 200, page.text
    assert "What the registers already hold" in page.text
    assert "Date of birth" in page.text
    assert 'name="rent"' in page.text
    assert 'name="housing_tenure" type="radio" value="tenant"' in page.text
    assert uuid.UUID(form_value(page.text, "submission"))
    assert _count(seeded, "proactive_application", person) == 0


@pytest.mark.parametrize(
    ("rent", "message"),
    [("-5", "Monthly rent must be 0 or more"), ("a lot", "Monthly rent must be a number")],
)
def test_bad_answers_are_named_and_nothing_is_stored(
    web: TestClient, seeded: Database, resident: tuple[str, str], rent: str, message: str
) -> None:
    person, service = resident
    letters = _count(seeded, "notify_letter", person)
    answer = web.post(
        f"/portal/services/{service}/apply",
        data={"csrf_token": csrf_of(web), "rent": rent, "housing_tenure": "tenant"},
    )
    assert answer.status_code == 400
    assert "govuk-error-summary" in answer.text
    assert '<a href="#rent">' in answer.text
    assert message in answer.text
    assert 'id="rent-error"' in answer.text
    assert f'value="{rent}"' in answer.text  # what was typed is kept
    assert "<title>Error:" in answer.text
    assert _count(seeded, "proactive_application", person) == 0
    assert _count(seeded, "proactive_entitlement", person) == 0
    assert _count(seeded, "notify_letter", person) == letters


def test_the_form_speaks_estonian(web: TestClient, resident: tuple[str, str]) -> None:
    _, service = resident
    page = web.get(f"/portal/services/{service}/apply?lang=et")
    assert page.status_code == 200
    assert "Mida registrid juba teavad" in page.text
    assert "Saada taotlus" in page.text
    wrong = web.post(
        f"/portal/services/{service}/apply?lang=et",
        data={"csrf_token": csrf_of(web), "rent": "-5", "housing_tenure": "tenant"},
    )
    assert wrong.status_code == 400
    assert "peab olema 0 või rohkem" in wrong.text


def test_a_form_without_the_csrf_token_is_refused(
    web: TestClient, seeded: Database, resident: tuple[str, str]
) -> None:
    person, service = resident
    refused = web.post(f"/portal/services/{service}/apply", data=OWNER)
    assert refused.status_code == 403
    forged = web.post(f"/portal/services/{service}/apply", data={**OWNER, "csrf_token": "x"})
    assert forged.status_code == 403
    assert _count(seeded, "proactive_application", person) == 0


def test_applying_lands_on_the_decision_with_the_question_after_the_task(
    web: TestClient, seeded: Database, resident: tuple[str, str]
) -> None:
    person, service = resident
    form = web.get(f"/portal/services/{service}/apply")
    fields = {
        "csrf_token": form_value(form.text, "csrf_token"),
        "submission": form_value(form.text, "submission"),
        **OWNER,
    }
    sent = web.post(f"/portal/services/{service}/apply", data=fields, follow_redirects=False)
    assert sent.status_code == 303
    where = sent.headers["location"]
    assert re.fullmatch(r"/portal/applications/[0-9a-f-]{36}", where)
    again = web.post(f"/portal/services/{service}/apply", data=fields, follow_redirects=False)
    assert again.headers["location"] == where  # sent twice: one application
    assert _count(seeded, "proactive_application", person) == 1
    done = web.get(where)
    assert done.status_code == 200
    assert "Application refused" in done.text
    assert "the household does not rent its home" in done.text
    assert "How satisfied were you with this?" in done.text
    assert 'name="task" value="service-applied"' in done.text
    assert _count(seeded, "notify_letter", person) >= 1
    thanks = web.post(
        "/portal/feedback",
        data={
            "csrf_token": form_value(done.text, "csrf_token"),
            "task": "service-applied",
            "rating": "5",
            "return_to": where,
        },
    )
    assert thanks.status_code == 200
    assert "Thank you for your feedback." in thanks.text


def test_the_api_applies_and_answers_problems(
    web: TestClient, seeded: Database, resident: tuple[str, str]
) -> None:
    person, service = resident
    headers = {"X-CSRF-Token": csrf_of(web), "Accept": "application/json"}
    url = f"/api/v1/me/services/{service}/applications"
    bad = web.post(url, json={"answers": {"rent": -1, "housing_tenure": "tenant"}}, headers=headers)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    problem = bad.json()
    assert problem["type"].endswith("/validation-failed")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [("rent", "negative")]
    key = str(uuid.uuid4())
    made = web.post(url, json={"answers": OWNER}, headers={**headers, "Idempotency-Key": key})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["outcome"] == "refused"
    assert body["person_code"] == body["actor_code"] == person
    again = web.post(url, json={"answers": OWNER}, headers={**headers, "Idempotency-Key": key})
    assert again.json()["id"] == body["id"]
    assert again.json()["replayed"] is True
    read = web.get(f"/api/v1/me/applications/{body['id']}", headers=headers)
    assert read.status_code == 200
    assert read.json()["entitlement_status"] == "ended"
    automatic = web.post(
        "/api/v1/me/services/child-benefit/applications", json={"answers": {}}, headers=headers
    )
    assert automatic.status_code == 409
    assert _count(seeded, "proactive_application", person) == 1


def test_the_reads_for_an_application_name_who_asked_and_for_whom(
    web: TestClient, seeded: Database
) -> None:
    """An attorney opens the application form for the grantor: the registers' reads are the
    grantor's data-usage records naming the attorney as the user and the grantor as the
    party represented (they named neither)."""
    from portal_support import grant_everything

    from joinedup.core.pagination import PageRequest
    from joinedup.exchange import list_usage

    world = load_world(seeded)
    with seeded.reading() as session:
        codes = [
            row[0]
            for row in session.execute(
                text("SELECT code FROM catalogue_service WHERE code LIKE 'housing-support-%'")
            )
        ]
    attorney = world.accounts[0]
    for grantor in world.accounts[1:]:
        if "staff" in grantor.tags:
            continue
        grant_everything(
            seeded,
            grantor=grantor.personal_code,
            grantor_name=grantor.given_names,
            grantee=attorney.personal_code,
        )
        web.cookies.clear()
        sign_in(web, attorney)
        switched = web.post(
            "/portal/acting-for",
            data={"csrf_token": csrf_of(web), "subject": grantor.personal_code},
        )
        assert switched.status_code == 200
        for code in codes:
            page = web.get(f"/portal/services/{code}/apply")
            if page.status_code != 200 or "What the registers already hold" not in page.text:
                continue
            with seeded.reading() as session:
                items = list_usage(
                    session, subject_code=grantor.personal_code, request=PageRequest(limit=200)
                ).items
            reads = [u for u in items if u.purpose == "means-tested-benefit"]
            assert reads
            assert {(u.user_id, u.represented_party) for u in reads} == {
                (attorney.personal_code, grantor.personal_code)
            }
            return
    raise AssertionError("no grantor is served by a housing-support service")
