"""Shared fixtures.

Databases: ``database`` is a migrated database per test, on SQLite and (marked ``postgres``)
on PostgreSQL; ``session`` is a session inside a transaction rolled back at the end.
Templates: a database whose content takes seconds to build (a seeded country, the demo's
exchange) is built once per test session by ``database_templates`` and copied for every module
or test that asks for it.
Servers: with ``CI=true`` the PostgreSQL and NATS tests must run, so an unreachable server
fails them; elsewhere they skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from joinedup.core.db import Base, Database
from joinedup.core.settings import Settings, get_settings
from joinedup.demo import seed_country
from joinedup.migrations import upgrade
from joinedup.platform import load_models
from template_support import DatabaseTemplates

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_URL = os.environ.get(
    "JOINEDUP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
NATS_URL = os.environ.get("JOINEDUP_TEST_NATS_URL", "nats://127.0.0.1:4222")

load_models()


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_server(name: str, host: str, port: int) -> None:
    """Fail in CI, skip elsewhere, when a server a test needs is not reachable."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(f"{message} (set CI=true to make this a failure)")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(environment="test", data_dir=tmp_path / "var", log_format="console")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per test session; each test gets a copy (fast and isolated)."""
    path = tmp_path_factory.mktemp("template") / "joinedup.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (this xdist worker), migrated."""
    require_server("PostgreSQL", "127.0.0.1", 5432)
    name = f"joinedup_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


#: The tables (of the sequences) a test used: owners of a sequence that has handed out a value.
_USED_SEQUENCES = text(
    "SELECT DISTINCT owner.relname FROM pg_sequences used"
    " JOIN pg_class sequence ON sequence.relname = used.sequencename"
    " AND sequence.relnamespace = used.schemaname::regnamespace"
    " JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = sequence.oid"
    " AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')"
    " JOIN pg_class owner ON owner.oid = d.refobjid"
    " WHERE used.last_value IS NOT NULL AND used.schemaname = current_schema()"
)


def _truncate_all(database: Database) -> None:
    """Leave the state of ``TRUNCATE <every table> RESTART IDENTITY``, truncating only the
    tables that hold rows or whose sequences moved (truncating all of them costs a PostgreSQL
    test about 0.15 s even when it wrote nothing)."""
    tables = {t.name for t in Base.metadata.sorted_tables}
    holding_rows = " UNION ALL ".join(
        f"SELECT '{name}' WHERE EXISTS (SELECT FROM \"{name}\")" for name in sorted(tables)
    )
    with database.engine.begin() as conn:
        written = set(conn.scalars(text(holding_rows)))
        written |= set(conn.scalars(_USED_SEQUENCES)) & tables
        if written:
            names = ", ".join(f'"{name}"' for name in sorted(written))
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[Database]:
    """A migrated, empty database that tests may commit to: SQLite and PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "joinedup.db"
        shutil.copyfile(sqlite_template, path)
        db = Database(f"sqlite:///{path}")
        yield db
        db.dispose()
        return
    url = request.getfixturevalue("postgres_url")
    db = Database(url, pool_size=4)
    try:
        yield db
    finally:
        _truncate_all(db)
        db.dispose()


@pytest.fixture
def sqlite_database(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    """Only SQLite, for tests about the embedded shape."""
    path = tmp_path / "joinedup.db"
    shutil.copyfile(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def database_templates(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[DatabaseTemplates]:
    """Databases built once per test session and copied for each module or test."""
    templates = DatabaseTemplates(
        tmp_path_factory.mktemp("templates"),
        sqlite_template,
        postgres_url=POSTGRES_URL,
        require_postgres=lambda: require_server("PostgreSQL", "127.0.0.1", 5432),
    )
    yield templates
    templates.drop()


#: The seeded country of the tests that need people (demo accounts, families, businesses).
SEEDED_PERSONS = 800
SEEDED_SEED = 11


def seed_the_country(database: Database) -> None:
    """The seeded country: its government, exchange, persons, demo accounts."""
    seed_country(database, persons=SEEDED_PERSONS, seed=SEEDED_SEED, progress=False)


@pytest.fixture
def seeded_seed() -> int:
    """The seed of :func:`seeded` (demo credentials are derived from it)."""
    return SEEDED_SEED


@pytest.fixture
def seeded(tmp_path: Path, database_templates: DatabaseTemplates) -> Iterator[Database]:
    """A copy of the seeded country on SQLite (most integration tests start from it)."""
    template = database_templates.template("sqlite", seed_the_country)
    with database_templates.copy(template, tmp_path) as database:
        yield database


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    """A session in a transaction that is rolled back after the test (commits become savepoints)."""
    with database.engine.connect() as conn:
        transaction = conn.begin()
        with Session(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as s:
            yield s
        transaction.rollback()


@pytest.fixture
def nats_url() -> str:
    require_server("NATS JetStream", "127.0.0.1", 4222)
    return NATS_URL


@pytest.fixture(scope="session")
def seeded_postgres_template(database_templates: DatabaseTemplates) -> str:
    """The name of a PostgreSQL database with the seeded country, seeded once per test
    session, that each test clones (``CREATE DATABASE … TEMPLATE``: a file copy, much faster
    than seeding)."""
    return database_templates.template("postgres", seed_the_country).location


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def seeded_database(
    request: pytest.FixtureRequest, tmp_path: Path, database_templates: DatabaseTemplates
) -> Iterator[Database]:
    """A database holding the seeded country (its government, exchange, persons, demo
    accounts), fresh for each test: SQLite and PostgreSQL (:func:`seeded` is SQLite only)."""
    template = database_templates.template(request.param, seed_the_country)
    with database_templates.copy(template, tmp_path) as database:
        yield database


#: The settings a benchmark points at its own temporary country (``platform_environment``).
BENCH_VARIABLES = (
    "JOINEDUP_ENVIRONMENT",
    "JOINEDUP_DATA_DIR",
    "JOINEDUP_DATABASE_URL",
    "JOINEDUP_PUBLIC_URL",
    "JOINEDUP_LOG_LEVEL",
    "JOINEDUP_LOG_FORMAT",
)


@pytest.fixture
def isolated_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A benchmark run in this process points its settings at its own temporary country: put
    them back afterwards."""
    for name in BENCH_VARIABLES:
        monkeypatch.setenv(name, os.environ.get(name, ""))
        monkeypatch.delenv(name)
    yield
    get_settings.cache_clear()
