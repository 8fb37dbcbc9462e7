"""The use cases of Tell Us Once."""

from joinedup.tellusonce.service.claims import Claim, Delivery, claim, message_body
from joinedup.tellusonce.service.delivery import (
    complete_if_settled,
    complete_settled,
    lock_for_settling,
    record_answer,
    record_failure,
    retry_delay,
)
from joinedup.tellusonce.service.intake import (
    NOTIFICATIONS_DUE,
    PURPOSE,
    SENT_FIELDS,
    Death,
    DeathsRead,
    read_deaths_ahead,
    receive_death,
    receive_deaths,
    receive_move,
)
from joinedup.tellusonce.service.operations import (
    life_event_status,
    list_dead_letters,
    replay_notification,
    tell_us_once_status,
)
from joinedup.tellusonce.service.subscriptions import (
    end_subscription,
    list_subscriptions,
    subscribe_agency,
)

__all__ = [
    "NOTIFICATIONS_DUE",
    "PURPOSE",
    "SENT_FIELDS",
    "Claim",
    "Death",
    "DeathsRead",
    "Delivery",
    "claim",
    "complete_if_settled",
    "complete_settled",
    "end_subscription",
    "life_event_status",
    "list_dead_letters",
    "list_subscriptions",
    "lock_for_settling",
    "message_body",
    "read_deaths_ahead",
    "receive_death",
    "receive_deaths",
    "receive_move",
    "record_answer",
    "record_failure",
    "replay_notification",
    "retry_delay",
    "subscribe_agency",
    "tell_us_once_status",
]
