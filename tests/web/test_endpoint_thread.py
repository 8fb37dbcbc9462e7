"""Who is signed in is worked out in the page's own worker thread (one hand-over to a thread
per page, not two), after a precheck on the event loop; every route that could is such a
route."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute, _IncludedRouter
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from joinedup.core.errors import Unauthenticated
from joinedup.web.auth import Citizen
from joinedup.web.deps import WriteSession
from joinedup.web.endpoint_thread import (
    PageRoute,
    deferrable_in,
    in_endpoint_thread,
    run_in_endpoint_thread,
)
from joinedup.web.problems import install_problem_handlers

CALLS: list[str] = []
#: Set by the dependency: the endpoint sees it only when it runs in the same hand-over to a
#: worker thread (each hand-over runs in a copy of the event loop's context).
SEEN: contextvars.ContextVar[str] = contextvars.ContextVar("seen")


def _precheck(request: Request) -> None:
    CALLS.append("precheck")
    if "who" not in request.headers:
        raise Unauthenticated("say who you are")


def _who(request: Request) -> dict[str, Any]:
    CALLS.append("dependency")
    if request.headers.get("who") == "nobody":
        raise Unauthenticated("nobody is not somebody")
    SEEN.set(request.headers["who"])
    return {"who": request.headers["who"]}


Who = Annotated[dict[str, Any], Depends(in_endpoint_thread(_who, precheck=_precheck))]


def _turn() -> Iterator[str]:
    """A sync generator dependency (as the write session is): set up in a thread first."""
    CALLS.append("set-up")
    yield "turn"


Turn = Annotated[str, Depends(_turn)]


def _application(route_class: type[APIRoute]) -> FastAPI:
    router = APIRouter(route_class=route_class)

    @router.get("/page")
    def page(who: Who, number: int = 1) -> dict[str, Any]:
        CALLS.append("endpoint")
        return {"who": who["who"], "same_hand_over": SEEN.get(None) == who["who"]}

    @router.get("/writing")
    def writing(who: Who, turn: Turn) -> dict[str, Any]:
        CALLS.append("endpoint")
        return {"who": who["who"], "same_hand_over": SEEN.get(None) == who["who"]}

    @router.get("/async")
    async def page_async(who: Who) -> dict[str, Any]:
        return {"who": who["who"]}

    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    return app


@pytest.fixture(autouse=True)
def _clear() -> None:
    CALLS.clear()


def test_the_dependency_runs_in_the_endpoints_own_hand_over_on_a_page_route() -> None:
    with TestClient(_application(PageRoute)) as client:
        answer = client.get("/page", headers={"who": "ann"})
    assert answer.json() == {"who": "ann", "same_hand_over": True}
    assert CALLS == ["precheck", "dependency", "endpoint"]


def test_fastapis_own_route_runs_it_in_a_thread_of_its_own() -> None:
    """The control: without the route class the dependency is a hand-over of its own (the
    endpoint's is another)."""
    with TestClient(_application(APIRoute)) as client:
        answer = client.get("/page", headers={"who": "ann"})
    assert answer.json() == {"who": "ann", "same_hand_over": False}


def test_a_refusing_dependency_keeps_the_endpoint_from_running() -> None:
    with TestClient(_application(PageRoute)) as client:
        answer = client.get("/page", headers={"who": "nobody"})
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert CALLS == ["precheck", "dependency"]


def test_the_precheck_refuses_before_the_parameters_are_validated() -> None:
    """No ``who`` at all: refused on the event loop, before ``number`` is looked at (a 401,
    not the 422 a malformed number gets from somebody)."""
    with TestClient(_application(PageRoute)) as client:
        refused = client.get("/page?number=seven")
        malformed = client.get("/page?number=seven", headers={"who": "ann"})
    assert refused.status_code == 401
    assert CALLS == ["precheck", "precheck"]
    assert malformed.status_code == 422


def test_a_page_with_a_write_session_keeps_fastapis_order() -> None:
    """The person first (their session's touch writes), then the write session's set-up that
    takes the writers' turn: deferred behind it, the touch waited for its own request's turn
    in another thread."""
    with TestClient(_application(PageRoute)) as client:
        answer = client.get("/writing", headers={"who": "ann"})
    assert answer.json() == {"who": "ann", "same_hand_over": False}
    assert CALLS == ["dependency", "set-up", "endpoint"]


def test_an_async_endpoint_gets_the_dependency_from_fastapi() -> None:
    with TestClient(_application(PageRoute)) as client:
        answer = client.get("/async", headers={"who": "ann"})
    assert answer.json() == {"who": "ann"}
    assert CALLS == ["dependency"]  # the marked call itself, as FastAPI runs it


def test_an_endpoint_without_a_marked_dependency_is_left_as_it_is() -> None:
    def endpoint(request: Request, number: int) -> None:
        return None

    assert run_in_endpoint_thread(endpoint) is endpoint


def _api_routes(routes: list[BaseRoute]) -> list[APIRoute]:
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, _IncludedRouter):
            found.extend(_api_routes(route.original_router.routes))
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def test_every_page_of_the_application_resolves_the_signed_in_person_in_its_own_thread(
    app: FastAPI,
) -> None:
    """A router of pages made without ``route_class=PageRoute`` is listed here: its pages
    would each be handed to a thread twice."""
    routes = _api_routes(app.router.routes)
    assert len(routes) > 100
    slow = {f"{sorted(r.methods)} {r.path}": deferrable_in(r) for r in routes if deferrable_in(r)}
    assert slow == {}
    pages = [r for r in routes if isinstance(r, PageRoute)]
    assert any(r.path == "/portal/overview" for r in pages)


def test_the_check_would_find_a_page_on_fastapis_route() -> None:
    router = APIRouter()

    @router.get("/mine")
    def mine(citizen: Citizen) -> None:
        return None

    assert [deferrable_in(r) for r in _api_routes(router.routes)] == [["citizen"]]


def _first(route: APIRoute, wanted: Any) -> int | None:
    return next((i for i, d in enumerate(route.dependant.dependencies) if wanted(d.call)), None)


def test_no_route_works_out_who_is_signed_in_while_its_write_session_waits(
    app: FastAPI,
) -> None:
    """Working out who is signed in may confirm a mandate through the exchange, whose reads
    are committed by the process's group-commit writer: were a route's write session set up
    first (its SQLite writers' turn taken), that writer would wait for the turn the request
    holds. On every route with both, the person (or the CSRF check, which works them out)
    comes first."""
    from joinedup.core.http import get_session
    from joinedup.web.csrf import verify_csrf
    from joinedup.web.endpoint_thread import _MARK

    def works_out_who(call: Any) -> bool:
        return call is verify_csrf or getattr(call, _MARK, None) is not None

    def late(routes: list[APIRoute]) -> list[str]:
        found = []
        for route in routes:
            write, who = _first(route, lambda c: c is get_session), _first(route, works_out_who)
            if write is not None and who is not None and write < who:
                found.append(f"{sorted(route.methods)} {route.path}")
        return found

    assert late(_api_routes(app.router.routes)) == []
    # the check finds such a route
    router = APIRouter()

    @router.post("/late")
    def late_page(session: WriteSession, citizen: Citizen) -> None:
        return None

    assert late(_api_routes(router.routes)) == ["['POST'] /late"]
