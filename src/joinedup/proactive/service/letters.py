"""Decision letters: every change of an entitlement is told to the person, in their language,
in their digital mailbox — the outcome, the plain-language reason, the legal basis, and how to
appeal. A letter's reference is the entitlement's revision, so sending it again is a replay.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Sequence
from datetime import date

from babel.dates import format_date
from babel.numbers import format_currency
from sqlalchemy.orm import Session

from joinedup import catalogue, notify
from joinedup.catalogue import CatalogueService, DeliveryMode
from joinedup.core import i18n
from joinedup.core.i18n import gettext as _
from joinedup.proactive.models import Entitlement
from joinedup.proactive.schemas import EntitlementStatus
from joinedup.proactive.service import texts
from joinedup.proactive.service.entitlements import PROACTIVE_ACTOR, Change, respond_by

#: How long a person has to challenge a decision (Administrative Procedure Act).
APPEAL_DAYS = 30


def reference_of(change: Change) -> str:
    return f"entitlement:{change.entitlement.uid}:r{change.entitlement.revision}"


@functools.lru_cache(maxsize=4096)
def _money(cents: int | None, locale: str) -> str:
    # Babel parses the locale's currency pattern on every call (~0.2 ms): amounts repeat
    return format_currency((cents or 0) / 100, "EUR", locale=locale)


@functools.lru_cache(maxsize=4096)
def _day(day: date | None, locale: str) -> str:
    # as an amount: Babel reads the locale's pattern on every call, and days repeat (the
    # first of the month, the last day to answer an offer)
    return format_date(day, format="long", locale=locale) if day else ""


def _outcome(
    change: Change, service: CatalogueService, locale: str
) -> tuple[notify.LetterKind, str, str]:
    """(letter kind, subject, first paragraph) of a change."""
    row = change.entitlement
    values = {
        "service": service.name(locale),
        "agency": service.owner.name,
        "amount": _money(row.amount, locale),
        "old": _money(change.previous_amount, locale),
        "start": _day(row.period_start, locale),
        "end": _day(row.period_end, locale),
        "link": service.apply_url or "/portal",
    }
    status = change.status
    once = service.per_occasion
    if change.extra.get("application"):  # decided on the person's own application
        if status is EntitlementStatus.GRANTED:
            text = (
                _("%(agency)s grants you %(service)s of %(amount)s, on your application.")
                if once
                else _(
                    "%(agency)s grants you %(service)s of %(amount)s a month from %(start)s, "
                    "on your application."
                )
            )
            return notify.LetterKind.DECISION, _("%(service)s granted") % values, text % values
        if status is EntitlementStatus.ENDED:
            return (
                notify.LetterKind.DECISION,
                _("%(service)s: your application is refused") % values,
                _("%(agency)s cannot grant you %(service)s on your application.") % values,
            )
    if status is change.previous_status and status.active:
        values["start"] = _day(change.revision.period_start, locale)
        return (
            notify.LetterKind.DECISION,
            _("%(service)s: a new amount") % values,
            _("Your %(service)s changes from %(old)s to %(amount)s a month from %(start)s.")
            % values,
        )
    if status is EntitlementStatus.GRANTED:
        if change.previous_status is EntitlementStatus.OFFERED:
            text = _("You accepted the offer: %(agency)s grants you %(service)s of %(amount)s.")
        elif once:
            text = _("%(agency)s grants you %(service)s of %(amount)s. You did not need to apply.")
        else:
            text = _(
                "%(agency)s grants you %(service)s of %(amount)s a month from %(start)s. "
                "You did not need to apply."
            )
        return notify.LetterKind.DECISION, _("%(service)s granted") % values, text % values
    if status is EntitlementStatus.OFFERED:
        text = (
            _("%(agency)s offers you %(service)s of %(amount)s.")
            if once
            else _("%(agency)s offers you %(service)s of %(amount)s a month from %(start)s.")
        )
        last_day = respond_by(row, service)
        values["by"] = _day(last_day, locale)
        answer = (
            _(
                "Accept it by %(by)s in one step, or decline it, under My entitlements. If "
                "you have not accepted it by then, the offer lapses."
            )
            if last_day is not None
            else _("Accept it in one step, or decline it, under My entitlements.")
        )
        return (
            notify.LetterKind.OFFER,
            _("%(service)s: an offer for you") % values,
            (text + " " + answer) % values,
        )
    if status is EntitlementStatus.ENDED and change.extra.get("lapsed"):
        values["by"] = _day(date.fromisoformat(change.extra["lapsed"]), locale)
        return (
            notify.LetterKind.DECISION,
            _("%(service)s: the offer has lapsed") % values,
            _(
                "You did not accept the offer of %(service)s by %(by)s, so it has lapsed. "
                "If you still want it, contact %(agency)s."
            )
            % values,
        )
    if status is EntitlementStatus.ELIGIBLE:
        return (
            notify.LetterKind.INFORMATION,
            _("You may be entitled to %(service)s") % values,
            _(
                "You may be entitled to %(service)s (%(amount)s a month by our estimate). "
                "Apply when it suits you: %(link)s"
            )
            % values,
        )
    if status is EntitlementStatus.ENDED:
        return (
            notify.LetterKind.DECISION,
            _("%(service)s has ended") % values,
            _("Your %(service)s ends on %(end)s.") % values,
        )
    if status is EntitlementStatus.DECLINED:
        return (
            notify.LetterKind.INFORMATION,
            _("You declined %(service)s") % values,
            _("You declined the offer of %(service)s. Nothing will be paid.") % values,
        )
    if status is EntitlementStatus.OPTED_OUT:
        return (
            notify.LetterKind.INFORMATION,
            _("You opted out of %(service)s") % values,
            _("You opted out of %(service)s. It will no longer be paid.") % values,
        )
    return (
        notify.LetterKind.INFORMATION,
        _("%(service)s: your consent is needed") % values,
        _(
            "%(service)s of %(agency)s rests on your consent: your data is read only if you "
            "agree, and nothing has been read. If you want the service, give your consent in "
            "the portal and it will be considered."
        )
        % values,
    )


#: The reasons a batch's letters gave, by (language, stored reason, stored verdict as JSON).
Reasons = dict[tuple[str, str, str], str]


def _reason(row: Entitlement, locale: str, reasons: Reasons | None) -> str:
    """The entitlement's reason in ``locale`` (the current language): put together once per
    batch for a reason and verdict its letters share (the rules give most persons of a
    batch the same one)."""
    if reasons is None or not row.reason:
        return texts.reason_in_language(row.reason, row.explanation)
    try:
        verdict = json.dumps((row.explanation or {}).get("verdict"), sort_keys=True)
    except (TypeError, ValueError):  # not as stored: no key
        return texts.reason_in_language(row.reason, row.explanation)
    key = (locale, row.reason, verdict)
    found = reasons.get(key)
    if found is None:
        found = reasons[key] = texts.reason_in_language(row.reason, row.explanation)
    return found


def compose(
    change: Change, service: CatalogueService, locale: str, *, reasons: Reasons | None = None
) -> notify.NewLetter:
    """The letter telling the person about ``change``, written in ``locale``. ``reasons``:
    the reasons the batch's other letters gave (filled in)."""
    row = change.entitlement
    reference = reference_of(change)
    with i18n.use_locale(locale):
        kind, subject, outcome = _outcome(change, service, locale)
        # the services' own reasons and the rules' verdicts, in the reader's language
        paragraphs = [
            outcome,
            _("Why: %(reason)s") % {"reason": _reason(row, locale, reasons)},
        ]
        note = change.extra.get("note")
        if note:  # why it comes to this person (a message id of texts)
            paragraphs.insert(1, i18n.gettext(note))
        if change.status is not EntitlementStatus.AWAITING_CONSENT:
            paragraphs.append(
                _(
                    "Legal basis: %(basis)s. The data used came from the base registries "
                    "through the data exchange; every read is listed under Who used my data."
                )
                % {"basis": row.legal_basis}
            )
        if kind is notify.LetterKind.DECISION:
            paragraphs.append(
                _(
                    "If you disagree, you may challenge this decision with %(agency)s within "
                    "%(days)s days of receiving this letter, by replying to it in your mailbox "
                    "and naming the reference %(reference)s."
                )
                % {"agency": service.owner.name, "days": APPEAL_DAYS, "reference": reference}
            )
        if (
            change.status is EntitlementStatus.GRANTED
            and service.delivery_mode is DeliveryMode.AUTOMATIC
        ):
            paragraphs.append(
                _("You may opt out of %(service)s at any time under My entitlements.")
                % {"service": service.name(locale)}
            )
    return notify.NewLetter(
        recipient_code=row.person_code,
        sender=service.owner.member,
        kind=kind.value,
        subject=subject[:300],
        paragraphs=tuple(paragraphs),
        reference=reference,
        regarding=f"entitlement:{row.uid}",
        locale=locale,
    )


