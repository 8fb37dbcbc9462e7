"""One chunk of a re-evaluation, in its transaction: what the law in force gives the chunk's
persons (from a read made here or ahead, see :mod:`~joinedup.proactive.reevaluation.readahead`)
compared with their stored entitlements, only the changes stored, a decision letter per change.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.keys import SigningKey
from joinedup.exchange import exchange_client
from joinedup.proactive.payees import HOLDING, is_household_benefit, payee_mask
from joinedup.proactive.reevaluation.inputs import ChunkInputs, ChunkPersons
from joinedup.proactive.reevaluation.ledger import (
    Revision,
    ServiceSpec,
    Stored,
    store_revisions,
    stored_entitlements,
)
from joinedup.proactive.reevaluation.letters import send_decision_letters
from joinedup.proactive.reevaluation.models import LawVersion, Reevaluation, ReevaluationChunk
from joinedup.proactive.reevaluation.readahead import (
    ChunkJob,
    ChunkRead,
    by_purpose,
    client_of,
    evaluate,
    read_group,
    stale,
)
from joinedup.rules import Period, Ruleset

log = structlog.get_logger(__name__)

#: Who the re-evaluation's changes and letters are recorded as made by.
ACTOR = "proactive:reevaluation"


@dataclass(frozen=True)
class ChunkResult:
    seq: int
    persons: int
    changes: int
    letters: int


def service_values(
    ruleset: Ruleset,
    inputs: ChunkInputs,
    specs: Sequence[ServiceSpec],
    period: Period,
    holders: Mapping[str, Any] | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Per service: (due, amount in cents or None) per person of the chunk (see
    :func:`decide_values`)."""
    return decide_values(ruleset, inputs, specs, evaluate(ruleset, inputs, specs, period), holders)


