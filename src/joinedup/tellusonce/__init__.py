"""Tell Us Once: a life event registered once informs every agency that needs to know.

Part of the proactive area of the architecture. Agencies at every level subscribe one of their
own REST services (published in the exchange directory) to a kind of life event. When the
population register records a death, Tell Us Once (the Central Digital Office's
``tell-us-once`` subsystem) creates one notification per subscribing agency in the same
transaction as it takes the event in; a dispatcher (a worker loop) tells each agency through
the exchange — a mediated, signed, logged call with the notification's message id as the
agency's idempotency key — and tracks it until the agency acknowledges (saying what it did),
retrying with growing delays and dead-lettering it for an operator after the last attempt.
When every agency has answered, the next of kin (the spouse, else adult children) get one
letter in their digital mailbox listing what each agency did.

Public names: the use cases (:mod:`joinedup.tellusonce.service`), the read models
(:mod:`joinedup.tellusonce.schemas`) and the events (:mod:`joinedup.tellusonce.events`).
"""

from joinedup.tellusonce.events import (
    AgencyInformed,
    AgencySubscribed,
    LifeEventCompleted,
    LifeEventReceived,
    NotificationDeadLettered,
    NotificationReplayed,
    SubscriptionEnded,
)
from joinedup.tellusonce.schemas import (
    AgencyAnswer,
    LifeEventKind,
    LifeEventRecord,
    NotificationRecord,
    NotificationStatus,
    StatusRecord,
    SubscriptionRecord,
    SubscriptionScope,
)
from joinedup.tellusonce.service import *  # noqa: F403 (the use cases are the public names)
from joinedup.tellusonce.service import __all__ as _service_names

__all__ = [
    "AgencyAnswer",
    "AgencyInformed",
    "AgencySubscribed",
    "LifeEventCompleted",
    "LifeEventKind",
    "LifeEventReceived",
    "LifeEventRecord",
    "NotificationDeadLettered",
    "NotificationRecord",
    "NotificationReplayed",
    "NotificationStatus",
    "StatusRecord",
    "SubscriptionEnded",
    "SubscriptionRecord",
    "SubscriptionScope",
    *_service_names,
]
