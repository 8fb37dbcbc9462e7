"""Entitlements that existed before the platform, loaded in bulk (a synthetic country's, a
benchmark's, a migration from an agency's old system): what the law in force gives every
person, stored as granted (or offered, or eligible) with their first revision — no letters
and no per-entitlement events, like the registries' batch imports."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import cast

import numpy as np
from sqlalchemy import Table
from sqlalchemy.orm import Session

from joinedup import registries
from joinedup.core.bulk_writes import insert_rows
from joinedup.core.clock import utcnow
from joinedup.exchange import extract_answer
from joinedup.proactive.models import Entitlement, EntitlementRevision
from joinedup.proactive.reevaluation.chunk import service_values
from joinedup.proactive.reevaluation.inputs import build_inputs
from joinedup.proactive.reevaluation.law import ruleset_in_force
from joinedup.proactive.reevaluation.ledger import ServiceSpec
from joinedup.rules import Period

_ENTITLEMENTS = cast(Table, Entitlement.__table__)
_REVISIONS = cast(Table, EntitlementRevision.__table__)


def import_entitlements(
    session: Session,
    *,
    services: Sequence[ServiceSpec],
    first_ref: int,
    end_ref: int,
    on: date,
    actor: str,
) -> int:
    """Store what the law in force on ``on`` gives the persons with register references in
    ``[first_ref, end_ref)`` (read from the registries directly: loading, not a use of anyone's
    data), into a database holding none of theirs yet. Returns how many were stored.

    Changes ``proactive_entitlement`` and ``proactive_entitlement_revision``; emits nothing."""
    rulesets = {spec.ruleset for spec in services}
    extract = registries.population_extract(session, first_ref=first_ref, end_ref=end_ref, on=on)
    body = extract_answer(extract)
    period = Period.parse(f"{on:%Y-%m}")
    now = utcnow()
    rows: list[tuple[object, ...]] = []
    revisions: list[tuple[object, ...]] = []
    explanation = {"evaluated": "columnar", "imported": True, "period": str(period)}
    reason = "Entitlement held when the platform began."
    columns = (
        "uid", "person_code", "service_code", "occasion", "owner_member_class",
        "owner_member_code", "delivery_mode", "status", "amount", "period_start", "period_end",
        "life_event", "regarding_code", "reason", "ruleset", "ruleset_version",
        "variable", "legal_basis", "legal_basis_url", "revision", "created_at", "updated_at",
        "updated_by",
    )  # fmt: skip
    for name in rulesets:
        ruleset = ruleset_in_force(session, name)
        inputs = build_inputs(ruleset, body, period)
        group = [spec for spec in services if spec.ruleset == name]
        values = service_values(ruleset, inputs, group, period)
        decided = np.flatnonzero(inputs.in_range)
        codes = inputs.personal_code[decided]
        for spec in group:
            due, amount = values[spec.code]
            here = due[decided]
            amounts = amount[decided][here].tolist() if amount is not None else None
            for position, code in enumerate(codes[here].tolist()):
                uid = uuid.uuid4()
                value = amounts[position] if amounts is not None else None
                rows.append(
                    (
                        uid, code, spec.code, "", spec.owner_member_class, spec.owner_member_code,
                        spec.delivery_mode, spec.due_status, value, on, None, None, None, reason,
                        spec.ruleset, ruleset.reform or ruleset.version,
                        spec.variable, spec.legal_basis, spec.legal_basis_url, 1, now, now, actor,
                    )
                )  # fmt: skip
                revisions.append((uid, spec.due_status, value))
    if not rows:
        return 0
    connection = session.connection()
    insert_rows(connection, _ENTITLEMENTS, columns, rows)
    ids = dict(
        session.execute(
            _ENTITLEMENTS.select()
            .with_only_columns(_ENTITLEMENTS.c.uid, _ENTITLEMENTS.c.id)
            .where(_ENTITLEMENTS.c.created_at == now, _ENTITLEMENTS.c.updated_by == actor)
        ).all()
    )
    insert_rows(
        connection,
        _REVISIONS,
        (
            "entitlement_id", "revision", "status", "amount", "period_start", "period_end",
            "reason", "explanation", "ruleset_version", "actor", "acting_for", "event_id",
            "letter_reference", "recorded_at",
        ),
        [
            (ids[uid], 1, status, value, on, None, reason, explanation, "imported", actor, None,
             None, None, now)
            for uid, status, value in revisions
        ],
    )  # fmt: skip
    return len(rows)
