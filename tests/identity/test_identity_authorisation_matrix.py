"""The authorisation matrix: nobody acts for anyone without a valid mandate, whatever they
put in a URL or a form, and no staff member sees another organisation's back office.

Rows: a citizen and each kind of subject (themselves, their minor child, someone else's
child, an adult child, grantors of a valid / expired / revoked / out-of-scope power of
attorney, the business they represent, an unrelated business, made-up codes). Columns: the
acting-for switch, a page reading the subject's data through :mod:`joinedup.web.auth` (as
the portal pages will), and the powers-of-attorney pages by reference.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from identity_support import (
    PORTAL,
    World,
    adult_children,
    businesses_of,
    csrf_of,
    minor_children,
    sign_in,
    staff_roles,
)
from sqlalchemy import select, update

from joinedup import identity
from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.exchange import exchange_client
from joinedup.exchange.records import DataUsageRecord
from joinedup.identity.models import PowerOfAttorney
from joinedup.web.auth import Citizen
from joinedup.web.deps import WriteSession


@pytest.fixture
def reader(web_app: FastAPI) -> FastAPI:
    """A page of the kind the portal will have: reads the subject's data, as the portal."""

    @web_app.get("/portal/test-read/{category}", include_in_schema=False)
    def read(
        category: str, request: Request, citizen: Citizen, session: WriteSession
    ) -> dict[str, Any]:
        mandate = citizen.authorise(session, f"data:{category}")
        with citizen.exchange_client(session) as calls:
            if not citizen.acting_for.is_business:
                calls.call(
                    identity.registry_service(session, "person"),
                    purpose="mandate-check",
                    query={"personalCode": citizen.subject_code},
                )
        return {"subject": citizen.subject_code, "kind": str(mandate.kind)}

    return web_app


def _grant(
    database: Database, grantor: str, grantee: str, *, everything: bool, state: str = "valid"
) -> str:
    with (
        database.unit_of_work() as session,
        exchange_client(session, client=PORTAL, user_id=grantor) as calls,
    ):
        power = identity.grant_power_of_attorney(
            session, grantor_code=grantor, grantor_name="Grantor", grantee_code=grantee,
            everything=everything, services=[], data_categories=["income"],
            valid_from=today(), valid_to=None, calls=calls, actor="test",
        )  # fmt: skip
        if state == "expired":
            session.execute(
                update(PowerOfAttorney)
                .where(PowerOfAttorney.reference == power.reference)
                .values(
                    valid_from=today() - timedelta(days=30), valid_to=today() - timedelta(days=1)
                )
            )
        if state == "revoked":
            identity.revoke_power_of_attorney(
                session, reference=power.reference, grantor_code=grantor, actor="test"
            )
    return power.reference


def _switch(client: TestClient, subject: str) -> int:
    return client.post(
        "/portal/acting-for",
        data={"subject": subject, "csrf_token": csrf_of(client)},
        follow_redirects=False,
    ).status_code


def _subjects(seeded: Database, world: World) -> tuple[str, dict[str, tuple[str, int, int]]]:
    """The actor, and per row: the subject, the switch's status, the data page's status."""
    parent = world.one("parent-of-minor")
    actor = parent.personal_code
    child = minor_children(seeded, actor)[0]
    others = {
        c
        for a in world.tagged("parent-of-minor")
        if a.personal_code != actor
        for c in minor_children(seeded, a.personal_code)
    } - set(minor_children(seeded, actor))
    adult_parent = world.one("parent-of-adult").personal_code
    representative = world.one("business-representative").personal_code
    grantors = [a.personal_code for a in world.accounts if a.personal_code != actor]
    _grant(seeded, grantors[0], actor, everything=True)
    _grant(seeded, grantors[1], actor, everything=True, state="expired")
    _grant(seeded, grantors[2], actor, everything=True, state="revoked")
    _grant(seeded, grantors[3], actor, everything=False)  # income only
    rows = {
        "self": (actor, 303, 200),
        "own minor child": (child, 303, 200),
        "someone else's child": (sorted(others)[0], 403, 200),
        "valid power of attorney": (grantors[0], 303, 200),
        "expired power of attorney": (grantors[1], 403, 200),
        "revoked power of attorney": (grantors[2], 403, 200),
        "out-of-scope power of attorney": (grantors[3], 303, 403),
        "made-up personal code": ("38001085718", 403, 200),
        "malformed code": ("../../etc", 403, 200),
    }
    # an adult child, seen from their parent's account, and businesses
    return actor, rows | {
        "_adult": (adult_parent, 0, 0),
        "_adult_child": (adult_children(seeded, adult_parent)[0], 403, 200),
        "_representative": (representative, 0, 0),
        "_business": (businesses_of(seeded, representative)[0], 303, 200),
        "_unrelated_business": (
            next(
                b
                for a in world.tagged("business-representative")[1:]
                for b in businesses_of(seeded, a.personal_code)
            ),
            403,
            200,
        ),
    }


