"""The one letter to the next of kin: what each agency did, in the recipient's language."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import date

from babel.dates import format_date

from joinedup.core import i18n
from joinedup.core.i18n import gettext as _


def outcome_text(code: str) -> str | None:
    """What the demo country's agencies answer, as a sentence in the reader's language (None
    for an outcome not known here: the letter then shows the agency's own summary)."""
    texts = {
        "pension-ended": _("Pension payments end."),
        "benefits-recalculated": _("Benefits paid to the family are recalculated."),
        "passport-cancelled": _("The passport and identity card are cancelled."),
        "vehicles-transferred": _(
            "Vehicles registered to the deceased are transferred to the estate."
        ),
        "municipal-services-ended": _(
            "Municipal services (social care, parking permit, library) are ended."
        ),
        "health-insurance-ended": _("Health insurance ends."),
        "nothing-to-do": _("No record was held, so nothing needed to change."),
        "address-updated": _("The address in their records is updated."),
        "resident-registered": _("You are registered as a resident; local services follow."),
        "resident-deregistered": _("Services for residents end on the day you moved out."),
    }
    return texts.get(code)


def _day(value: date) -> str:
    return format_date(value, format="long", locale=i18n.current_locale())


def _what(outcome: dict[str, object]) -> str:
    code = str(outcome.get("outcome") or "")
    text = outcome_text(code) or str(outcome.get("summary") or code)
    effective = outcome.get("effectiveFrom")
    if isinstance(effective, str):
        with contextlib.suppress(ValueError):
            text += " " + _("From %(date)s.") % {"date": _day(date.fromisoformat(effective))}
    reference = outcome.get("caseReference")
    if isinstance(reference, str) and reference:
        text += " " + _("Their reference: %(reference)s.") % {"reference": reference}
    return text


def _agencies(
    informed: Sequence[tuple[str, dict[str, object]]], not_confirmed: Sequence[str]
) -> list[str]:
    paragraphs = [
        _("%(agency)s: %(what)s") % {"agency": agency, "what": _what(outcome)}
        for agency, outcome in informed
    ]
    paragraphs += [
        _("%(agency)s has not confirmed yet. We keep trying; you do not need to do anything.")
        % {"agency": agency}
        for agency in not_confirmed
    ]
    if not informed and not not_confirmed:
        paragraphs.append(_("No other agency needed to be told."))
    return paragraphs


def _closing(reference: str) -> str:
    return _(
        "If anything here is wrong, contact the Central Digital Office and quote the "
        "reference %(reference)s."
    ) % {"reference": reference}


def update_letter(
    *,
    kind: str,
    subject_name: str,
    agency: str,
    outcome: dict[str, object],
    reference: str,
) -> tuple[str, list[str]]:
    """A follow-up letter: an agency the first letter said had not confirmed has now (after
    an operator replayed its notice). In the current locale."""
    if kind == "move":
        subject = _("An update on telling the government of your new address")
    else:
        subject = _("An update on telling the government of the death of %(name)s") % {
            "name": subject_name
        }
    opening = _(
        "We wrote to you that %(agency)s had not confirmed yet. It has confirmed now, and "
        "this is what it did."
    ) % {"agency": agency}
    what = _("%(agency)s: %(what)s") % {"agency": agency, "what": _what(outcome)}
    return subject, [opening, what, _closing(reference)]


def move_letter(
    *,
    moved_on: date,
    informed: Sequence[tuple[str, dict[str, object]]],
    not_confirmed: Sequence[str],
    reference: str,
) -> tuple[str, list[str]]:
    """Subject and paragraphs of the letter to a person who moved, in the current locale."""
    subject = _("We told the government of your new address")
    opening = _(
        "Your move on %(date)s has been registered. You do not need to tell the agencies below "
        "yourself: we told them for you."
    ) % {"date": _day(moved_on)}
    return subject, [opening, *_agencies(informed, not_confirmed), _closing(reference)]


def death_letter(
    *,
    deceased: str,
    died_on: date,
    informed: Sequence[tuple[str, dict[str, object]]],
    not_confirmed: Sequence[str],
    reference: str,
) -> tuple[str, list[str]]:
    """Subject and paragraphs, in the current locale (``i18n.use_locale``)."""
    subject = _("We told the government of the death of %(name)s") % {"name": deceased}
    paragraphs = [
        _(
            "The death of %(name)s on %(date)s has been registered. Please accept our "
            "condolences. You do not need to tell the agencies below yourself: we told them "
            "for you."
        )
        % {"name": deceased, "date": _day(died_on)}
    ]
    return subject, [*paragraphs, *_agencies(informed, not_confirmed), _closing(reference)]
