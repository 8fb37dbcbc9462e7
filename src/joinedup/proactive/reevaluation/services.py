"""The catalogued services a re-evaluation covers, as it needs them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from joinedup import catalogue
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.proactive.reevaluation.ledger import ServiceSpec


def service_spec(service: catalogue.CatalogueService) -> ServiceSpec:
    return ServiceSpec(
        code=service.code,
        names=dict(service.names),
        owner_member_class=service.owner.member_class,
        owner_member_code=service.owner.member_code,
        owner_subsystem=service.owner.subsystem,
        delivery_mode=service.delivery_mode.value,
        ruleset=service.ruleset,
        variable=service.variable,
        purpose=service.purpose,
        legal_basis=service.legal_basis,
        legal_basis_url=service.legal_basis_url,
        respond_within_days=service.respond_within_days,
    )


def catalogued_specs(session: Session, *, codes: Sequence[str]) -> list[ServiceSpec]:
    """The services ``codes`` of the catalogue, each checked to be re-evaluable: continuing
    (not one grant per occasion), active, decided by law (a consent basis is decided person by
    person, never in bulk) and delivered proactively (not on application)."""
    problems: list[dict[str, str]] = []
    found: list[ServiceSpec] = []
    for position, code in enumerate(codes):
        where = f"services[{position}]"
        try:
            service = catalogue.get_catalogued_service(session, code=code)
        except NotFound:
            problems.append({"field": where, "message": "is not a catalogued service"})
            continue
        if service.per_occasion:
            problems.append(
                {"field": where, "message": "is granted per occasion, not re-evaluated"}
            )
        elif not service.active:
            problems.append({"field": where, "message": "is not active"})
        elif service.lawful_basis is not catalogue.LawfulBasis.LAW:
            problems.append(
                {"field": where, "message": "rests on consent: not re-evaluated in bulk"}
            )
        elif service.delivery_mode is catalogue.DeliveryMode.APPLICATION:
            problems.append({"field": where, "message": "is decided on application"})
        else:
            found.append(service_spec(service))
    if problems:
        raise ValidationFailed(
            "; ".join(f"{p['field']}: {p['message']}" for p in problems), errors=problems
        )
    return found
