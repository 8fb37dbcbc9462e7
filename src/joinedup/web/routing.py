"""The application's routes looked up by the first segments of the path.

FastAPI tries an application's routes one by one, descending into every included router in
the order they were included: a portal page, included after the contexts' APIs, was matched
only after some 150 API routes had been tried (a fifth of a page's CPU under load). Here the
top-level routes are indexed by the first three path segments each of them can answer
(``("portal", "messages", "")``, ``("api", "v1", "entitlements")``, ``("", "", "")`` for
``/`` …): a request is routed by a view of the application's router that holds only the
top-level routes that can answer its segments, in their original order, so the route it finds
is the one the whole router would find. A route's segments from its first path parameter on
(and a mount's, after its own) answer anything; a request is routed by the view of its three
segments, or else of its first two, or else of its first; a path whose first segment no route
names goes to the whole router (its 404). The index is rebuilt when routes are added or
replaced (the router's version or its top-level routes change), and not used at all when
the router has low-priority routes (they are tried after every other route, across
segments).
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Iterator
from operator import attrgetter

from fastapi import FastAPI
from fastapi.routing import APIRouter
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

#: A segment a route answers whatever it is (a path parameter there, or under a mount).
ANY = "\x00any"
#: A router's count of changes (FastAPI's), read in C for each router on every request.
_VERSION = attrgetter("_routes_version")
#: Segments indexed: ``/api/v1/entitlements/…`` is found among the entitlements API's routes.
DEPTH = 3
Key = tuple[str, ...]


def key_of(path: str) -> Key:
    """A request path's first :data:`DEPTH` segments: ``/portal/messages/7`` →
    ``("portal", "messages", "7")``; missing segments are ``""`` (``/`` → ``("", "", "")``)."""
    parts = path.lstrip("/").split("/", DEPTH)[:DEPTH]
    return tuple(parts + [""] * (DEPTH - len(parts)))


def route_key(path: str, *, mount: bool = False) -> Key:
    """The segments a route's path answers: :data:`ANY` from its first path parameter on
    (and after a mount's own segments)."""
    parts = path.lstrip("/").split("/", DEPTH)[:DEPTH]
    if mount:
        parts = [p for p in parts if p]
    key: list[str] = []
    for part in parts:
        if "{" in part:
            break
        key.append(part)
    if len(key) < len(parts) or mount:
        return tuple(key + [ANY] * (DEPTH - len(key)))
    return tuple(key + [""] * (DEPTH - len(key)))


def _keys(route: BaseRoute, prefix: str = "") -> Iterator[Key]:
    """The segments of every path ``route`` answers (its own, or those it includes)."""
    from fastapi.routing import _IncludedRouter  # the lazy include of FastAPI ≥ 0.160

    if isinstance(route, _IncludedRouter):
        inner = prefix + route.include_context.prefix
        for child in route.original_router.routes:
            yield from _keys(child, inner)
        return
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        yield (ANY,) * DEPTH  # an unknown kind of route: it may answer anything
        return
    yield route_key(prefix + path, mount=isinstance(route, Mount))


def _routers(router: APIRouter) -> Iterator[APIRouter]:
    """``router`` and every router it includes, at any depth, once each."""
    from fastapi.routing import _IncludedRouter

    seen: set[int] = set()
    pending = [router]
    while pending:
        found = pending.pop()
        if id(found) in seen:
            continue
        seen.add(id(found))
        yield found
        pending.extend(r.original_router for r in found.routes if isinstance(r, _IncludedRouter))


def keys_of(route: BaseRoute) -> set[Key]:
    return set(_keys(route))


def _answers(keys: set[Key], wanted: Key) -> bool:
    """Whether a route with ``keys`` may answer a path of ``wanted``'s segments (a wanted
    :data:`ANY`: whatever that segment is)."""
    return any(
        all(k in (ANY, w) or w == ANY for k, w in zip(key, wanted, strict=True)) for key in keys
    )


def _prefixes(key: Key) -> Iterator[Key]:
    """``(a, b, c)`` → ``(a, b, c)``, ``(a, b, ANY)``, ``(a, ANY, ANY)``: the views a
    request of those segments may be routed by, the narrowest first."""
    for kept in range(DEPTH, 0, -1):
        yield key[:kept] + (ANY,) * (DEPTH - kept)


class SegmentIndex:
    """The router's ASGI entry point, routing each request by a view of its segments."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self.whole: ASGIApp = router.middleware_stack
        self.state: Hashable = None
        self.views: dict[Key, APIRouter] = {}
        #: Every router the application's router includes, at any depth, and itself.
        self.routers: tuple[APIRouter, ...] = ()

    def _view(self, routes: list[BaseRoute]) -> APIRouter:
        view = copy.copy(self.router)
        view.routes = routes
        return view

    def _build(self) -> None:
        router = self.router
        self.routers = tuple(_routers(router))
        views: dict[Key, APIRouter] = {}
        if not any(True for _ in router._iter_low_priority_routes()):
            found = [(route, keys_of(route)) for route in router.routes]
            named = {k for _, keys in found for k in keys if k[0] != ANY}
            # each literal key, and the views of the segments it starts with
            for wanted in {p for key in named for p in _prefixes(key) if p[0] != ANY}:
                routes = [r for r, keys in found if _answers(keys, wanted)]
                views[wanted] = self._view(routes)
        self.views, self.state = views, self._state()

    def _state(self) -> Hashable:
        """What the views were built from: the version (FastAPI's count of changes) of each
        router found at the last build (a router included since is found through the version
        of the one it was included in), and the top-level routes and settings themselves
        (``app.mount``, ``app.host`` and edits of ``router.routes`` do not change the version).
        Each request asks: a read of each router's count, not FastAPI's walk of every route."""
        router = self.router
        return (
            tuple(map(_VERSION, self.routers)),
            tuple(map(id, router.routes)),
            router.redirect_slashes,
            id(router.default),
        )

    def view_for(self, path: str) -> APIRouter | None:
        """The view a request for ``path`` is routed by (None: the whole router)."""
        if self._state() != self.state:
            self._build()
        for key in _prefixes(key_of(path)):
            view = self.views.get(key)
            if view is not None:
                return view
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.whole(scope, receive, send)
            return
        view = self.view_for(get_route_path(scope))
        if view is None:
            await self.whole(scope, receive, send)
            return
        scope.setdefault("router", self.router)  # url_for sees every route
        await view.app(scope, receive, send)


def index_routes(app: FastAPI) -> SegmentIndex:
    """Route ``app``'s requests through a :class:`SegmentIndex` (idempotent; ``ValueError``
    when the router wraps its routes in middleware of its own, which a view would skip)."""
    router = app.router
    if isinstance(router.middleware_stack, SegmentIndex):
        return router.middleware_stack
    stack = router.middleware_stack
    if getattr(stack, "__self__", None) is not router or getattr(stack, "__func__", None) is not (
        APIRouter.app
    ):
        raise ValueError("the application's router has middleware of its own: not indexed")
    index = SegmentIndex(router)
    router.middleware_stack = index
    return index
