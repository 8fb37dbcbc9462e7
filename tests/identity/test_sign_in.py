"""Signing in to the portal through the embedded provider: each means gives its level of
assurance, the session cookie is what it should be, and step-up asks again."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from identity_support import World, csrf_of, sign_in
from sqlalchemy import select

from joinedup.core.db import Database
from joinedup.identity.models import WebSession


@pytest.mark.parametrize(
    ("means", "level"),
    [("password", "low"), ("password-otp", "substantial"), ("card", "high")],
)
def test_each_means_signs_in_at_its_level(
    web: TestClient, world: World, seeded: Database, means: str, level: str
) -> None:
    account = world.one("pensioner")
    answer = sign_in(web, account, means=means, return_to="/portal")
    assert answer.status_code == 200
    assert str(answer.url) == "http://testserver/portal"
    assert f"{account.given_names} {account.family_name}" in answer.text
    with seeded.reading() as session:
        row = session.scalars(select(WebSession)).one()
        assert row.personal_code == account.personal_code
        assert row.level_of_assurance == level


def test_the_session_cookie_is_http_only_and_same_site_lax(web: TestClient, world: World) -> None:
    page = web.get("/portal/sign-in")
    from identity_support import form_value

    account = world.one("pensioner")
    credentials = account.credentials
    answer = web.post(
        "/idp/sign-in",
        data={
            "request": form_value(page.text, "request"),
            "csrf_token": form_value(page.text, "csrf_token"),
            "means": "password",
            "username": credentials.username,
            "password": credentials.password,
        },
        follow_redirects=False,
    )
    callback = web.get(answer.headers["location"], follow_redirects=False)
    assert callback.status_code == 303
    cookie = next(
        c for c in callback.headers.get_list("set-cookie") if c.startswith("joinedup-session=")
    )
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "samesite"} <= attributes
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in attributes  # plain HTTP outside production; see the production test


def test_a_session_id_from_before_sign_in_is_never_adopted(
    web: TestClient, world: World, seeded: Database
) -> None:
    web.cookies.set(
        "joinedup-session", "chosen-by-an-attacker-0123456789abcdef", domain="testserver.local"
    )
    sign_in(web, world.one("pensioner"))
    token = web.cookies.get("joinedup-session")
    assert token
    assert token != "chosen-by-an-attacker-0123456789abcdef"
    first = token
    sign_in(web, world.one("pensioner"), means="card")  # signing in again: a new session
    assert web.cookies.get("joinedup-session") != first
    with seeded.reading() as session:
        reasons = session.scalars(select(WebSession.end_reason).order_by(WebSession.created_at))
        assert list(reasons) == ["signed in again", None]


def test_step_up_sends_a_low_session_to_sign_in_again(web: TestClient, world: World) -> None:
    account = world.one("pensioner")
    sign_in(web, account)
    answer = web.get("/portal/powers-of-attorney/new", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/portal/sign-in?level=substantial")
    followed = web.get(answer.headers["location"])
    assert "/idp/sign-in" in str(followed.url)
    assert "User name and password" in followed.text  # substantial: password and code
    assert 'value="password"' not in followed.text  # no password-only choice
    done = sign_in(
        web,
        account,
        means="password-otp",
        level="substantial",
        return_to="/portal/powers-of-attorney/new",
    )
    assert str(done.url) == "http://testserver/portal/powers-of-attorney/new"
    assert "Give a power of attorney" in done.text


def test_a_page_needing_a_sign_in_redirects_and_comes_back(web: TestClient, world: World) -> None:
    answer = web.get("/portal/acting-for", follow_redirects=False)
    assert answer.status_code == 303
    assert (
        answer.headers["location"] == "/portal/sign-in?level=low&return_to=%2Fportal%2Facting-for"
    )
    api = web.get("/portal/acting-for", headers={"accept": "application/json"})
    assert api.status_code == 401
    assert api.json()["type"].endswith("/sign-in-required")


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"],
)
def test_return_addresses_are_never_open_redirects(
    web: TestClient, world: World, target: str
) -> None:
    answer = sign_in(web, world.one("pensioner"), return_to=target)
    assert str(answer.url) == "http://testserver/portal"


def test_sign_out_ends_the_session_here_and_at_the_provider(
    web: TestClient, world: World, seeded: Database
) -> None:
    sign_in(web, world.one("pensioner"))
    token = web.cookies.get("joinedup-session")
    csrf = csrf_of(web)
    answer = web.post("/portal/sign-out", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("http://testserver/idp/end-session?id_token_hint=")
    back = web.get(answer.headers["location"], follow_redirects=False)
    assert back.headers["location"] == "http://testserver/portal/signed-out?state=signed-out"
    assert web.get("/portal/signed-out").status_code == 200
    with seeded.reading() as session:
        assert session.scalars(select(WebSession.end_reason)).one() == "sign-out"
    web.cookies.set("joinedup-session", token or "", domain="testserver.local")
    assert web.get("/portal/acting-for", follow_redirects=False).status_code == 303  # dead


def test_sign_out_without_the_csrf_token_is_refused(web: TestClient, world: World) -> None:
    sign_in(web, world.one("pensioner"))
    answer = web.post("/portal/sign-out", data={"csrf_token": "forged"}, follow_redirects=False)
    assert answer.status_code == 403
    assert web.get("/portal/acting-for").status_code == 200  # still signed in


def test_a_cancelled_sign_in_says_so(web: TestClient, world: World) -> None:
    page = web.get("/portal/sign-in", follow_redirects=False)
    authorize = web.get(page.headers["location"], follow_redirects=False)
    from urllib.parse import parse_qs, urlsplit

    state = parse_qs(urlsplit(page.headers["location"]).query)["state"][0]
    assert authorize.status_code == 303
    answer = web.get("/portal/sign-in/callback", params={"state": state, "error": "access_denied"})
    assert answer.status_code == 400
    assert "You did not sign in" in answer.text
