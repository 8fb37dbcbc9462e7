"""The embedded OpenID Connect provider speaks the protocol strictly: discovery, keys, PKCE
with S256 required, nonce required, registered redirect URIs only, client authentication,
codes that work once (a replay revokes what the first use got), userinfo."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from identity_support import World, form_value
from joserfc import jwt
from joserfc.jwk import KeySet

from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.identity.provider import builtin_client_secret

CALLBACK = "http://testserver/portal/sign-in/callback"


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode()
    return verifier, challenge.rstrip("=")


def _authorize(web: TestClient, **overrides: str) -> tuple[dict[str, str], object]:
    verifier, challenge = _pkce()
    params = {
        "response_type": "code",
        "client_id": "joinedup-portal",
        "redirect_uri": CALLBACK,
        "scope": "openid profile",
        "state": "s-" + secrets.token_hex(8),
        "nonce": "n-" + secrets.token_hex(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "acr_values": "http://eidas.europa.eu/LoA/substantial",
    }
    params.update(overrides)
    params = {k: v for k, v in params.items() if v != ""}
    return params | {"verifier": verifier}, web.get(
        "/idp/authorize", params=params, follow_redirects=False
    )


def _code(web: TestClient, world: World, **overrides: str) -> tuple[str, dict[str, str]]:
    """A code for the pensioner, signed in with the card (high)."""
    params, answer = _authorize(web, **overrides)
    page = web.get(answer.headers["location"])  # type: ignore[attr-defined]
    account = world.one("pensioner")
    back = web.post(
        "/idp/sign-in",
        data={
            "request": form_value(page.text, "request"),
            "csrf_token": form_value(page.text, "csrf_token"),
            "means": "card",
            "personal_code": account.personal_code,
            "pin": account.credentials.pin,
        },
        follow_redirects=False,
    )
    location = back.headers["location"]
    assert location.startswith(CALLBACK)
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [params["state"]]
    return query["code"][0], params


def _token(web: TestClient, settings: Settings, code: str, verifier: str, **extra: str) -> object:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
    }
    data.update(extra)
    return web.post(
        "/idp/token", data=data, auth=("joinedup-portal", builtin_client_secret(settings))
    )


def test_discovery_and_keys(web: TestClient) -> None:
    document = web.get("/idp/.well-known/openid-configuration").json()
    assert document["issuer"] == "http://testserver/idp"
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["id_token_signing_alg_values_supported"] == ["ES256"]
    assert "http://eidas.europa.eu/LoA/high" in document["acr_values_supported"]
    keys = web.get("/idp/jwks").json()["keys"]
    assert [k["kty"] for k in keys] == ["EC"]
    assert "d" not in keys[0]  # never the private half


def test_a_full_code_flow_gives_an_id_token_with_the_level_and_userinfo(
    web: TestClient, world: World, web_settings: Settings
) -> None:
    code, params = _code(web, world)
    answer = _token(web, web_settings, code, params["verifier"])
    assert answer.status_code == 200, answer.text  # type: ignore[attr-defined]
    tokens = answer.json()  # type: ignore[attr-defined]
    keys = KeySet.import_key_set(web.get("/idp/jwks").json())
    claims = jwt.decode(tokens["id_token"], keys, algorithms=["ES256"]).claims
    account = world.one("pensioner")
    assert claims["iss"] == "http://testserver/idp"
    assert claims["aud"] == ["joinedup-portal"]
    assert claims["nonce"] == params["nonce"]
    assert claims["acr"] == "http://eidas.europa.eu/LoA/high"
    assert claims["amr"] == ["sc", "pin"]
    assert claims["personal_code"] == claims["sub"] == account.personal_code
    info = web.get("/idp/userinfo", headers={"authorization": f"Bearer {tokens['access_token']}"})
    assert info.json()["given_name"] == account.given_names


def test_a_code_works_once_and_its_replay_revokes_the_tokens(
    web: TestClient, world: World, web_settings: Settings
) -> None:
    code, params = _code(web, world)
    first = _token(web, web_settings, code, params["verifier"]).json()  # type: ignore[attr-defined]
    again = _token(web, web_settings, code, params["verifier"])
    assert again.status_code == 400  # type: ignore[attr-defined]
    assert again.json()["error"] == "invalid_grant"  # type: ignore[attr-defined]
    info = web.get("/idp/userinfo", headers={"authorization": f"Bearer {first['access_token']}"})
    assert info.status_code == 401


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"code_verifier": "x" * 50}, "invalid_grant"),  # not the challenge's verifier
        ({"code_verifier": ""}, "invalid_request"),
        ({"redirect_uri": "http://testserver/elsewhere"}, "invalid_grant"),
    ],
)
def test_token_requests_that_do_not_match_the_authorization_are_refused(
    web: TestClient, world: World, web_settings: Settings, extra: dict[str, str], error: str
) -> None:
    code, params = _code(web, world)
    answer = _token(web, web_settings, code, params["verifier"], **extra)
    assert answer.status_code in (400, 401)  # type: ignore[attr-defined]
    body = answer.json()  # type: ignore[attr-defined]
    assert body["error"] == error
    assert answer.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]


def test_a_client_with_the_wrong_secret_gets_no_tokens(web: TestClient, world: World) -> None:
    code, params = _code(web, world)
    answer = web.post(
        "/idp/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": params["verifier"],
        },
        auth=("joinedup-portal", "not-the-secret"),
    )
    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": "", "code_challenge_method": ""}, "invalid_request"),  # PKCE required
        ({"code_challenge_method": "plain"}, "invalid_request"),  # S256 only
        ({"nonce": ""}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ],
)
def test_invalid_authorization_requests_go_back_to_the_client_with_an_error(
    web: TestClient, overrides: dict[str, str], error: str
) -> None:
    params, answer = _authorize(web, **overrides)
    assert answer.status_code == 303  # type: ignore[attr-defined]
    location = answer.headers["location"]  # type: ignore[attr-defined]
    assert location.startswith(CALLBACK)
    query = parse_qs(urlsplit(location).query)
    assert query["error"] == [error]
    assert query["state"] == [params["state"]]


@pytest.mark.parametrize(
    "overrides",
    [{"client_id": "nobody"}, {"redirect_uri": "https://evil.example/callback"}, {"client_id": ""}],
)
def test_an_unknown_client_or_redirect_never_gets_a_redirect(
    web: TestClient, overrides: dict[str, str]
) -> None:
    _, answer = _authorize(web, **overrides)
    assert answer.status_code == 400  # type: ignore[attr-defined]
    assert "evil.example" not in answer.headers.get("location", "")  # type: ignore[attr-defined]
    assert "The sign-in request is not valid" in answer.text  # type: ignore[attr-defined]


def test_a_means_below_the_level_asked_for_is_refused(web: TestClient, world: World) -> None:
    _, answer = _authorize(web)  # substantial
    page = web.get(answer.headers["location"])  # type: ignore[attr-defined]
    credentials = world.one("pensioner").credentials
    refused = web.post(
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
    assert refused.status_code == 400
    assert "stronger means" in refused.text


def test_the_sign_in_form_needs_its_csrf_token(web: TestClient) -> None:
    _, answer = _authorize(web)
    page = web.get(answer.headers["location"])  # type: ignore[attr-defined]
    refused = web.post(
        "/idp/sign-in",
        data={
            "request": form_value(page.text, "request"),
            "csrf_token": "forged",
            "means": "card",
            "personal_code": "1",
            "pin": "1",
        },
    )
    assert refused.status_code == 422


def test_userinfo_refuses_unknown_tokens(web: TestClient) -> None:
    assert web.get("/idp/userinfo").status_code == 401
    assert web.get("/idp/userinfo", headers={"authorization": "Bearer nothing"}).status_code == 401


def test_the_provider_is_absent_where_it_is_not_enabled(
    web_settings: Settings, seeded: object
) -> None:
    from joinedup.web import create_app

    settings = web_settings.model_copy(update={"idp_enabled": False})
    with TestClient(create_app(settings, database=seeded)) as client:  # type: ignore[arg-type]
        assert client.get("/idp/.well-known/openid-configuration").status_code == 404
        assert client.get("/idp/authorize").status_code == 404
        assert client.post("/idp/token").status_code == 404


def test_a_nonce_used_for_a_code_is_refused_the_next_time(
    web: TestClient, world: World, seeded: Database
) -> None:
    from query_plans import query_plans

    _, params = _code(web, world)
    with query_plans(seeded, "idp_authorization") as plans:
        again, answer = _authorize(web, nonce=params["nonce"])
    assert answer.status_code == 303  # type: ignore[attr-defined]
    query = parse_qs(urlsplit(answer.headers["location"]).query)  # type: ignore[attr-defined]
    assert query["error"] == ["invalid_request"]
    assert query["state"] == [again["state"]]
    # another nonce is fine
    _, fresh = _authorize(web)
    assert "error" not in parse_qs(urlsplit(fresh.headers["location"]).query)  # type: ignore[attr-defined]
    # the look-up searched the (client, nonce) index; it used to read the nonce out of the
    # parameters of every authorization that got a code
    if seeded.dialect == "sqlite":
        assert any("(client_id=? AND nonce_hash=?)" in line for line in plans), plans