def decide_values(
    ruleset: Ruleset,
    persons: ChunkPersons,
    specs: Sequence[ServiceSpec],
    evaluated: Mapping[str, Any],
    holders: Mapping[str, Any] | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Per service: (due, amount in cents or None) per person of the chunk, from the
    evaluated values (:func:`~joinedup.proactive.reevaluation.readahead.evaluate`). A
    household's value is its payee's alone (:mod:`joinedup.proactive.payees`): ``holders``
    gives per service code who holds it already (a boolean column; none when not given)."""
    found: dict[str, tuple[Any, Any]] = {}
    nobody = np.zeros(len(persons.person_ref), dtype=np.bool_)
    for spec in specs:
        variable = ruleset.variable(spec.variable)
        column = evaluated[spec.code]
        if variable.entity != ruleset.person.key:
            payee = payee_mask(
                receiving=persons.parent,
                household=persons.household,
                holder=(holders or {}).get(spec.code, nobody),
                birth_parent=persons.birth_parent,
            )
            column = np.where(payee, column, 0)
        if variable.value_type.value == "money":
            found[spec.code] = (column > 0, column)
        else:
            found[spec.code] = (column.astype(np.bool_), None)
    return found


_HOLDING = frozenset(status.value for status in HOLDING)


def _holders(
    session: Session,
    ruleset: Ruleset,
    inputs: ChunkPersons,
    specs: Sequence[ServiceSpec],
    stored: Mapping[tuple[str, str], Stored],
) -> dict[str, Any]:
    """Per household service of ``specs``: who in the chunk holds it already, as a boolean
    column — the chunk's own persons from ``stored`` (read already), the co-residents outside
    its range read here (unlocked: another chunk decides for them)."""
    wanted = [spec.code for spec in specs if is_household_benefit(ruleset, spec.variable)]
    if not wanted:
        return {}
    everyone = inputs.personal_code.tolist()
    outside = [code for code, mine in zip(everyone, inputs.in_range.tolist(), strict=True)
               if not mine]  # fmt: skip
    held = dict(stored)
    if outside:
        held.update(stored_entitlements(session, person_codes=outside, services=wanted, lock=False))
    position = {code: i for i, code in enumerate(everyone)}
    found = {code: np.zeros(len(everyone), dtype=np.bool_) for code in wanted}
    for (person, service), row in held.items():
        if service in found and row.status in _HOLDING:
            found[service][position[person]] = True
    return found


def chunk_job(
    run: Reevaluation,
    law: LawVersion,
    *,
    seq: int,
    first_ref: int,
    end_ref: int,
    specs: Sequence[ServiceSpec],
    extract_service: str,
    versions: tuple[uuid.UUID, ...],
) -> ChunkJob:
    """What reading the chunk ``seq`` of ``run`` needs."""
    return ChunkJob(
        seq=seq,
        first_ref=first_ref,
        end_ref=end_ref,
        period=run.period,
        issue=f"law-change/{run.uid}",
        extract_service=extract_service,
        ruleset=law.ruleset,
        versions=versions,
        specs=tuple(specs),
    )


def _decided(
    session: Session, persons: ChunkPersons, services: Sequence[str]
) -> tuple[Any, list[str], dict[tuple[str, str], Stored]]:
    """The positions of the persons the chunk decides for, their codes, and their stored
    entitlements of ``services`` (locked until the transaction ends)."""
    rows = np.flatnonzero(persons.in_range)
    codes: list[str] = persons.personal_code[rows].tolist()
    return rows, codes, stored_entitlements(session, person_codes=codes, services=services)


def process_chunk(
    session: Session,
    *,
    run: Reevaluation,
    law: LawVersion,
    ruleset: Ruleset,
    chunk: ReevaluationChunk,
    specs: Sequence[ServiceSpec],
    extract_service: str,
    log_signer: SigningKey | None = None,
    prepared: ChunkRead | None = None,
) -> ChunkResult:
    """Re-evaluate one chunk in the caller's transaction (see the module docstring), with
    what was read ahead (``prepared``; :mod:`~joinedup.proactive.reevaluation.readahead`)
    when it is still fresh."""
    job = chunk_job(
        run,
        law,
        seq=chunk.seq,
        first_ref=chunk.first_ref,
        end_ref=chunk.end_ref,
        specs=specs,
        extract_service=extract_service,
        versions=(),
    )
    revisions: list[Revision] = []
    persons = 0
    now = utcnow()
    explanation = {
        "evaluated": "columnar",
        "law_version": str(law.uid),
        "version": law.version,
        "changes": list(law.changes),
        "effective_from": law.effective_from.isoformat(),
        "period": run.period,
        "reevaluation": str(run.uid),
    }
    reason = (
        f"The law changed ({law.citation}) from {law.effective_from.isoformat()}: "
        f"re-evaluated under {law.version}."
    )
    for key, group in by_purpose(specs).items():
        services = [spec.code for spec in group]
        with exchange_client(session, client=client_of(group), log_signer=log_signer) as calls:
            read = prepared.groups.get(key) if prepared is not None else None
            if read is not None:
                decided_rows, codes, stored = _decided(session, read.persons, services)
                if prepared is not None and stale(prepared, stored):
                    log.info("reevaluation_read_again", chunk=chunk.seq, reason="stale")
                    read = None
                else:
                    calls.attach_records(read.recordings)
            if read is None:
                read = read_group(calls, ruleset, job, group)
                decided_rows, codes, stored = _decided(session, read.persons, services)
            inputs = read.persons
            persons = max(persons, len(decided_rows))
            values = decide_values(
                ruleset,
                inputs,
                group,
                read.evaluated,
                holders=_holders(session, ruleset, inputs, group, stored),
            )
            decided: list[tuple[str, ServiceSpec, bool, int | None]] = []
            for spec in group:
                due, amount = values[spec.code]
                due_here = due[decided_rows]
                for position in np.flatnonzero(due_here).tolist():
                    value = None if amount is None else int(amount[decided_rows[position]])
                    decided.append((codes[position], spec, True, value))
                due_codes = set(np.asarray(codes, dtype=object)[due_here].tolist())
                decided.extend(
                    (code, spec, False, None)
                    for code, service in stored
                    if service == spec.code and code not in due_codes
                )
            revisions += store_revisions(
                session,
                decided=decided,
                stored=stored,
                effective_from=law.effective_from,
                ruleset_version=law.version,
                reason=reason,
                explanation=explanation,
                actor=ACTOR,
                now=now,
            )
    letters = send_decision_letters(
        session,
        revisions,
        effective_from=law.effective_from,
        citation=law.citation,
        actor=ACTOR,
        log_signer=log_signer,
    )
    return ChunkResult(chunk.seq, persons, len(revisions), letters)