def _one_per_entitlement(changes: Sequence[Change]) -> list[tuple[Change, list[Change]]]:
    """One letter's change per entitlement: an entitlement changed more than once in one
    batch (two births in one household handled together) gets one letter, of its last
    revision, from the state before the first — with the changes it tells of. None when the
    batch left it as it was."""
    groups: dict[object, list[Change]] = {}
    for change in changes:
        groups.setdefault(change.entitlement.uid, []).append(change)
    found: list[tuple[Change, list[Change]]] = []
    for group in groups.values():
        last = group[-1]
        if len(group) > 1:
            first = group[0]
            extra: dict[str, str] = {}
            for change in group:
                extra.update(change.extra)
            last = dataclasses.replace(
                last,
                previous_status=first.previous_status,
                previous_amount=first.previous_amount,
                extra=extra,
            )
            if last.previous_status is last.status and last.previous_amount == (
                last.entitlement.amount
            ):
                continue  # changed and changed back: nothing to tell
        found.append((last, group))
    return found


def send_decision_letters(
    session: Session, changes: Sequence[Change], *, actor: str = PROACTIVE_ACTOR
) -> int:
    """Put a letter about each change in the person's mailbox (one notify batch); notes
    each letter's reference on its revision. Returns how many letters were new."""
    if not changes:
        return 0
    preferences = notify.delivery_preferences(
        session, person_codes=[c.entitlement.person_code for c in changes]
    )
    services: dict[str, CatalogueService] = {}
    reasons: Reasons = {}
    letters = []
    for change, revisions in _one_per_entitlement(changes):
        service = change.service
        if service is None:
            code = change.entitlement.service_code
            service = services.get(code) or catalogue.get_catalogued_service(session, code=code)
        services[service.code] = service
        locale = preferences[change.entitlement.person_code].locale
        letter = compose(change, service, locale, reasons=reasons)
        for each in revisions:
            each.revision.letter_reference = letter.reference
        letters.append(letter)
    # the revisions' letter references first: appending the letters to the transparency log
    # takes, on PostgreSQL, the log's lock that is held until the commit
    session.flush()
    # (the preferences just read: the sending would read them again)
    return notify.send_letters(session, letters, actor=actor, preferences=preferences)
