"""Where a person's consents stand (the portal's consents page, in one statement): the same
agreements, records and states as a person's consent records and the agreements read in pages."""

from __future__ import annotations

import uuid

from consent_support import ACTOR, living_adults, member, service
from sqlalchemy.orm import Session

from joinedup.consent import (
    ConsentStanding,
    DataItem,
    LawfulBasis,
    consent_standings,
    give_consent,
    list_consents,
    list_data_agreements,
    publish_data_agreement,
    retire_data_agreement,
    revise_data_agreement,
    withdraw_consent,
)
from joinedup.core.pagination import PageRequest

RESIDENCE = service("population-register", "addresses", "residence")
PERSON = service("population-register", "population", "person")


def _agreement(
    session: Session, code: str, *, controller: str = "food-bank", basis: str = "consent"
) -> uuid.UUID:
    return publish_data_agreement(
        session,
        controller=member(controller),
        code=code,
        title=f"Agreement {code} <&>",
        purpose=f"Purpose of {code}: 100% clear.",
        lawful_basis=LawfulBasis(basis),
        data_items=[DataItem(service=RESIDENCE, field="address")],
        retention_days=len(code),
        actor=ACTOR,
    ).id


def _revise(session: Session, agreement_id: uuid.UUID, *, basis: str, wider: bool) -> None:
    items = [DataItem(service=RESIDENCE, field="address")]
    if wider:
        items.append(DataItem(service=PERSON, field="givenNames"))
    revise_data_agreement(
        session,
        agreement_id=agreement_id,
        title="Revised",
        purpose="Revised purpose.",
        lawful_basis=LawfulBasis(basis),
        data_items=items,
        retention_days=7,
        actor=ACTOR,
    )


def _as_the_page_read_them(session: Session, subject: str) -> list[ConsentStanding]:
    """What the consents page showed when it read the person's records and the agreements
    in pages (the reference ``consent_standings`` must agree with)."""
    records = {
        r.data_agreement_id: r
        for r in list_consents(session, subject_code=subject, page=PageRequest(limit=500)).items
    }
    found = []
    for a in list_data_agreements(session, page=PageRequest(limit=500)).items:
        if a.lawful_basis != LawfulBasis.CONSENT or not (a.active or a.id in records):
            continue
        record = records.get(a.id)
        found.append(
            ConsentStanding(
                agreement_id=a.id,
                controller=a.controller,
                title=a.title,
                purpose=a.purpose,
                retention_days=a.retention_days,
                active=a.active,
                state=record.state if record else None,
                in_force=bool(record and record.in_force),
                changed_at=record.updated_at if record else None,
            )
        )
    return found


def test_where_a_persons_consents_stand(tx: Session) -> None:
    person, other, nobody = living_adults(tx, 3, offset=20)
    given, withdrawn, earlier, retired, retired_unused, public_task, unused, now_public = (
        _agreement(tx, code, controller=controller)
        for code, controller in [
            ("given", "food-bank"),
            ("withdrawn", "population-register"),
            ("earlier", "food-bank"),
            ("retired", "food-bank"),
            ("retired-unused", "food-bank"),
            ("public-task", "food-bank"),
            ("unused", "population-register"),
            ("now-public", "food-bank"),
        ]
    )
    _revise(tx, public_task, basis="public_task", wider=False)
    for agreement_id in (given, withdrawn, earlier, retired, now_public):
        give_consent(tx, agreement_id=agreement_id, subject_code=person, actor="client:x")
    give_consent(tx, agreement_id=unused, subject_code=other, actor="client:x")
    withdraw_consent(tx, agreement_id=withdrawn, subject_code=person, actor="client:x")
    _revise(tx, earlier, basis="consent", wider=True)  # consents given before no longer hold
    _revise(tx, now_public, basis="public_task", wider=False)
    retire_data_agreement(tx, agreement_id=retired, actor=ACTOR)
    retire_data_agreement(tx, agreement_id=retired_unused, actor=ACTOR)

    standings = consent_standings(tx, subject_code=person)
    assert standings == _as_the_page_read_them(tx, person)
    mine = {s.agreement_id: s for s in standings}
    assert not {retired_unused, public_task, now_public} & set(mine)
    assert (mine[given].state, mine[given].in_force, mine[given].active) == ("given", True, True)
    assert (mine[withdrawn].state, mine[withdrawn].in_force) == ("withdrawn", False)
    assert (mine[earlier].state, mine[earlier].in_force) == ("given", False)
    assert (mine[retired].state, mine[retired].in_force, mine[retired].active) == (
        "given",
        False,
        False,
    )
    assert (mine[unused].state, mine[unused].changed_at) == (None, None)  # not another's
    for subject in (other, nobody):
        assert consent_standings(tx, subject_code=subject) == _as_the_page_read_them(tx, subject)
