"""Databases whose content takes seconds to build (a seeded country, the demo's exchange),
built once per test session and copied for every module or test that asks for one."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, create_engine, text

from joinedup.core.db import Database
from joinedup.migrations import upgrade

T = TypeVar("T")


@dataclass(frozen=True)
class Template(Generic[T]):
    """A database built once, and what its builder returned (e.g. the secrets of the clients
    it registered, which the database holds only hashed: every copy comes with the value)."""

    backend: str  # "sqlite" or "postgres"
    location: str  # the SQLite file, or the PostgreSQL database's name
    value: T


class DatabaseTemplates:
    """Templates built once per test session (per xdist worker) and copied for each module or
    test that asks, so that each still writes to a database of its own: on SQLite a copy of
    the file, on PostgreSQL ``CREATE DATABASE … TEMPLATE`` (a file copy too; it needs the
    template to have no open connection, so the builder's engines are disposed)."""

    def __init__(
        self,
        directory: Path,
        migrated: Path,
        *,
        postgres_url: str,
        require_postgres: Callable[[], None],
    ) -> None:
        self._directory = directory
        self._migrated = migrated  # the migrated, empty SQLite file
        self._postgres_url = postgres_url  # the server's maintenance database
        self._require_postgres = require_postgres  # skips, or fails in CI, without a server
        self._built: dict[tuple[str, Callable[[Database], Any]], Template[Any]] = {}
        self._postgres_templates: list[str] = []  # dropped at the end of the session
        self._admin: Engine | None = None

    def template(self, backend: str, build: Callable[[Database], T]) -> Template[T]:
        """What ``build`` makes of a migrated, empty database, built on first use. ``build`` is
        a module-level function: it is the template's key."""
        key = (backend, build)
        found = self._built.get(key)
        if found is None:
            if backend == "sqlite":
                found = self._build_sqlite(build)
            else:
                found = self._build_postgres(build)
            self._built[key] = found
        return found

    @contextmanager
    def copy(self, template: Template[Any], directory: Path) -> Iterator[Database]:
        """A database of its own with the template's content (an SQLite copy goes in
        ``directory``), dropped afterwards."""
        if template.backend == "sqlite":
            path = directory / Path(template.location).name
            shutil.copyfile(template.location, path)
            database = Database(f"sqlite:///{path}")
            try:
                yield database
            finally:
                database.dispose()
            return
        name = f"joinedup_t_{uuid.uuid4().hex[:10]}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{template.location}"')
        database = Database(self._url(name), pool_size=4)
        try:
            yield database
        finally:
            database.dispose()
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop(self) -> None:
        """Drop the PostgreSQL templates (the SQLite ones go with the session's directory)."""
        for name in self._postgres_templates:
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if self._admin is not None:
            self._admin.dispose()

    def _build_sqlite(self, build: Callable[[Database], T]) -> Template[T]:
        path = self._directory / f"{len(self._built)}-{build.__name__}.db"
        shutil.copyfile(self._migrated, path)
        database = Database(f"sqlite:///{path}")
        try:
            value = build(database)
        finally:
            database.dispose()
        # closing the last connection checkpoints the write-ahead log into the file we copy
        assert not path.with_name(path.name + "-wal").exists(), f"{path} is not checkpointed"
        return Template("sqlite", str(path), value)

    def _build_postgres(self, build: Callable[[Database], T]) -> Template[T]:
        self._require_postgres()
        name = f"joinedup_template_{uuid.uuid4().hex[:10]}"
        self._execute(f'CREATE DATABASE "{name}"')
        self._postgres_templates.append(name)
        upgrade(self._url(name))
        database = Database(self._url(name), pool_size=4)
        try:
            value = build(database)
        finally:
            database.dispose()
        return Template("postgres", name, value)

    def _url(self, name: str) -> str:
        return self._postgres_url.rsplit("/", 1)[0] + f"/{name}"

    def _execute(self, statement: str) -> None:
        if self._admin is None:
            self._admin = create_engine(self._postgres_url, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as conn:
            conn.execute(text(statement))
