"""The ASGI path for /r1 calls answers exactly as the routes do, and only where they would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mediation_support import INSTANCE, World, headers, make_world, token

from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.exchange import SubsystemRef, issue_access_token, register_api_client
from joinedup.exchange.mediation import MediationPath, _match
from joinedup.exchange.provider_api import ProviderPath
from joinedup.web import create_app
from template_support import DatabaseTemplates

SERVICE = ("I", "GOV", "1", "population", "person")


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/r1/I/GOV/1/population/person", (SERVICE, None)),
        ("DELETE", "/r1/I/GOV/1/population/person/", (SERVICE, "")),
        ("POST", "/r1/I/GOV/1/population/person/a/b", (SERVICE, "a/b")),
        ("GET", "/r1/I/GOV/1/population/listMethods", None),  # a metadata service
        ("POST", "/r1/I/GOV/1/population/listMethods", (("I", "GOV", "1", "population",
                                                         "listMethods"), None)),
        ("GET", "/r1/I/GOV/1/population/getOpenAPI/x", (("I", "GOV", "1", "population",
                                                         "getOpenAPI"), "x")),
        ("HEAD", "/r1/I/GOV/1/population/person", None),  # the routes do not answer HEAD
        ("OPTIONS", "/r1/I/GOV/1/population/person", None),
        ("GET", "/r1/I/GOV/1/population", None),
        ("GET", "/r1/I/GOV//population/person", None),
        ("GET", "/r2/I/GOV/1/population/person", None),
        ("GET", "/api/v1/exchange/provider/GOV/1/population/person", None),
    ],
)  # fmt: skip
def test_it_takes_the_calls_the_mediation_routes_would_take(
    method: str, path: str, expected: object
) -> None:
    assert _match(method, path) == expected


@pytest.fixture
def sqlite_world(
    tmp_path: Path, database_templates: DatabaseTemplates
) -> Iterator[tuple[Database, World]]:
    """A copy of the small country of :func:`make_world` on SQLite, and its world."""
    template = database_templates.template("sqlite", make_world)
    with database_templates.copy(template, tmp_path) as database:
        yield database, template.value


@contextmanager
def _app(settings: Settings, database: Database, *, fast: bool) -> Iterator[TestClient]:
    app = create_app(settings, database=database)
    assert any(m.cls is MediationPath for m in app.user_middleware)  # the application's default
    if not fast:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not MediationPath]
    with TestClient(app) as client:
        yield client


def test_it_answers_byte_for_byte_as_the_routes_do(
    settings: Settings, sqlite_world: tuple[Database, World]
) -> None:
    sqlite_database, world = sqlite_world
    base = f"/r1/{INSTANCE}/GOV/{world.population}/population"
    bearer = token(sqlite_database, world, "benefits")
    cases = [
        ("GET", world.url(), {"X-Road-Purpose": "child-benefit"}, "fields=personalCode"),
        ("GET", world.url(path="/"), {"X-Road-Purpose": "child-benefit"}, ""),
        ("GET", world.url(), {}, ""),  # no purpose: refused and recorded
        ("GET", world.url(), {"X-Road-Client": "X/Y"}, ""),  # malformed client header
        ("GET", world.url(), {"X-Road-Purpose": "fun"}, ""),
        ("GET", f"{base}/nosuch", {"X-Road-Purpose": "child-benefit"}, ""),
        ("POST", world.url(), {"X-Road-Purpose": "child-benefit"}, ""),  # the provider's 405
        ("GET", world.url(path="/x"), {"X-Road-Purpose": "child-benefit"}, ""),
        ("GET", f"{base}/listMethods", {}, ""),  # the metadata service, not mediated
        ("HEAD", world.url(), {}, ""),
    ]
    answers: dict[bool, list[tuple[int, dict[str, str], bytes]]] = {}
    for fast in (True, False):
        with _app(settings, sqlite_database, fast=fast) as http:
            answers[fast] = []
            for number, (method, path, extra, query) in enumerate(cases):
                sent = headers(
                    world,
                    bearer,
                    **{"X-Road-Id": f"m-{number}", "X-Request-Id": f"request-{number:04d}"},
                )
                sent.update(extra)
                query = "&".join(q for q in (f"personalCode={world.person}", query) if q)
                answer = http.request(method, f"{path}?{query}", headers=sent)
                kept = {k: v for k, v in answer.headers.items() if k.lower() != "date"}
                answers[fast].append((answer.status_code, kept, answer.content))
    assert [status for status, _, _ in answers[True]] == [
        200, 200, 400, 400, 403, 404, 405, 404, 200, 405,
    ]  # fmt: skip
    assert answers[True] == answers[False]


def test_no_answer_leaves_without_its_record(
    settings: Settings, sqlite_world: tuple[Database, World], monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_database, world = sqlite_world
    bearer = token(sqlite_database, world, "benefits")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk is full")

    with _app(settings, sqlite_database, fast=True) as http:
        monkeypatch.setattr("joinedup.exchange.recorder.write_recordings", broken)
        answer = http.get(
            world.url(),
            params={"personalCode": world.person},
            headers=headers(world, bearer, **{"X-Road-Purpose": "child-benefit"}),
        )
    assert answer.status_code == 500
    assert answer.headers["X-Road-Error"] == "Server.ServerProxy.LoggingFailed"
    assert answer.json()["x_road_error"] == "Server.ServerProxy.LoggingFailed"
    assert world.person not in answer.text  # the provider's answer is withheld


def test_the_providers_direct_path_answers_as_its_route_does(
    settings: Settings, sqlite_world: tuple[Database, World]
) -> None:
    """The benchmark's reference takes a lean path too (it compares the mediation's work, not
    two amounts of framework): the same answers, problems included, as the route."""
    sqlite_database, world = sqlite_world
    with sqlite_database.unit_of_work() as session:
        created = register_api_client(
            session,
            subsystem=SubsystemRef("GOV", world.population, "population"),
            name="population register",
            actor="test",
        )
    with sqlite_database.unit_of_work() as session:
        own = issue_access_token(
            session, client_id=created.client.client_id, client_secret=created.client_secret
        ).access_token
    other = token(sqlite_database, world, "benefits")
    base = f"/api/v1/exchange/provider/GOV/{world.population}/population"
    cases = [
        (f"{base}/person?personalCode={world.person}", own),
        (f"{base}/person?personalCode=12345678901", own),  # not a valid code: 422
        (f"{base}/person?personalCode={world.person}", other),  # not the provider: 403
        (f"{base}/person?personalCode={world.person}", None),  # no token: 401
        (f"{base}/nosuch?personalCode={world.person}", own),  # 404
    ]
    answers: dict[bool, list[tuple[int, str, bytes]]] = {}
    for fast in (True, False):
        app = create_app(settings, database=sqlite_database)
        if not fast:
            app.user_middleware = [m for m in app.user_middleware if m.cls is not ProviderPath]
        with TestClient(app) as http:
            answers[fast] = []
            for number, (path, bearer) in enumerate(cases):
                sent = {"X-Request-Id": f"request-{number:04d}"}
                if bearer:
                    sent["Authorization"] = f"Bearer {bearer}"
                answer = http.get(path, headers=sent)
                answers[fast].append(
                    (answer.status_code, answer.headers["content-type"], answer.content)
                )
    assert [status for status, _, _ in answers[True]] == [200, 422, 403, 401, 404]
    assert answers[True] == answers[False]
