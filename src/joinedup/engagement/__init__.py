"""Engagement: the citizen's voice in service design — for now, the short question asked
after each completed task in the portal ("how was it?": a rating and an optional comment).

Public names other contexts may use: the use cases, the read model and the event.
"""

from joinedup.engagement.events import FeedbackGiven
from joinedup.engagement.schemas import RATINGS, TASKS, FeedbackRecord
from joinedup.engagement.service import give_feedback, list_feedback

__all__ = ["RATINGS", "TASKS", "FeedbackGiven", "FeedbackRecord", "give_feedback", "list_feedback"]
