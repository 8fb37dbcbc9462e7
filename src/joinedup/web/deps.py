"""Request-scoped dependencies of the web layer: the database sessions (defined in
:mod:`joinedup.core.http`, shared with the contexts' APIs) and the check that every route takes
them function-scoped, so the commit happens before the response is sent.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from joinedup.core.http import (
    SESSION_DEPENDENCIES,
    ReadSession,
    WriteSession,
    get_database,
    get_read_session,
    get_session,
    read_session,
)

__all__ = [
    "ReadSession",
    "WriteSession",
    "check_session_scopes",
    "get_database",
    "get_read_session",
    "get_session",
    "read_session",
]


def _misused(dependant: Dependant) -> str | None:
    for sub in dependant.dependencies:
        if sub.call in SESSION_DEPENDENCIES and sub.scope != "function":
            return getattr(sub.call, "__name__", "a session dependency")
        if found := _misused(sub):
            return found
    return None


def check_session_scopes(app: FastAPI) -> None:
    """Refuse routes that would commit after their response was sent (see module docstring)."""
    for route in app.routes:
        if isinstance(route, APIRoute) and (name := _misused(route.dependant)):
            raise RuntimeError(
                f"{route.path} takes {name} with the request scope: it would commit after the "
                "response was sent. Use joinedup.web.deps.WriteSession or ReadSession."
            )
