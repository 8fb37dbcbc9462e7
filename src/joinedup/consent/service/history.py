"""Reading consents: a person's consents (keyset pages), one consent's history with its hash
chain, and the verification of that chain against the transparency log."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from joinedup.consent.chain import revision_canonical, revision_leaf, sha256
from joinedup.consent.models import (
    ConsentRecord,
    ConsentRevision,
    DataAgreement,
    DataAgreementVersion,
)
from joinedup.consent.schemas import (
    BrokenRevision,
    ChainVerification,
    ConsentAction,
    ConsentHistory,
    ConsentRecordView,
    ConsentStanding,
    LawfulBasis,
)
from joinedup.consent.service.records import (
    load_record,
    record_view,
    revision_values,
    revision_view,
)
from joinedup.core.errors import DomainError, ValidationFailed
from joinedup.core.pagination import Page, PageRequest, keyset_page
from joinedup.core.translog import inclusion_proof, leaf_hash, verify_inclusion


def list_consents(
    session: Session,
    *,
    subject_code: str,
    page: PageRequest,
    controller: str | None = None,
) -> Page[ConsentRecordView]:
    """The person's consent records (given and withdrawn), oldest first in keyset pages,
    optionally only those to agreements of one controller (``CLASS/CODE``)."""
    if not subject_code.strip():
        raise ValidationFailed(
            "subject_code is required", errors=[{"field": "subject_code", "message": "required"}]
        )
    statement: Select[Any] = select(ConsentRecord).where(ConsentRecord.subject_code == subject_code)
    if controller is not None:
        member_class, _, member_code = controller.partition("/")
        statement = statement.join(
            DataAgreement, ConsentRecord.agreement_ref == DataAgreement.id
        ).where(
            DataAgreement.controller_member_class == member_class,
            DataAgreement.controller_member_code == member_code,
        )
    rows, cursor = keyset_page(session, statement, keys=[ConsentRecord.id.expression], request=page)
    agreements = {
        a.id: a
        for a in session.scalars(
            select(DataAgreement).where(DataAgreement.id.in_({r.agreement_ref for r in rows}))
        )
    }
    heads = {
        (r.record_ref, r.seq): r.agreement_hash
        for r in session.scalars(
            select(ConsentRevision).where(ConsentRevision.record_ref.in_([r.id for r in rows]))
        )
    }
    items = [record_view(r, agreements[r.agreement_ref], heads[r.id, r.revisions]) for r in rows]
    return Page[ConsentRecordView](items=items, next_cursor=cursor)


#: Every agreement whose current version rests on consent, with the subject's record of it:
#: those in force, and those retired the subject had consented to or withdrew from.
_STANDINGS = (
    select(
        DataAgreement.agreement_id,
        DataAgreement.controller_member_class,
        DataAgreement.controller_member_code,
        DataAgreementVersion.title,
        DataAgreementVersion.purpose,
        DataAgreementVersion.retention_days,
        DataAgreement.retired_at.is_(None).label("active"),
        DataAgreement.consents_from_version,
        ConsentRecord.state,
        ConsentRecord.version,
        ConsentRecord.updated_at,
    )
    .join(
        DataAgreementVersion,
        and_(
            DataAgreementVersion.agreement_ref == DataAgreement.id,
            DataAgreementVersion.version == DataAgreement.current_version,
        ),
    )
    .outerjoin(
        ConsentRecord,
        and_(
            ConsentRecord.agreement_ref == DataAgreement.id,
            ConsentRecord.subject_code == bindparam("subject"),
        ),
    )
    .where(
        DataAgreementVersion.lawful_basis == LawfulBasis.CONSENT.value,
        or_(DataAgreement.retired_at.is_(None), ConsentRecord.id.is_not(None)),
    )
    .order_by(DataAgreement.id)
)


def consent_standings(session: Session, *, subject_code: str) -> list[ConsentStanding]:
    """Each agreement that asks for consent (in publication order) and where the person's
    consent to it stands: every one in force, and every retired one the person has a consent
    record of. In force as :func:`list_consents` says (given, to a version whose consents
    still hold, of an agreement not retired). One statement."""
    return [
        ConsentStanding(
            agreement_id=row.agreement_id,
            controller=f"{row.controller_member_class}/{row.controller_member_code}",
            title=row.title,
            purpose=row.purpose,
            retention_days=row.retention_days,
            active=row.active,
            state=None if row.state is None else ConsentAction(row.state),
            in_force=row.state == ConsentAction.GIVEN
            and row.active
            and row.version >= row.consents_from_version,
            changed_at=row.updated_at,
        )
        for row in session.connection().execute(_STANDINGS, {"subject": subject_code})
    ]


def _revisions(session: Session, record: ConsentRecord) -> list[ConsentRevision]:
    return list(
        session.scalars(
            select(ConsentRevision)
            .where(ConsentRevision.record_ref == record.id)
            .order_by(ConsentRevision.seq)
        )
    )


def _in_log(session: Session, row: ConsentRevision, computed: bytes) -> str | None:
    """Why the revision is not the entry at its log index (``None`` when it is)."""
    expected = leaf_hash(revision_leaf(row.revision_id, computed))
    try:
        proof = inclusion_proof(session, index=row.log_index)
    except DomainError:
        return f"the transparency log has no entry {row.log_index} under a signed tree head"
    head = proof.tree_head
    if proof.leaf_hash != expected or not verify_inclusion(
        expected, row.log_index, head.tree_size, proof.path, head.root_hash
    ):
        return (
            f"it does not match its transparency-log entry {row.log_index}: the revision (and "
            "its hash) were rewritten after they were logged"
        )
    return None


def _verify(
    session: Session, record: ConsentRecord, agreement: DataAgreement, rows: list[ConsentRevision]
) -> ChainVerification:
    broken: list[BrokenRevision] = []

    def bad(row: ConsentRevision | None, reason: str) -> None:
        broken.append(
            BrokenRevision(
                revision_id=row.revision_id if row else None,
                seq=row.seq if row else None,
                reason=reason,
            )
        )

    previous: ConsentRevision | None = None
    for position, row in enumerate(rows, start=1):
        computed = sha256(revision_canonical(revision_values(row, record, agreement)))
        if computed != row.serialized_hash:
            bad(row, "it was rewritten: its contents no longer match its serialized hash")
        if row.seq != position:
            bad(row, f"revision(s) before it are missing (expected revision {position})")
        wanted = previous.serialized_hash if previous is not None else None
        if row.predecessor_hash != wanted:
            bad(row, "the chain is broken: its predecessor hash is not the previous revision's")
        if reason := _in_log(session, row, computed):
            bad(row, reason)
        previous = row
    if previous is None:
        bad(None, "the consent record has no revisions")
    elif (
        record.revisions != previous.seq
        or record.head_hash != previous.serialized_hash
        or record.state != previous.action
        or record.version != previous.agreement_version
    ):
        bad(
            None,
            "the record does not match its last revision: a later revision was removed or "
            "the record was rewritten",
        )
    return ChainVerification(intact=not broken, revisions=len(rows), broken=broken)


def verify_consent_chain(
    session: Session, *, consent_record_id: uuid.UUID | str
) -> ChainVerification:
    """Recompute the consent record's hash chain and check every revision against its
    transparency-log entry (an inclusion proof under the latest signed tree head).

    Names each broken revision and why: rewritten (contents ≠ hash), missing predecessors,
    broken chain, hash ≠ the logged one, or a record whose head is not its last revision.
    Reads only."""
    record, agreement = load_record(session, consent_record_id)
    return _verify(session, record, agreement, _revisions(session, record))


def consent_history(session: Session, *, consent_record_id: uuid.UUID | str) -> ConsentHistory:
    """One consent with every revision, oldest first, and the verification of its chain."""
    record, agreement = load_record(session, consent_record_id)
    rows = _revisions(session, record)
    head_hash = rows[-1].agreement_hash if rows else b""
    return ConsentHistory(
        consent_record=record_view(record, agreement, head_hash),
        revisions=[revision_view(r) for r in rows],
        verification=_verify(session, record, agreement, rows),
    )
