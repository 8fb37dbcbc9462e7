"""Routes found by their path's first segments: the route a request reaches is the one the
whole router would reach, for every route of the application, and routes added later count."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRouter, _IncludedRouter
from fastapi.testclient import TestClient
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, Mount, Route

from joinedup.web.routing import ANY, SegmentIndex, index_routes, key_of, route_key


def _paths(route: BaseRoute, prefix: str = "") -> list[tuple[str, bool]]:
    if isinstance(route, _IncludedRouter):
        inner = prefix + route.include_context.prefix
        return [p for child in route.original_router.routes for p in _paths(child, inner)]
    return [(prefix + route.path, isinstance(route, Mount))]  # type: ignore[attr-defined]


def _sample(path: str, mount: bool) -> str:
    filled = re.sub(r"\{[^}]*\}", "7", path)
    return filled.rstrip("/") + "/govuk/x.css" if mount else filled


def _first_full(routes: list[BaseRoute], path: str, method: str = "GET") -> Any:
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    partial = None
    for route in routes:
        match, _ = route.matches(dict(scope))
        if match is Match.FULL:
            return route
        if match is Match.PARTIAL and partial is None:
            partial = route
    return partial


def _index(app: FastAPI) -> SegmentIndex:
    index = app.router.middleware_stack
    assert isinstance(index, SegmentIndex)
    return index


def test_every_route_is_found_by_its_view_as_by_the_whole_router(app: FastAPI) -> None:
    index = _index(app)
    samples = {_sample(p, m) for route in app.router.routes for p, m in _paths(route)}
    samples |= {s + "/" for s in samples if not s.endswith("/")}  # slash redirects
    samples |= {"/nothing/here", "/portal/nothing", "/api/v1/nothing", "/", ""}
    assert len(samples) > 150
    narrowed = 0
    for path in sorted(samples):
        whole = _first_full(app.router.routes, path)
        view = index.view_for(path)
        if view is None:
            assert whole is None, path  # only a path no route names goes to the whole router
            continue
        narrowed += len(view.routes) < len(app.router.routes)
        assert _first_full(view.routes, path) is whole, path
    assert narrowed > 100


def test_a_portal_page_is_looked_for_among_its_own_routes(app: FastAPI) -> None:
    index = _index(app)
    view = index.view_for("/portal/messages/abc")
    assert view is not None
    assert len(view.routes) <= 2  # the messages router (and nothing of the APIs)
    assert len(app.router.routes) > 20


def test_keys() -> None:
    assert key_of("/portal/messages/7") == ("portal", "messages", "7")
    assert key_of("/") == ("", "", "")
    assert key_of("/portal/") == ("portal", "", "")
    assert route_key("/portal/messages/{message_id}") == ("portal", "messages", ANY)
    assert route_key("/{anything}/x") == (ANY, ANY, ANY)
    assert route_key("/assets", mount=True) == ("assets", ANY, ANY)
    assert route_key("/healthz") == ("healthz", "", "")


def test_requests_route_as_before(app: FastAPI) -> None:
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        missing = client.get("/api/nothing-here")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert client.get("/unknown-first-segment").status_code == 404
        assert client.delete("/healthz").status_code == 405  # a partial match still counts
        slash = client.get("/healthz/", follow_redirects=False)
        assert slash.status_code in (307, 308)
        assert slash.headers["location"].endswith("/healthz")
        page = client.get("/portal/overview", follow_redirects=False,
                          headers={"accept": "text/html"})  # fmt: skip
        assert page.status_code in (302, 303)  # to sign in: the portal's own route answered


def test_routes_added_after_the_index_are_found(app: FastAPI) -> None:
    @app.get("/api/test/late")
    def late() -> dict[str, str]:
        return {"found": "yes"}

    nested = APIRouter(prefix="/later")

    @nested.get("/{thing}")
    def later(thing: str) -> dict[str, str]:
        return {"thing": thing}

    app.include_router(nested)
    with TestClient(app) as client:
        assert client.get("/api/test/late").json() == {"found": "yes"}
        assert client.get("/later/x").json() == {"thing": "x"}
        # a mount under a first segment already indexed (app.mount does not change FastAPI's
        # version of the routes: the index sees the top-level routes themselves)
        app.mount("/portal/mounted", PlainTextResponse("mounted"))
        assert client.get("/portal/mounted/x").text == "mounted"
        # a top-level route put in front of an indexed one answers from then on
        app.router.routes.insert(0, Route("/portal/messages", PlainTextResponse("first")))
        assert client.get("/portal/messages").text == "first"

        # a route added to a router included earlier, and a router included in that one,
        # after requests were routed: the index sees each included router's own changes
        @nested.get("/{thing}/deeper")
        def deeper(thing: str) -> dict[str, str]:
            return {"deeper": thing}

        assert client.get("/later/y/deeper").json() == {"deeper": "y"}
        innermost = APIRouter(prefix="/most")

        @innermost.get("/inner")
        def inner() -> dict[str, str]:
            return {"inner": "yes"}

        nested.include_router(innermost)
        assert client.get("/later/most/inner").json() == {"inner": "yes"}


def test_the_root_path_is_taken_off_at_a_segment_boundary() -> None:
    """Served under ``/x``, ``/xa/b`` is the route ``/xa/b`` (as Starlette reads it), not
    ``/a/b`` with ``/x`` taken off."""
    app = FastAPI()

    @app.get("/xa/b")
    def xab() -> str:
        return "xab"

    @app.get("/a/b")
    def ab() -> str:
        return "ab"

    index_routes(app)
    sent: list[dict[str, Any]] = []

    async def call() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http", "method": "GET", "path": "/xa/b", "root_path": "/x",
            "raw_path": b"/xa/b", "query_string": b"", "headers": [], "scheme": "http",
            "server": ("testserver", 80), "client": ("test", 1), "http_version": "1.1",
            "app": app,
        }  # fmt: skip
        await app(scope, receive, send)

    asyncio.run(call())
    assert sent[0]["status"] == 200
    assert b"xab" in b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_a_router_with_middleware_of_its_own_is_not_indexed() -> None:
    app = FastAPI()
    app.router.middleware_stack = lambda *a: None  # type: ignore[assignment, misc]
    with pytest.raises(ValueError, match="middleware of its own"):
        index_routes(app)


def test_indexing_twice_is_one_index(app: FastAPI) -> None:
    assert index_routes(app) is _index(app)
