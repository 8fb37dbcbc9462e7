"""OAuth 2.0 client credentials: tokens, their checks, throttling, revocation, and keys."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from rights_support import (
    credentials,
    demo_exchange,  # noqa: F401 (fixture)
    identity,
    subsystem_ref,
)
from sqlalchemy import insert, select, text

from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.core.errors import Unauthenticated
from joinedup.core.keys import SigningKey, UnusableKey, VerifyingKey
from joinedup.core.settings import Settings
from joinedup.exchange import (
    MAX_FAILED_SIGN_INS,
    authenticate_client,
    issue_access_token,
    member_signing_key,
    register_api_client,
    revoke_api_client,
)
from joinedup.exchange import directory as directory_module
from joinedup.exchange.models import TokenKey
from joinedup.exchange.oauth import (
    InvalidClient,
    audience,
    b64url,
    b64url_decode,
    issuer,
    sign_jwt,
)
from joinedup.exchange.service import keys as keys_module
from joinedup.exchange.service.keys import token_signing_key
from joinedup.web import create_app

SIB = "social-insurance/benefits"


def _token(db: Database, key: str = SIB) -> str:
    client_id, secret = credentials(key)
    with db.unit_of_work() as session:
        return issue_access_token(session, client_id=client_id, client_secret=secret).access_token


def _parts(token: str) -> tuple[dict[str, object], dict[str, object]]:
    header, claims, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(claims))


def _new_client(
    db: Database, org: str = "social-insurance", sub: str = "benefits"
) -> tuple[str, str]:
    with db.unit_of_work() as session:
        made = register_api_client(
            session, subsystem=subsystem_ref(org, sub), name="test client", actor="oauth-test"
        )
    return made.client.client_id, made.client_secret


def test_a_token_names_its_subsystem(demo_exchange: Database) -> None:  # noqa: F811
    token = _token(demo_exchange)
    header, claims = _parts(token)
    assert header["alg"] == "EdDSA"
    assert header["typ"] == "at+jwt"
    client_id, _ = credentials(SIB)
    with demo_exchange.reading() as session:
        client = authenticate_client(session, authorization=f"Bearer {token}")
        expected = identity(session, "social-insurance", "benefits")
        assert header["kid"] == token_signing_key(session).key_id
    assert client == expected
    assert claims["sub"] == claims["client_id"] == client_id
    assert claims["subsystem"] == expected.xroad_id
    assert claims["iss"] == issuer()
    assert claims["aud"] == audience()
    assert claims["exp"] - claims["iat"] == 900  # type: ignore[operator]
    assert _parts(_token(demo_exchange))[1]["jti"] != claims["jti"]


def _forged(db: Database, **changes: object) -> str:
    """A token with the given claims changed, signed by the real token key."""
    _, claims = _parts(_token(db))
    claims.update(changes)
    with db.reading() as session:
        return sign_jwt(claims, token_signing_key(session))


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda db, t: None, "send an access token"),
        (lambda db, t: t, "must be 'Bearer"),
        (lambda db, t: f"Basic {t}", "must be 'Bearer"),
        (lambda db, t: "Bearer abc.def", "not a JWS"),
        (lambda db, t: "Bearer a.b.c", "not a JWS"),
        (lambda db, t: f"Bearer {t}x", "signature is not valid"),
        (lambda db, t: f"Bearer {t}!", "not a JWS"),
        (lambda db, t: f"Bearer {_tamper_claims(t)}", "signature is not valid"),
        (lambda db, t: f"Bearer {_with_header(t, alg='none')}", "EdDSA"),
        (lambda db, t: f"Bearer {_with_header(t, typ='JWT')}", "EdDSA"),
        (lambda db, t: f"Bearer {_with_header(t, kid='0' * 32)}", "does not hold"),
        (lambda db, t: f"Bearer {_foreign_key(t)}", "signature is not valid"),
        (lambda db, t: f"Bearer {_forged(db, exp=int(time.time()) - 1)}", "expired"),
        (lambda db, t: f"Bearer {_forged(db, iat=int(time.time()) + 3600)}", "future"),
        (lambda db, t: f"Bearer {_forged(db, aud='urn:other')}", "not issued for this"),
        (lambda db, t: f"Bearer {_forged(db, iss='urn:other')}", "not issued for this"),
        (lambda db, t: f"Bearer {_forged(db, client_id='nobody-at-all')}", "revoked or unknown"),
        (lambda db, t: f"Bearer {_forged(db, subsystem='JOINEDUP/GOV/1/x')}", "does not match"),
        (lambda db, t: f"Bearer {_forged(db, exp='soon')}", "no exp"),
    ],
)
def test_bad_tokens_are_refused(
    demo_exchange: Database,  # noqa: F811
    make: object,
    fragment: str,
) -> None:
    token = _token(demo_exchange)
    header = make(demo_exchange, token)  # type: ignore[operator]
    with demo_exchange.reading() as session, pytest.raises(Unauthenticated) as refused:
        authenticate_client(session, authorization=header)
    assert fragment in refused.value.detail
    assert refused.value.status == 401


def _tamper_claims(token: str) -> str:
    header, claims, signature = token.split(".")
    data = json.loads(b64url_decode(claims))
    data["subsystem"] = data["subsystem"].replace("benefits", "tax")
    return f"{header}.{b64url(json.dumps(data).encode())}.{signature}"


def _with_header(token: str, **changes: str) -> str:
    header, claims, signature = token.split(".")
    data = json.loads(b64url_decode(header))
    data.update(changes)
    return f"{b64url(json.dumps(data).encode())}.{claims}.{signature}"


def _foreign_key(token: str) -> str:
    header, claims, _ = token.split(".")
    signature = SigningKey.generate().sign(f"{header}.{claims}".encode())
    return f"{header}.{claims}.{b64url(signature)}"


def test_wrong_secrets_lock_a_client_out(demo_exchange: Database) -> None:  # noqa: F811
    client_id, secret = _new_client(demo_exchange)
    for _ in range(MAX_FAILED_SIGN_INS):
        with demo_exchange.unit_of_work() as session, pytest.raises(InvalidClient) as refused:
            issue_access_token(session, client_id=client_id, client_secret=secret + "x")
        assert refused.value.extensions["error"] == "invalid_client"
    with demo_exchange.unit_of_work() as session, pytest.raises(InvalidClient) as locked:
        issue_access_token(session, client_id=client_id, client_secret=secret)
    assert "locked out" in locked.value.detail
    with demo_exchange.unit_of_work() as session:
        session.execute(
            text("UPDATE exchange_api_client SET locked_until = NULL WHERE client_id = :c"),
            {"c": client_id},
        )
    with demo_exchange.unit_of_work() as session:
        assert issue_access_token(session, client_id=client_id, client_secret=secret)
    with demo_exchange.unit_of_work() as session, pytest.raises(InvalidClient):
        issue_access_token(session, client_id="demo.nobody.nothing", client_secret=secret)


def test_the_secret_is_stored_only_as_a_scrypt_hash(demo_exchange: Database) -> None:  # noqa: F811
    client_id, secret = _new_client(demo_exchange)
    with demo_exchange.reading() as session:
        stored = session.scalar(
            text("SELECT secret_hash FROM exchange_api_client WHERE client_id = :c"),
            {"c": client_id},
        )
    assert stored.startswith("scrypt$16384$8$1$")
    assert secret not in stored


def test_a_revoked_client_is_refused_at_once(demo_exchange: Database) -> None:  # noqa: F811
    client_id, secret = _new_client(demo_exchange)
    with demo_exchange.unit_of_work() as session:
        token = issue_access_token(session, client_id=client_id, client_secret=secret).access_token
    with demo_exchange.reading() as session:
        authenticate_client(session, authorization=f"Bearer {token}")
    with demo_exchange.unit_of_work() as session:
        revoke_api_client(session, client_id=client_id, actor="oauth-test")
    with demo_exchange.reading() as session, pytest.raises(Unauthenticated):
        authenticate_client(session, authorization=f"Bearer {token}")
    with demo_exchange.unit_of_work() as session, pytest.raises(InvalidClient):
        issue_access_token(session, client_id=client_id, client_secret=secret)


def test_another_process_revoking_is_seen_within_the_poll_interval(
    demo_exchange: Database,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A revocation committed elsewhere (here: raw SQL, no local invalidation) is seen once
    the change counter is next read (at most POLL_SECONDS later)."""
    client_id, secret = _new_client(demo_exchange)
    token = f"Bearer {_token_for(demo_exchange, client_id, secret)}"
    with demo_exchange.reading() as session:
        authenticate_client(session, authorization=token)
    with demo_exchange.unit_of_work() as session:
        session.execute(
            text("UPDATE exchange_api_client SET revoked_at = created_at WHERE client_id = :c"),
            {"c": client_id},
        )
        session.execute(text("UPDATE exchange_directory_version SET generation = generation + 1"))
    clock = time.monotonic()
    monkeypatch.setattr(directory_module.time, "monotonic", lambda: clock)
    with demo_exchange.reading() as session:
        authenticate_client(session, authorization=token)  # still within the poll interval
    monkeypatch.setattr(
        directory_module.time, "monotonic", lambda: clock + directory_module.POLL_SECONDS + 0.01
    )
    with demo_exchange.reading() as session, pytest.raises(Unauthenticated):
        authenticate_client(session, authorization=token)


