"""The question after a task: an answer is kept with its event; a bad one is refused, naming
each field, and writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from joinedup import engagement
from joinedup.core.errors import ValidationFailed
from joinedup.core.outbox import OutboxEvent
from joinedup.core.pagination import PageRequest
from joinedup.engagement.models import Feedback


def test_an_answer_is_kept_with_its_event(session: Session) -> None:
    kept = engagement.give_feedback(
        session,
        task="consent-withdrawn",
        rating=5,
        comment="  Clear and quick.  ",
        locale="et",
        actor="person:38001010001",
    )
    assert kept.rating == 5
    assert kept.comment == "Clear and quick."
    listed = engagement.list_feedback(
        session, task="consent-withdrawn", page=PageRequest(limit=10)
    ).items
    assert [f.feedback_id for f in listed] == [kept.feedback_id]
    event = session.scalars(
        select(OutboxEvent).where(OutboxEvent.name == "engagement.feedback_given.v1")
    ).one()
    assert event.payload == {
        "feedback_id": str(kept.feedback_id),
        "task": "consent-withdrawn",
        "rating": 5,
    }


@pytest.mark.parametrize(
    ("task", "rating", "comment", "fields"),
    [
        ("no-such-task", 3, None, {"task"}),
        ("entitlement-declined", 0, None, {"rating"}),
        ("entitlement-declined", 6, "", {"rating"}),
        ("entitlement-declined", 4, "x" * 1201, {"comment"}),
        ("nope", 9, "x" * 5000, {"task", "rating", "comment"}),
    ],
)
def test_a_bad_answer_is_refused_and_writes_nothing(
    session: Session, task: str, rating: int, comment: str | None, fields: set[str]
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        engagement.give_feedback(
            session, task=task, rating=rating, comment=comment, locale="en", actor="person:x"
        )
    assert {e["field"] for e in refused.value.extensions["errors"]} == fields
    assert session.scalar(select(func.count()).select_from(Feedback)) == 0
