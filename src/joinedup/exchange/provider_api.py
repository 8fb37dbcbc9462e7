"""A registry owner's own, unmediated access to its registry's services.

``GET /api/v1/exchange/provider/{class}/{member}/{subsystem}/{service}`` runs the same
registry query as a mediated call to that service, for the provider itself: the caller's
access token must belong to the very subsystem that publishes the service. There is no
access right, no purpose check, no message log and no data-usage record — this is the
controller processing its own register, which is its own responsibility — so it is the
reference ``joinedup bench exchange`` measures the mediation path against.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, cast

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response

from joinedup import exchange as _exchange
from joinedup.core.errors import Forbidden
from joinedup.exchange.access import Authorization, ServiceDescriptor

if TYPE_CHECKING:
    from joinedup.exchange.mediation import Mediation

router = APIRouter(prefix="/api/v1/exchange/provider", tags=["data exchange"])


def _own_use(service: ServiceDescriptor) -> Authorization:
    return Authorization(
        right_id=0,
        purpose="own-processing",
        legal_basis="the controller's processing of its own register",
        fields=service.fields,
        law_enforcement=False,
        hidden_until=None,
    )


def _answer(request: Request, params: dict[str, str]) -> bytes:
    mediation = cast("Mediation", request.app.state.exchange_mediation)
    with mediation.database.reading() as session:
        client = _exchange.authenticate_client(
            session, authorization=request.headers.get("authorization")
        )
        service: ServiceDescriptor = _exchange.resolve_service(
            session,
            instance=mediation.settings.xroad_instance,
            member_class=params["member_class"],
            member_code=params["member_code"],
            subsystem_code=params["subsystem_code"],
            service_code=params["service_code"],
        )
        if client.subsystem_id != service.provider_subsystem_id:
            raise Forbidden(
                f"only the provider's own subsystem may call {service.xroad_id} directly; "
                "everyone else calls it through /r1/"
            )
        answer = _exchange.call_registry_service(
            session,
            service=service,
            method="GET",
            path="",
            query=dict(request.query_params),
            body=None,
            authorization=_own_use(service),
        )
    return json.dumps(answer.body, separators=(",", ":"), default=str).encode()


@router.get(
    "/{member_class}/{member_code}/{subsystem_code}/{service_code}",
    summary="A provider reads its own registry service, unmediated",
    response_class=Response,
)
async def provider_call(request: Request) -> Response:
    mediation = cast("Mediation", request.app.state.exchange_mediation)
    body = await anyio.to_thread.run_sync(
        _answer, request, dict(request.path_params), limiter=mediation.queries
    )
    return Response(body, 200, media_type="application/json")
