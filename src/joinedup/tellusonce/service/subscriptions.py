"""Which agencies' services are told of which life events."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup import exchange
from joinedup.core.clock import utcnow
from joinedup.core.errors import Conflict, NotFound, ValidationFailed
from joinedup.core.events import emit
from joinedup.core.settings import get_settings
from joinedup.tellusonce.events import AgencySubscribed, SubscriptionEnded
from joinedup.tellusonce.models import Subscription
from joinedup.tellusonce.schemas import LifeEventKind, SubscriptionRecord, SubscriptionScope


def subscription_record(row: Subscription) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=row.id,
        life_event=LifeEventKind(row.life_event),
        service=f"{row.member_class}/{row.member_code}/{row.subsystem_code}/{row.service_code}",
        member_name=row.member_name,
        scope=SubscriptionScope(row.scope),
        municipality_code=row.municipality_code,
        active=row.active,
        created_at=row.created_at,
    )


def _bad(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", errors=[{"field": field, "message": message}])


def subscribe_agency(
    session: Session,
    *,
    life_event: LifeEventKind | str,
    service: str,
    scope: SubscriptionScope | str = SubscriptionScope.ALL,
    actor: str,
) -> SubscriptionRecord:
    """Tell the member's REST ``service`` (``CLASS/MEMBER/SUBSYSTEM/SERVICE``, published in the
    exchange directory) of every ``life_event`` — or, with scope ``residents``, of those of
    persons living in the member's own municipality.

    Changes: one ``tellusonce_subscription`` row (a subscription ended before is active
    again). Emits ``tellusonce.agency_subscribed.v1``. ``ValidationFailed`` names the field
    (unknown life event, scope, a service that is not a published REST service, a residents
    scope for a member without a municipality); ``Conflict`` when it is subscribed already."""
    try:
        kind = LifeEventKind(life_event)
    except ValueError:
        raise _bad("lifeEvent", f"one of {', '.join(k.value for k in LifeEventKind)}") from None
    try:
        chosen_scope = SubscriptionScope(scope)
    except ValueError:
        raise _bad("scope", f"one of {', '.join(s.value for s in SubscriptionScope)}") from None
    try:
        ref = exchange.ServiceRef.parse(service, instance=get_settings().xroad_instance)
        record = exchange.get_service(session, service=ref)
    except ValidationFailed:
        raise _bad("service", "must be CLASS/MEMBER/SUBSYSTEM/SERVICE") from None
    except NotFound:
        raise _bad("service", "is not published in the exchange directory") from None
    if record.kind != exchange.ServiceKind.REST:
        raise _bad("service", "must be a member's own REST service, not a registry's")
    member = exchange.get_member(
        session, member_class=ref.member_class, member_code=ref.member_code
    )
    municipality = None
    if chosen_scope is SubscriptionScope.RESIDENTS:
        municipality = member.municipality_code
        if municipality is None:
            raise _bad("scope", "residents needs a member that is a local authority")
    existing = session.scalars(
        select(Subscription).where(
            Subscription.life_event == kind.value,
            Subscription.member_class == ref.member_class,
            Subscription.member_code == ref.member_code,
            Subscription.subsystem_code == ref.subsystem_code,
            Subscription.service_code == ref.service_code,
        )
    ).first()
    now = utcnow()
    if existing is not None and existing.active:
        raise Conflict(f"{ref} is subscribed to {kind.value} already", subscription=existing.id)
    if existing is None:
        existing = Subscription(
            life_event=kind.value,
            member_class=ref.member_class,
            member_code=ref.member_code,
            subsystem_code=ref.subsystem_code,
            service_code=ref.service_code,
        )
        session.add(existing)
    existing.member_name = member.name
    existing.scope = chosen_scope.value
    existing.municipality_code = municipality
    existing.active = True
    existing.created_at, existing.created_by = now, actor
    existing.ended_at = existing.ended_by = None
    session.flush()
    emit(
        session,
        AgencySubscribed(subscription_id=existing.id, life_event=kind.value, service=str(ref)),
    )
    return subscription_record(existing)


def end_subscription(session: Session, *, subscription_id: int, actor: str) -> SubscriptionRecord:
    """Stop telling the subscription's service of new life events (notifications already
    created are still delivered). Emits ``tellusonce.subscription_ended.v1``; ``NotFound`` for
    an unknown id, ``Conflict`` when it has ended already."""
    row = session.get(Subscription, subscription_id)
    if row is None:
        raise NotFound(f"subscription {subscription_id} does not exist")
    if not row.active:
        raise Conflict(f"subscription {subscription_id} has ended already")
    row.active = False
    row.ended_at, row.ended_by = utcnow(), actor
    session.flush()
    emit(session, SubscriptionEnded(subscription_id=row.id))
    return subscription_record(row)


def list_subscriptions(
    session: Session, *, life_event: LifeEventKind | str | None = None, active_only: bool = True
) -> list[SubscriptionRecord]:
    """Subscriptions in id order (a few hundred at most: one per agency service and event)."""
    statement = select(Subscription).order_by(Subscription.id)
    if life_event is not None:
        statement = statement.where(Subscription.life_event == LifeEventKind(life_event).value)
    if active_only:
        statement = statement.where(Subscription.active.is_(True))
    return [subscription_record(row) for row in session.scalars(statement)]
