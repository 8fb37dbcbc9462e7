"""The demo agencies' own systems that Tell Us Once informs: small REST services.

Each is what an agency would run behind its security server — the Social Insurance Board's
pension system, the Vehicle Registry, the Passport and Identity Office, the Health Insurance
Fund, and every municipality's social services — answering ``POST`` of a life-event notice:

- the caller's message id (``X-Road-Id``) is the idempotency key: a notice seen before is
  answered with what was done the first time (``Idempotent-Replay: true``) and nothing is
  done again;
- the answer says what the agency did (``outcome``, ``summary``, ``effectiveFrom``,
  ``caseReference``);
- a system can be switched into a failing state (it answers 503 without acting), to show
  retries and dead letters: :meth:`AgencyStore.set_failing`.

They keep their own records in their own SQLite file (``<data_dir>/agency-systems.db``), not
in the platform's database — they are not the platform's. The embedded platform serves them
under ``/agency-systems/<organisation>`` (:data:`router`, included by the web application;
:func:`agency_systems_app` for the dispatcher's in-process transport), so ``joinedup demo``
needs no other server.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any
from uuid import uuid4

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from joinedup.core.clock import utcnow
from joinedup.core.settings import Settings
from joinedup.demo.agencies import organisations

PREFIX = "/agency-systems"
STORE_FILE = "agency-systems.db"
REPLAY_HEADER = "Idempotent-Replay"


class _Person(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    personal_code: str = Field(min_length=1, max_length=32)
    given_names: str | None = None
    family_name: str | None = None
    date_of_death: date | None = None
    residence_address: dict[str, Any] | None = None


class Notice(BaseModel):
    """A life-event notice as Tell Us Once sends it."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    life_event: str = Field(min_length=1, max_length=20)
    reference: str = Field(min_length=1, max_length=100)
    occurred_on: date
    person: _Person


Decision = dict[str, Any]


def _first_of_next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _pension(notice: Notice) -> Decision:
    return {
        "outcome": "pension-ended",
        "summary": "The old-age pension ends; payments stop from the first day of next month.",
        "effectiveFrom": _first_of_next_month(notice.occurred_on).isoformat(),
    }


def _vehicles(notice: Notice) -> Decision:
    return {
        "outcome": "vehicles-transferred",
        "summary": "Vehicle registrations were transferred to the estate.",
        "effectiveFrom": notice.occurred_on.isoformat(),
    }


def _passport(notice: Notice) -> Decision:
    return {
        "outcome": "passport-cancelled",
        "summary": "The passport and identity card were cancelled.",
        "effectiveFrom": notice.occurred_on.isoformat(),
    }


def _health(notice: Notice) -> Decision:
    return {
        "outcome": "health-insurance-ended",
        "summary": "Health insurance ended.",
        "effectiveFrom": (notice.occurred_on + timedelta(days=1)).isoformat(),
    }


def _municipal(notice: Notice) -> Decision:
    return {
        "outcome": "municipal-services-ended",
        "summary": "Social care, parking permit and library membership were ended.",
        "effectiveFrom": notice.occurred_on.isoformat(),
    }


def _vehicle_address(notice: Notice) -> Decision:
    return {
        "outcome": "address-updated",
        "summary": "The keeper's address of registered vehicles was updated.",
        "effectiveFrom": notice.occurred_on.isoformat(),
    }


def _municipal_move(municipality_code: str) -> Callable[[Notice], Decision]:
    def decide(notice: Notice) -> Decision:
        moved_to = (notice.person.residence_address or {}).get("municipalityCode")
        if moved_to == municipality_code:
            return {
                "outcome": "resident-registered",
                "summary": "Registered as a resident: school place, library and waste services.",
                "effectiveFrom": notice.occurred_on.isoformat(),
            }
        return {
            "outcome": "resident-deregistered",
            "summary": "Services for residents end on the day of the move.",
            "effectiveFrom": notice.occurred_on.isoformat(),
        }

    return decide


def _nothing(notice: Notice) -> Decision:
    return {
        "outcome": "nothing-to-do",
        "summary": f"No record concerns this {notice.life_event}; nothing was changed.",
    }


@dataclass(frozen=True)
class AgencySystem:
    """One agency's system: where it is served and what it does with a death notice."""

    key: str  # the organisation key: the path under /agency-systems
    subsystem: str
    service_code: str
    title: str
    case_prefix: str
    #: What it does, per life event (anything else: nothing to do).
    decisions: Mapping[str, Callable[[Notice], Decision]]

    def decide(self, notice: Notice) -> Decision:
        return self.decisions.get(notice.life_event, _nothing)(notice)


