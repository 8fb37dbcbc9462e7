"""Giving and revoking a power of attorney in the portal: form, check, confirmation; bad
input is named on the form and nothing is written; the switcher then offers the grantor."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from identity_support import World, csrf_of, form_value, sign_in
from sqlalchemy import func, select

from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.identity.models import PowerOfAttorney


def _count(database: Database) -> int:
    with database.reading() as session:
        return int(session.scalar(select(func.count()).select_from(PowerOfAttorney)) or 0)


def test_give_check_confirm_see_and_revoke(
    web: TestClient, other_browser: TestClient, world: World, seeded: Database
) -> None:
    grantor, holder = world.one("newly-married"), world.one("young-adult")
    sign_in(web, grantor, means="password-otp", level="substantial")
    form = {
        "csrf_token": csrf_of(web),
        "grantee_code": holder.personal_code,
        "scope": "selected",
        "data_categories": ["income", "messages"],
        "services": "child-benefit",
        "valid_from": today().isoformat(),
        "valid_to": (today() + timedelta(days=90)).isoformat(),
    }
    check = web.post("/portal/powers-of-attorney/new", data=form)
    assert check.status_code == 200, check.text
    assert f"{holder.given_names} {holder.family_name}" in check.text  # from the register
    assert _count(seeded) == 2  # the demo's own two: nothing granted yet
    done = web.post(
        "/portal/powers-of-attorney/confirm",
        data={**form, "csrf_token": form_value(check.text, "csrf_token")},
    )
    assert done.status_code == 200
    assert "Power of attorney given" in done.text
    reference = str(done.url).rsplit("/", 1)[1].split("?")[0]
    listing = web.get("/portal/powers-of-attorney")
    assert f"{holder.given_names} {holder.family_name}" in listing.text

    sign_in(other_browser, holder)
    switcher = other_browser.get("/portal/acting-for")
    assert grantor.personal_code in switcher.text  # offered as someone to act for

    revoke_page = web.get(f"/portal/powers-of-attorney/{reference}/revoke")
    assert revoke_page.status_code == 200
    revoked = web.post(
        f"/portal/powers-of-attorney/{reference}/revoke", data={"csrf_token": csrf_of(web)}
    )
    assert revoked.status_code == 200
    assert grantor.personal_code not in other_browser.get("/portal/acting-for").text
    again = web.post(
        f"/portal/powers-of-attorney/{reference}/revoke", data={"csrf_token": csrf_of(web)}
    )
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"grantee_code": "SELF"}, "living person other than yourself"),
        ({"grantee_code": "123"}, "living person other than yourself"),
        ({"scope": "selected", "data_categories": []}, "at least one kind of data"),
        ({"valid_from": "31.12.2027"}, "first day from today to 10 years from today"),
        ({"valid_from": ""}, "first day from today to 10 years from today"),
        ({"valid_to": "2001-01-01"}, "last day after the first day"),
        ({"scope": "nonsense"}, "at least one kind of data"),
    ],
)
def test_bad_answers_are_named_on_the_form(
    web: TestClient, world: World, seeded: Database, changes: dict[str, object], message: str
) -> None:
    grantor, holder = world.one("newly-married"), world.one("young-adult")
    sign_in(web, grantor, means="password-otp", level="substantial")
    form: dict[str, object] = {
        "csrf_token": csrf_of(web),
        "grantee_code": holder.personal_code,
        "scope": "everything",
        "data_categories": [],
        "services": "",
        "valid_from": today().isoformat(),
        "valid_to": "",
    }
    form.update(changes)
    if form["grantee_code"] == "SELF":
        form["grantee_code"] = grantor.personal_code
    for path in ("/portal/powers-of-attorney/new", "/portal/powers-of-attorney/confirm"):
        answer = web.post(path, data=form)
        assert answer.status_code == 400, path
        assert "There is a problem" in answer.text
        assert message in answer.text
    assert _count(seeded) == 2
