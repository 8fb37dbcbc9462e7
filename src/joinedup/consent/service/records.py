"""Consent records: give, withdraw, and whether a consent is in force.

One record per data subject (personal code) and agreement; every change is a revision appended
to the record's hash chain and to the transparency log (:mod:`joinedup.consent.chain`). Giving
consent that is in force, or withdrawing consent that is withdrawn, changes nothing (the answer
says so): a caller may retry safely.

**Who acts.** ``actor`` is who recorded the change: ``person:<personal code>`` when a person
does it themselves through the portal, or an agency's system (``client:<id>``) recording the
person's decision (a signed paper form). A person acting for someone else (a parent for a
child, a guardian, an attorney — the caller has checked the mandate) names the data subject in
``acting_for``. The revision keeps both and says in which capacity (``signed_as``).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup.consent.chain import REVISION_KIND, revision_canonical, revision_leaf, sha256
from joinedup.consent.events import ConsentGiven, ConsentWithdrawn
from joinedup.consent.models import (
    ConsentRecord,
    ConsentRevision,
    DataAgreement,
    DataAgreementVersion,
)
from joinedup.consent.schemas import (
    ConsentAction,
    ConsentChange,
    ConsentRecordView,
    LawfulBasis,
    RevisionRecord,
    SignedAs,
)
from joinedup.consent.service.agreements import load_agreement, parse_agreement_id
from joinedup.core.clock import utcnow
from joinedup.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from joinedup.core.events import emit
from joinedup.core.keys import SigningKey, load_log_signing_key
from joinedup.core.settings import get_settings
from joinedup.core.translog import append_batch

PERSON_ACTOR = "person:"


def _check_subject(subject_code: str) -> None:
    from joinedup.registries import is_valid_personal_code

    if not is_valid_personal_code(subject_code):
        raise ValidationFailed(
            "subject_code is not a valid personal code",
            errors=[{"field": "subject_code", "message": "is not a valid personal code"}],
        )


def _signed_as(actor: str, subject_code: str, acting_for: str | None) -> SignedAs:
    if not actor.strip() or len(actor) > 100:
        raise ValidationFailed(
            "actor must be 1 to 100 characters",
            errors=[{"field": "actor", "message": "1 to 100 characters"}],
        )
    if acting_for is not None and acting_for != subject_code:
        raise ValidationFailed(
            "acting_for must name the data subject the actor acts for",
            errors=[{"field": "acting_for", "message": "is not the data subject"}],
        )
    if not actor.startswith(PERSON_ACTOR):
        return SignedAs.AGENCY
    if actor.removeprefix(PERSON_ACTOR) == subject_code:
        return SignedAs.INDIVIDUAL
    if acting_for is None:
        raise Forbidden(
            "a person gives or withdraws consent for themselves; a person acting for the data "
            "subject (a parent, a guardian, an attorney) names them in acting_for"
        )
    return SignedAs.DELEGATE


def record_view(
    record: ConsentRecord,
    agreement: DataAgreement,
    agreement_hash: bytes,
    *,
    at: datetime | None = None,
) -> ConsentRecordView:
    in_force = (
        record.state == ConsentAction.GIVEN.value
        and agreement.retired_at is None
        and record.version >= agreement.consents_from_version
    )
    return ConsentRecordView(
        id=record.record_id,
        data_agreement_id=agreement.agreement_id,
        data_agreement_version=record.version,
        data_agreement_revision_hash=agreement_hash.hex(),
        individual_id=record.subject_code,
        opt_in=record.state == ConsentAction.GIVEN.value,
        state=ConsentAction(record.state),
        in_force=in_force,
        revisions=record.revisions,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def revision_view(row: ConsentRevision) -> RevisionRecord:
    return RevisionRecord(
        id=row.revision_id,
        seq=row.seq,
        action=ConsentAction(row.action),
        data_agreement_version=row.agreement_version,
        data_agreement_revision_hash=row.agreement_hash.hex(),
        timestamp=row.recorded_at,
        authorized_by=row.recorded_by,
        acting_for=row.acting_for,
        signed_as=SignedAs(row.signed_as),
        predecessor_hash=row.predecessor_hash.hex() if row.predecessor_hash else None,
        serialized_hash=row.serialized_hash.hex(),
        log_index=row.log_index,
    )


def revision_values(
    row: ConsentRevision, record: ConsentRecord, agreement: DataAgreement
) -> dict[str, Any]:
    """A stored revision as :func:`~joinedup.consent.chain.revision_canonical` reads it."""
    return {
        "revision_id": row.revision_id,
        "consent_record_id": record.record_id,
        "seq": row.seq,
        "action": row.action,
        "agreement_id": agreement.agreement_id,
        "agreement_version": row.agreement_version,
        "agreement_hash": row.agreement_hash,
        "subject_code": record.subject_code,
        "recorded_at": row.recorded_at,
        "recorded_by": row.recorded_by,
        "acting_for": row.acting_for,
        "signed_as": row.signed_as,
        "salt": row.salt,
        "predecessor_hash": row.predecessor_hash,
    }


def _latest_revision(session: Session, record: ConsentRecord) -> ConsentRevision:
    return session.scalars(
        select(ConsentRevision).where(
            ConsentRevision.record_ref == record.id, ConsentRevision.seq == record.revisions
        )
    ).one()


def _append(
    session: Session,
    record: ConsentRecord,
    agreement: DataAgreement,
    version: DataAgreementVersion,
    *,
    action: ConsentAction,
    actor: str,
    acting_for: str | None,
    signed_as: SignedAs,
    signer: SigningKey,
) -> ConsentRevision:
    """Append one revision to the record's chain and to the transparency log."""
    row = ConsentRevision(
        revision_id=uuid.uuid4(),
        record_ref=record.id,
        seq=record.revisions + 1,
        action=action.value,
        agreement_version=version.version,
        agreement_hash=version.revision_hash,
        recorded_at=utcnow(),
        recorded_by=actor,
        acting_for=acting_for,
        signed_as=signed_as.value,
        salt=secrets.token_bytes(16),
        predecessor_hash=record.head_hash if record.revisions else None,
    )
    row.serialized_hash = sha256(revision_canonical(revision_values(row, record, agreement)))
    appended = append_batch(
        session,
        kinds=REVISION_KIND,
        leaf_inputs=[revision_leaf(row.revision_id, row.serialized_hash)],
        signer=signer,
    )
    row.log_index = appended.indices[0]
    session.add(row)
    record.state = action.value
    record.version = version.version
    record.revisions = row.seq
    record.head_hash = row.serialized_hash
    record.updated_at = row.recorded_at
    session.flush()
    event = ConsentGiven if action is ConsentAction.GIVEN else ConsentWithdrawn
    emit(
        session,
        event(
            consent_record_id=record.record_id,
            agreement_id=agreement.agreement_id,
            agreement_version=version.version,
            revision_id=row.revision_id,
            seq=row.seq,
        ),
    )
    return row


