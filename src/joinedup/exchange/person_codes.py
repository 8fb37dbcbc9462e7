"""The personal codes of register references, read through the exchange by a subscriber.

The registers' events carry references, never personal codes: a subscriber resolving whom a
batch of events concerns reads the codes as its own subsystem, for its own purpose, in one
``person-codes`` call per :data:`~joinedup.exchange.registry_bulk.MAX_REFERENCES` references
(one message; a data-usage record per person) — or, where its subsystem has no right to that
service (a deployment whose rights predate it), in one ``person`` call per reference, as
before. Either way every person read is on record with the purpose.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from sqlalchemy.orm import Session

from joinedup.core.errors import NotFound
from joinedup.exchange.local import ExchangeClient, LocalCallRefused
from joinedup.exchange.registry_bulk import MAX_REFERENCES, PERSON_CODES, PERSON_REFS
from joinedup.exchange.service.services import registry_service_ref

log = structlog.get_logger(__name__)

#: Why ``person-codes`` may be refused to a subsystem that may read ``person``: the service
#: unpublished, or no right to it (or not for this purpose, or not to these fields).
NOT_OPEN = frozenset(
    {
        "Server.ServerProxy.UnknownService",
        "Client.AccessDenied",
        "Client.PurposeNotAllowed",
        "Client.FieldsNotAllowed",
    }
)


def personal_codes(
    session: Session, calls: ExchangeClient, refs: Sequence[int], *, purpose: str
) -> dict[int, str]:
    """The personal codes of the register references ``refs``, read through ``calls`` for
    ``purpose`` (see the module); a reference that names nobody is left out. A refusal other
    than ``person-codes`` not being open to the subsystem is raised."""
    wanted = list(dict.fromkeys(refs))
    if not wanted:
        return {}
    try:
        return _together(session, calls, wanted, purpose)
    except LocalCallRefused as refused:
        if refused.error_type not in NOT_OPEN:
            raise
        log.warning("person_codes_refused", error_type=refused.error_type, purpose=purpose)
        return _one_by_one(session, calls, wanted, purpose)


def _together(
    session: Session, calls: ExchangeClient, wanted: list[int], purpose: str
) -> dict[int, str]:
    service = registry_service_ref(session, code=PERSON_CODES)
    found: dict[int, str] = {}
    for start in range(0, len(wanted), MAX_REFERENCES):
        chunk = wanted[start : start + MAX_REFERENCES]
        answer = calls.call(
            service,
            purpose=purpose,
            query={PERSON_REFS: ",".join(map(str, chunk))},
            fields=["personRef", "personalCode"],
        )
        for person in answer.body["persons"]:
            found[int(person["personRef"])] = str(person["personalCode"])
    return found


def _one_by_one(
    session: Session, calls: ExchangeClient, wanted: list[int], purpose: str
) -> dict[int, str]:
    service = registry_service_ref(session, code="person")
    found: dict[int, str] = {}
    for ref in wanted:
        try:
            answer = calls.call(
                service, purpose=purpose, query={"personRef": str(ref)}, fields=["personalCode"]
            )
        except NotFound:
            continue
        found[ref] = str(answer.body["personalCode"])
    return found
