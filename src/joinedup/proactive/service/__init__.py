"""The proactive services' use cases, one module per topic; everything public is re-exported."""

from joinedup.proactive.service.application_forms import Question, check_answers, questions_of
from joinedup.proactive.service.applications import (
    ApplicationForm,
    KnownFact,
    apply_for_service,
    get_application,
    prepare_application,
)
from joinedup.proactive.service.consent_changes import (
    end_after_consent_withdrawn,
    reconsider_after_consent,
)
from joinedup.proactive.service.deciding import Occurrence
from joinedup.proactive.service.decisions import (
    accept_offer,
    decide,
    decline_offer,
    get_entitlement,
    lapse_offers,
    list_entitlements,
    opt_out,
)
from joinedup.proactive.service.entitlements import (
    PROACTIVE_ACTOR,
    Change,
    Outcome,
    record_outcomes,
)
from joinedup.proactive.service.letters import APPEAL_DAYS, send_decision_letters
from joinedup.proactive.service.life_events import (
    ROUTING_PURPOSE,
    Reaction,
    react,
    resolve_codes,
)
from joinedup.proactive.service.prepared import Decided, decide_life_events
from joinedup.proactive.service.staff import look_up_entitlements
from joinedup.proactive.service.texts import reason_in_language

__all__ = [
    "APPEAL_DAYS",
    "PROACTIVE_ACTOR",
    "ROUTING_PURPOSE",
    "ApplicationForm",
    "Change",
    "Decided",
    "KnownFact",
    "Occurrence",
    "Outcome",
    "Question",
    "Reaction",
    "accept_offer",
    "apply_for_service",
    "check_answers",
    "decide",
    "decide_life_events",
    "decline_offer",
    "end_after_consent_withdrawn",
    "get_application",
    "get_entitlement",
    "lapse_offers",
    "list_entitlements",
    "look_up_entitlements",
    "opt_out",
    "prepare_application",
    "questions_of",
    "react",
    "reason_in_language",
    "reconsider_after_consent",
    "record_outcomes",
    "resolve_codes",
    "send_decision_letters",
]
