"""A member's REST service, called through /r1 for real: a small HTTP provider on loopback."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from mediation_support import (
    BASIS,
    INSTANCE,
    TRACKER_OPENAPI,
    World,
    headers,
    running_app,
    token,
)
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.exchange import (
    PurposeGrant,
    ServiceRef,
    SubsystemRef,
    grant_access_right,
    member_signing_key,
    register_rest_service,
)
from joinedup.exchange.messagelog import message_row, signatures_valid
from joinedup.exchange.records import CallRecord, DataUsageRecord

SUBJECTS = ("39001010008", "51501010002")
FIELDS = ("totalUsages", "usages")


@dataclass
class Provider:
    """A member's system: answers every path, remembers what it received."""

    base_url: str
    received: list[dict[str, Any]] = field(default_factory=list)


def _provider_app(provider: Provider) -> Starlette:
    async def answer(request: Request) -> Response:
        provider.received.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": dict(request.query_params),
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body": await request.body(),
            }
        )
        body = json.dumps({"totalUsages": len(SUBJECTS), "usages": ["one", "two"]}).encode()
        return Response(
            body,
            200,
            # joinedup's extension: whose data this answer holds (recorded, then stripped)
            {"X-Road-Data-Subjects": ", ".join(SUBJECTS), "X-Provider-Internal": "secret"},
            media_type="application/json",
        )

    return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])


@pytest.fixture
def provider() -> Iterator[Provider]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    found = Provider(base_url=f"http://127.0.0.1:{port}/api")
    config = uvicorn.Config(
        _provider_app(found), lifespan="off", ws="none", http="h11", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the provider did not start"
        time.sleep(0.01)
    try:
        yield found
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def database(mediation_country: tuple[Database, World]) -> Database:
    """Instead of an empty database: a copy of the small country of :func:`make_world`."""
    return mediation_country[0]


@pytest.fixture
def world(mediation_country: tuple[Database, World], provider: Provider) -> World:
    database, world = mediation_country
    with database.unit_of_work() as session:
        register_rest_service(
            session,
            provider=SubsystemRef("GOV", world.population, "population"),
            code="usage-report",
            title="Usage report",
            base_url=provider.base_url,
            openapi=TRACKER_OPENAPI,
            fields=list(FIELDS),
            actor="test",
        )
        grant_access_right(
            session,
            client=SubsystemRef("GOV", world.social, "benefits"),
            service=ServiceRef("GOV", world.population, "population", "usage-report"),
            fields=list(FIELDS),
            purposes=[PurposeGrant(purpose="child-benefit", legal_basis=BASIS)],
            valid_from=today(),
            actor="test",
        )
    return world


def test_a_rest_service_answers_through_the_mediator_with_its_records(
    settings: Settings, database: Database, world: World, provider: Provider
) -> None:
    service = f"{INSTANCE}/GOV/{world.population}/population/usage-report"
    sent = b'{"question": "how many"}'
    with running_app(settings, database) as http:
        answer = http.post(
            world.url(service, "/v2/findUsage"),
            params={"userCode": "39001010008", "purpose": "child-benefit", "fields": "usages"},
            content=sent,
            headers=headers(
                world,
                token(database, world, "benefits"),
                **{
                    "X-Road-Id": "rest-0001",
                    "X-Road-UserId": "EE38001010008",
                    "X-Road-Issue": "case-7",
                    "X-Road-Represented-Party": "GOV/70000019",
                    "Content-Type": "application/json",
                },
            ),
        )
        # committed before the answer arrived: read in a new session at once
        with database.reading() as session:
            row = message_row(session, message_id="rest-0001")
            usages = list(
                session.scalars(
                    select(DataUsageRecord)
                    .where(DataUsageRecord.message_id == "rest-0001")
                    .order_by(DataUsageRecord.subject_code)
                )
            )
            monitored = session.scalars(
                select(CallRecord).where(CallRecord.message_id == "rest-0001")
            ).one()
            session.expunge_all()

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"totalUsages": 2, "usages": ["one", "two"]}
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["X-Road-Id"] == "rest-0001"
    assert answer.headers["X-Road-Client"] == world.client
    assert answer.headers["X-Road-Service"] == service
    assert "X-Road-Error" not in answer.headers
    # the provider's own headers stay with the mediator
    assert "x-road-data-subjects" not in answer.headers
    assert "x-provider-internal" not in answer.headers

    (received,) = provider.received
    assert received["method"] == "POST"
    assert received["path"] == "/api/v2/findUsage"
    assert received["query"] == {"userCode": "39001010008"}  # the mediator's own parameters stay
    assert received["body"] == sent
    forwarded = received["headers"]
    assert forwarded["x-road-client"] == world.client
    assert forwarded["x-road-id"] == "rest-0001"
    assert forwarded["x-road-service"] == service
    assert forwarded["x-road-purpose"] == "child-benefit"
    assert forwarded["x-road-fields"] == "usages"  # what was asked, within the right
    assert forwarded["x-road-userid"] == "EE38001010008"
    assert forwarded["x-road-issue"] == "case-7"
    assert forwarded["x-road-represented-party"] == "GOV/70000019"
    assert forwarded["content-type"] == "application/json"
    assert "authorization" not in forwarded  # the client's token is the mediator's business

    assert row["status"] == 200
    assert row["error_type"] is None
    assert (row["method"], row["path_template"]) == (
        "POST",
        "{}/findUsage",
    )  # no values in metadata
    assert (row["purpose"], row["legal_basis"], row["issue"]) == ("child-benefit", BASIS, "case-7")
    assert row["request_body_hash"] == hashlib.sha512(sent).digest()
    assert row["response_body_hash"] == hashlib.sha512(answer.content).digest()
    with database.unit_of_work() as session:
        client_key = member_signing_key(session, member_id=row["client_member_id"])
        provider_key = member_signing_key(session, member_id=row["provider_member_id"])
    assert signatures_valid(
        row, client=client_key.verifying_key, provider=provider_key.verifying_key
    )

    assert [u.subject_code for u in usages] == sorted(SUBJECTS)
    for usage in usages:
        assert (usage.receiver_member_code, usage.receiver_system) == (world.social, "benefits")
        assert usage.service_xroad_id == service
        assert usage.fields == "usages"
        assert (usage.purpose, usage.legal_basis) == ("child-benefit", BASIS)
        assert (usage.case_reference, usage.user_id) == ("case-7", "EE38001010008")
        assert usage.action == "child-benefit (usage-report)"
        assert usage.log_index is not None
    assert monitored.status == 200
    assert monitored.succeeded
    assert monitored.service_xroad_id == service
    assert monitored.request_size == len(sent)
    assert monitored.response_size == len(answer.content)


def test_a_rest_provider_error_passes_through_without_usage_records(
    settings: Settings, database: Database, world: World, provider: Provider
) -> None:
    service = f"{INSTANCE}/GOV/{world.population}/population/usage-report"
    with running_app(settings, database) as http:
        answer = http.request(
            "PUT",  # the provider answers GET and POST only
            world.url(service, "/v2/findUsage"),
            headers=headers(
                world,
                token(database, world, "benefits"),
                **{"X-Road-Purpose": "child-benefit", "X-Road-Id": "rest-0002"},
            ),
        )
        with database.reading() as session:
            row = message_row(session, message_id="rest-0002")
            usages = session.scalars(
                select(DataUsageRecord).where(DataUsageRecord.message_id == "rest-0002")
            ).all()
    assert answer.status_code == 405
    assert "X-Road-Error" not in answer.headers  # the provider's error, passed through
    assert row["error_type"] == "Provider.http-405"
    assert usages == []
