"""Requests and answers of the re-evaluation API (camelCase JSON)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from joinedup.proactive.reevaluation.law import MAX_CHANGES, LawVersionRecord
from joinedup.proactive.reevaluation.service import (
    CHUNK_PERSONS,
    MAX_CHUNK_PERSONS,
    ReevaluationProgress,
)


class _Camel(BaseModel):
    model_config = ConfigDict(
        frozen=True, alias_generator=to_camel, populate_by_name=True, extra="forbid"
    )


class LawVersionIn(_Camel):
    """A parameter version to publish: ``path=value`` changes in force from a date."""

    ruleset: str = Field(min_length=1, max_length=64, examples=["demo"])
    changes: list[str] = Field(
        min_length=1,
        max_length=MAX_CHANGES,
        examples=[["family.child_benefit.amount_per_child=130"]],
    )
    effective_from: date
    citation: str = Field(
        min_length=1, max_length=300, examples=["Family Benefits (Amendment) Act 2026 §1"]
    )


class LawVersionOut(_Camel):
    uid: uuid.UUID
    ruleset: str
    version: str
    changes: list[str]
    effective_from: date
    citation: str
    owner: str
    published_at: datetime
    published_by: str

    @staticmethod
    def of(record: LawVersionRecord) -> LawVersionOut:
        return LawVersionOut(
            uid=record.uid,
            ruleset=record.ruleset,
            version=record.version,
            changes=list(record.changes),
            effective_from=record.effective_from,
            citation=record.citation,
            owner=record.owner,
            published_at=record.published_at,
            published_by=record.published_by,
        )


class ReevaluationIn(_Camel):
    """Re-evaluate every person under a published law version, for catalogued services."""

    law_version: uuid.UUID
    services: list[str] = Field(min_length=1, max_length=50, examples=[["child-benefit"]])
    chunk_persons: int = Field(CHUNK_PERSONS, ge=1_000, le=MAX_CHUNK_PERSONS)


class ReevaluationOut(_Camel):
    """Where a re-evaluation stands."""

    uid: uuid.UUID
    law_version: uuid.UUID
    ruleset: str
    version: str
    effective_from: date
    period: str
    services: list[str]
    status: str
    chunks_total: int
    chunks_done: int
    persons_total: int
    persons_done: int
    changes: int
    letters: int
    fraction_done: float
    owner: str
    requested_at: datetime
    requested_by: str
    started_at: datetime | None
    finished_at: datetime | None
    last_error: str | None

    @staticmethod
    def of(progress: ReevaluationProgress) -> ReevaluationOut:
        return ReevaluationOut(
            uid=progress.uid,
            law_version=progress.law_version,
            ruleset=progress.ruleset,
            version=progress.version,
            effective_from=progress.effective_from,
            period=progress.period,
            services=list(progress.services),
            status=progress.status,
            chunks_total=progress.chunks_total,
            chunks_done=progress.chunks_done,
            persons_total=progress.persons_total,
            persons_done=progress.persons_done,
            changes=progress.changes,
            letters=progress.letters,
            fraction_done=round(progress.fraction_done, 4),
            owner=progress.owner,
            requested_at=progress.requested_at,
            requested_by=progress.requested_by,
            started_at=progress.started_at,
            finished_at=progress.finished_at,
            last_error=progress.last_error,
        )
