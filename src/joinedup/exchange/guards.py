"""Who may read the exchange's records over HTTP, and the read session of those endpoints.

- **Data usage** (the Data Tracker contract ``/v2/findUsage``, ``/v2/usagePeriod`` and the
  portal's ``/api/v1/data-usage``): an exchange client (OAuth 2.0 client credentials, ``Bearer``
  token) whose subsystem holds an access right in force to a service with the code
  :data:`USAGE_SERVICE_CODE` (``findUsage``) — the right the citizen portal's subsystem holds,
  as Estonia's eesti.ee holds one to every registry's Data Tracker service — or whose
  subsystem is an exchange administrator. (Citizen sign-in, so a person reads only their own
  records, comes with the identity context.)
- **Monitoring** (``/api/v1/exchange/monitoring/…``): an exchange administrator's client, like
  the exchange's other operator endpoints.

``exchange`` sits below the web layer, so its read session is built here on the
application's :class:`~joinedup.core.db.Database`, like the transparency log's API.
"""

from __future__ import annotations

from datetime import date

from fastapi import Request
from sqlalchemy.orm import Session

from joinedup import exchange as _exchange
from joinedup.core.clock import today
from joinedup.core.errors import Forbidden
from joinedup.core.http import ReadSession
from joinedup.exchange.access import ClientIdentity
from joinedup.exchange.directory import current_directory

USAGE_SERVICE_CODE = "findUsage"


RecordsSession = ReadSession


def authenticated(session: Session, request: Request) -> ClientIdentity:
    """The client of the request's ``Bearer`` token (``Unauthenticated`` without one)."""
    client: ClientIdentity = _exchange.authenticate_client(
        session, authorization=request.headers.get("authorization")
    )
    return client


def require_usage_reader(
    session: Session, request: Request, *, on: date | None = None
) -> ClientIdentity:
    """The client, if it may read data-usage records (see the module docstring)."""
    client = authenticated(session, request)
    directory = current_directory(session)
    if client.subsystem_id in directory.administrators:
        return client
    day = on or today()
    for service in directory.services_by_id.values():
        if service.code != USAGE_SERVICE_CODE:
            continue
        for right in directory.rights.get((client.subsystem_id, service.service_id), ()):
            if right.valid_from <= day and (right.valid_to is None or day < right.valid_to):
                return client
    raise Forbidden(
        f"{client.xroad_id} has no access right to a {USAGE_SERVICE_CODE} service: data-usage "
        "records are served to the portal's subsystem and exchange administrators"
    )


def is_administrator(session: Session, *, client: ClientIdentity) -> bool:
    """Whether ``client``'s subsystem is an exchange administrator (the central digital
    office's). Reads the in-memory directory only."""
    return client.subsystem_id in current_directory(session).administrators


def require_administrator(session: Session, request: Request) -> ClientIdentity:
    """The client, if its subsystem is an exchange administrator."""
    client = authenticated(session, request)
    if client.subsystem_id not in current_directory(session).administrators:
        raise Forbidden(f"{client.xroad_id} is not an exchange administrator")
    return client