def test_the_matrix_for_a_citizen(
    reader: FastAPI, web: TestClient, world: World, seeded: Database
) -> None:
    actor, rows = _subjects(seeded, world)
    account = next(a for a in world.accounts if a.personal_code == actor)
    sign_in(web, account)
    for name, (subject, switch_status, read_status) in rows.items():
        if name.startswith("_"):
            continue
        assert _switch(web, subject) == switch_status, name
        expected_subject = subject if switch_status == 303 else actor
        page = web.get("/portal/test-read/messages")
        expected = read_status if switch_status == 303 else 200
        assert page.status_code == expected, (name, page.text)
        if expected == 200:
            assert page.json()["subject"] == expected_subject, name
        income = web.get("/portal/test-read/income")
        assert income.status_code == 200, name  # in scope of every mandate that was accepted
        assert _switch(web, actor) == 303  # back to themselves


def test_the_matrix_for_a_parent_of_an_adult_and_a_representative(
    reader: FastAPI, web: TestClient, other_browser: TestClient, world: World, seeded: Database
) -> None:
    _, rows = _subjects(seeded, world)
    adult_parent = next(a for a in world.accounts if a.personal_code == rows["_adult"][0])
    sign_in(web, adult_parent)
    assert _switch(web, rows["_adult_child"][0]) == 403
    representative = next(
        a for a in world.accounts if a.personal_code == rows["_representative"][0]
    )
    sign_in(other_browser, representative)
    assert _switch(other_browser, rows["_unrelated_business"][0]) == 403
    assert _switch(other_browser, rows["_business"][0]) == 303
    page = other_browser.get("/portal/test-read/messages")
    assert page.json() == {"subject": rows["_business"][0], "kind": "representative"}


def test_acting_for_a_child_records_both_actor_and_child(
    reader: FastAPI, web: TestClient, world: World, seeded: Database
) -> None:
    parent = world.one("parent-of-minor")
    child = minor_children(seeded, parent.personal_code)[0]
    sign_in(web, parent)
    assert _switch(web, child) == 303
    assert "acting for" in web.get("/portal").text
    assert web.get("/portal/test-read/family").status_code == 200
    with seeded.reading() as session:
        usage = session.scalars(
            select(DataUsageRecord).where(DataUsageRecord.represented_party == child)
        ).all()
        assert usage
        assert {u.user_id for u in usage} == {parent.personal_code}
        assert child in {u.subject_code for u in usage}


def test_a_power_revoked_while_in_use_ends_at_the_next_request(
    reader: FastAPI, web: TestClient, world: World, seeded: Database
) -> None:
    holder = world.one("young-adult")
    grantor = world.one("newly-married").personal_code
    reference = _grant(seeded, grantor, holder.personal_code, everything=True)
    sign_in(web, holder)
    assert _switch(web, grantor) == 303
    assert web.get("/portal/test-read/income").json()["subject"] == grantor
    with seeded.unit_of_work() as session:
        identity.revoke_power_of_attorney(
            session, reference=reference, grantor_code=grantor, actor="test"
        )
    page = web.get("/portal")
    assert "The mandate you were acting on has ended" in page.text
    assert web.get("/portal/test-read/income").json()["subject"] == holder.personal_code


