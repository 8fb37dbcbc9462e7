"""Who is signed in, worked out in the page's own worker thread.

FastAPI runs every sync dependency of a request in a worker thread of its own and then the
sync endpoint in another: a page declaring ``Citizen`` was handed from the event loop to a
thread and back twice. Each hand-over wakes a thread (on 2 busy cores often by preempting the
one that holds the interpreter lock); under ``bench portal`` the second one cost about a tenth
of a page's CPU.

A dependency marked with :func:`in_endpoint_thread` — it takes only the request, does its I/O
synchronously, and gives the same answer however often it is asked during a request (the
signed-in person is kept on the request) — is, on a route of :class:`PageRoute`, not run by
FastAPI when it is a parameter of a sync endpoint: FastAPI hands the endpoint a placeholder
and the endpoint's wrapper runs the dependency in the endpoint's thread, before the
endpoint's own code. The mark's ``precheck`` runs on the event loop where FastAPI would have
run the dependency, so what needs no I/O (a request with no session cookie at all) is refused
before anything else of the request is looked at, as it was.

What does not change: a route's other dependencies, an async endpoint, a marked dependency
that another dependency takes, and every dependency of a page that also takes a sync generator
dependency (the write session: its set-up, in a thread before the page, takes the SQLite
writers' turn, which the person's session touch must not then wait for) run as FastAPI runs
them. What does: a request with
a session cookie that turns out to be unknown or expired has its query and path parameters
validated before it is sent to sign in (a malformed one is answered 422, not the sign-in
redirect) — nothing of anybody's data is read before the person is known; and a page whose
query or path parameters are malformed is answered (422) before the person is worked out, so
its error page does not name who is signed in. A test that overrides a marked dependency
(``app.dependency_overrides``) no longer reaches pages: FastAPI sees the placeholder.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, get_args, get_origin, get_type_hints

from fastapi import Depends, Request, params
from fastapi.routing import APIRoute

F = TypeVar("F", bound=Callable[..., Any])

_MARK = "__joinedup_in_endpoint_thread__"


class Pending:
    """What FastAPI hands a sync endpoint for a deferred dependency: the dependency and the
    request, to be run in the endpoint's thread (:meth:`resolve`)."""

    __slots__ = ("_call", "_request")

    def __init__(self, call: Callable[[Request], Any], request: Request) -> None:
        self._call = call
        self._request = request

    def resolve(self) -> Any:
        return self._call(self._request)


@dataclass(frozen=True)
class _Deferral:
    placeholder: Callable[[Request], Awaitable[Pending]]


def in_endpoint_thread(call: F, *, precheck: Callable[[Request], None] | None = None) -> F:
    """Mark ``call`` (a sync dependency taking only the request) to be run in its sync
    endpoint's worker thread on a :class:`PageRoute`; ``precheck(request)`` (no I/O: it runs
    on the event loop) may refuse the request first."""

    async def placeholder(request: Request) -> Pending:
        if precheck is not None:
            precheck(request)
        return Pending(call, request)

    placeholder.__qualname__ = f"in_endpoint_thread({getattr(call, '__qualname__', call)})"
    setattr(call, _MARK, _Deferral(placeholder))
    return call


def _marked(annotation: Any, default: Any) -> _Deferral | None:
    """The deferral of the marked dependency a parameter declares (``Annotated[T,
    Depends(call)]`` or ``= Depends(call)``), if it declares one."""
    found: list[Any] = [default]
    if get_origin(annotation) is Annotated:
        found.extend(get_args(annotation)[1:])
    for meta in found:
        if isinstance(meta, params.Depends) and meta.dependency is not None:
            deferral = getattr(meta.dependency, _MARK, None)
            if isinstance(deferral, _Deferral):
                return deferral
    return None


def run_in_endpoint_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` with the marked dependencies among its parameters run in its own thread
    (see the module); ``endpoint`` itself when it is async or declares none."""
    if not inspect.isfunction(endpoint) or inspect.iscoroutinefunction(endpoint):
        return endpoint
    if inspect.isgeneratorfunction(endpoint) or inspect.isasyncgenfunction(endpoint):
        return endpoint
    try:
        hints = get_type_hints(endpoint, include_extras=True)
    except (NameError, TypeError):  # an annotation only a type checker resolves: as it is
        return endpoint
    signature = inspect.signature(endpoint)
    deferred: list[str] = []
    parameters = []
    for parameter in signature.parameters.values():
        annotation = hints.get(parameter.name, parameter.annotation)
        default = parameter.default
        deferral = _marked(annotation, default)
        if deferral is not None:
            deferred.append(parameter.name)
            annotation = Annotated[Pending, Depends(deferral.placeholder)]
            if isinstance(default, params.Depends):
                default = inspect.Parameter.empty
        parameters.append(parameter.replace(annotation=annotation, default=default))
    if not deferred or _sets_up_in_a_thread(endpoint):
        return endpoint
    names = tuple(deferred)

    def in_one_thread(**values: Any) -> Any:
        for name in names:
            values[name] = values[name].resolve()
        return endpoint(**values)

    for attribute in ("__name__", "__qualname__", "__module__", "__doc__"):
        setattr(in_one_thread, attribute, getattr(endpoint, attribute))
    in_one_thread.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=parameters, return_annotation=hints.get("return", signature.return_annotation)
    )
    return in_one_thread


def _sets_up_in_a_thread(endpoint: Callable[..., Any]) -> bool:
    """Whether FastAPI sets up one of ``endpoint``'s dependencies (at any depth) in a thread
    before the endpoint runs — a sync generator, such as the request's write session, which
    takes the process's SQLite writers' turn. Such a page keeps FastAPI's order: the signed-in
    person worked out first, in a thread of its own. Deferred behind the write session, the
    person's session touch (a unit of work of its own, in the endpoint's thread) waited for
    the turn its own request held in another thread."""
    from fastapi.dependencies.utils import get_dependant

    pending = list(get_dependant(path="", call=endpoint).dependencies)
    while pending:
        dependency = pending.pop()
        call = inspect.unwrap(dependency.call) if dependency.call is not None else None
        if call is not None and inspect.isgeneratorfunction(call):
            return True
        pending.extend(dependency.dependencies)
    return False


class PageRoute(APIRoute):
    """A route whose sync endpoint runs its marked dependencies in its own worker thread
    (:func:`run_in_endpoint_thread`); otherwise FastAPI's route."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, run_in_endpoint_thread(endpoint), **kwargs)


def deferrable_in(route: APIRoute) -> list[str]:
    """The marked dependencies FastAPI still runs in a thread of their own for ``route``'s
    sync endpoint (by parameter name; a router's dependency has none): what a test of the
    application lists to keep every page at one hand-over."""
    if inspect.iscoroutinefunction(route.endpoint) or _sets_up_in_a_thread(route.endpoint):
        return []
    return [
        dependency.name or "(a router's dependency)"
        for dependency in route.dependant.dependencies
        if isinstance(getattr(dependency.call, _MARK, None), _Deferral)
    ]
