"""Data agreements and consent records: publish, revise, retire; give, withdraw (idempotent);
whether a consent is in force; a person's consents; clear refusals of bad input."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from consent_support import ACTOR, living_adults, member, service
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from joinedup.consent import (
    DataItem,
    LawfulBasis,
    SignedAs,
    consent_history,
    get_data_agreement,
    give_consent,
    has_consent,
    list_agreement_versions,
    list_consents,
    publish_data_agreement,
    retire_data_agreement,
    revise_data_agreement,
    withdraw_consent,
)
from joinedup.consent.chain import revision_leaf
from joinedup.core.clock import today
from joinedup.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from joinedup.core.outbox import OutboxEvent
from joinedup.core.pagination import PageRequest
from joinedup.core.translog import leaf_hash, list_entries
from joinedup.demo.purposes import FOOD_PARCELS_AGREEMENT

FOOD_BANK = member("food-bank")
RESIDENCE = service("population-register", "addresses", "residence")
PERSON = service("population-register", "population", "person")


def _agreement(session: Session, code: str = "newsletter", **changes: object) -> uuid.UUID:
    terms: dict[str, object] = {
        "controller": FOOD_BANK,
        "code": code,
        "title": "Our newsletter",
        "purpose": "We send you our newsletter at your home address.",
        "lawful_basis": LawfulBasis.CONSENT,
        "data_items": [DataItem(service=RESIDENCE, field="address")],
        "retention_days": 365,
        "actor": ACTOR,
    }
    terms.update(changes)
    return publish_data_agreement(session, **terms).id  # type: ignore[arg-type]


def _events(session: Session, name: str) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.name == name)
        )
        or 0
    )


def _rows(session: Session, table: str) -> int:
    return int(session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


def test_a_published_agreement_is_version_one_with_its_hash(tx: Session) -> None:
    before = _events(tx, "consent.agreement_published.v1")
    agreement_id = _agreement(tx)
    record = get_data_agreement(tx, agreement_id=agreement_id)
    assert record.version == 1
    assert record.controller == FOOD_BANK
    assert record.active
    assert record.current
    assert record.lawful_basis == LawfulBasis.CONSENT
    assert [(i.service, i.field) for i in record.data_items] == [(RESIDENCE, "address")]
    assert len(record.revision_hash) == 64
    assert _events(tx, "consent.agreement_published.v1") == before + 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"controller": "GOV/99999999"}, "controller"),
        ({"controller": "nonsense"}, "controller"),
        ({"code": "Not A Code"}, "code"),
        ({"code": "food-parcel-delivery"}, "code"),  # the demo's agreement has it
        ({"title": " "}, "title"),
        ({"purpose": ""}, "purpose"),
        ({"lawful_basis": "because"}, "lawful_basis"),
        ({"data_items": []}, "data_items"),
        ({"data_items": [DataItem(service="GOV/1/x", field="a")]}, "data_items[0].service"),
        ({"data_items": [DataItem(service=RESIDENCE, field="iban")]}, "data_items[0].field"),
        (
            {"data_items": [DataItem(service=RESIDENCE, field="address")] * 2},
            "data_items[1]",
        ),
        ({"retention_days": 0}, "retention_days"),
        ({"policy_url": "ftp://example.org"}, "policy_url"),
    ],
)
def test_publishing_refuses_bad_input_naming_the_field_and_writes_nothing(
    tx: Session, changes: dict[str, object], field: str
) -> None:
    agreements = _rows(tx, "consent_data_agreement")
    with pytest.raises(ValidationFailed) as refused:
        _agreement(tx, **changes)
    assert field in {e["field"] for e in refused.value.extensions["errors"]}
    assert _rows(tx, "consent_data_agreement") == agreements


def test_giving_and_withdrawing_appends_a_hash_chain_to_the_log(tx: Session) -> None:
    agreement_id = _agreement(tx)
    (person,) = living_adults(tx, 1)
    given = give_consent(
        tx, agreement_id=agreement_id, subject_code=person, actor=f"person:{person}"
    )
    assert given.changed
    assert given.revision.seq == 1
    assert given.revision.predecessor_hash is None
    assert given.revision.signed_as == SignedAs.INDIVIDUAL
    assert given.consent_record.opt_in
    assert given.consent_record.in_force
    assert has_consent(tx, agreement=agreement_id, subject_code=person, on=today())

    again = give_consent(tx, agreement_id=agreement_id, subject_code=person, actor="client:x")
    assert not again.changed
    assert again.revision == given.revision

    withdrawn = withdraw_consent(
        tx, agreement_id=agreement_id, subject_code=person, actor=f"person:{person}"
    )
    assert withdrawn.changed
    assert withdrawn.revision.seq == 2
    assert withdrawn.revision.predecessor_hash == given.revision.serialized_hash
    assert not has_consent(tx, agreement=agreement_id, subject_code=person, on=today())
    assert not withdraw_consent(
        tx, agreement_id=agreement_id, subject_code=person, actor=f"person:{person}"
    ).changed

    regiven = give_consent(tx, agreement_id=agreement_id, subject_code=person, actor="client:x")
    assert regiven.revision.seq == 3
    assert regiven.revision.signed_as == SignedAs.AGENCY
    assert has_consent(tx, agreement=agreement_id, subject_code=person, on=today())

    history = consent_history(tx, consent_record_id=regiven.consent_record.id)
    assert [r.action for r in history.revisions] == ["given", "withdrawn", "given"]
    assert history.verification.intact, history.verification.broken
    # each revision is in the transparency log: its id and hash, never the personal code
    entries = {e.index: e for e in list_entries(tx, request=PageRequest(limit=500)).items}
    for revision in history.revisions:
        leaf = revision_leaf(revision.id, bytes.fromhex(revision.serialized_hash))
        assert entries[revision.log_index].leaf_hash == leaf_hash(leaf)
        assert entries[revision.log_index].kind == "consent.revision"
        assert person.encode() not in leaf
    assert _events(tx, "consent.given.v1") >= 2
    assert _events(tx, "consent.withdrawn.v1") >= 1


def test_consent_given_today_was_not_in_force_yesterday(tx: Session) -> None:
    agreement_id = _agreement(tx)
    (person,) = living_adults(tx, 1, offset=1)
    give_consent(tx, agreement_id=agreement_id, subject_code=person, actor=f"person:{person}")
    assert has_consent(tx, agreement=agreement_id, subject_code=person, on=today())
    yesterday = today() - timedelta(days=1)
    assert not has_consent(tx, agreement=agreement_id, subject_code=person, on=yesterday)


def test_a_person_acting_for_another_names_them(tx: Session) -> None:
    agreement_id = _agreement(tx)
    parent, child = living_adults(tx, 2, offset=2)
    with pytest.raises(Forbidden):
        give_consent(tx, agreement_id=agreement_id, subject_code=child, actor=f"person:{parent}")
    with pytest.raises(ValidationFailed):
        give_consent(
            tx,
            agreement_id=agreement_id,
            subject_code=child,
            actor=f"person:{parent}",
            acting_for=parent,
        )
    change = give_consent(
        tx,
        agreement_id=agreement_id,
        subject_code=child,
        actor=f"person:{parent}",
        acting_for=child,
    )
    assert change.revision.signed_as == SignedAs.DELEGATE
    assert change.revision.acting_for == child
    assert change.revision.authorized_by == f"person:{parent}"


def test_bad_consent_input_is_refused_clearly(tx: Session) -> None:
    agreement_id = _agreement(tx)
    (person,) = living_adults(tx, 1, offset=4)
    revisions = _rows(tx, "consent_revision")
    with pytest.raises(NotFound):
        give_consent(tx, agreement_id=uuid.uuid4(), subject_code=person, actor="client:x")
    with pytest.raises(ValidationFailed):
        give_consent(tx, agreement_id="not-a-uuid", subject_code=person, actor="client:x")
    with pytest.raises(ValidationFailed):
        give_consent(tx, agreement_id=agreement_id, subject_code="12345678901", actor="client:x")
    with pytest.raises(ValidationFailed) as version:
        give_consent(
            tx, agreement_id=agreement_id, subject_code=person, actor="client:x", version=2
        )
    assert version.value.extensions["errors"][0]["field"] == "version"
    with pytest.raises(Conflict, match="never gave consent"):
        withdraw_consent(tx, agreement_id=agreement_id, subject_code=person, actor="client:x")
    by_law = _agreement(tx, "by-law", lawful_basis=LawfulBasis.PUBLIC_TASK)
    with pytest.raises(Conflict, match="not consent"):
        give_consent(tx, agreement_id=by_law, subject_code=person, actor="client:x")
    assert _rows(tx, "consent_revision") == revisions


def test_a_retired_agreement_takes_no_consent_and_none_is_in_force(tx: Session) -> None:
    agreement_id = _agreement(tx)
    (person,) = living_adults(tx, 1, offset=5)
    give_consent(tx, agreement_id=agreement_id, subject_code=person, actor="client:x")
    retired = retire_data_agreement(tx, agreement_id=agreement_id, actor=ACTOR)
    assert not retired.active
    assert retired.retired_at is not None
    assert retire_data_agreement(tx, agreement_id=agreement_id, actor=ACTOR) == retired
    assert not has_consent(tx, agreement=agreement_id, subject_code=person, on=today())
    (other,) = living_adults(tx, 1, offset=6)
    with pytest.raises(Conflict, match="retired"):
        give_consent(tx, agreement_id=agreement_id, subject_code=other, actor="client:x")
    with pytest.raises(Conflict, match="retired"):
        revise_data_agreement(
            tx,
            agreement_id=agreement_id,
            title="t",
            purpose="p",
            lawful_basis=LawfulBasis.CONSENT,
            data_items=[DataItem(service=RESIDENCE, field="address")],
            retention_days=1,
            actor=ACTOR,
        )
    # withdrawing is always possible
    assert withdraw_consent(
        tx, agreement_id=agreement_id, subject_code=person, actor="client:x"
    ).changed


def test_a_revision_asking_for_more_needs_consent_again_one_asking_less_keeps_it(
    tx: Session,
) -> None:
    agreement_id = _agreement(tx, data_items=[DataItem(service=RESIDENCE, field="address")])
    (person,) = living_adults(tx, 1, offset=7)
    given = give_consent(tx, agreement_id=agreement_id, subject_code=person, actor="client:x")
    narrower = revise_data_agreement(
        tx,
        agreement_id=agreement_id,
        title="Our newsletter (shorter retention)",
        purpose="We send you our newsletter at your home address.",
        lawful_basis=LawfulBasis.CONSENT,
        data_items=[DataItem(service=RESIDENCE, field="address")],
        retention_days=30,
        actor=ACTOR,
    )
    assert narrower.version == 2
    assert narrower.consents_from_version == 1
    assert has_consent(tx, agreement=agreement_id, subject_code=person, on=today())
    wider = revise_data_agreement(
        tx,
        agreement_id=agreement_id,
        title="Our newsletter, addressed by name",
        purpose="We send you our newsletter at your home address.",
        lawful_basis=LawfulBasis.CONSENT,
        data_items=[
            DataItem(service=RESIDENCE, field="address"),
            DataItem(service=PERSON, field="givenNames"),
        ],
        retention_days=30,
        actor=ACTOR,
    )
    assert wider.version == 3
    assert wider.consents_from_version == 3
    assert not has_consent(tx, agreement=agreement_id, subject_code=person, on=today())
    # the old consent still points at version 1; giving again points at version 3
    again = give_consent(tx, agreement_id=agreement_id, subject_code=person, actor="client:x")
    assert again.changed
    assert given.revision.data_agreement_version == 1
    assert again.revision.data_agreement_version == 3
    assert again.revision.data_agreement_revision_hash == wider.revision_hash
    assert has_consent(tx, agreement=agreement_id, subject_code=person, on=today())
    versions = list_agreement_versions(tx, agreement_id=agreement_id)
    assert [v.version for v in versions] == [1, 2, 3]
    assert [v.current for v in versions] == [False, False, True]
    assert len({v.revision_hash for v in versions}) == 3


def test_a_persons_consents_come_in_keyset_pages(tx: Session) -> None:
    (person,) = living_adults(tx, 1, offset=8)
    made = [_agreement(tx, f"page-{i}") for i in range(3)]
    for agreement_id in made:
        give_consent(tx, agreement_id=agreement_id, subject_code=person, actor="client:x")
    first = list_consents(tx, subject_code=person, page=PageRequest(limit=2))
    assert len(first.items) == 2
    assert first.next_cursor
    second = list_consents(
        tx, subject_code=person, page=PageRequest(limit=2, cursor=first.next_cursor)
    )
    assert second.next_cursor is None
    seen = [c.data_agreement_id for c in [*first.items, *second.items]]
    assert seen == made
    assert all(c.individual_id == person and c.in_force for c in [*first.items, *second.items])
    only_food_bank = list_consents(
        tx, subject_code=person, page=PageRequest(limit=10), controller=FOOD_BANK
    )
    assert len(only_food_bank.items) == 3
    assert not list_consents(
        tx, subject_code=person, page=PageRequest(limit=10), controller="GOV/1"
    ).items
    with pytest.raises(ValidationFailed):
        list_consents(tx, subject_code=person, page=PageRequest(cursor="forged!"))


def test_the_demo_agreement_is_the_food_banks(tx: Session) -> None:
    record = get_data_agreement(tx, agreement_id=FOOD_PARCELS_AGREEMENT)
    assert record.controller == FOOD_BANK
    assert record.lawful_basis == LawfulBasis.CONSENT
    assert [(i.service, i.field) for i in record.data_items] == [(RESIDENCE, "address")]
