"""Request-scoped database sessions for every HTTP API, the web layer's and the contexts'.

Use the annotated types, never ``Depends(get_session)`` alone::

    @router.post("/things")
    def create_thing(body: NewThing, session: WriteSession) -> Thing: ...

Both are *function-scoped* dependencies: FastAPI runs their exit code after the handler
returned and its response was serialised, but **before the response is sent**. So the commit
happens first, and a commit that fails (a constraint, a lost connection) becomes an error
response instead of a 200 whose data was never stored. (A dependency with the default
``scope="request"`` exits only after the response has been sent.)
``joinedup.web.deps.check_session_scopes`` refuses to start an application where a route takes
a session any other way.

They live in ``core`` because the contexts' API routers sit below the web layer; they use only
the application's :class:`~joinedup.core.db.Database` (``app.state.database``). Handlers that
use a session are plain ``def`` functions: FastAPI runs them, and the session's set-up and
commit, in its thread pool, so database I/O never blocks the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from joinedup.core.db import Database


def get_database(request: Request) -> Database:
    return cast(Database, request.app.state.database)


def get_session(request: Request) -> Iterator[Session]:
    """One read-write unit of work per request: committed once after the handler succeeded,
    rolled back if the handler (or anything before the commit) raised."""
    with get_database(request).unit_of_work() as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    """A read-only transaction for GET endpoints (never takes SQLite's write lock).

    Opened on the event loop: a session does no I/O before its first query, which the
    handler makes in its worker thread. Ended in a worker thread when a query left its
    transaction open (the rollback is I/O), else on the loop: a page is not handed from
    thread to thread more often than it must (each hand-over costs about 0.1 ms of CPU)."""
    session = get_database(request).read_session_factory()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


@contextmanager
def read_session(request: Request) -> Iterator[Session]:
    """The session :data:`ReadSession` gives, opened and closed in the handler's own thread:
    for a sync page, without the dependency's machinery and its hand-over to a worker thread
    to close it (together about a tenth of a light page's work)."""
    with get_database(request).read_session_factory() as session:
        yield session


WriteSession = Annotated[Session, Depends(get_session, scope="function")]
ReadSession = Annotated[Session, Depends(get_read_session, scope="function")]

#: The dependencies ``check_session_scopes`` looks for.
SESSION_DEPENDENCIES = (get_session, get_read_session)
