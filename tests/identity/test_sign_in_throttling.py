"""Sign-in throttling per account and per factor: an account locked by one means is locked
for the others, a sign-in at a lower level resets no other factor's count, parallel guesses
are evaluated one at a time, and a one-time code is accepted once and only in ASCII digits."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from identity_support import World, demo_code, form_value
from sqlalchemy import func, select

from joinedup.core.db import Database
from joinedup.identity.models import SignInFailure
from joinedup.identity.provider.accounts import (
    DemoCredentials,
    account_named,
    check_one_time_code,
    create_provider_account,
    password_matches,
)
from joinedup.identity.service.credentials import TOTP_STEP, totp
from joinedup.identity.service.throttling import (
    ThrottlePolicy,
    TooManyAttempts,
    check_sign_in_allowed,
    record_sign_in_failure,
)
from joinedup.registries.codes import issuable_personal_codes

OTP_SECRET = "JBSWY3DPEHPK3PXP"


def _start(web: TestClient, level: str = "low") -> tuple[str, str]:
    page = web.get("/portal/sign-in", params={"level": level})
    return form_value(page.text, "request"), form_value(page.text, "csrf_token")


def _password(web: TestClient, world: World, password: str | None = None) -> int:
    handle, csrf = _start(web)
    credentials = world.one("pensioner").credentials
    data = {"means": "password", "username": credentials.username}
    data["password"] = credentials.password if password is None else password
    answer = web.post(
        "/idp/sign-in",
        data={"request": handle, "csrf_token": csrf, **data},
        follow_redirects=False,
    )
    return answer.status_code


def _card(web: TestClient, personal_code: str, pin: str) -> int:
    handle, csrf = _start(web)
    data = {"means": "card", "personal_code": personal_code, "pin": pin}
    answer = web.post(
        "/idp/sign-in",
        data={"request": handle, "csrf_token": csrf, **data},
        follow_redirects=False,
    )
    return answer.status_code


def _code_page(web: TestClient, world: World) -> tuple[str, str, str]:
    """A sign-in at the substantial level waiting for its code: handle, CSRF token, page."""
    handle, csrf = _start(web, "substantial")
    credentials = world.one("pensioner").credentials
    page = web.post(
        "/idp/sign-in",
        data={
            "request": handle,
            "csrf_token": csrf,
            "means": "password-otp",
            "username": credentials.username,
            "password": credentials.password,
        },
    )
    assert page.status_code == 200, page.text
    assert "Enter the one-time code" in page.text
    return handle, csrf, page.text


def _code(web: TestClient, handle: str, csrf: str, code: str) -> int:
    answer = web.post(
        "/idp/sign-in/code",
        data={"request": handle, "csrf_token": csrf, "code": code},
        follow_redirects=False,
    )
    return answer.status_code


def test_a_password_only_sign_in_does_not_reset_the_count_of_wrong_codes(
    web: TestClient, world: World
) -> None:
    """Whoever knows the password could otherwise guess at the code without end."""
    handle, csrf, _ = _code_page(web, world)
    assert [_code(web, handle, csrf, "000000") for _ in range(4)] == [400] * 4
    assert _password(web, world) == 303  # the low level needs only the password
    handle, csrf, page = _code_page(web, world)
    assert _code(web, handle, csrf, "000000") == 400  # the fifth wrong code
    right = demo_code(page)
    assert right is not None
    assert _code(web, handle, csrf, right) == 429
    assert _password(web, world) == 303  # wrong codes lock the code, not the password


def test_a_password_sign_in_does_not_reset_the_count_of_wrong_pins(
    web: TestClient, world: World
) -> None:
    account = world.one("pensioner")
    assert [_card(web, account.personal_code, "0000") for _ in range(4)] == [400] * 4
    assert _password(web, world) == 303
    assert _card(web, account.personal_code, "0000") == 400
    assert _card(web, account.personal_code, account.credentials.pin) == 429


@pytest.mark.parametrize("locked_by", ["password", "card"])
def test_an_account_locked_by_one_means_is_locked_for_the_other(
    web: TestClient, world: World, locked_by: str
) -> None:
    """Failures count against the account, whichever identifier was typed (the user name
    for the password, the personal code for the card)."""
    account = world.one("pensioner")
    for _ in range(5):
        if locked_by == "password":
            assert _password(web, world, "wrong-password") == 400
        else:
            assert _card(web, account.personal_code, "0000") == 400
    assert _password(web, world) == 429
    assert _card(web, account.personal_code, account.credentials.pin) == 429
    handle, csrf = _start(web, "substantial")
    credentials = account.credentials
    answer = web.post(
        "/idp/sign-in",
        data={
            "request": handle,
            "csrf_token": csrf,
            "means": "password-otp",
            "username": credentials.username,
            "password": credentials.password,
        },
    )
    assert answer.status_code == 429
    other = world.one("young-adult")
    assert _card(web, other.personal_code, other.credentials.pin) == 303


def test_a_personal_code_without_an_account_is_throttled_like_one_with_an_account(
    web: TestClient,
) -> None:
    nobody = issuable_personal_codes("3991231")[0]
    assert [_card(web, nobody, "0000") for _ in range(6)] == [400] * 5 + [429]


def test_a_one_time_code_signs_in_once(web: TestClient, world: World) -> None:
    """RFC 6238 § 5.2: the code that signed someone in is refused the next time, although
    it is still within its step of clock drift; the next step's code is accepted."""
    handle, csrf, page = _code_page(web, world)
    used = demo_code(page)
    assert used is not None
    assert _code(web, handle, csrf, used) == 303
    handle, csrf, page = _code_page(web, world)
    assert _code(web, handle, csrf, used) == 400
    following = demo_code(page)  # the page shows the next step's code now
    assert following is not None
    assert following != used
    assert _code(web, handle, csrf, following) == 303


