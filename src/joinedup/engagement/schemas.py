"""What the engagement context answers: the read model of one feedback answer."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

#: The tasks of the portal a feedback question follows (their codes are stable: figures are
#: counted by them).
TASKS: tuple[str, ...] = (
    "consent-given",
    "consent-withdrawn",
    "entitlement-accepted",
    "entitlement-declined",
    "entitlement-opted-out",
    "service-applied",
)
#: The rating scale: 1 very dissatisfied … 5 very satisfied.
RATINGS: tuple[int, ...] = (5, 4, 3, 2, 1)
MAX_COMMENT = 1200


class FeedbackRecord(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    feedback_id: uuid.UUID
    task: str
    rating: int
    comment: str | None
    locale: str
    given_at: datetime
