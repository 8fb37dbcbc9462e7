"""Reading a re-evaluation's chunks, and reading the next one while this one is written.

A chunk's work is in two halves of about the same weight: its **read** — the bulk read
through the exchange (the answer's message-log record and a data-usage record per person made
ready), the households, the rules evaluated in columns — and its **write** — the stored
entitlements compared, the changes, the letters, the records of the read and the checkpoint,
in one transaction. A database takes one writer at a time (SQLite) and one interpreter runs
one thread at a time, so one process does the halves one after the other and keeps one CPU
core busy.

With a read-ahead the run's process starts a second process (its own interpreter and core)
that reads chunk k+1, in a read-only transaction, while the run's process writes chunk k.
What it read comes back as plain columns, the evaluated values and the records of the read
(without the members' signing keys, which never leave the run's process): the records are
signed and written in chunk k+1's transaction with what was decided from the read, as when
the read is made in that transaction — a read the run never uses is never recorded, as when
its transaction rolls back.

**Freshness.** A chunk read ahead was read a chunk's time earlier than its transaction. The
stored entitlements are still read in the transaction, locked; if one of them was changed by
anyone since the read began (a life event decided for one of the chunk's persons
meanwhile), that read is thrown away and made again in the transaction. A read that failed
in the other process (a refusal, a crash of that process) is made again in the transaction,
where it fails or is recorded as it would have been.

The read-ahead is used when a run has more than one chunk left and its chunks are large
(``READ_AHEAD_MIN_PERSONS``: starting an interpreter costs about as much as reading a few
thousand persons); an in-memory SQLite database, which another process cannot open, never.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy.typing as npt
import structlog

from joinedup.core.clock import utcnow
from joinedup.core.collection import collection_paused
from joinedup.core.db import Database
from joinedup.core.sqlite import sqlite_file
from joinedup.exchange import ExchangeClient
from joinedup.exchange.local_clients import reading_client
from joinedup.exchange.recorder import Recording
from joinedup.proactive.reevaluation.inputs import (
    ChunkInputs,
    ChunkPersons,
    build_inputs,
    read_extract,
)
from joinedup.proactive.reevaluation.law import ruleset_in_force, versions_in_force
from joinedup.proactive.reevaluation.ledger import ServiceSpec, Stored
from joinedup.rules import Period, Ruleset, Simulation

Array = npt.NDArray[Any]
log = structlog.get_logger(__name__)

#: Persons per chunk from which a run reads ahead in a second process.
READ_AHEAD_MIN_PERSONS = 10_000

#: A read's key: the services' owning subsystem and purpose (one bulk read each).
ReadKey = tuple[str, str]


@dataclass(frozen=True)
class ChunkJob:
    """What reading one chunk needs (sent to the read-ahead process)."""

    seq: int
    first_ref: int
    end_ref: int
    period: str
    issue: str
    extract_service: str
    ruleset: str
    #: The law versions the run's ruleset was built with (the reader must agree).
    versions: tuple[uuid.UUID, ...]
    specs: tuple[ServiceSpec, ...]


@dataclass
class GroupRead:
    """One bulk read of a chunk, evaluated: the persons, per service code the value of its
    variable per person (a household's on each member), and the read's records."""

    persons: ChunkPersons
    evaluated: dict[str, Array]
    recordings: list[Recording]


@dataclass
class ChunkRead:
    """A chunk read (ahead): one :class:`GroupRead` per owning subsystem and purpose."""

    seq: int
    #: When the read began: a stored entitlement changed since makes it stale.
    started_at: datetime
    groups: dict[ReadKey, GroupRead]


def by_purpose(specs: Sequence[ServiceSpec]) -> dict[ReadKey, list[ServiceSpec]]:
    """The services grouped by the subsystem and purpose they are read for."""
    groups: dict[ReadKey, list[ServiceSpec]] = {}
    for spec in specs:
        groups.setdefault((spec.owner_subsystem, spec.purpose), []).append(spec)
    return groups


def client_of(group: Sequence[ServiceSpec]) -> str:
    """The subsystem (``CLASS/MEMBER/SUBSYSTEM``) the group's services read as."""
    first = group[0]
    return f"{first.owner_member_class}/{first.owner_member_code}/{first.owner_subsystem}"


def evaluate(
    ruleset: Ruleset, inputs: ChunkInputs, specs: Sequence[ServiceSpec], period: Period
) -> dict[str, Array]:
    """Per service code: its variable for ``period`` per person of the chunk (a group
    entity's value given to each of its members)."""
    values = Simulation(inputs.population).compute([(spec.variable, period) for spec in specs])
    found: dict[str, Array] = {}
    for spec in specs:
        variable = ruleset.variable(spec.variable)
        column = values[(spec.variable, period)]
        if variable.entity != ruleset.person.key:
            column = column[inputs.population.memberships[variable.entity].member_group]
        found[spec.code] = column
    return found


def read_group(
    calls: ExchangeClient, ruleset: Ruleset, job: ChunkJob, group: Sequence[ServiceSpec]
) -> GroupRead:
    """Read one group's chunk through ``calls`` and evaluate it; the read's records stay
    queued on ``calls`` (``recordings`` is left empty)."""
    period = Period.parse(job.period)
    body = read_extract(
        calls,
        service=job.extract_service,
        purpose=group[0].purpose,
        first_ref=job.first_ref,
        end_ref=job.end_ref,
        on=period.start,
        issue=job.issue,
    )
    inputs = build_inputs(ruleset, body, period)
    return GroupRead(inputs.persons(), evaluate(ruleset, inputs, group, period), [])


# --- the read-ahead process ----------------------------------------------------------------

_DATABASES: dict[str, Database] = {}


def read_elsewhere(url: str, job: ChunkJob) -> ChunkRead:
    """What the read-ahead process runs (callable in any process): read and evaluate every
    group of ``job``'s chunk in one read-only transaction on the database at ``url``; the
    records of the reads come back with the result, unwritten."""
    database = _DATABASES.get(url)
    if database is None:
        database = _DATABASES[url] = Database(url, pool_size=1)
    started = utcnow()
    groups: dict[ReadKey, GroupRead] = {}
    with collection_paused(), database.reading() as session:
        if versions_in_force(session, job.ruleset) != job.versions:
            raise RuntimeError("the law in force changed since the run began")
        ruleset = ruleset_in_force(session, job.ruleset)
        for key, group in by_purpose(job.specs).items():
            calls = reading_client(session, client=client_of(group), key_database=database)
            read = read_group(calls, ruleset, job, group)
            read.recordings = calls.detach_records()
            groups[key] = read
    return ChunkRead(job.seq, started, groups)


def _follow_parent(parent: int) -> None:
    """In the read-ahead process: end when the run's process is gone (killed, it never says
    so; the pool's pipes stay open in this process)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_WATCH_S)
        os._exit(1)

    threading.Thread(target=watch, name="read-ahead-parent", daemon=True).start()


_WATCH_S = 0.5


class ReadAhead:
    """A second process reading a run's chunks ahead, one at a time."""

    def __init__(self, url: str) -> None:
        self._url = url
        # a fresh interpreter (not a fork of this one, with its open connections and threads)
        self._pool = ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_follow_parent,
            initargs=(os.getpid(),),
        )
        self._reading: dict[int, Future[ChunkRead]] = {}

    def read(self, job: ChunkJob) -> None:
        """Start reading ``job``'s chunk (after those asked for before); nothing when the
        read-ahead process is gone (the chunk's transaction reads it then)."""
        with contextlib.suppress(BrokenProcessPool):  # told by the read it broke on
            self._reading[job.seq] = self._pool.submit(read_elsewhere, self._url, job)

    def result(self, seq: int) -> ChunkRead | None:
        """What was read of chunk ``seq``, once read; None when it was not asked for or the
        read failed (the chunk's transaction reads it then, as without a read-ahead)."""
        reading = self._reading.pop(seq, None)
        if reading is None:
            return None
        try:
            return reading.result()
        except Exception as exc:  # a refusal, an error, a read-ahead process that died
            log.warning("reevaluation_read_ahead_failed", chunk=seq, error=type(exc).__name__)
            return None

    def process_id(self) -> int:
        """The read-ahead process's id (starting it if it is not running yet)."""
        return self._pool.submit(os.getpid).result()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def can_read_ahead(database: Database) -> bool:
    """Whether another process can open ``database`` (not an in-memory SQLite database)."""
    return database.dialect != "sqlite" or sqlite_file(database.url) is not None


def stale(read: ChunkRead, stored: Mapping[Any, Stored]) -> bool:
    """Whether one of the chunk's stored entitlements changed since ``read`` began."""
    return any(row.updated_at >= read.started_at for row in stored.values())


__all__ = [
    "READ_AHEAD_MIN_PERSONS",
    "ChunkJob",
    "ChunkRead",
    "GroupRead",
    "ReadAhead",
    "by_purpose",
    "can_read_ahead",
    "client_of",
    "evaluate",
    "read_elsewhere",
    "read_group",
    "stale",
]
