"""One unit of work per request: committed before the response is sent, or rolled back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from sqlalchemy import String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from joinedup.core.db import Database
from joinedup.core.errors import Conflict
from joinedup.core.settings import Settings
from joinedup.web import create_app
from joinedup.web.deps import ReadSession, WriteSession, get_session


class _TestBase(DeclarativeBase):
    """A table of this test only, outside the platform's metadata and migrations."""


class Note(_TestBase):
    __tablename__ = "web_test_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(50), unique=True)


def _count(database: Database) -> int:
    with database.reading() as session:
        return session.scalar(select(func.count()).select_from(Note)) or 0


@pytest.fixture
def client(settings: Settings, database: Database) -> Iterator[TestClient]:
    _TestBase.metadata.create_all(database.engine)
    app = create_app(settings, database=database)

    @app.post("/api/test/notes")
    def add_note(session: WriteSession) -> dict[str, str]:
        session.add(Note(body="first"))
        return {"stored": "first"}

    @app.post("/api/test/notes-then-refuse")
    def add_then_refuse(session: WriteSession) -> None:
        session.add(Note(body="refused"))
        session.flush()
        raise Conflict("refused after writing")

    @app.post("/api/test/notes-failing-commit")
    def add_twice(session: WriteSession) -> dict[str, str]:
        # Nothing fails until the commit flushes both rows and the unique index refuses.
        session.add_all([Note(body="twice"), Note(body="twice")])
        return {"stored": "twice"}

    @app.get("/api/test/notes/count")
    def count(session: ReadSession) -> dict[str, int]:
        return {"count": session.scalar(select(func.count()).select_from(Note)) or 0}

    try:
        with TestClient(app) as test_client:
            yield test_client
    finally:
        _TestBase.metadata.drop_all(database.engine)


def test_a_successful_request_commits_once(client: TestClient, database: Database) -> None:
    response = client.post("/api/test/notes")
    assert response.status_code == 200
    assert _count(database) == 1
    assert client.get("/api/test/notes/count").json() == {"count": 1}


def test_a_refused_request_writes_nothing(client: TestClient, database: Database) -> None:
    response = client.post("/api/test/notes-then-refuse")
    assert response.status_code == 409
    assert _count(database) == 0


def test_a_failing_commit_is_an_error_response_not_a_200(
    client: TestClient, database: Database
) -> None:
    response = client.post("/api/test/notes-failing-commit")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "stored" not in response.text
    assert _count(database) == 0


def test_a_session_taken_with_the_request_scope_is_refused_at_start_up(
    settings: Settings, sqlite_database: Database
) -> None:
    app = create_app(settings, database=sqlite_database)

    @app.post("/api/test/late-commit")
    def late(session: Session = Depends(get_session)) -> None:
        """Would commit after the response was sent."""

    with pytest.raises(RuntimeError, match="WriteSession"), TestClient(app):
        pass
