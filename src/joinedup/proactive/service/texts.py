"""Reasons the proactive services give in their own words (the rules give theirs). They are
stored in English, as the rules' sentences are, and translated when a letter is written or a
page shown (:func:`reason_in_language`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from joinedup.core.i18n import gettext


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


def _verdict_sentence(verdict: Mapping[str, Any], translate: Any) -> str:
    parts = [
        translate(str(c["text"])) + (f" ({c['citation']})" if c.get("citation") else "")
        for c in verdict.get("conditions") or []
    ]
    return f"{translate(str(verdict['word']))}: " + "; ".join(parts) + "."


def reason_in_language(reason: str | None, explanation: Mapping[str, Any] | None) -> str:
    """An entitlement's stored reason in the current language. The rules' verdict ("Eligible:
    a child under 18 … (Family Benefits Act 2019 §4(1)).") is put together again from its
    parts (``explanation["verdict"]``: the verdict word and the rules' own condition texts,
    each translated where the catalogue has it; citations as they are); any other reason is
    a message id of its own. Not %-formatted: a stored sentence may hold a "%"."""
    if not reason:
        return ""
    verdict = (explanation or {}).get("verdict")
    if isinstance(verdict, Mapping) and _verdict_sentence(verdict, str) == reason:
        return _verdict_sentence(verdict, gettext)
    return gettext(reason)
