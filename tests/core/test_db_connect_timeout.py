"""A PostgreSQL server that accepts the connection and never answers fails the connection
after the connect timeout instead of holding the caller forever."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from joinedup.core.db import make_engine


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port whose listening socket completes TCP handshakes (the backlog) and never speaks."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def test_a_silent_server_fails_the_connection_after_the_timeout(silent_server: int) -> None:
    engine = make_engine(
        f"postgresql+psycopg://joinedup@127.0.0.1:{silent_server}/test", connect_timeout=2
    )
    started = time.monotonic()
    with pytest.raises(OperationalError), engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert time.monotonic() - started < 2 + 3
    engine.dispose()


def test_the_url_may_set_its_own_timeout(silent_server: int) -> None:
    engine = make_engine(
        f"postgresql+psycopg://joinedup@127.0.0.1:{silent_server}/test?connect_timeout=1",
        connect_timeout=600,
    )
    started = time.monotonic()
    with pytest.raises(OperationalError), engine.connect():
        pass
    assert time.monotonic() - started < 1 + 3
    engine.dispose()