def test_a_token_signed_by_a_key_made_a_moment_ago_elsewhere_is_accepted(
    demo_exchange: Database,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another process rotates the token key (here: raw rows, no local invalidation) and
    signs a token with the new one, while this process's snapshot, checked less than a second
    ago, holds only the old key: the token is accepted (a key the snapshot does not hold is
    looked for in the database's directory before the token is refused). It was refused as
    signed by a key this exchange does not hold — a registrar's first call, 401, now and then.
    A key id nobody made is still refused (``test_bad_tokens_are_refused``)."""
    _, claims = _parts(_token(demo_exchange))
    with demo_exchange.reading() as session:
        authenticate_client(session, authorization=f"Bearer {_token(demo_exchange)}")
    clock = time.monotonic()
    monkeypatch.setattr(directory_module.time, "monotonic", lambda: clock)  # (still recent)
    rotated = SigningKey.generate()
    with demo_exchange.unit_of_work() as session:
        session.execute(text("UPDATE exchange_token_key SET retired_at = created_at"))
        session.execute(
            insert(TokenKey).values(
                key_id=rotated.key_id,
                use=keys_module.TOKEN_KEY_USE,
                public_key_pem=rotated.public_pem(),
                private_key=keys_module.seal_private_key(rotated),
                created_at=utcnow(),
                retired_at=None,
            )
        )
        session.execute(text("UPDATE exchange_directory_version SET generation = generation + 1"))
    token = sign_jwt(claims, rotated)
    with demo_exchange.reading() as session:
        client = authenticate_client(session, authorization=f"Bearer {token}")
    assert client.client_id == claims["client_id"]


def _token_for(db: Database, client_id: str, secret: str) -> str:
    with db.unit_of_work() as session:
        return issue_access_token(session, client_id=client_id, client_secret=secret).access_token


def test_member_keys_are_created_once_and_kept_encrypted(
    demo_exchange: Database,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with demo_exchange.reading() as session:
        sib = identity(session, "social-insurance", "benefits")
        tax = identity(session, "tax-board", "tax")
        first = member_signing_key(session, member_id=sib.member_id)
        again = member_signing_key(session, member_id=sib.member_id)
        other = member_signing_key(session, member_id=tax.member_id)
        stored = session.execute(
            text("SELECT public_key_pem, private_key FROM exchange_member_key WHERE key_id = :k"),
            {"k": first.key_id},
        ).one()
    assert first.key_id == again.key_id != other.key_id
    assert VerifyingKey.from_pem(stored[0]) == first.verifying_key
    assert b"PRIVATE KEY" not in bytes(stored[1])
    signature = first.sign(b"record")
    assert first.verifying_key.verify(signature, b"record")
    stolen = keys_module.StoredKey(
        first.key_id, sib.member_id, stored[0], bytes(stored[1]), None, None
    )  # type: ignore[arg-type]
    monkeypatch.setattr(
        keys_module, "get_settings", lambda: Settings(secret_key="another-secret-" + "x" * 40)
    )
    with pytest.raises(UnusableKey):
        keys_module.open_private_key(stolen)


def test_a_member_without_a_key_gets_one_on_first_use(database: Database) -> None:
    from datetime import date

    from joinedup.demo.agencies import create_government
    from joinedup.exchange import get_member

    with database.unit_of_work() as session:
        create_government(session, founded=date(1992, 1, 1))
        member = get_member(
            session, member_class="COM", member_code=subsystem_ref("bank", "payments").member_code
        )
        key = member_signing_key(session, member_id=member.id)
    with database.reading() as session:
        assert member_signing_key(session, member_id=member.id).key_id == key.key_id
        count = session.scalar(text("SELECT count(*) FROM exchange_member_key"))
    assert count == 1


# --- the token endpoint ------------------------------------------------------------------------


@pytest.fixture
def api(settings: Settings, demo_exchange: Database) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app(settings, database=demo_exchange)) as client:
        yield client


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def test_token_endpoint_form_and_basic(api: TestClient) -> None:
    client_id, secret = credentials("tax-board/tax")
    form = api.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert form.status_code == 200, form.text
    assert form.headers["cache-control"] == "no-store"
    body = form.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    basic = api.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=_basic(client_id, secret)
    )
    assert basic.status_code == 200
    jwks = api.get("/oauth/jwks").json()["keys"]
    header, _ = _parts(body["access_token"])
    key = next(k for k in jwks if k["kid"] == header["kid"])
    assert (key["kty"], key["crv"], key["alg"]) == ("OKP", "Ed25519", "EdDSA")
    verifying = VerifyingKey.from_raw(b64url_decode(key["x"]))
    signing_input, _, signature = body["access_token"].rpartition(".")
    assert verifying.verify(b64url_decode(signature), signing_input.encode())


@pytest.mark.parametrize(
    ("data", "headers", "status", "error"),
    [
        ({"client_id": "x", "client_secret": "y"}, {}, 400, "invalid_request"),
        ({"grant_type": "password", "client_id": "x", "client_secret": "y"}, {}, 400,
         "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, {}, 401, "invalid_client"),
        ({"grant_type": "client_credentials", "client_id": "demo.tax-board.tax",
          "client_secret": "wrong-" * 8}, {}, 401, "invalid_client"),
        ({"grant_type": "client_credentials", "client_id": "x"}, {"Authorization": "Basic a:b"},
         401, "invalid_client"),
        ({"grant_type": "client_credentials", "client_id": "x"},
         _basic("demo.tax-board.tax", "y"), 400, "invalid_request"),
    ],
)  # fmt: skip
def test_token_endpoint_refusals(
    api: TestClient, data: dict[str, str], headers: dict[str, str], status: int, error: str
) -> None:
    answer = api.post("/oauth/token", data=data, headers=headers)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["error"] == error
    assert problem["error_description"] == problem["detail"]
    assert problem["type"].endswith("oauth-" + error.replace("_", "-"))
    if status == 401:
        assert "www-authenticate" in answer.headers


def test_failed_sign_ins_through_the_api_are_counted(
    api: TestClient,
    demo_exchange: Database,  # noqa: F811
) -> None:
    client_id, secret = _new_client(demo_exchange, "tax-board", "tax")
    wrong = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "no" * 20}
    for _ in range(MAX_FAILED_SIGN_INS):
        assert api.post("/oauth/token", data=wrong).status_code == 401
    right = dict(wrong, client_secret=secret)
    locked = api.post("/oauth/token", data=right)
    assert locked.status_code == 401
    assert "locked out" in locked.json()["detail"]
    with demo_exchange.reading() as session:
        until = session.scalar(
            select(text("locked_until"))
            .select_from(text("exchange_api_client"))
            .where(text("client_id = :c")),
            {"c": client_id},
        )
    assert until is not None


def test_tokens_of_unknown_clients_never_reach_the_directory(demo_exchange: Database) -> None:  # noqa: F811
    claims = {
        "iss": issuer(),
        "aud": audience(),
        "sub": "x",
        "client_id": "x",
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
        "jti": uuid.uuid4().hex,
        "subsystem": "JOINEDUP/GOV/1/x",
    }
    token = sign_jwt(claims, SigningKey.generate())
    with demo_exchange.reading() as session, pytest.raises(Unauthenticated):
        authenticate_client(session, authorization=f"Bearer {token}")
