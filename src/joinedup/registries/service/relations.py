"""Marriages and registered partnerships: registering and dissolving them."""

from __future__ import annotations

from datetime import date

import numpy as np
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from joinedup.core.clock import today, utcnow
from joinedup.core.events import emit
from joinedup.registries.events import MarriageDissolved, MarriageRegistered
from joinedup.registries.models import Relation
from joinedup.registries.schemas import DissolutionReason, RelationRecord, UnionKind
from joinedup.registries.service import bitemporal
from joinedup.registries.service.checks import Problems, check_not_future, check_order, dates
from joinedup.registries.service.queries import load_person
from joinedup.registries.service.rules import check_unions

_UNIONS = ("spouse", "partner")


def register_marriage(
    session: Session,
    *,
    person_id: int,
    spouse_id: int,
    married_on: date,
    kind: UnionKind = UnionKind.MARRIAGE,
    actor: str,
) -> RelationRecord:
    """Register a marriage (or, with ``kind``, a registered partnership) from ``married_on``.

    Both must be registered, alive, adults, not close relatives and not already married or
    partnered then or later. Writes one relation; emits ``population.marriage_registered.v1``.
    """
    problems = Problems()
    if kind not in UnionKind.__members__.values():
        problems.add("kind", "must be spouse (marriage) or partner (registered partnership)")
    if person_id == spouse_id:
        problems.add("spouse_id", "must be another person")
    a, b = load_person(session, person_id), load_person(session, spouse_id)
    if a is None:
        problems.add("person_id", "is not a registered person")
    if b is None:
        problems.add("spouse_id", "is not a registered person")
    problems.raise_if_any()
    assert a is not None
    assert b is not None
    check_unions(
        problems,
        birth_a=dates([a.birth_date]),
        birth_b=dates([b.birth_date]),
        death_a=dates([a.date_of_death]),
        death_b=dates([b.date_of_death]),
        valid_from=dates([married_on]),
        valid_to=dates([None]),
        end_reason=np.array([""]),
        today=today(),
    )
    both = (person_id, spouse_id)
    existing = session.scalar(
        select(Relation.id).where(
            Relation.kind.in_(_UNIONS),
            or_(Relation.person_id.in_(both), Relation.related_person_id.in_(both)),
            Relation.superseded_at.is_(None),
            bitemporal.overlapping(Relation, married_on, None),
        )
    )
    if existing:
        problems.add("married_on", "one of them is married or in a registered partnership then")
    close_relatives = session.scalar(
        select(Relation.id).where(
            Relation.kind == "parent",
            Relation.superseded_at.is_(None),
            or_(
                and_(Relation.person_id == person_id, Relation.related_person_id == spouse_id),
                and_(Relation.person_id == spouse_id, Relation.related_person_id == person_id),
            ),
        )
    )
    if close_relatives:
        problems.add("spouse_id", "a parent and a child cannot marry")
    problems.raise_if_any()
    first, second = sorted(both)
    relation = Relation(
        kind=str(UnionKind(kind).value),
        person_id=first,
        related_person_id=second,
        valid_from=married_on,
        valid_to=None,
        end_reason=None,
        recorded_at=utcnow(),
        recorded_by=actor,
        superseded_at=None,
    )
    session.add(relation)
    session.flush()
    emit(
        session,
        MarriageRegistered(
            relation_id=relation.id,
            kind=relation.kind,
            person_ids=(first, second),
            married_on=married_on,
        ),
    )
    return RelationRecord.model_validate(relation)


def dissolve_marriage(
    session: Session,
    *,
    relation_id: int,
    dissolved_on: date,
    reason: DissolutionReason = DissolutionReason.DIVORCE,
    actor: str,
) -> RelationRecord:
    """End a marriage or registered partnership on ``dissolved_on`` (divorce or annulment).

    Supersedes the open version and inserts the ended one; emits
    ``population.marriage_dissolved.v1``. (A death ends a marriage through ``register_death``.)
    """
    problems = Problems()
    relation = session.get(Relation, relation_id)
    if (
        relation is None
        or relation.kind not in _UNIONS
        or relation.superseded_at is not None
        or relation.valid_to is not None
    ):
        problems.add("relation_id", "is not a current, lasting marriage or registered partnership")
        problems.raise_if_any()
    assert relation is not None
    if reason not in DissolutionReason.__members__.values():
        problems.add("reason", "must be divorce or annulment")
    end = dates([dissolved_on])
    check_not_future(problems, "dissolved_on", end, today())
    check_order(
        problems,
        "dissolved_on",
        dates([relation.valid_from]),
        end,
        "must be after the marriage",
        strict=True,
    )
    problems.raise_if_any()
    ended = bitemporal.revise(
        session,
        relation,
        changes={"valid_to": dissolved_on, "end_reason": str(DissolutionReason(reason).value)},
        now=utcnow(),
        actor=actor,
    )
    emit(
        session,
        MarriageDissolved(
            relation_id=ended.id,
            kind=ended.kind,
            person_ids=(ended.person_id, ended.related_person_id),
            dissolved_on=dissolved_on,
            reason=str(ended.end_reason),
        ),
    )
    return RelationRecord.model_validate(ended)
