"""joinedup as a relying party, pointed at the embedded provider over real HTTP (uvicorn on a
loopback port) exactly as it would be at the national eID; and the ID-token checks, each
proven by a token that fails it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from identity_support import World, form_value, free_port, served
from joserfc import jwt
from joserfc.jwk import ECKey

from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.identity import RelyingParty, SignInRefused, forget_provider_metadata
from joinedup.identity.provider import builtin_client_secret, provider_signing_key
from joinedup.web import create_app

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def site(tmp_path: Path, seeded: Database) -> Iterator[tuple[str, Settings]]:
    port = free_port()
    settings = Settings(
        environment="test",
        data_dir=tmp_path / "var",
        public_url=f"http://127.0.0.1:{port}",
        log_format="console",
    )
    forget_provider_metadata()
    with served(create_app(settings, database=seeded), port) as base:
        yield base, settings
    forget_provider_metadata()


def _browser(base: str) -> httpx.Client:
    return httpx.Client(
        base_url=base, headers={"accept": "text/html"}, follow_redirects=True, timeout=30
    )


def _to_provider(browser: httpx.Client) -> httpx.Response:
    page = browser.get("/portal/sign-in", params={"return_to": "/portal/acting-for"})
    assert page.status_code == 200
    return page


def _submit(
    browser: httpx.Client, page: httpx.Response, world: World, **kwargs: bool
) -> httpx.Response:
    account = world.one("parent-of-minor")
    return browser.post(
        "/idp/sign-in",
        data={
            "request": form_value(page.text, "request"),
            "csrf_token": form_value(page.text, "csrf_token"),
            "means": "password",
            "username": account.credentials.username,
            "password": account.credentials.password,
        },
        **kwargs,  # type: ignore[arg-type]
    )


def test_signing_in_over_http_as_with_an_external_provider(
    site: tuple[str, Settings], world: World
) -> None:
    base, _ = site
    with _browser(base) as browser:
        page = _to_provider(browser)
        assert str(page.url).startswith(f"{base}/idp/sign-in?request=")
        done = _submit(browser, page, world)
        assert done.status_code == 200, done.text
        assert str(done.url) == f"{base}/portal/acting-for"
        account = world.one("parent-of-minor")
        assert f"Signed in as {account.given_names} {account.family_name}" in done.text
        assert "Your child (until they are 18)" in done.text


def test_a_callback_with_an_unknown_state_is_refused(
    site: tuple[str, Settings], world: World
) -> None:
    base, _ = site
    with _browser(base) as browser:
        page = _to_provider(browser)
        back = _submit(browser, page, world, follow_redirects=False)
        query = parse_qs(urlsplit(back.headers["location"]).query)
        refused = browser.get(
            "/portal/sign-in/callback", params={"state": "made-up", "code": query["code"][0]}
        )
        assert refused.status_code == 403
        assert "joinedup-session" not in browser.cookies


def test_a_callback_started_in_another_browser_is_refused(
    site: tuple[str, Settings], world: World
) -> None:
    """Login CSRF: an attacker's own sign-in completed in the victim's browser."""
    base, _ = site
    with _browser(base) as attacker, _browser(base) as victim:
        page = _to_provider(attacker)
        back = _submit(attacker, page, world, follow_redirects=False)
        refused = victim.get(back.headers["location"])
        assert refused.status_code == 403
        assert "joinedup-session" not in victim.cookies


def test_a_replayed_callback_is_refused(site: tuple[str, Settings], world: World) -> None:
    base, _ = site
    with _browser(base) as browser:
        page = _to_provider(browser)
        back = _submit(browser, page, world, follow_redirects=False)
        callback = back.headers["location"]
        assert browser.get(callback).status_code == 200
        assert browser.get(callback).status_code == 403


# --- the ID token's checks ---------------------------------------------------------------


@pytest.fixture
def party(web: TestClient, web_settings: Settings) -> RelyingParty:
    return RelyingParty(
        issuer=web_settings.embedded_issuer,
        client_id="joinedup-portal",
        client_secret=builtin_client_secret(web_settings),
        redirect_uri="http://testserver/portal/sign-in/callback",
        post_logout_redirect_uri="http://testserver/portal/signed-out",
        http=web,
    )


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "http://testserver/idp",
        "aud": ["joinedup-portal"],
        "sub": "38001085718",
        "personal_code": "38001085718",
        "given_name": "Mari",
        "family_name": "Maasikas",
        "nonce": "the-nonce",
        "acr": "http://eidas.europa.eu/LoA/substantial",
        "amr": ["pwd", "otp"],
        "iat": now,
        "exp": now + 600,
        "auth_time": now,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _token(key: ECKey, **overrides: object) -> str:
    return jwt.encode({"alg": "ES256", "kid": key.kid}, _claims(**overrides), key)


def test_a_good_id_token_names_the_person_and_level(
    party: RelyingParty, web_settings: Settings
) -> None:
    key = provider_signing_key(web_settings)
    identity = party.validate_id_token(_token(key), nonce="the-nonce")
    assert identity.personal_code == "38001085718"
    assert str(identity.level_of_assurance) == "substantial"
    assert identity.methods == ("pwd", "otp")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"nonce": "another-sign-in"}, "nonce"),
        ({"aud": ["someone-else"]}, "another client"),
        ({"aud": ["joinedup-portal", "someone-else"]}, "another client"),  # no azp
        ({"iss": "https://other-provider.example"}, "another provider"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 4200}, "expired"),
        ({"iat": int(time.time()) + 3600}, "future"),
        ({"acr": None}, "level of assurance"),
        ({"acr": "http://example.org/weird"}, "level of assurance"),
        ({"personal_code": None, "sub": "not-a-person"}, "no person"),
    ],
)
def test_id_tokens_failing_a_check_are_refused(
    party: RelyingParty, web_settings: Settings, overrides: dict[str, object], reason: str
) -> None:
    token = _token(provider_signing_key(web_settings), **overrides)
    with pytest.raises(SignInRefused, match=reason):
        party.validate_id_token(token, nonce="the-nonce")


def test_a_tampered_id_token_is_refused(party: RelyingParty, web_settings: Settings) -> None:
    header, _payload, signature = _token(provider_signing_key(web_settings)).split(".")
    forged = jwt.encode(
        {"alg": "ES256"}, _claims(personal_code="49403136515"), ECKey.generate_key("P-256")
    )
    tampered = ".".join([header, forged.split(".")[1], signature])
    with pytest.raises(SignInRefused, match="signature"):
        party.validate_id_token(tampered, nonce="the-nonce")


def test_a_token_signed_by_another_key_is_refused(party: RelyingParty) -> None:
    stranger = ECKey.generate_key("P-256", parameters={"kid": "stranger"})
    with pytest.raises(SignInRefused, match="signature"):
        party.validate_id_token(_token(stranger), nonce="the-nonce")


def test_an_unsigned_token_is_refused(party: RelyingParty) -> None:
    import base64
    import json

    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    unsigned = part({"alg": "none"}) + "." + part(_claims()) + "."
    with pytest.raises(SignInRefused):
        party.validate_id_token(unsigned, nonce="the-nonce")