@pytest.mark.parametrize("code", ["٣٣٣٣٣٣", "３３３３３３", "12345٦", "12 34 5", "1234567"])
def test_a_code_that_is_not_six_ascii_digits_is_refused_without_an_error(
    web: TestClient, world: World, code: str
) -> None:
    handle, csrf, page = _code_page(web, world)
    for _ in range(6):
        answer = web.post(
            "/idp/sign-in/code", data={"request": handle, "csrf_token": csrf, "code": code}
        )
        assert answer.status_code == 400
        assert "The code is not right" in answer.text
    right = demo_code(page)
    assert right is not None
    assert _code(web, handle, csrf, right) == 303  # no guess was counted


def test_a_code_is_accepted_once_even_within_its_drift(database: Database) -> None:
    at = 1_800_000_015.0  # the middle of a step
    code = issuable_personal_codes("3800101")[0]
    with database.unit_of_work() as session:
        record = create_provider_account(
            session,
            personal_code=code,
            given_names="Mari",
            family_name="Maasikas",
            credentials=DemoCredentials("mari", "right-password", OTP_SECRET, "1234"),
            description="",
            tags=[],
            light_hashing=True,
            actor="test",
        )
    with database.unit_of_work() as session:
        account = account_named(session, username=record.username)
        assert account is not None
        now, before = totp(OTP_SECRET, at=at), totp(OTP_SECRET, at=at - TOTP_STEP)
        ahead = totp(OTP_SECRET, at=at + TOTP_STEP)
        assert check_one_time_code(session, account, now, at=at)
        assert not check_one_time_code(session, account, now, at=at)
        assert not check_one_time_code(session, account, now, at=at + TOTP_STEP)  # drift
        assert not check_one_time_code(session, account, before, at=at)  # an older step
        assert check_one_time_code(session, account, ahead, at=at)


def test_parallel_guesses_are_evaluated_one_at_a_time(database: Database) -> None:
    """Each attempt checks, verifies and records in one transaction; on PostgreSQL (read
    committed) the check locks the account, so sixteen guesses at once do not all pass the
    count before any failure is recorded. At most the limit is evaluated."""
    personal_code = issuable_personal_codes("3800101")[0]
    with database.unit_of_work() as session:
        create_provider_account(
            session,
            personal_code=personal_code,
            given_names="Mari",
            family_name="Maasikas",
            credentials=DemoCredentials("victim", "right-password", OTP_SECRET, "1234"),
            description="",
            tags=[],
            light_hashing=False,  # the real cost: the window between count and record
            actor="test",
        )
    policy = ThrottlePolicy(max_per_account=5, max_per_address=1000, window=timedelta(minutes=15))
    start = threading.Barrier(16)
    evaluated: list[int] = []
    refused: list[int] = []

    def guess(i: int) -> None:
        start.wait()
        address = f"10.0.0.{i}"
        try:
            with database.unit_of_work() as session:  # one request's transaction
                account = account_named(session, username="victim")
                assert account is not None
                check_sign_in_allowed(
                    session, account="victim", account_id=account.id, address=address, policy=policy
                )
                evaluated.append(i)
                if not password_matches(account, f"guess-{i}"):
                    record_sign_in_failure(
                        session,
                        account="victim",
                        account_id=account.id,
                        address=address,
                        policy=policy,
                    )
        except TooManyAttempts:
            refused.append(i)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(evaluated) == policy.max_per_account
    assert len(refused) == 16 - policy.max_per_account
    with database.reading() as session:
        failures = session.scalar(
            select(func.count()).select_from(SignInFailure).where(SignInFailure.scope == "account")
        )
    assert failures == policy.max_per_account
