"""CSRF on every unsafe request, idle and absolute session timeouts, sign-in throttling
shared by every process (through the database), secure cookies and HSTS in production."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from identity_support import World, csrf_of, form_value, sign_in
from sqlalchemy import update

from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.core.keys import SigningKey
from joinedup.core.settings import Settings
from joinedup.identity.models import WebSession
from joinedup.web import create_app


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/portal/acting-for", {"subject": "self"}),
        ("/portal/powers-of-attorney/new", {"grantee_code": "38001085718"}),
        ("/portal/powers-of-attorney/confirm", {"grantee_code": "38001085718"}),
        ("/portal/powers-of-attorney/0123456789abcdef01234567/revoke", {}),
        ("/portal/sign-out", {}),
    ],
)
def test_unsafe_requests_without_the_csrf_token_are_refused(
    web: TestClient, world: World, path: str, data: dict[str, str]
) -> None:
    sign_in(web, world.one("pensioner"), means="password-otp", level="substantial")
    for token in (None, "forged", ""):
        sent = dict(data) if token is None else {**data, "csrf_token": token}
        answer = web.post(path, data=sent, follow_redirects=False)
        assert answer.status_code == 403, (path, token)


def test_the_csrf_token_may_come_as_a_header_and_a_foreign_origin_is_refused(
    web: TestClient, world: World
) -> None:
    account = world.one("pensioner")
    sign_in(web, account)
    token = csrf_of(web)
    ok = web.post(
        "/portal/acting-for",
        data={"subject": account.personal_code},
        headers={"x-csrf-token": token},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    foreign = web.post(
        "/portal/acting-for",
        data={"subject": account.personal_code, "csrf_token": token},
        headers={"origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert foreign.status_code == 403


def test_the_csrf_token_of_another_session_does_not_work(
    web: TestClient, other_browser: TestClient, world: World
) -> None:
    sign_in(web, world.one("pensioner"))
    sign_in(other_browser, world.one("young-adult"))
    theirs = csrf_of(other_browser)
    answer = web.post(
        "/portal/acting-for", data={"subject": "x", "csrf_token": theirs}, follow_redirects=False
    )
    assert answer.status_code == 403


def _age(
    database: Database, *, idle: timedelta = timedelta(0), lifetime_left: timedelta | None = None
) -> None:
    values: dict[str, object] = {"last_seen_at": utcnow() - idle}
    if lifetime_left is not None:
        values["expires_at"] = utcnow() + lifetime_left
    with database.unit_of_work() as session:
        session.execute(update(WebSession).values(**values))


def test_an_idle_session_ends(web: TestClient, world: World, seeded: Database) -> None:
    sign_in(web, world.one("pensioner"))
    _age(seeded, idle=timedelta(minutes=29))
    assert web.get("/portal/acting-for", follow_redirects=False).status_code == 200  # activity
    _age(seeded, idle=timedelta(minutes=31))
    assert web.get("/portal/acting-for", follow_redirects=False).status_code == 303


def test_a_session_ends_at_its_absolute_lifetime_however_active(
    web: TestClient, world: World, seeded: Database
) -> None:
    sign_in(web, world.one("pensioner"))
    _age(seeded, lifetime_left=timedelta(seconds=-1))
    assert web.get("/portal/acting-for", follow_redirects=False).status_code == 303


def _try_password(
    client: TestClient, world: World, password: str, account_tag: str = "pensioner"
) -> int:
    page = client.get("/portal/sign-in")
    credentials = world.one(account_tag).credentials
    answer = client.post(
        "/idp/sign-in",
        data={
            "request": form_value(page.text, "request"),
            "csrf_token": form_value(page.text, "csrf_token"),
            "means": "password",
            "username": credentials.username,
            "password": password,
        },
        follow_redirects=False,
    )
    return answer.status_code


def test_an_account_is_locked_after_five_failures_even_for_the_right_password(
    web: TestClient, world: World
) -> None:
    for _ in range(5):
        assert _try_password(web, world, "wrong-password") == 400
    right = world.one("pensioner").credentials.password
    assert _try_password(web, world, right) == 429
    other = world.one("young-adult").credentials.password
    assert _try_password(web, world, other, "young-adult") == 303  # other accounts are fine


def test_throttling_is_shared_by_every_process(
    web: TestClient, world: World, web_settings: Settings, seeded: Database
) -> None:
    """A second application (another process) on the same database sees the failures."""
    for _ in range(5):
        assert _try_password(web, world, "wrong-password") == 400
    other = Database(seeded.url)
    try:
        app = create_app(web_settings, database=other)
        with TestClient(app) as client:
            app.state.oidc_http = client
            right = world.one("pensioner").credentials.password
            assert _try_password(client, world, right) == 429
    finally:
        other.dispose()


def test_one_address_guessing_many_accounts_is_refused(
    web: TestClient, world: World, web_settings: Settings, seeded: Database
) -> None:
    settings = web_settings.model_copy(update={"signin_max_failures_per_ip": 3})
    app = create_app(settings, database=seeded)
    with TestClient(app) as client:
        app.state.oidc_http = client
        for tag in ("young-adult", "widowed", "newly-married"):
            assert _try_password(client, world, "wrong-password", tag) == 400
        right = world.one("pensioner").credentials.password
        assert _try_password(client, world, right) == 429


def test_production_cookies_are_secure_host_cookies_and_hsts_is_sent(
    tmp_path: Path, seeded: Database, world: World
) -> None:
    settings = Settings(
        environment="production",
        data_dir=tmp_path,
        public_url="https://testserver",
        secret_key="s" * 40,
        log_signing_key=SigningKey.generate().to_pem().decode(),
        database_url="postgresql+psycopg://postgres@127.0.0.1:5432/unused",
        idp_enabled=True,
        idp_signing_key=__import__("joinedup.identity.provider.keys", fromlist=["x"])
        ._generate()
        .decode(),
    )
    app = create_app(settings, database=seeded)
    with TestClient(app, base_url="https://testserver", headers={"accept": "text/html"}) as client:
        app.state.oidc_http = client
        page = client.get("/portal/sign-in", follow_redirects=False)
        binding = page.headers["set-cookie"]
        assert binding.startswith("__Host-joinedup-sign-in=")
        assert "Secure" in binding
        assert "HttpOnly" in binding
        assert "Path=/" in binding
        assert "Domain" not in binding
        assert page.headers["strict-transport-security"].startswith("max-age=")
        answer = sign_in(client, world.one("pensioner"))
        assert str(answer.url) == "https://testserver/portal"
        assert client.cookies.get("__Host-joinedup-session")
        # demo credentials are never listed in production
        listing = client.get("/portal/sign-in")
        assert "Demo accounts" not in listing.text
