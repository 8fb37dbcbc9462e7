"""A person's delivery preferences: the language of their letters and whether they are exempt
from digital post (then every letter also goes on paper)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from joinedup.core import i18n
from joinedup.core.bulk_writes import insert_rows
from joinedup.core.clock import utcnow
from joinedup.core.events import emit, emit_many
from joinedup.core.settings import get_settings
from joinedup.notify.events import DeliveryPreferenceChanged
from joinedup.notify.models import DeliveryPreference
from joinedup.notify.schemas import PreferenceRecord
from joinedup.notify.service.checks import check_person_code, refuse


def _default_locale() -> str:
    return i18n.supported(get_settings().default_locale) or i18n.SOURCE_LOCALE


def _record(
    person_code: str, row: DeliveryPreference | None, default_locale: str | None = None
) -> PreferenceRecord:
    if row is None:  # never set: the defaults, known valid (a bulk send has thousands)
        return PreferenceRecord.model_construct(
            person_code=person_code,
            locale=default_locale or _default_locale(),
            digital_exempt=False,
            exempt_reason=None,
        )
    return PreferenceRecord(
        person_code=person_code,
        locale=row.locale or default_locale or _default_locale(),
        digital_exempt=bool(row.digital_exempt),
        exempt_reason=row.exempt_reason,
    )


def delivery_preference(session: Session, *, person_code: str) -> PreferenceRecord:
    """The person's preferences (the defaults when they never set any)."""
    row = session.scalar(
        select(DeliveryPreference).where(DeliveryPreference.person_code == person_code)
    )
    return _record(person_code, row)


def delivery_preferences(
    session: Session, *, person_codes: Sequence[str]
) -> dict[str, PreferenceRecord]:
    """Preferences of many persons at once (bulk sending)."""
    found: dict[str, DeliveryPreference] = {}
    unique = sorted(set(person_codes))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        for row in session.scalars(
            select(DeliveryPreference).where(DeliveryPreference.person_code.in_(chunk))
        ):
            found[row.person_code] = row
    default = _default_locale()
    return {code: _record(code, found.get(code), default) for code in unique}


def preferred_locale(session: Session, *, person_code: str) -> str:
    """The language the person's letters are written in."""
    return delivery_preference(session, person_code=person_code).locale


def set_delivery_preference(
    session: Session,
    *,
    person_code: str,
    locale: str | None = None,
    digital_exempt: bool | None = None,
    exempt_reason: str | None = None,
    actor: str,
) -> PreferenceRecord:
    """Set the person's letter language and/or exemption from digital post (``None`` leaves a
    preference as it is). An exemption needs its reason.

    Changes: ``notify_preference``. Emits ``notify.preference_changed.v1`` (no personal data)."""
    problems: list[dict[str, str]] = []
    check_person_code(problems, "person_code", person_code)
    if locale is not None and i18n.supported(locale) != locale:
        problems.append(
            {
                "field": "locale",
                "message": "must be one of " + ", ".join(i18n.available_locales()),
            }
        )
    reason = exempt_reason.strip() if exempt_reason else None
    if digital_exempt and not reason:
        problems.append({"field": "exempt_reason", "message": "say why the person is exempt"})
    if reason is not None and len(reason) > 300:
        problems.append({"field": "exempt_reason", "message": "must be at most 300 characters"})
    if not actor.strip():
        problems.append({"field": "actor", "message": "is required"})
    refuse(problems)
    row = session.scalar(
        select(DeliveryPreference).where(DeliveryPreference.person_code == person_code)
    )
    if row is None:
        row = DeliveryPreference(person_code=person_code, digital_exempt=False)
        session.add(row)
    if locale is not None:
        row.locale = locale
    if digital_exempt is not None:
        row.digital_exempt = digital_exempt
        row.exempt_reason = reason if digital_exempt else None
    row.updated_at = utcnow()
    row.updated_by = actor[:100]
    session.flush()
    emit(session, DeliveryPreferenceChanged(digital_exempt=row.digital_exempt))
    return _record(person_code, row)


def exempt_from_digital_post(
    session: Session, *, person_codes: Sequence[str], reason: str, actor: str
) -> int:
    """Exempt many persons from digital post at once (a migration from a legacy register,
    the synthetic country); persons with preferences already are left as they are. Returns
    how many were exempted.

    Changes: ``notify_preference``. Emits one ``notify.preference_changed.v1`` per person."""
    problems: list[dict[str, str]] = []
    for position, code in enumerate(person_codes):
        check_person_code(problems, f"person_codes[{position}]", code)
    if not reason.strip() or len(reason) > 300:
        problems.append({"field": "reason", "message": "say why, in at most 300 characters"})
    if not actor.strip():
        problems.append({"field": "actor", "message": "is required"})
    refuse(problems)
    existing: set[str] = set()
    unique = sorted(set(person_codes))
    for start in range(0, len(unique), 500):
        existing.update(
            session.scalars(
                select(DeliveryPreference.person_code).where(
                    DeliveryPreference.person_code.in_(unique[start : start + 500])
                )
            )
        )
    new = sorted(set(person_codes) - existing)
    if not new:
        return 0
    now = utcnow()
    insert_rows(
        session.connection(),
        cast(Table, DeliveryPreference.__table__),
        ("person_code", "locale", "digital_exempt", "exempt_reason", "updated_at", "updated_by"),
        [(code, None, True, reason.strip(), now, actor[:100]) for code in new],
    )
    emit_many(session, [DeliveryPreferenceChanged(digital_exempt=True) for _ in new])
    return len(new)
