"""Use cases of the engagement context: record an answer to the question after a task, and
list the answers of one task (newest first, keyset pages)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.errors import ValidationFailed
from joinedup.core.events import emit
from joinedup.core.pagination import Page, PageRequest, keyset_page
from joinedup.engagement.events import FeedbackGiven
from joinedup.engagement.models import Feedback
from joinedup.engagement.schemas import MAX_COMMENT, RATINGS, TASKS, FeedbackRecord


def give_feedback(
    session: Session,
    *,
    task: str,
    rating: int,
    comment: str | None,
    locale: str,
    actor: str,
) -> FeedbackRecord:
    """Record one answer: ``rating`` (1–5) after the portal's ``task`` (one of
    :data:`TASKS`), with an optional ``comment`` (at most 1,200 characters).

    Changes: one ``engagement_feedback`` row. Emits ``engagement.feedback_given.v1``.
    Refused (``ValidationFailed`` naming each field): an unknown task, a rating outside the
    scale, a comment too long; nothing is written then."""
    problems = []
    if task not in TASKS:
        problems.append({"field": "task", "message": "not a task the portal asks about"})
    if rating not in RATINGS:
        problems.append({"field": "rating", "message": "choose a rating from 1 to 5"})
    text = (comment or "").strip()
    if len(text) > MAX_COMMENT:
        problems.append(
            {"field": "comment", "message": f"at most {MAX_COMMENT} characters, please"}
        )
    if not actor.strip():
        problems.append({"field": "actor", "message": "required"})
    if problems:
        raise ValidationFailed("the feedback cannot be recorded", errors=problems)
    row = Feedback(
        feedback_id=uuid.uuid4(),
        task=task,
        rating=rating,
        comment=text or None,
        locale=locale[:8],
        given_at=utcnow(),
        given_by=actor[:100],
    )
    session.add(row)
    session.flush()
    emit(session, FeedbackGiven(feedback_id=row.feedback_id, task=task, rating=rating))
    return FeedbackRecord.model_validate(row)


def list_feedback(session: Session, *, task: str, page: PageRequest) -> Page[FeedbackRecord]:
    """The answers about ``task``, newest first (keyset pages)."""
    rows, cursor = keyset_page(
        session,
        select(Feedback).where(Feedback.task == task),
        keys=[Feedback.id.expression],
        request=page,
        descending=True,
    )
    return Page[FeedbackRecord](
        items=[FeedbackRecord.model_validate(r) for r in rows], next_cursor=cursor
    )
