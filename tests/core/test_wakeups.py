"""The processes sharing a SQLite file wake each other (``joinedup.core.wakeups``): a commit
of events in one wakes the relay of another, a publication the consumers of the others, long
before their polls would have found the work."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from bus_harness import ThingHappened

from joinedup.core.bus import HANDLED, Outcome
from joinedup.core.bus.inprocess import InProcessBus
from joinedup.core.db import Database
from joinedup.core.events import Delivered, emit
from joinedup.core.relay import Relay
from joinedup.core.wakeups import OUTBOX, PUBLISHED, LocalWakeups, directory_for

#: Every poll in these tests waits this long: only a wake-up can make things quick.
SLOW_POLL = 20.0


def test_a_signal_reaches_the_other_ends_not_its_own_and_a_dead_end_is_removed(
    tmp_path: Path,
) -> None:
    directory = directory_for(str(tmp_path / "x.db"))
    assert directory == directory_for(str(tmp_path / "." / "x.db"))  # the file's real path
    assert directory != directory_for(str(tmp_path / "y.db"))
    heard: list[str] = []

    async def scenario() -> None:
        one, two = LocalWakeups(directory), LocalWakeups(directory)
        one.open()
        two.open()
        try:
            one.listen(OUTBOX, lambda: heard.append("one"))
            remove = two.listen(OUTBOX, lambda: heard.append("two"))
            two.listen(PUBLISHED, lambda: heard.append("two published"))
            # a process that died without removing its socket
            dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            dead_path = directory / "99999999-dead.sock"
            dead.bind(str(dead_path))
            dead.close()
            for _ in range(3):  # several signals before the loop runs: one call
                one.signal(OUTBOX)
            await asyncio.sleep(0.05)
            assert heard == ["two"]
            assert not dead_path.exists()
            two.signal(PUBLISHED)  # "one" listens to OUTBOX only
            one.signal(PUBLISHED)
            await asyncio.sleep(0.05)
            assert heard == ["two", "two published"]
            remove()
            one.signal(OUTBOX)
            await asyncio.sleep(0.05)
            assert heard == ["two", "two published"]
        finally:
            one.close()
            two.close()
        assert not directory.exists()  # closed ends are gone, and their directory with them
        one.signal(OUTBOX)  # closed: nothing happens, nothing is raised

    asyncio.run(scenario())


_COMMITTER = textwrap.dedent(
    """
    import asyncio, sys
    sys.path.insert(0, sys.argv[2])
    from bus_harness import ThingHappened
    from joinedup.core.bus.inprocess import InProcessBus
    from joinedup.core.db import Database
    from joinedup.core.events import emit

    async def main():
        database = Database(sys.argv[1])
        bus = InProcessBus(database)
        await bus.connect()  # (its end of the channel: its commits of events are told)
        with database.unit_of_work() as session:
            emit(session, ThingHappened(n=1))
        await bus.close()
        database.dispose()

    asyncio.run(main())
    """
)


def test_events_committed_in_another_process_wake_this_ones_relay_and_its_publication_wakes_another_bus(  # noqa: E501
    sqlite_database: Database,
) -> None:
    """The web process commits a registration's events: the worker's relay (polling every
    20 s here) publishes them at once; its publication wakes the consumers of a bus of its
    own (as in a third process), polling every 20 s too."""
    database = sqlite_database
    handled: list[float] = []

    async def handler(deliveries: Sequence[tuple[Delivered, int]]) -> list[Outcome]:
        handled.extend(time.monotonic() for _ in deliveries)
        return [HANDLED for _ in deliveries]

    async def scenario() -> float:
        relaying = InProcessBus(database, poll_interval=SLOW_POLL)
        consuming = InProcessBus(database, poll_interval=SLOW_POLL)
        await relaying.connect()
        await consuming.connect()
        stop = asyncio.Event()
        # (the commit is another process's: only the bus's signal can wake this relay)
        relay = Relay(database, relaying, poll_interval=SLOW_POLL)
        relay_task = asyncio.create_task(relay.run(stop))
        consumer = asyncio.create_task(
            consuming.consume_batches("c", [ThingHappened.name], handler, stop, batch_size=10)
        )
        await asyncio.sleep(0.3)  # both have looked once and now wait their 20 s
        started = time.monotonic()
        committer = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _COMMITTER, database.url, str(Path(__file__).parent)
        )
        assert await committer.wait() == 0
        deadline = time.monotonic() + 10
        while not handled and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        stop.set()
        relaying.published()
        await asyncio.gather(relay_task, consumer)
        await relaying.close()
        await consuming.close()
        assert handled, "the event was not handled within 10 s"
        return handled[0] - started

    took = asyncio.run(scenario())
    assert took < 5.0  # (the subprocess's start-up included; the polls would take 20 s)


def test_a_bus_without_a_sqlite_file_has_no_channel(tmp_path: Path) -> None:
    assert LocalWakeups.for_database(None) is None
    assert LocalWakeups.for_database(str(tmp_path / "x.db")) is not None


@pytest.mark.parametrize("emitted", [True, False])
def test_only_commits_of_events_are_told(sqlite_database: Database, emitted: bool) -> None:
    heard: list[bytes] = []

    async def scenario() -> None:
        bus = InProcessBus(sqlite_database)
        await bus.connect()
        listener = LocalWakeups(directory_for(sqlite_database.url.split("///", 1)[1]))
        listener.open()
        listener.listen(OUTBOX, lambda: heard.append(OUTBOX))
        try:
            with sqlite_database.unit_of_work() as session:
                if emitted:
                    emit(session, ThingHappened(n=1))
            await asyncio.sleep(0.05)
        finally:
            listener.close()
            await bus.close()

    asyncio.run(scenario())
    assert heard == ([OUTBOX] if emitted else [])


_LEAVER = textwrap.dedent(
    """
    import asyncio, sys
    from joinedup.core.bus.inprocess import InProcessBus
    from joinedup.core.db import Database

    async def main():
        bus = InProcessBus(Database(sys.argv[1]))
        await bus.connect()
        print(bus._wakeups.path)  # and exits without closing the bus

    asyncio.run(main())
    """
)


def test_a_process_that_exits_without_closing_its_bus_leaves_no_socket(
    sqlite_database: Database,
) -> None:
    left = subprocess.run(
        [sys.executable, "-c", _LEAVER, sqlite_database.url],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    path = Path(left.stdout.strip())
    assert path.name.endswith(".sock")
    assert not path.exists()
    assert not path.parent.exists()  # (it was the last one out)


@pytest.mark.parametrize("made", ["open to all", "a file"])
def test_a_directory_someone_else_could_have_made_is_not_used(tmp_path: Path, made: str) -> None:
    """The directory's name can be guessed: one that is not this user's private directory
    is refused, and the bus on such a file polls alone."""
    directory = tmp_path / "wakeups"
    if made == "a file":
        directory.write_text("")
    else:
        directory.mkdir(mode=0o777)
        directory.chmod(0o777)

    async def scenario() -> None:
        with pytest.raises((PermissionError, FileExistsError)):
            LocalWakeups(directory).open()

    asyncio.run(scenario())
    if made == "a file":
        assert directory.is_file()
    else:
        assert list(directory.iterdir()) == []  # no socket bound in it


def test_a_sqlite_database_tells_nothing_itself(sqlite_database: Database) -> None:
    """Only PostgreSQL's ``NOTIFY`` is watched by the database; SQLite's processes wake each
    other through this module's sockets: no listening thread is started."""
    remove = sqlite_database.watch_outbox_commits(lambda: None)
    remove()
    assert sqlite_database._commit_watcher is None


def test_the_listening_connection_is_made_as_the_pools_are() -> None:
    """PostgreSQL's listening connection takes the URL as the dialect does: its query and
    password decoded (a space is ``%20``), not passed on as text libpq would read otherwise."""
    from joinedup.core.pg_notify import connect_kwargs

    made = connect_kwargs(
        "postgresql+psycopg://joinedup:p%20w@db.example:6432/joinedup?application_name=a%20b"
    )
    assert made == {
        "host": "db.example",
        "port": 6432,
        "dbname": "joinedup",
        "user": "joinedup",
        "password": "p w",
        "application_name": "a b",
    }
