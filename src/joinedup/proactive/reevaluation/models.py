"""Tables of re-evaluation when the law changes. Nobody outside ``proactive`` imports them.

- ``proactive_law_version``: a parameter version of a ruleset published with the date it takes
  effect (e.g. child benefit per child 130.00 from 2027-01-01), by whom and why. The law in
  force is the ruleset with every published version applied in order
  (:func:`~joinedup.proactive.reevaluation.service.ruleset_in_force`).
- ``proactive_reevaluation``: one run re-evaluating the whole population under a published
  version: which services, the month evaluated, the planned chunks and what was done so far.
- ``proactive_reevaluation_chunk``: the checkpoint of one range of persons (by register
  reference). A chunk is done when its changes, letters and this row commit in one
  transaction: a run that stopped (a crash, a kill) resumes at the first chunk not done, and
  never writes a chunk twice.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from joinedup.core.db import Base

_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")

RUN_STATUSES = ("planned", "running", "completed", "failed")
CHUNK_STATUSES = ("pending", "done")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class LawVersion(Base):
    __tablename__ = "proactive_law_version"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    uid: Mapped[uuid.UUID] = mapped_column(unique=True)
    ruleset: Mapped[str] = mapped_column(String(64))
    #: The version label (``2024.1+2027-01``): the ruleset version with the publication date.
    version: Mapped[str] = mapped_column(String(32))
    #: Parameter changes as written (``family.child_benefit.amount_per_child=130``), each in
    #: force from ``effective_from``.
    changes: Mapped[list[str]] = mapped_column(JSON)
    effective_from: Mapped[date]
    #: The statute that changed the law (the legal reference letters cite).
    citation: Mapped[str] = mapped_column(String(300))
    owner_member_class: Mapped[str] = mapped_column(String(10))
    owner_member_code: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime]
    published_by: Mapped[str] = mapped_column(String(100))

    __table_args__ = (Index("ix_proactive_law_version_ruleset", "ruleset", "id"),)


class Reevaluation(Base):
    __tablename__ = "proactive_reevaluation"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    uid: Mapped[uuid.UUID] = mapped_column(unique=True)
    law_version_id: Mapped[int] = mapped_column(ForeignKey("proactive_law_version.id"), index=True)
    #: The catalogued services re-evaluated, as they were when the run was planned (a resumed
    #: run decides as the run began).
    services: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: The first month under the new law (``YYYY-MM``): what is evaluated.
    period: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(12))
    chunk_persons: Mapped[int]
    chunks_total: Mapped[int]
    chunks_done: Mapped[int]
    persons_total: Mapped[int] = mapped_column(BigInteger)
    persons_done: Mapped[int] = mapped_column(BigInteger)
    changes: Mapped[int] = mapped_column(BigInteger)
    letters: Mapped[int] = mapped_column(BigInteger)
    owner_member_class: Mapped[str] = mapped_column(String(10))
    owner_member_code: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime]
    requested_by: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    #: Why the last attempt stopped (no personal data), while it is not completed.
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (CheckConstraint(_in("status", RUN_STATUSES), name="status"),)


class ReevaluationChunk(Base):
    __tablename__ = "proactive_reevaluation_chunk"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("proactive_reevaluation.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(primary_key=True)
    #: Register references ``[first_ref, end_ref)`` of the persons whose entitlements it decides.
    first_ref: Mapped[int] = mapped_column(BigInteger)
    end_ref: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(8))
    persons: Mapped[int]
    changes: Mapped[int]
    letters: Mapped[int]
    done_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(_in("status", CHUNK_STATUSES), name="status"),
        CheckConstraint("end_ref > first_ref", name="range"),
    )
