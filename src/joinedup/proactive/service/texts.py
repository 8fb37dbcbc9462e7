"""Reasons the proactive services give in their own words (the rules give theirs). They are
stored in English, as the rules' sentences are, and translated when a letter is written or a
page shown (:func:`reason_in_language`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from joinedup.core.i18n import gettext
from joinedup.rules import Verdict


def N_(message: str) -> str:  # noqa: N802 (gettext's name for "mark for translation only")
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


AWAITING_CONSENT = N_(
    "Not evaluated: the service reads your data only with your consent, which has not been given."
)
ENDED_AT_DEATH = N_("Ended at the death of the person entitled.")
ENDED_CONSENT_WITHDRAWN = N_(
    "Ended because you withdrew your consent: the service may no longer read your data. "
    "If you give your consent again in the portal, the service will be considered again."
)
PAID_TO_OTHER_PARENT = N_(
    "Ended here because it is paid to the other parent of your household: a household "
    "receives it once."
)
#: Why the letter of a household benefit passed on at its holder's death goes to a survivor
#: (a paragraph of the letter; the rules' reason follows as "Why:").
PASSED_ON_OFFER = N_(
    "It was offered to the other parent of your household, who has died. It is offered to "
    "you now, and whether to accept it is your decision."
)
PASSED_ON = N_(
    "It was for the other parent of your household, who has died. It has now been decided for you."
)
OFFER_LAPSED = N_("The offer lapsed: it was not accepted in the time given to answer it.")
OFFER_ACCEPTED = N_("You accepted the offer.")
OFFER_DECLINED = N_("You declined the offer.")
OPTED_OUT = N_("You opted out of the automatic grant.")


def reason_in_language(reason: str | None, explanation: Mapping[str, Any] | None) -> str:
    """An entitlement's stored reason in the current language. The rules' verdict ("Eligible:
    a child under 18 … (Family Benefits Act 2019 §4(1)).") is put together again from its
    parts (``explanation["verdict"]``: the verdict word and the rules' own condition texts,
    each translated where the catalogue has it; citations as they are); any other reason is
    a message id of its own. Not %-formatted: a stored sentence may hold a "%"."""
    if not reason:
        return ""
    stored = (explanation or {}).get("verdict")
    if isinstance(stored, Mapping):
        verdict = Verdict.from_dict(stored)
        if verdict.sentence() == reason:  # still the reason (not ended since, say)
            return verdict.sentence(gettext)
    return gettext(reason)