SERVICE_CODE = "life-events"
_Decisions = Mapping[str, Callable[[Notice], Decision]]
_NATIONAL: tuple[tuple[str, str, str, str, _Decisions], ...] = (
    ("social-insurance", "benefits", "Pension and benefits: life-event notices", "SIB",
     {"death": _pension}),
    ("vehicle-registry", "vehicles", "Vehicle register: life-event notices", "VEH",
     {"death": _vehicles, "move": _vehicle_address}),
    ("passport-office", "identity-documents", "Identity documents: life-event notices", "PPT",
     {"death": _passport}),
    ("health-fund", "health-insurance", "Health insurance: life-event notices", "HIF",
     {"death": _health}),
)  # fmt: skip


def agency_systems() -> list[AgencySystem]:
    """Every demo agency system: four national ones and one per municipality."""
    found = [
        AgencySystem(key, subsystem, SERVICE_CODE, title, prefix, decisions)
        for key, subsystem, title, prefix, decisions in _NATIONAL
    ]
    found += [
        AgencySystem(
            org.key,
            "social-services",
            SERVICE_CODE,
            f"{org.name}: life-event notices",
            f"M{org.municipality_code}",
            {"death": _municipal, "move": _municipal_move(org.municipality_code)},
        )
        for org in organisations()
        if org.municipality_code is not None
    ]
    return found


def store_path(settings: Settings) -> Path:
    return settings.data_dir / STORE_FILE


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS handled ("
    " system TEXT NOT NULL, message_id TEXT NOT NULL, reference TEXT NOT NULL,"
    " answer TEXT NOT NULL, handled_at TEXT NOT NULL,"
    " PRIMARY KEY (system, message_id));"
    "CREATE TABLE IF NOT EXISTS received ("
    " id INTEGER PRIMARY KEY, system TEXT NOT NULL, message_id TEXT NOT NULL,"
    " received_at TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS failing (system TEXT PRIMARY KEY);"
)


