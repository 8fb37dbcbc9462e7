"""Security headers on every answer; request ids accepted when well formed, else generated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from portal_support import send_decision_letter

from joinedup.core.db import Database
from joinedup.core.keys import SigningKey
from joinedup.core.settings import Settings
from joinedup.web import create_app


@pytest.mark.parametrize(
    "path", ["/", "/healthz", "/api/nothing-here", "/assets/govuk-frontend.min.css"]
)
def test_security_headers_are_on_every_answer(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    csp = headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert directives["base-uri"] == "'self'"
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "camera=()" in headers["permissions-policy"]
    assert "strict-transport-security" not in headers  # not outside production


def test_api_answers_are_never_cached(client: TestClient) -> None:
    assert client.get("/healthz").headers["cache-control"] == "no-store"
    assert client.get("/openapi.json").headers["cache-control"] == "no-store"
    assert client.get("/api/nothing-here").headers["cache-control"] == "no-store"


def test_hsts_and_secure_cookies_only_in_production(
    tmp_path: Path, sqlite_database: Database
) -> None:
    settings = Settings(
        environment="production",
        data_dir=tmp_path,
        secret_key="s" * 40,
        log_signing_key=SigningKey.generate().to_pem().decode(),
        database_url="postgresql+psycopg://postgres@127.0.0.1:5432/unused",
        oidc_issuer="https://eid.example.gov",
        oidc_client_secret="c" * 40,
    )
    app = create_app(settings, database=sqlite_database)
    with TestClient(app) as client:
        response = client.get("/healthz")
        assert response.headers["strict-transport-security"].startswith("max-age=")
        chosen = client.get("/?lang=et")
        assert "Secure" in chosen.headers["set-cookie"]


def test_a_well_formed_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/healthz", headers={"x-request-id": "abc-123.DEF_456"})
    assert response.headers["x-request-id"] == "abc-123.DEF_456"


@pytest.mark.parametrize(
    "offered",
    [
        None,
        "short",  # fewer than 8 characters
        "has spaces in it",
        "x" * 200,
        "<script>alert(1)</script>",
        "person-38001010001",  # would be masked in the logs: refused
    ],
)
def test_a_missing_or_malformed_request_id_is_replaced(
    client: TestClient, offered: str | None
) -> None:
    headers = {"x-request-id": offered} if offered is not None else {}
    request_id = client.get("/healthz", headers=headers).headers["x-request-id"]
    assert request_id != offered
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)


def test_each_request_gets_its_own_id(client: TestClient) -> None:
    ids = {client.get("/healthz").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


# --- the authorisation matrix of the portal and the back office ------------------------------
#
# No citizen sees another person's data except through a valid mandate — guessed identifiers
# in URLs (letter ids, data-usage record ids, agreement ids) included — and no staff member
# sees what their organisation has no right to.


def _private_letter(database: Database, recipient: str, reference: str) -> str:
    return send_decision_letter(
        database,
        recipient,
        reference,
        subject="A private decision",
        paragraph="Only for its recipient.",
    )


PORTAL_PAGES = [
    "/portal/overview",
    "/portal/data-usage",
    "/portal/messages",
    "/portal/consents",
]


def _usage_ids(database: Database, subject: str) -> list[int]:
    from joinedup.core.pagination import PageRequest
    from joinedup.exchange import list_usage

    with database.reading() as session:
        page = list_usage(session, subject_code=subject, request=PageRequest(limit=100))
    return [item.id for item in page.items]


@pytest.mark.parametrize("path", [*PORTAL_PAGES, "/portal/data-usage/1/verify"])
def test_portal_pages_need_a_sign_in(web: TestClient, path: str) -> None:
    answer = web.get(path, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/portal/sign-in?")


@pytest.mark.parametrize(
    "path",
    [
        "/portal/consents/6d1b5f1e-7a0c-4c55-9d5e-0f00d0ba2c01/give",
        "/portal/consents/6d1b5f1e-7a0c-4c55-9d5e-0f00d0ba2c01/withdraw",
        "/portal/feedback",
    ],
)
def test_portal_forms_need_the_csrf_token(web: TestClient, seeded: Database, path: str) -> None:
    from identity_support import load_world, sign_in

    sign_in(web, load_world(seeded).one("pensioner"))
    assert web.post(path, data={"task": "consent-given", "rating": "5"}).status_code == 403
    assert web.post(path, data={"csrf_token": "forged", "rating": "5"}).status_code == 403


def test_another_persons_letters_and_records_are_not_found(
    web: TestClient, other_browser: TestClient, seeded: Database
) -> None:
    """Guessed (here: known) identifiers of someone else's letter and data-usage records."""
    from identity_support import load_world, sign_in

    world = load_world(seeded)
    me, other = world.one("pensioner"), world.one("newly-married")
    their_letter = _private_letter(seeded, other.personal_code, "matrix-other")
    sign_in(other_browser, other)
    assert other_browser.get("/portal/overview").status_code == 200  # records of the other
    their_records = _usage_ids(seeded, other.personal_code)
    assert their_records
    sign_in(web, me)
    assert web.get(f"/portal/messages/{their_letter}").status_code == 404
    assert web.get("/portal/messages/not-a-uuid").status_code == 404
    for record in their_records[:3]:
        assert web.get(f"/portal/data-usage/{record}/verify").status_code == 404
    assert web.get("/portal/data-usage/999999999/verify").status_code == 404
    assert web.get("/portal/data-usage/abc/verify").status_code == 422
    listing = web.get("/portal/data-usage")
    assert other.personal_code not in listing.text
    assert "A private decision" not in web.get("/portal/messages").text
    with seeded.reading() as session:  # opening nothing left no receipt
        from joinedup import notify

        letter = notify.get_letter(
            session, message_id=their_letter, recipient_code=other.personal_code
        )
    assert letter.read_at is None
    # a personal code typed into the switcher is no mandate
    switch = web.post(
        "/portal/acting-for",
        data={"csrf_token": _csrf(web), "subject": other.personal_code},
    )
    assert switch.status_code == 403