def _record_of(
    session: Session, agreement: DataAgreement, subject_code: str
) -> ConsentRecord | None:
    return session.scalar(
        select(ConsentRecord).where(
            ConsentRecord.agreement_ref == agreement.id,
            ConsentRecord.subject_code == subject_code,
        )
    )


def give_consent(
    session: Session,
    *,
    agreement_id: uuid.UUID | str,
    subject_code: str,
    actor: str,
    acting_for: str | None = None,
    version: int | None = None,
    log_signer: SigningKey | None = None,
) -> ConsentChange:
    """Record that ``subject_code`` consents to the agreement's current version (``version``,
    when given, must be that version: consent is given to a text the person saw).

    Writes the consent record (on first consent) and one revision, appends the revision to
    the transparency log, emits ``consent.given.v1``. A consent already in force for the
    current version changes nothing (``changed`` false). Refused: an unknown agreement (404),
    a retired one or one whose lawful basis is not consent (409), another version (422)."""
    _check_subject(subject_code)
    signed_as = _signed_as(actor, subject_code, acting_for)
    agreement, current = load_agreement(session, agreement_id)
    if agreement.retired_at is not None:
        raise Conflict(
            "the data agreement is retired: consent can no longer be given to it",
            data_agreement_id=str(agreement.agreement_id),
        )
    if current.lawful_basis != LawfulBasis.CONSENT.value:
        raise Conflict(
            f"the data agreement's lawful basis is {current.lawful_basis}, not consent: "
            "there is no consent to give",
            data_agreement_id=str(agreement.agreement_id),
        )
    if version is not None and version != current.version:
        raise ValidationFailed(
            f"version {version} is not the agreement's current version ({current.version}): "
            "consent is given to the current version",
            errors=[{"field": "version", "message": f"the current version is {current.version}"}],
        )
    record = _record_of(session, agreement, subject_code)
    if (
        record is not None
        and record.state == ConsentAction.GIVEN.value
        and record.version == current.version
    ):
        latest = _latest_revision(session, record)
        return ConsentChange(
            consent_record=record_view(record, agreement, latest.agreement_hash),
            revision=revision_view(latest),
            changed=False,
        )
    if record is None:
        now = utcnow()
        record = ConsentRecord(
            record_id=uuid.uuid4(),
            agreement_ref=agreement.id,
            subject_code=subject_code,
            state=ConsentAction.GIVEN.value,
            version=current.version,
            revisions=0,
            head_hash=b"",
            created_at=now,
            updated_at=now,
        )
        session.add(record)
        session.flush()
    row = _append(
        session,
        record,
        agreement,
        current,
        action=ConsentAction.GIVEN,
        actor=actor,
        acting_for=acting_for,
        signed_as=signed_as,
        signer=log_signer or load_log_signing_key(get_settings()),
    )
    return ConsentChange(
        consent_record=record_view(record, agreement, row.agreement_hash),
        revision=revision_view(row),
        changed=True,
    )


