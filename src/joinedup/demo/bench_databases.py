"""Where ``joinedup bench proactive --events`` keeps its databases: SQLite files in its
temporary directory (the embedded deployment, the default), or databases of its own on a
PostgreSQL server (``--database-url``: the production path). Either way the country is seeded
once and each phase runs on a copy of it (a file copy; ``CREATE DATABASE … TEMPLATE``), and
everything made is removed at the end (the PostgreSQL databases dropped, whatever happened)."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from joinedup.demo.bench_events_platform import on_this_machine, processes_cpu_seconds

#: The prefix of the databases a run makes on a PostgreSQL server (and a random part after it,
#: so that two runs on one server never share one).
PREFIX = "jubench_"


class BenchDatabaseRefused(ValueError):
    """The database the benchmark was given cannot be used: what to fix is in the message."""


class BenchDatabases:
    """The seeded database and its copies, one per phase."""

    kind = "SQLite"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def seeded_url(self) -> str:
        return f"sqlite:///{self.directory / 'seeded.db'}"

    def copy(self, name: str) -> str:
        """A copy of the seeded database for the phase ``name``; its URL."""
        path = self.directory / f"{name}.db"
        shutil.copyfile(self.directory / "seeded.db", path)
        return f"sqlite:///{path}"

    def file_of(self, name: str) -> Path | None:
        """The phase's database file, where it is one (SQLite's writers' turn is watched):
        the file :meth:`copy` made."""
        return self.directory / f"{name}.db"

    def close(self) -> None:
        """Remove what was made (the files go with the caller's directory)."""

    #: How the database server's processor time is named among the processes'.
    server_name = "database server"

    def server_cpu_seconds(self) -> float | None:
        """The processor time the database server has used so far, where it runs on this
        machine as processes of its own (None: SQLite runs inside the platform's)."""
        return None


class PostgresDatabases(BenchDatabases):
    """Databases of the run's own on the server ``url`` names (its role needs ``CREATEDB``):
    ``jubench_<random>_seeded`` and one per phase, dropped by :meth:`close`."""

    kind = "PostgreSQL"

    def __init__(self, directory: Path, url: str) -> None:
        super().__init__(directory)
        self.server = postgres_url(url)
        self.prefix = f"{PREFIX}{secrets.token_hex(4)}"
        self.made: list[str] = []
        self.admin = create_engine(
            self.server.render_as_string(hide_password=False),
            isolation_level="AUTOCOMMIT",
            poolclass=NullPool,
        )
        try:
            self._execute(f'CREATE DATABASE "{self.prefix}_seeded"')
        except BaseException:
            self.admin.dispose()
            raise
        self.made.append(f"{self.prefix}_seeded")

    def _url(self, database: str) -> str:
        return self.server.set(database=database).render_as_string(hide_password=False)

    def _execute(self, statement: str) -> None:
        try:
            with self.admin.connect() as connection:
                connection.execute(text(statement))
        except SQLAlchemyError as exc:
            from psycopg.errors import InsufficientPrivilege  # (PostgreSQL only)

            where = self.server.render_as_string(hide_password=True)
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            verb = statement.split(' "')[0]
            hint = (
                " (the benchmark makes databases of its own there: its role needs CREATEDB)"
                if isinstance(getattr(exc, "orig", None), InsufficientPrivilege)
                else ""
            )
            raise BenchDatabaseRefused(
                f"the PostgreSQL server at {where} refused {verb!r}: {reason}{hint}"
            ) from exc

    @property
    def seeded_url(self) -> str:
        return self._url(f"{self.prefix}_seeded")

    def copy(self, name: str) -> str:
        database = f"{self.prefix}_{name}"
        self._execute(f'CREATE DATABASE "{database}" TEMPLATE "{self.prefix}_seeded"')
        self.made.append(database)
        return self._url(database)

    def file_of(self, name: str) -> Path | None:
        return None

    server_name = "PostgreSQL server (every process of it)"

    def server_cpu_seconds(self) -> float | None:
        """Every ``postgres`` process's on this machine (the server's backends, its writer
        and the rest, and those that have ended: the postmaster's children's time), when
        the URL names this machine; None for a server elsewhere."""
        if not on_this_machine(self.server.host):
            return None
        return processes_cpu_seconds("postgres")

    def close(self) -> None:
        try:
            for database in reversed(self.made):
                # (a server process still connected to it is ended: the run is over)
                self._execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            self.made.clear()
        finally:
            self.admin.dispose()


def postgres_url(url: str) -> URL:
    """``url`` as a PostgreSQL server's URL, or :class:`BenchDatabaseRefused` saying why not."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise BenchDatabaseRefused(
            f"--database-url {url!r} is not a database URL: give one such as "
            "postgresql+psycopg://user@127.0.0.1:5432/postgres"
        ) from exc
    if parsed.get_backend_name() != "postgresql":
        raise BenchDatabaseRefused(
            f"--database-url names a {parsed.get_backend_name()} database: give a PostgreSQL "
            "server's (postgresql+psycopg://…); without it the benchmark runs on SQLite files "
            "of its own"
        )
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def bench_databases(directory: Path, url: str | None) -> BenchDatabases:
    """SQLite files in ``directory``, or (``url``) databases on that PostgreSQL server."""
    return BenchDatabases(directory) if url is None else PostgresDatabases(directory, url)


__all__ = [
    "PREFIX",
    "BenchDatabaseRefused",
    "BenchDatabases",
    "PostgresDatabases",
    "bench_databases",
    "postgres_url",
]