class AgencyStore:
    """The agencies' own records (one SQLite file for all the demo's systems)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # one connection per thread, kept: opening and closing one per notice cost more than
        # acting on it (the last connection to close checkpoints the write-ahead log and
        # removes it, so every notice rewrote the database file)
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        # this process's writers take turns here: waiting in SQLite's busy handler (sleeps of
        # up to 100 ms while the lock may already be free) held a death's notices to the
        # agencies for whole seconds when several arrived together
        self._writing = threading.Lock()
        if not path.exists():
            self._create()

    def _create(self) -> None:
        """Make the database in a file of its own and link it into place whole.

        Switching a new database to WAL takes the write lock, and SQLite does not wait for a
        lock it must upgrade to: two processes opening a new store at once (the web process
        and the worker) got "database is locked". Made out of sight, WAL is set once; every
        later open finds a WAL database with its tables and writes nothing."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        draft = self.path.with_name(f".{self.path.name}.{uuid4().hex}.new")
        try:
            db = sqlite3.connect(draft, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
            finally:
                db.close()  # the last connection: the WAL is checkpointed and removed
            with suppress(FileExistsError):  # another process made it first, the same
                os.link(draft, self.path)
        finally:
            draft.unlink(missing_ok=True)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection (opened on first use; WAL makes a commit durable enough
        without a sync each: ``synchronous=NORMAL``)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            # used by this thread only; closed by whichever calls close()
            db = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
            with self._opened_lock:
                self._opened.append(db)
        yield db

    def close(self) -> None:
        """Close every thread's connection (a thread that uses the store again opens one)."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for db in opened:
            db.close()
        self._local = threading.local()

    def set_failing(self, system: str, failing: bool) -> None:
        """Make ``system`` answer every notice with 503 (or stop doing so)."""
        with self._writing, self._connect() as db:
            if failing:
                db.execute("INSERT OR IGNORE INTO failing (system) VALUES (?)", (system,))
            else:
                db.execute("DELETE FROM failing WHERE system = ?", (system,))

    def handle(
        self, system: AgencySystem, *, message_id: str, notice: Notice
    ) -> tuple[int, Decision, bool]:
        """(status, answer, replayed): act on a new message id once, answer a repeat."""
        with self._writing, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "INSERT INTO received (system, message_id, received_at) VALUES (?, ?, ?)",
                    (system.key, message_id, utcnow().isoformat()),
                )
                if db.execute("SELECT 1 FROM failing WHERE system = ?", (system.key,)).fetchone():
                    db.execute("COMMIT")
                    return 503, {"detail": "the system is unavailable; try again later"}, False
                seen = db.execute(
                    "SELECT answer FROM handled WHERE system = ? AND message_id = ?",
                    (system.key, message_id),
                ).fetchone()
                if seen is not None:
                    db.execute("COMMIT")
                    return 200, json.loads(seen[0]), True
                count = db.execute(
                    "SELECT count(*) FROM handled WHERE system = ?", (system.key,)
                ).fetchone()[0]
                answer = {
                    **system.decide(notice),
                    "caseReference": f"{system.case_prefix}-{count + 1:06d}",
                }
                db.execute(
                    "INSERT INTO handled (system, message_id, reference, answer, handled_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (system.key, message_id, notice.reference, json.dumps(answer),
                     utcnow().isoformat()),
                )  # fmt: skip
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return 200, answer, False

    def handled(self, system: str | None = None) -> list[tuple[str, str, str]]:
        """(system, message id, notice reference) of every notice acted on."""
        with self._connect() as db:
            query = "SELECT system, message_id, reference FROM handled"
            rows = (
                db.execute(query + " WHERE system = ? ORDER BY rowid", (system,))
                if system
                else db.execute(query + " ORDER BY rowid")
            )
            return [(str(a), str(b), str(c)) for a, b, c in rows]

    def received(self) -> list[tuple[str, str]]:
        """(system, message id) of every request that arrived, repeats included."""
        with self._connect() as db:
            rows = db.execute("SELECT system, message_id FROM received ORDER BY id")
            return [(str(a), str(b)) for a, b in rows]


_STORES: dict[Path, AgencyStore] = {}


def agency_store(settings: Settings) -> AgencyStore:
    path = store_path(settings)
    store = _STORES.get(path)
    if store is None or not path.exists():
        if store is not None:  # its file is gone: its connections hold the old one open
            store.close()
        store = _STORES[path] = AgencyStore(path)
    return store


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": "Refused", "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def _endpoint(system: AgencySystem) -> Callable[..., JSONResponse]:
    def receive(
        request: Request,
        body: dict[str, Any],
        x_road_id: Annotated[str | None, Header()] = None,
        x_road_client: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        if not x_road_id or len(x_road_id) > 128 or not x_road_client:
            return _problem(400, "send X-Road-Id and X-Road-Client (call through the exchange)")
        try:
            notice = Notice.model_validate(body)
        except ValidationError as exc:
            fields = [".".join(str(p) for p in e["loc"]) for e in exc.errors()]
            return _problem(422, "not a valid notice: " + ", ".join(fields))
        settings: Settings = request.app.state.settings
        status, answer, replayed = agency_store(settings).handle(
            system, message_id=x_road_id, notice=notice
        )
        if status >= 400:
            return _problem(status, str(answer["detail"]))
        headers = {REPLAY_HEADER: "true"} if replayed else {}
        return JSONResponse(answer, status_code=status, headers=headers)

    return receive


def _demo_only(request: Request) -> None:
    """The demo's agencies are not served by a production platform (their own systems are
    elsewhere): there the paths do not exist."""
    settings: Settings = request.app.state.settings
    if settings.is_production:
        raise HTTPException(status_code=404)


def _build_router(prefix: str) -> APIRouter:
    built = APIRouter(prefix=prefix, include_in_schema=False, dependencies=[Depends(_demo_only)])
    for system in agency_systems():
        built.add_api_route(
            f"/{system.key}/{system.service_code}",
            _endpoint(system),
            methods=["POST"],
            name=f"agency_system_{system.key}",
            response_class=JSONResponse,
        )
    return built


#: The agencies' systems as routes of the embedded platform (``/agency-systems/…``).
router = _build_router(PREFIX)


def agency_systems_app(settings: Settings) -> FastAPI:
    """The agencies' systems alone, as an ASGI application (mounted at :data:`PREFIX`)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.include_router(_build_router(""))
    return app


def notice_openapi(system: AgencySystem) -> dict[str, Any]:
    """The OpenAPI document an agency publishes its notice service with."""
    answer = {
        "type": "object",
        "properties": {
            "outcome": {"type": "string"},
            "summary": {"type": "string"},
            "effectiveFrom": {"type": "string", "format": "date"},
            "caseReference": {"type": "string"},
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": system.title, "version": "1.0"},
        "paths": {
            "/": {
                "post": {
                    "summary": "A life event of a person the agency serves (Tell Us Once)",
                    "responses": {
                        "200": {
                            "description": "What the agency did (the same for a repeated "
                            "X-Road-Id).",
                            "content": {"application/json": {"schema": answer}},
                        },
                        "503": {"description": "Unavailable: send the same message later."},
                    },
                }
            }
        },
    }