def test_powers_of_attorney_by_reference(
    web: TestClient, other_browser: TestClient, world: World, seeded: Database
) -> None:
    grantor, holder, stranger = (
        world.one("newly-married"),
        world.one("young-adult"),
        world.one("widowed"),
    )
    reference = _grant(seeded, grantor.personal_code, holder.personal_code, everything=False)
    sign_in(web, stranger, means="password-otp", level="substantial")
    for path in (
        f"/portal/powers-of-attorney/{reference}",
        f"/portal/powers-of-attorney/{reference}/revoke",
        "/portal/powers-of-attorney/0123456789abcdef01234567",
        "/portal/powers-of-attorney/..%2F..%2Fadmin",
    ):
        assert web.get(path).status_code == 404, path
    assert (
        web.post(
            f"/portal/powers-of-attorney/{reference}/revoke", data={"csrf_token": csrf_of(web)}
        ).status_code
        == 404
    )
    sign_in(other_browser, holder, means="password-otp", level="substantial")
    assert other_browser.get(f"/portal/powers-of-attorney/{reference}").status_code == 200
    assert other_browser.get(f"/portal/powers-of-attorney/{reference}/revoke").status_code == 404
    answer = other_browser.post(
        f"/portal/powers-of-attorney/{reference}/revoke",
        data={"csrf_token": csrf_of(other_browser)},
    )
    assert answer.status_code == 404
    with seeded.reading() as session:
        assert (
            session.scalar(
                select(PowerOfAttorney.revoked_at).where(PowerOfAttorney.reference == reference)
            )
            is None
        )


def test_staff_see_their_own_organisation_only(
    web: TestClient, other_browser: TestClient, world: World, seeded: Database
) -> None:
    staff = world.tagged("staff")
    roles = {a.personal_code: staff_roles(seeded, a.personal_code) for a in staff}
    admin = next(a for a in staff if any(r[2] == "administrator" for r in roles[a.personal_code]))
    own = next(r for r in roles[admin.personal_code] if r[2] == "administrator")
    elsewhere = next(r for a in staff for r in roles[a.personal_code] if r[:2] != own[:2])
    sign_in(web, admin)  # low: staff need substantial
    page = web.get(f"/backoffice/organisations/{own[0]}/{own[1]}", follow_redirects=False)
    assert page.status_code == 303
    assert "level=substantial" in page.headers["location"]
    sign_in(web, admin, means="password-otp", level="substantial")
    mine = web.get(f"/backoffice/organisations/{own[0]}/{own[1]}")
    assert mine.status_code == 200
    assert "Staff roles" in mine.text  # administrators see the staff list
    assert web.get(f"/backoffice/organisations/{elsewhere[0]}/{elsewhere[1]}").status_code == 403
    assert web.get("/backoffice/organisations/GOV/99999999").status_code == 403
    citizen = world.one("young-adult")
    sign_in(other_browser, citizen, means="password-otp", level="substantial")
    assert other_browser.get(f"/backoffice/organisations/{own[0]}/{own[1]}").status_code == 403


def test_a_caseworker_does_not_see_the_staff_list(
    web: TestClient, world: World, seeded: Database
) -> None:
    staff = world.tagged("staff")
    worker = next(
        a for a in staff if [r[2] for r in staff_roles(seeded, a.personal_code)] == ["caseworker"]
    )
    member_class, member_code, _ = staff_roles(seeded, worker.personal_code)[0]
    sign_in(web, worker, means="card", level="high")
    page = web.get(f"/backoffice/organisations/{member_class}/{member_code}")
    assert page.status_code == 200
    assert "Staff roles" not in page.text


def test_staff_read_with_their_own_organisation_s_rights_only(
    world: World, seeded: Database
) -> None:
    from joinedup.core.errors import Forbidden
    from joinedup.exchange import LocalCallRefused

    staff = world.tagged("staff")
    worker = next(
        a for a in staff if any(r[1] == "70000088" for r in staff_roles(seeded, a.personal_code))
    )
    with seeded.reading() as session:
        roles = identity.staff_roles_of(session, personal_code=worker.personal_code)
    subject = world.one("pensioner").personal_code
    with seeded.unit_of_work() as session:
        with (
            pytest.raises(Forbidden),  # another organisation's system
            identity.staff_exchange_client(
                session, personal_code=worker.personal_code, roles=roles, client=PORTAL
            ),
        ):
            pass
        with identity.staff_exchange_client(
            session, personal_code=worker.personal_code, roles=roles, client="GOV/70000088/benefits"
        ) as calls:
            answer = calls.call(
                identity.registry_service(session, "person"),
                purpose="old-age-pension",
                query={"personalCode": subject},
            )
            assert set(answer.body) == {"personalCode", "birthDate", "dateOfDeath"}
            with pytest.raises(LocalCallRefused):  # no right of the Board to residence data
                calls.call(
                    identity.registry_service(session, "residence"),
                    purpose="old-age-pension",
                    query={"personalCode": subject},
                )
    with seeded.reading() as session:
        usage = session.scalars(
            select(DataUsageRecord).where(DataUsageRecord.user_id == worker.personal_code)
        ).all()
        assert [u.subject_code for u in usage] == [subject]
