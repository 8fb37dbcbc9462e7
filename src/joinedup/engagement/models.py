"""Tables of the engagement context. Nobody outside ``engagement`` imports them.

- ``engagement_feedback``: one answer to the question asked after a completed task: which task,
  the rating (1 very dissatisfied … 5 very satisfied), an optional comment, the page's
  language. Who answered is kept as the actor (``person:<code>``) for the audit trail only;
  satisfaction figures are counted per task, never per person.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from joinedup.core.db import Base

_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class Feedback(Base):
    __tablename__ = "engagement_feedback"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    feedback_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    task: Mapped[str] = mapped_column(String(64))
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(8))
    given_at: Mapped[datetime]
    given_by: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        Index("ix_engagement_feedback_task", "task", "given_at"),
    )
