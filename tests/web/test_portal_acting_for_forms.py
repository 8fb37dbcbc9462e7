"""A form is sent for the person it was shown for, or not at all: a page drawn while acting
for someone, sent after the session has come to act for someone else (a switch in another
tab, a mandate that ended), changes nothing (409) instead of acting on whoever the session
acts for now."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from identity_support import World, csrf_of, load_world, sign_in
from portal_support import grant_everything

from joinedup import consent, identity
from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.pagination import PageRequest
from joinedup.exchange import exchange_client


def _attorney_of(database: Database, world: World) -> tuple[Any, Any, str]:
    """An attorney acting for a grantor with a power for everything: (attorney, grantor,
    the power's reference)."""
    attorney = world.accounts[0]
    grantor = next(a for a in world.accounts[1:] if "staff" not in a.tags)
    reference = grant_everything(
        database,
        grantor=grantor.personal_code,
        grantor_name=grantor.given_names,
        grantee=attorney.personal_code,
    )
    return attorney, grantor, reference


def _consent_form(web: TestClient) -> tuple[str, str]:
    """The first "give" form of the consents page: (its action, its token)."""
    page = web.get("/portal/consents")
    assert page.status_code == 200
    action = re.findall(r'action="(/portal/consents/[0-9a-f-]+/give)"', page.text)[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return action, token.group(1)


def _consents(database: Database, code: str) -> list[Any]:
    with database.reading() as session:
        return consent.list_consents(session, subject_code=code, page=PageRequest(limit=50)).items


def _act_for(web: TestClient, code: str) -> None:
    answer = web.post("/portal/acting-for", data={"csrf_token": csrf_of(web), "subject": code})
    assert answer.status_code == 200


@pytest.mark.parametrize("change", ["mandate-revoked", "switched-in-another-tab"])
def test_a_form_shown_for_one_person_is_not_applied_to_another(
    web: TestClient, seeded: Database, change: str
) -> None:
    world = load_world(seeded)
    attorney, grantor, reference = _attorney_of(seeded, world)
    sign_in(web, attorney)
    _act_for(web, grantor.personal_code)
    action, token = _consent_form(web)  # drawn for the grantor
    if change == "mandate-revoked":
        with seeded.unit_of_work() as session:
            identity.revoke_power_of_attorney(
                session, reference=reference, grantor_code=grantor.personal_code, actor="test"
            )
    else:
        _act_for(web, attorney.personal_code)  # back to acting for oneself, elsewhere
    sent = web.post(action, data={"csrf_token": token}, follow_redirects=False)
    assert sent.status_code == 409
    assert "nothing was changed" in sent.text
    assert _consents(seeded, attorney.personal_code) == []
    assert _consents(seeded, grantor.personal_code) == []


def test_a_form_shown_for_whom_the_session_acts_for_goes_through(
    web: TestClient, seeded: Database
) -> None:
    world = load_world(seeded)
    attorney, grantor, _ = _attorney_of(seeded, world)
    sign_in(web, attorney)
    _act_for(web, grantor.personal_code)
    action, token = _consent_form(web)
    assert token.endswith(f".{grantor.personal_code}")
    # a token naming someone else (tampered with) is refused
    forged = token.rsplit(".", 1)[0] + f".{attorney.personal_code}"
    assert web.post(action, data={"csrf_token": forged}).status_code == 409
    sent = web.post(action, data={"csrf_token": token}, follow_redirects=False)
    assert sent.status_code == 303
    assert [c.state for c in _consents(seeded, grantor.personal_code)] == ["given"]
    assert _consents(seeded, attorney.personal_code) == []


def test_what_has_legal_effect_confirms_a_parent_s_mandate_through_the_registers_now(
    web: TestClient, seeded: Database
) -> None:
    """A parent acting for their child, whose death is registered meanwhile: the session's
    mandate was confirmed minutes ago, but opening the child's letter (its read receipt) and
    giving a consent for the child check the registers again and are refused."""
    from identity_support import minor_children

    from joinedup import notify
    from joinedup.demo import organisation

    world = load_world(seeded)
    parent = next(
        a for a in world.tagged("parent-of-minor") if minor_children(seeded, a.personal_code)
    )
    child = minor_children(seeded, parent.personal_code)[0]
    sib = organisation("social-insurance")
    population = organisation("population-register")
    with seeded.unit_of_work() as session:
        letter = notify.send_letter(
            session,
            recipient_code=child,
            sender=f"{sib.member_class}/{sib.member_code}",
            kind="information",
            subject="Your school place",
            paragraphs=["A place is kept for you."],
            reference="test-legal-effect",
            actor="test",
        )
    sign_in(web, parent)
    _act_for(web, child)
    action, token = _consent_form(web)
    with (
        seeded.unit_of_work() as session,
        exchange_client(
            session, client=f"GOV/{population.member_code}/civil-registration"
        ) as calls,
    ):
        calls.write(
            f"GOV/{population.member_code}/population/record-death",
            purpose="civil-registration",
            body={
                "reference": "CRVS-LEGAL-EFFECT",
                "personalCode": child,
                "dateOfDeath": today().isoformat(),
            },
        )
    assert web.get(f"/portal/messages/{letter.message_id}").status_code == 403
    with seeded.reading() as session:
        unread = notify.get_letter(session, message_id=letter.message_id, recipient_code=child)
    assert unread.read_at is None  # no read receipt
    assert web.post(action, data={"csrf_token": token}).status_code == 403
    assert _consents(seeded, child) == []
