"""Decision letters to the persons whose entitlements a change of the law changed: one per
changed entitlement, in the recipient's language, stating the outcome, the reason (the
statute that changed) and how to appeal. Sent through the digital mailbox's bulk use case,
each with the reference of the entitlement's revision (as the proactive services write it),
so a chunk sent again (after a crash) is a replay, never a second letter."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from babel.dates import format_date
from babel.numbers import format_currency
from sqlalchemy.orm import Session

from joinedup import notify
from joinedup.core import i18n
from joinedup.core.clock import today
from joinedup.core.i18n import gettext as _
from joinedup.core.keys import SigningKey
from joinedup.proactive.reevaluation.ledger import Revision

#: Days a person has to appeal a decision.
APPEAL_DAYS = 30


def _money(cents: int | None, locale: str) -> str:
    return format_currency((cents or 0) / 100, "EUR", locale=locale)


def _paragraphs(
    revision: Revision, *, effective_from: date, citation: str, locale: str
) -> list[str]:
    service = revision.service.names.get(locale) or revision.service.names["en"]
    day = format_date(effective_from, format="long", locale=locale)
    paragraphs = [
        _(
            "The law has changed ({citation}), so we have looked again at what you are entitled to."
        ).format(citation=citation)
    ]
    if revision.status == "ended":
        paragraphs.append(
            _(
                "From {day} you are no longer entitled to {service}: under the changed law the "
                "conditions are no longer met."
            ).format(day=day, service=service)
        )
    elif revision.previous_status == revision.status:
        paragraphs.append(
            _("From {day} your {service} is {amount} a month (it was {previous}).").format(
                day=day,
                service=service,
                amount=_money(revision.amount, locale),
                previous=_money(revision.previous_amount, locale),
            )
        )
    else:
        paragraphs.append(
            _("From {day} you are entitled to {service}: {amount} a month.").format(
                day=day, service=service, amount=_money(revision.amount, locale)
            )
        )
        if revision.status == "granted":
            paragraphs.append(
                _("It is paid to you without an application. You may opt out in the portal.")
            )
        elif revision.status == "offered":
            days = revision.service.respond_within_days
            if days is None:
                paragraphs.append(_("Confirm the offer in the portal: it takes one step."))
            else:  # counted from this decision, as the entitlement's page counts it
                by = format_date(today() + timedelta(days=days), format="long", locale=locale)
                paragraphs.append(
                    _(
                        "Confirm the offer in the portal by {day}: it takes one step. If you "
                        "have not confirmed it by then, the offer lapses."
                    ).format(day=by)
                )
        else:
            paragraphs.append(_("Apply through the portal to receive it."))
    paragraphs.append(
        _("Legal basis: {legal_basis}.").format(legal_basis=revision.service.legal_basis)
    )
    paragraphs.append(
        _(
            "If you disagree with this decision, you may appeal within {days} days of receiving "
            "this letter. Write to us through the portal, giving this letter's reference."
        ).format(days=APPEAL_DAYS)
    )
    return paragraphs


def send_decision_letters(
    session: Session,
    revisions: Sequence[Revision],
    *,
    effective_from: date,
    citation: str,
    actor: str,
    log_signer: SigningKey | None = None,
) -> int:
    """One decision letter per revision. Returns how many were new (a replay sends none).

    Changes the mailbox's letters (and the transparency log); emits ``notify.letter_sent.v1``
    per new letter."""
    if not revisions:
        return 0
    preferences = notify.delivery_preferences(
        session, person_codes=[revision.person_code for revision in revisions]
    )
    letters: list[notify.NewLetter] = []
    # a change of the law changes many entitlements alike: each distinct letter is written once
    texts: dict[tuple[object, ...], tuple[str, tuple[str, ...]]] = {}
    for revision in revisions:
        locale = preferences[revision.person_code].locale
        key = (
            locale,
            revision.service.code,
            revision.status,
            revision.previous_status,
            revision.amount,
            revision.previous_amount,
        )
        text = texts.get(key)
        if text is None:
            with i18n.use_locale(locale):
                service = revision.service.names.get(locale) or revision.service.names["en"]
                day = format_date(effective_from, format="long", locale=locale)
                subject = _("Your {service} from {day}").format(service=service, day=day)
                paragraphs = _paragraphs(
                    revision, effective_from=effective_from, citation=citation, locale=locale
                )
            text = texts[key] = (subject, tuple(paragraphs))
        letters.append(
            notify.NewLetter(
                recipient_code=revision.person_code,
                sender=f"{revision.service.owner_member_class}/"
                f"{revision.service.owner_member_code}",
                kind=notify.LetterKind.DECISION.value,
                subject=text[0],
                paragraphs=text[1],
                reference=revision.letter_reference,
                regarding=str(revision.entitlement_uid),
                locale=locale,
            )
        )
    return notify.send_letters(
        session, letters, actor=actor, log_signer=log_signer, preferences=preferences
    )
