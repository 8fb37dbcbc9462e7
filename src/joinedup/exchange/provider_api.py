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
from urllib.parse import parse_qsl, unquote

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from joinedup import exchange as _exchange
from joinedup.core.errors import DomainError, Forbidden
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


def _answer(
    mediation: Mediation, params: dict[str, str], query: dict[str, str], authorization: str | None
) -> bytes:
    with mediation.database.reading() as session:
        client = _exchange.authenticate_client(session, authorization=authorization)
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
            query=query,
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
        _answer,
        mediation,
        dict(request.path_params),
        dict(request.query_params),
        request.headers.get("authorization"),
        limiter=mediation.queries,
    )
    return Response(body, 200, media_type="application/json")


_PREFIX = "/api/v1/exchange/provider/"
_PARAMS = ("member_class", "member_code", "subsystem_code", "service_code")


class ProviderPath:
    """The same lean ASGI path as ``/r1`` calls take (:class:`~joinedup.exchange.mediation.
    MediationPath`), for the provider's own calls: the benchmark compares the mediation's work,
    not two amounts of framework. Answers exactly as :func:`provider_call` does; a refusal, and
    anything else, goes on to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        parts = path[len(_PREFIX) :].split("/") if path.startswith(_PREFIX) else ()
        state = getattr(scope.get("app"), "state", None)
        mediation = getattr(state, "exchange_mediation", None)
        if (
            len(parts) != len(_PARAMS)
            or "" in parts
            or scope["method"] != "GET"
            or mediation is None
        ):
            await self.app(scope, receive, send)
            return
        scope["route"] = _ROUTE
        headers = Headers(scope=scope)
        query = dict(
            parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        )
        try:
            body = await anyio.to_thread.run_sync(
                _answer,
                mediation,
                dict(zip(_PARAMS, (unquote(p) for p in parts), strict=True)),
                query,
                headers.get("authorization"),
                limiter=mediation.queries,
            )
        except DomainError:
            # a refusal: the route answers it (the application's problem document, exactly)
            await self.app(scope, receive, send)
            return
        answer = Response(body, 200, media_type="application/json")
        await answer(scope, receive, send)


#: The route's template, for the access log (as if the router had matched it).
_ROUTE = next(r for r in router.routes if isinstance(r, APIRoute))