def test_anothers_consent_cannot_be_reached(
    web: TestClient, other_browser: TestClient, seeded: Database
) -> None:
    from identity_support import load_world, sign_in

    from joinedup import consent
    from joinedup.core.clock import today
    from joinedup.demo.purposes import FOOD_PARCELS_AGREEMENT

    world = load_world(seeded)
    me, other = world.one("pensioner"), world.one("newly-married")
    sign_in(other_browser, other)
    given = other_browser.post(
        f"/portal/consents/{FOOD_PARCELS_AGREEMENT}/give",
        data={"csrf_token": _csrf(other_browser)},
    )
    assert given.status_code == 200
    sign_in(web, me)
    # my withdrawal touches only my own (never given) consent
    assert (
        web.post(
            f"/portal/consents/{FOOD_PARCELS_AGREEMENT}/withdraw",
            data={"csrf_token": _csrf(web)},
        ).status_code
        == 409
    )
    with seeded.reading() as session:
        assert consent.has_consent(
            session, agreement=FOOD_PARCELS_AGREEMENT, subject_code=other.personal_code, on=today()
        )
        assert not consent.has_consent(
            session, agreement=FOOD_PARCELS_AGREEMENT, subject_code=me.personal_code, on=today()
        )


def test_a_limited_power_of_attorney_shows_only_what_it_covers(
    web: TestClient, seeded: Database
) -> None:
    """The demo's widow(er) gave a business representative a power of attorney for income
    and payment-account data only."""
    from identity_support import load_world, sign_in

    from joinedup.identity import powers_received_on

    world = load_world(seeded)
    from joinedup.core.clock import today

    with seeded.reading() as session:
        holder = next(
            a
            for a in world.tagged("business-representative")
            if powers_received_on(session, grantee_code=a.personal_code, on=today())
        )
        grantor = powers_received_on(session, grantee_code=holder.personal_code, on=today())[0]
    grantor_letter = _private_letter(seeded, grantor.subject_code, "matrix-poa")
    sign_in(web, holder)
    switched = web.post(
        "/portal/acting-for", data={"csrf_token": _csrf(web), "subject": grantor.subject_code}
    )
    assert switched.status_code == 200
    overview = web.get("/portal/overview")
    assert overview.status_code == 200
    assert overview.text.count("Your mandate does not cover this: it was not read.") == 4
    reads = {
        u for u in _usage_services(seeded, grantor.subject_code) if u[1] == holder.personal_code
    }
    assert {s for s, _ in reads} == {"employment", "income-totals", "payment-account"}
    assert web.get("/portal/messages").status_code == 403
    assert web.get(f"/portal/messages/{grantor_letter}").status_code == 403
    assert web.get("/portal/data-usage").status_code == 403
    assert web.get("/portal/consents").status_code == 403


def _usage_services(database: Database, subject: str) -> set[tuple[str, str | None]]:
    from joinedup.core.pagination import PageRequest
    from joinedup.exchange import list_usage

    with database.reading() as session:
        page = list_usage(session, subject_code=subject, request=PageRequest(limit=500))
    return {
        (item.service_xroad_id.rsplit("/", 1)[1], item.user_id)
        for item in page.items
        if item.service_xroad_id and item.purpose == "subject-access"
    }


