"""Proactive services: the state acts when something happens in a person's life.

A life event in the registries (a birth, a death, a marriage, a move, a job ended, an age
reached) finds the catalogued services it concerns; the owning agency reads what the rules
need through the exchange (every read a data-usage record), the rules decide, and the
person's **entitlement** is recorded — granted, offered, or told they may be entitled — with
its explanation, ruleset version and legal basis, an ``entitlement.*.v1`` event and a
decision letter in their mailbox. The person decides: accept or decline an offer, opt out of
an automatic grant — or applies online for a service given on application, declaring only
what no register holds. Where a service rests on consent, nothing is read before consent
exists.

Public names: the use cases (:mod:`joinedup.proactive.service`), the read models
(:mod:`joinedup.proactive.schemas`) and the events (:mod:`joinedup.proactive.events`).
"""

from joinedup.proactive.events import (
    ENTITLEMENT_EVENTS,
    EntitlementAwaitingConsent,
    EntitlementChanged,
    EntitlementDeclined,
    EntitlementEligible,
    EntitlementEnded,
    EntitlementGranted,
    EntitlementOffered,
    EntitlementOptedOut,
)
from joinedup.proactive.schemas import (
    ApplicationBody,
    ApplicationOutcome,
    ApplicationView,
    Decision,
    DecisionBody,
    EntitlementDetail,
    EntitlementRevisionView,
    EntitlementStatus,
    EntitlementView,
    StaffEntitlementLookup,
)
from joinedup.proactive.service import *  # noqa: F403 (the use cases are the public names)
from joinedup.proactive.service import __all__ as _service_names

__all__ = [
    "ENTITLEMENT_EVENTS",
    "ApplicationBody",
    "ApplicationOutcome",
    "ApplicationView",
    "Decision",
    "DecisionBody",
    "EntitlementAwaitingConsent",
    "EntitlementChanged",
    "EntitlementDeclined",
    "EntitlementDetail",
    "EntitlementEligible",
    "EntitlementEnded",
    "EntitlementGranted",
    "EntitlementOffered",
    "EntitlementOptedOut",
    "EntitlementRevisionView",
    "EntitlementStatus",
    "EntitlementView",
    "StaffEntitlementLookup",
    *_service_names,
]
