"""Reasons the proactive services give in their own words (the rules give theirs). They are
stored in English, as the rules' sentences are, and translated when a letter is written."""

from __future__ import annotations


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
OFFER_ACCEPTED = N_("You accepted the offer.")
OFFER_DECLINED = N_("You declined the offer.")
OPTED_OUT = N_("You opted out of the automatic grant.")
