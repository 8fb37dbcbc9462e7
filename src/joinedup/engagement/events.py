"""Events of the engagement context: they carry the task and the rating, never the person or
the comment."""

from __future__ import annotations

import dataclasses
import uuid

from joinedup.core.events import Event


@dataclasses.dataclass(frozen=True, kw_only=True)
class FeedbackGiven(Event):
    """Someone answered the question after a completed task."""

    name = "engagement.feedback_given.v1"

    feedback_id: uuid.UUID
    task: str
    rating: int
