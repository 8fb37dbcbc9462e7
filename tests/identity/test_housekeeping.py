"""What sign-ins leave behind is deleted by the daily job once it cannot be used any more —
and nothing that still works is."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select

from joinedup.core.db import Database
from joinedup.core.schedule import jobs, run_job
from joinedup.identity import handlers  # noqa: F401 (registers the daily job, as the workers do)
from joinedup.identity.models import (
    ProviderAuthorization,
    ProviderToken,
    SignInFailure,
    SignInRequest,
    WebSession,
)
from joinedup.identity.service.housekeeping import FLOW_GRACE, SESSION_GRACE

DAY = date(2026, 12, 2)
NOW = datetime.combine(DAY, time(0), tzinfo=UTC)


def _session(key: str, *, expires: datetime, ended: datetime | None = None) -> WebSession:
    return WebSession(
        id=key.ljust(64, "0"),
        personal_code="39001010008",
        given_names="Mari",
        family_name="Tamm",
        level_of_assurance="high",
        methods="sc pin",
        issuer="https://idp.example",
        id_token="x",
        csrf_secret="c" * 64,
        authenticated_at=expires - timedelta(hours=8),
        created_at=expires - timedelta(hours=8),
        last_seen_at=expires - timedelta(hours=7),
        expires_at=expires,
        ended_at=ended,
        end_reason="signed_out" if ended else None,
    )


def _request(key: str, *, expires: datetime) -> SignInRequest:
    return SignInRequest(
        id=key.ljust(64, "0"),
        binding="b" * 64,
        nonce="n",
        code_verifier="v" * 43,
        minimum_level="low",
        return_to="/portal",
        created_at=expires - timedelta(minutes=10),
        expires_at=expires,
        used_at=None,
    )


def _authorization(
    key: str, *, expires: datetime, code_expires: datetime | None
) -> ProviderAuthorization:
    return ProviderAuthorization(
        id=key.ljust(64, "0"),
        client_id="joinedup-portal",
        parameters={"nonce": key},
        csrf_token="t" * 64,
        minimum_level="low",
        pending_account_id=None,
        created_at=expires - timedelta(minutes=15),
        expires_at=expires,
        code_hash=None if code_expires is None else key.ljust(64, "c"),
        code_expires_at=code_expires,
        code_used_at=None,
        account_id=None,
        level_of_assurance=None,
        methods=None,
        authenticated_at=None,
        nonce_hash=None,
    )


def _token(key: str, *, expires: datetime) -> ProviderToken:
    return ProviderToken(
        token_hash=key.ljust(64, "0"),
        authorization_id="a".ljust(64, "0"),
        client_id="joinedup-portal",
        account_id=1,
        scope="openid",
        issued_at=expires - timedelta(hours=1),
        expires_at=expires,
        revoked_at=None,
    )


def _ids(database: Database, model: type, column: str) -> set[str]:
    with database.reading() as session:
        return {str(v)[:8].rstrip("0") for v in session.scalars(select(getattr(model, column)))}


def test_the_daily_job_deletes_what_expired_past_its_grace_and_keeps_the_rest(
    database: Database,
) -> None:
    long_ago, lately = NOW - SESSION_GRACE - timedelta(hours=1), NOW - timedelta(hours=1)
    flows_ago = NOW - FLOW_GRACE - timedelta(minutes=1)
    with database.unit_of_work() as session:
        session.add_all(
            [
                _session("s1", expires=long_ago),  # expired a week ago: deleted
                _session("s2", expires=NOW + timedelta(hours=2), ended=long_ago),  # ended: deleted
                _session("s3", expires=lately),  # expired an hour ago: kept a week
                _session("s4", expires=NOW + timedelta(hours=2)),  # live
                _request("r1", expires=flows_ago),
                _request("r2", expires=lately),
                _authorization("a1", expires=flows_ago, code_expires=None),
                _authorization("a2", expires=flows_ago, code_expires=flows_ago),
                _authorization("a3", expires=lately, code_expires=None),
                _authorization("a4", expires=flows_ago, code_expires=lately),  # code younger
                _token("k1", expires=flows_ago),
                _token("k2", expires=NOW + timedelta(minutes=30)),
                SignInFailure(scope="account", key="f" * 64, failed_at=NOW - timedelta(hours=2)),
                SignInFailure(scope="account", key="f" * 64, failed_at=NOW - timedelta(minutes=5)),
            ]
        )
    with database.unit_of_work() as session:
        assert run_job(session, jobs.get("identity.housekeeping"), on=DAY)
    assert _ids(database, WebSession, "id") == {"s3", "s4"}
    assert _ids(database, SignInRequest, "id") == {"r2"}
    assert _ids(database, ProviderAuthorization, "id") == {"a3", "a4"}
    assert _ids(database, ProviderToken, "token_hash") == {"k2"}
    with database.reading() as session:
        assert session.scalar(select(func.count()).select_from(SignInFailure)) == 1  # 5 min old
    with database.unit_of_work() as session:  # once a day: the day's run is claimed
        assert not run_job(session, jobs.get("identity.housekeeping"), on=DAY)
