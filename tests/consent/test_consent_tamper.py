"""Rewriting a consent's history is detected: the chain names the broken revision, and
``joinedup log verify`` names it too."""

from __future__ import annotations

import uuid
from pathlib import Path

from consent_support import living_adults
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from joinedup.cli import app
from joinedup.consent import ConsentChange, give_consent, verify_consent_chain, withdraw_consent
from joinedup.consent.chain import revision_canonical, sha256
from joinedup.consent.models import ConsentRecord, ConsentRevision
from joinedup.consent.verification import verify_consent_connection, verify_consent_revisions
from joinedup.core.db import Database
from joinedup.core.keys import load_log_signing_key
from joinedup.core.settings import get_settings
from joinedup.demo.purposes import FOOD_PARCELS_AGREEMENT

runner = CliRunner()


def _three_revisions(session: Session, person: str) -> ConsentChange:
    actor = f"person:{person}"
    give_consent(session, agreement_id=FOOD_PARCELS_AGREEMENT, subject_code=person, actor=actor)
    withdraw_consent(session, agreement_id=FOOD_PARCELS_AGREEMENT, subject_code=person, actor=actor)
    return give_consent(
        session, agreement_id=FOOD_PARCELS_AGREEMENT, subject_code=person, actor=actor
    )


def _revision(session: Session, record_id: uuid.UUID, seq: int) -> ConsentRevision:
    return session.scalars(
        select(ConsentRevision)
        .join(ConsentRecord, ConsentRecord.id == ConsentRevision.record_ref)
        .where(ConsentRecord.record_id == record_id, ConsentRevision.seq == seq)
    ).one()


def _set(session: Session, row: ConsentRevision, **values: object) -> None:
    """A forger's UPDATE, behind the ORM's back."""
    session.execute(update(ConsentRevision).where(ConsentRevision.id == row.id).values(**values))
    session.expire_all()


def test_an_intact_history_verifies(tx: Session) -> None:
    (person,) = living_adults(tx, 1, offset=20)
    change = _three_revisions(tx, person)
    result = verify_consent_chain(tx, consent_record_id=change.consent_record.id)
    assert result.intact
    assert result.revisions == 3
    checked, findings = verify_consent_connection(tx.connection())
    assert checked >= 3
    assert findings == []


def test_a_rewritten_revision_is_named(tx: Session) -> None:
    (person,) = living_adults(tx, 1, offset=21)
    change = _three_revisions(tx, person)
    record_id = change.consent_record.id
    # the history now says someone else withdrew it
    _set(tx, _revision(tx, record_id, 2), recorded_by="client:forger")
    result = verify_consent_chain(tx, consent_record_id=record_id)
    assert not result.intact
    assert {b.seq for b in result.broken} == {2}
    assert any("rewritten" in b.reason for b in result.broken)
    _, findings = verify_consent_connection(tx.connection())
    assert any(f.sort == "record-rewritten" for f in findings)


def test_a_rewritten_revision_with_recomputed_hashes_still_differs_from_the_log(
    tx: Session,
) -> None:
    """The forger recomputes the revision's hash and the chain after it: the chain is
    consistent again, but the transparency log still holds the original hashes."""
    (person,) = living_adults(tx, 1, offset=22)
    change = _three_revisions(tx, person)
    record_id = change.consent_record.id
    record = tx.scalars(select(ConsentRecord).where(ConsentRecord.record_id == record_id)).one()
    previous_hash: bytes | None = None
    for seq in (1, 2, 3):
        row = _revision(tx, record_id, seq)
        values = {
            "revision_id": row.revision_id,
            "consent_record_id": record_id,
            "seq": seq,
            "action": "given",  # the withdrawal never happened
            "agreement_id": FOOD_PARCELS_AGREEMENT,
            "agreement_version": row.agreement_version,
            "agreement_hash": row.agreement_hash,
            "subject_code": person,
            "recorded_at": row.recorded_at,
            "recorded_by": row.recorded_by,
            "acting_for": row.acting_for,
            "signed_as": row.signed_as,
            "salt": row.salt,
            "predecessor_hash": previous_hash,
        }
        forged = sha256(revision_canonical(values))
        _set(tx, row, action="given", predecessor_hash=previous_hash, serialized_hash=forged)
        previous_hash = forged
    tx.execute(
        update(ConsentRecord)
        .where(ConsentRecord.id == record.id)
        .values(head_hash=previous_hash, state="given")
    )
    tx.expire_all()
    result = verify_consent_chain(tx, consent_record_id=record_id)
    assert not result.intact
    assert {b.seq for b in result.broken} == {2, 3}  # the first one was not changed
    assert all("transparency-log entry" in b.reason for b in result.broken)


def test_a_removed_last_revision_is_detected(tx: Session) -> None:
    (person,) = living_adults(tx, 1, offset=23)
    change = _three_revisions(tx, person)
    record_id = change.consent_record.id
    tx.execute(delete(ConsentRevision).where(ConsentRevision.id == _revision(tx, record_id, 3).id))
    tx.expire_all()
    result = verify_consent_chain(tx, consent_record_id=record_id)
    assert not result.intact
    assert any(b.seq is None and "last revision" in b.reason for b in result.broken)
    _, findings = verify_consent_connection(tx.connection())
    assert any(f.sort == "record-deleted" for f in findings)


def test_log_verify_names_a_rewritten_consent(country: Database, tmp_path: Path) -> None:
    with country.reading() as session:
        (person,) = living_adults(session, 1, offset=24)
    with country.unit_of_work() as session:
        change = give_consent(
            session,
            agreement_id=FOOD_PARCELS_AGREEMENT,
            subject_code=person,
            actor=f"person:{person}",
        )
    assert verify_consent_revisions(country.url)[1] == []
    public_key = tmp_path / "log.pem"
    public_key.write_text(load_log_signing_key(get_settings()).public_pem())
    arguments = ["log", "verify", "--database-url", country.url, "--public-key", str(public_key)]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.stdout
    assert "consent register intact" in result.stdout
    with country.unit_of_work() as session:
        session.execute(
            text("UPDATE consent_revision SET signed_as = 'delegate' WHERE log_index = :index"),
            {"index": change.revision.log_index},
        )
    try:
        result = runner.invoke(app, arguments)
        assert result.exit_code == 1
        assert f"consent revision {change.revision.id}" in result.stdout
        assert "consent register NOT intact: 1 finding(s)" in result.stdout
    finally:  # leave the module's country intact for the other tests
        with country.unit_of_work() as session:
            session.execute(
                text(
                    "UPDATE consent_revision SET signed_as = 'individual' WHERE log_index = :index"
                ),
                {"index": change.revision.log_index},
            )