def _csrf(client: TestClient) -> str:
    from identity_support import csrf_of

    return csrf_of(client)


def _staff(database: Database, org_key: str, role: str) -> tuple[object, str]:
    from identity_support import load_world, staff_roles

    from joinedup.demo.agencies import organisation

    org = organisation(org_key)
    for account in load_world(database).tagged("staff"):
        if (str(org.member_class), org.member_code, role) in staff_roles(
            database, account.personal_code
        ):
            return account, f"/backoffice/organisations/{org.member_class}/{org.member_code}/person"
    raise AssertionError(f"no {role} of {org_key}")


def test_staff_see_only_what_their_organisation_may(web: TestClient, seeded: Database) -> None:
    from identity_support import load_world, sign_in

    from joinedup.demo.agencies import organisation
    from joinedup.demo.geography import MUNICIPALITIES, REGIONS

    world = load_world(seeded)
    person = world.one("pensioner").personal_code
    before = len(_usage_ids(seeded, person))
    sib = organisation("social-insurance")
    sib_page = f"/backoffice/organisations/{sib.member_class}/{sib.member_code}/person"
    sib_access = f"{sib.member_class}/{sib.member_code}/benefits|old-age-pension"

    # a caseworker of a municipality: not the Social Insurance Board's page, nor its rights
    caseworker, own_page = _staff(seeded, f"municipality-{MUNICIPALITIES[0].code}", "caseworker")
    sign_in(web, caseworker, means="password-otp", level="substantial")  # type: ignore[arg-type]
    assert web.get(sib_page).status_code == 403
    data = {"csrf_token": _csrf(web), "personal_code": person, "access": sib_access}
    assert web.post(sib_page, data=data).status_code == 403
    assert web.post(own_page, data=data).status_code == 403  # not one of its own rights
    # its own right reads only its own residents: someone living elsewhere is refused
    own = web.get(own_page)
    assert own.status_code == 200
    choices = re.findall(r'name="access" type="radio" value="([^"]+)"', own.text)
    access = next(value for value in choices if value.endswith("|social-welfare"))
    elsewhere = _resident_elsewhere(seeded, MUNICIPALITIES[0].code)
    refused = web.post(
        own_page,
        data={"csrf_token": _csrf(web), "personal_code": elsewhere, "access": access},
    )
    assert refused.status_code == 400  # outside its residents: as if unknown, nothing shown
    assert "The population register has no person with this code" in refused.text
    assert elsewhere not in refused.text.replace(f'value="{elsewhere}"', "")

    # a regional health authority's caseworker: its organisation holds no right to persons
    health, health_page = _staff(seeded, f"health-authority-{REGIONS[0][0]}", "caseworker")
    sign_in(web, health, means="password-otp", level="substantial")  # type: ignore[arg-type]
    page = web.get(health_page)
    assert page.status_code == 200
    assert "holds no right to read the population register" in page.text
    forged = web.post(
        health_page,
        data={"csrf_token": _csrf(web), "personal_code": person, "access": sib_access},
    )
    assert forged.status_code == 400  # no choice it may make: nothing is read

    # an analyst of the Social Insurance Board works on figures, not on people
    analyst, _ = _staff(seeded, "social-insurance", "analyst")
    sign_in(web, analyst, means="password-otp", level="substantial")  # type: ignore[arg-type]
    assert web.get(sib_page).status_code == 403

    # a citizen with no staff role (sent to sign in at the substantial level first)
    sign_in(web, world.one("pensioner"))
    again = web.get(sib_page, follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith("/portal/sign-in?level=substantial")
    sign_in(web, world.one("pensioner"), means="password-otp", level="substantial")
    assert web.get(sib_page).status_code == 403
    assert len(_usage_ids(seeded, person)) == before  # nobody above read the person


def _resident_elsewhere(database: Database, municipality: str) -> str:
    from sqlalchemy import text

    with database.reading() as session:
        return str(
            session.execute(
                text(
                    "SELECT p.personal_code FROM person p JOIN residence r ON r.person_id = p.id "
                    "JOIN address a ON a.id = r.address_id "
                    "JOIN municipality m ON m.id = a.municipality_id "
                    "WHERE m.code != :m AND r.valid_to IS NULL "
                    "AND r.superseded_at IS NULL AND p.date_of_death IS NULL LIMIT 1"
                ),
                {"m": municipality},
            ).scalar_one()
        )