def withdraw_consent(
    session: Session,
    *,
    agreement_id: uuid.UUID | str,
    subject_code: str,
    actor: str,
    acting_for: str | None = None,
    log_signer: SigningKey | None = None,
) -> ConsentChange:
    """Record that ``subject_code`` withdraws their consent to the agreement (also to a
    retired one: withdrawing is always possible).

    Appends one revision (chain and transparency log), emits ``consent.withdrawn.v1``.
    Withdrawing a withdrawn consent changes nothing (``changed`` false); withdrawing a consent
    that was never given is refused (409), as is an unknown agreement (404)."""
    _check_subject(subject_code)
    signed_as = _signed_as(actor, subject_code, acting_for)
    agreement, current = load_agreement(session, agreement_id)
    record = _record_of(session, agreement, subject_code)
    if record is None:
        raise Conflict(
            "this person never gave consent to this data agreement: there is nothing to withdraw",
            data_agreement_id=str(agreement.agreement_id),
        )
    if record.state == ConsentAction.WITHDRAWN.value:
        latest = _latest_revision(session, record)
        return ConsentChange(
            consent_record=record_view(record, agreement, latest.agreement_hash),
            revision=revision_view(latest),
            changed=False,
        )
    row = _append(
        session,
        record,
        agreement,
        current,
        action=ConsentAction.WITHDRAWN,
        actor=actor,
        acting_for=acting_for,
        signed_as=signed_as,
        signer=log_signer or load_log_signing_key(get_settings()),
    )
    return ConsentChange(
        consent_record=record_view(record, agreement, row.agreement_hash),
        revision=revision_view(row),
        changed=True,
    )


def change_consent(
    session: Session,
    *,
    consent_record_id: uuid.UUID | str,
    opt_in: bool,
    actor: str,
    acting_for: str | None = None,
    log_signer: SigningKey | None = None,
) -> ConsentChange:
    """Give again (``opt_in``) or withdraw the consent of an existing record: as
    :func:`give_consent` / :func:`withdraw_consent` for its agreement and subject."""
    record, agreement = load_record(session, consent_record_id)
    if opt_in:
        return give_consent(
            session,
            agreement_id=agreement.agreement_id,
            subject_code=record.subject_code,
            actor=actor,
            acting_for=acting_for,
            log_signer=log_signer,
        )
    return withdraw_consent(
        session,
        agreement_id=agreement.agreement_id,
        subject_code=record.subject_code,
        actor=actor,
        acting_for=acting_for,
        log_signer=log_signer,
    )


def load_record(
    session: Session, consent_record_id: uuid.UUID | str
) -> tuple[ConsentRecord, DataAgreement]:
    """The record and its agreement (``NotFound`` if there is none)."""
    wanted = parse_agreement_id(consent_record_id, field="consent_record_id")
    row = session.execute(
        select(ConsentRecord, DataAgreement)
        .join(DataAgreement, ConsentRecord.agreement_ref == DataAgreement.id)
        .where(ConsentRecord.record_id == wanted)
    ).first()
    if row is None:
        raise NotFound(f"no consent record {wanted}")
    return row[0], row[1]


def agreement_of_record(session: Session, *, consent_record_id: uuid.UUID | str) -> uuid.UUID:
    """The id of the agreement a consent record belongs to."""
    return load_record(session, consent_record_id)[1].agreement_id


def get_consent_record(session: Session, *, consent_record_id: uuid.UUID | str) -> ConsentChange:
    """A consent record with its latest revision (``changed`` is false: nothing changed)."""
    record, agreement = load_record(session, consent_record_id)
    latest = _latest_revision(session, record)
    return ConsentChange(
        consent_record=record_view(record, agreement, latest.agreement_hash),
        revision=revision_view(latest),
        changed=False,
    )


def find_consent_record(
    session: Session, *, agreement_id: uuid.UUID | str, subject_code: str
) -> ConsentChange:
    """The subject's record for an agreement (``NotFound`` when they never gave consent)."""
    agreement, _ = load_agreement(session, parse_agreement_id(agreement_id))
    record = _record_of(session, agreement, subject_code)
    if record is None:
        raise NotFound("this person has no consent record for this data agreement")
    return get_consent_record(session, consent_record_id=record.record_id)
