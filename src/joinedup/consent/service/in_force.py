"""Whether a data subject's consent is in force: on a day (:func:`consent_in_force`,
:func:`has_consent`, what the exchange asks before a read whose lawful basis is consent), and
how many revisions each of their consents has (:func:`consent_revisions_of`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup.consent.models import (
    ConsentRecord,
    ConsentRevision,
    DataAgreement,
    DataAgreementVersion,
)
from joinedup.consent.schemas import (
    ConsentAction,
    ConsentInForce,
)
from joinedup.consent.service.agreements import parse_agreement_id
from joinedup.core.clock import utcnow
from joinedup.core.db import pairs_where_in

PERSON_ACTOR = "person:"


def _end_of(on: date) -> datetime:
    return datetime.combine(on + timedelta(days=1), time.min, tzinfo=UTC)


def consent_in_force(
    session: Session, *, agreement: uuid.UUID | str, subject_code: str, on: date
) -> ConsentInForce | None:
    """The subject's consent to the agreement in force on the day ``on``, or ``None``.

    "In force on a day" is the state at the end of that day, or now for today (so a consent
    given later today does not count for a call made earlier). In force: the latest revision
    by then gave consent, for a version whose consents still held then, to an agreement not
    retired by then. Reads only (two or three indexed queries)."""
    wanted = parse_agreement_id(agreement)
    found = session.execute(
        select(DataAgreement, ConsentRecord)
        .join(ConsentRecord, ConsentRecord.agreement_ref == DataAgreement.id)
        .where(DataAgreement.agreement_id == wanted, ConsentRecord.subject_code == subject_code)
    ).first()
    if found is None:
        return None
    row, record = found
    now = utcnow()
    at = min(now, _end_of(on))
    if row.retired_at is not None and row.retired_at <= at:
        return None
    latest = session.scalars(
        select(ConsentRevision)
        .where(ConsentRevision.record_ref == record.id, ConsentRevision.recorded_at <= at)
        .order_by(ConsentRevision.seq.desc())
        .limit(1)
    ).first()
    if latest is None or latest.action != ConsentAction.GIVEN.value:
        return None
    holds_from = row.consents_from_version  # of the current version
    if at < now:  # a day in the past: of the version current then
        holds_from = _consents_from_at(session, row, at)
    if latest.agreement_version < holds_from:
        return None
    return ConsentInForce(
        consent_record_id=record.record_id,
        data_agreement_id=row.agreement_id,
        data_agreement_code=row.code,
        data_agreement_version=latest.agreement_version,
        given_at=latest.recorded_at,
    )


def _consents_from_at(session: Session, agreement: DataAgreement, at: datetime) -> int:
    """``consents_from_version`` of the version that was current at ``at``."""
    value = session.scalar(
        select(DataAgreementVersion.consents_from_version)
        .where(
            DataAgreementVersion.agreement_ref == agreement.id,
            DataAgreementVersion.published_at <= at,
        )
        .order_by(DataAgreementVersion.version.desc())
        .limit(1)
    )
    return int(value) if value is not None else agreement.consents_from_version


def consent_revisions_of(session: Session, *, subject_codes: Sequence[str]) -> dict[int, int]:
    """Each consent record of these data subjects, with how many revisions it has: it
    changes whenever one of their consents is given, withdrawn or given again (a caller that
    decided on their consents outside its write transaction tells by it whether they have
    changed since)."""
    return pairs_where_in(
        session,
        ConsentRecord.id,
        ConsentRecord.revisions,
        ConsentRecord.subject_code,
        subject_codes,
    )


def has_consent(
    session: Session, *, agreement: uuid.UUID | str, subject_code: str, on: date
) -> bool:
    """Whether the subject's consent to the agreement is in force on ``on`` (see
    :func:`consent_in_force`). Reads only."""
    return (
        consent_in_force(session, agreement=agreement, subject_code=subject_code, on=on) is not None
    )
