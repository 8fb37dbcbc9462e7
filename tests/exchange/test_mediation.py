"""Mediated calls over /r1: headers, request hash, records, refusals, aliases, REST providers."""

from __future__ import annotations

import base64
import json

import pytest
from mediation_support import (
    BASIS,
    INSTANCE,
    World,
    headers,
    running_app,
    token,
)
from sqlalchemy import func, select

from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.keys import load_log_signing_key
from joinedup.core.settings import Settings
from joinedup.core.translog import inclusion_proof, leaf_hash, verify_inclusion
from joinedup.exchange import (
    PurposeGrant,
    ServiceRef,
    SubsystemRef,
    grant_access_right,
    member_signing_key,
)
from joinedup.exchange.canonical import message_leaf
from joinedup.exchange.messagelog import message_row, signatures_valid
from joinedup.exchange.protocol import request_hash
from joinedup.exchange.records import CallRecord, DataUsageRecord, MessageLogRecord
from joinedup.exchange.usage_queries import find_usage

READ = {"X-Road-Purpose": "child-benefit"}


@pytest.fixture
def database(mediation_country: tuple[Database, World]) -> Database:
    """Instead of an empty database: a copy of the small country of :func:`make_world`."""
    return mediation_country[0]


@pytest.fixture
def world(mediation_country: tuple[Database, World]) -> World:
    return mediation_country[1]


def test_a_mediated_read_answers_and_leaves_signed_logged_records(
    settings: Settings, database: Database, world: World
) -> None:
    with running_app(settings, database) as http:
        bearer = token(database, world, "benefits")
        answer = http.get(
            world.url(),
            params={"personalCode": world.person, "fields": "personalCode,birthDate"},
            headers=headers(
                world,
                bearer,
                **READ,
                **{
                    "X-Road-Id": "message-0001",
                    "X-Road-UserId": "EE38001010008",
                    "X-Road-Issue": "case-42",
                    "X-Road-Represented-Party": "GOV/70000019",
                },
            ),
        )
        assert answer.status_code == 200, answer.text
        # the records are committed when the answer arrives: read them now, in a new session
        with database.reading() as session:
            row = message_row(session, message_id="message-0001")
            usages = list(
                session.scalars(
                    select(DataUsageRecord).where(DataUsageRecord.message_id == "message-0001")
                )
            )
            proof = inclusion_proof(session, index=row["log_index"])
            session.expunge_all()  # keep the loaded rows readable after the transaction
    assert set(answer.json()) == {"personalCode", "birthDate"}
    assert answer.json()["personalCode"] == world.person
    assert answer.headers["X-Road-Id"] == "message-0001"
    assert answer.headers["X-Road-Client"] == world.client
    assert answer.headers["X-Road-Service"] == world.service
    assert "X-Road-Error" not in answer.headers
    expected_hash = request_hash(
        method="GET",
        raw_path=world.url().encode(),
        raw_query=answer.request.url.query,
        headers={
            "x-road-client": world.client,
            "x-road-id": "message-0001",
            "x-road-userid": "EE38001010008",
            "x-road-issue": "case-42",
            "x-road-represented-party": "GOV/70000019",
            "x-road-purpose": "child-benefit",
        },
        body=b"",
    )
    assert answer.headers["X-Road-Request-Hash"] == base64.b64encode(expected_hash).decode()

    assert row["status"] == 200
    assert row["error_type"] is None
    assert row["purpose"] == "child-benefit"
    assert row["legal_basis"] == BASIS
    assert row["issue"] == "case-42"
    assert row["request_hash"] == expected_hash
    assert row["request_body"] is None  # the service does not log bodies: hashes only
    assert row["path_template"] == ""
    with database.unit_of_work() as session:
        client_key = member_signing_key(session, member_id=row["client_member_id"])
        provider_key = member_signing_key(session, member_id=row["provider_member_id"])
    assert client_key.key_id != provider_key.key_id
    assert signatures_valid(
        row, client=client_key.verifying_key, provider=provider_key.verifying_key
    )
    log_key = load_log_signing_key(settings)
    assert proof.tree_head.verify(log_key.verifying_key)
    assert verify_inclusion(
        leaf_hash(message_leaf(row)),
        row["log_index"],
        proof.tree_size,
        proof.path,
        proof.tree_head.root_hash,
    )
    assert [u.subject_code for u in usages] == [world.person]
    usage = usages[0]
    assert (usage.receiver_member_code, usage.receiver_system) == (world.social, "benefits")
    assert usage.fields == "personalCode,birthDate"
    assert (usage.purpose, usage.legal_basis, usage.case_reference) == (
        "child-benefit",
        BASIS,
        "case-42",
    )
    assert (usage.user_id, usage.represented_party) == ("EE38001010008", "GOV/70000019")
    assert usage.hidden_until is None


def test_every_data_subject_gets_a_usage_record(
    settings: Settings, database: Database, world: World
) -> None:
    with database.unit_of_work() as session:
        grant_access_right(
            session,
            client=SubsystemRef("GOV", world.social, "benefits"),
            service=ServiceRef("GOV", world.population, "population", "relations"),
            fields=["parents", "children"],
            purposes=[PurposeGrant(purpose="child-benefit", legal_basis=BASIS)],
            valid_from=today(),
            actor="test",
        )
    service = f"{INSTANCE}/GOV/{world.population}/population/relations"
    with running_app(settings, database) as http:
        answer = http.get(
            world.url(service),
            params={"personalCode": world.person},
            headers=headers(world, token(database, world, "benefits"), **READ),
        )
    assert answer.status_code == 200, answer.text
    message_id = answer.headers["X-Road-Id"]
    with database.reading() as session:
        subjects = set(
            session.scalars(
                select(DataUsageRecord.subject_code).where(DataUsageRecord.message_id == message_id)
            )
        )
    assert {world.person, world.parent} <= subjects


REFUSALS = [
    # (case, status, X-Road-Error)
    ("no token", 401, "Client.AuthenticationFailed"),
    ("bad token", 401, "Client.AuthenticationFailed"),
    ("client header of another subsystem", 403, "Client.ClientIdentifierMismatch"),
    ("no client header", 400, "Client.InvalidClientIdentifier"),
    ("malformed client header", 400, "Client.InvalidClientIdentifier"),
    ("unknown service", 404, "Server.ServerProxy.UnknownService"),
    ("no purpose", 400, "Client.MissingPurpose"),
    ("purpose not allowed", 403, "Client.PurposeNotAllowed"),
    ("fields not allowed", 403, "Client.FieldsNotAllowed"),
    ("no right", 403, "Client.AccessDenied"),
]


def _refused_request(
    world: World, bearer: str, police: str, case: str
) -> tuple[str, dict[str, str], dict[str, str]]:
    params = {"personalCode": world.person}
    good = headers(world, bearer, **READ)
    url = world.url()
    if case == "no token":
        del good["Authorization"]
    elif case == "bad token":
        good["Authorization"] = "Bearer not-a-token"
    elif case == "client header of another subsystem":
        good["X-Road-Client"] = world.police
    elif case == "no client header":
        del good["X-Road-Client"]
    elif case == "malformed client header":
        good["X-Road-Client"] = "JOINEDUP/GOV"
    elif case == "unknown service":
        url = world.url(f"{INSTANCE}/GOV/{world.population}/population/no-such-service")
    elif case == "no purpose":
        del good["X-Road-Purpose"]
    elif case == "purpose not allowed":
        good["X-Road-Purpose"] = "marketing"
    elif case == "fields not allowed":
        params["fields"] = "personalCode,sex"
    elif case == "no right":
        good = headers(world, police, client=world.police, **READ)
        url = world.url(f"{INSTANCE}/GOV/{world.population}/addresses/residence")
    return url, params, good


def test_every_refusal_has_its_status_and_error_type_and_is_recorded(
    settings: Settings, database: Database, world: World
) -> None:
    with running_app(settings, database) as http:
        bearer = token(database, world, "benefits")
        police = token(database, world, "police")
        for number, (case, status, error) in enumerate(REFUSALS):
            url, params, sent = _refused_request(world, bearer, police, case)
            sent["X-Road-Id"] = f"refused-{number}"
            answer = http.get(url, params=params, headers=sent)
            assert answer.status_code == status, (case, answer.text)
            assert answer.headers["X-Road-Error"] == error, case
            assert answer.headers["content-type"] == "application/problem+json", case
            problem = answer.json()
            assert problem["status"] == status
            assert problem["x_road_error"] == error
            assert problem["type"].startswith("https://joinedup.example/problems/xroad-")
            assert answer.headers["X-Road-Id"] == f"refused-{number}"
            with database.reading() as session:
                row = message_row(session, message_id=f"refused-{number}")
                assert (row["status"], row["error_type"]) == (status, error), case
                call = session.scalars(
                    select(CallRecord).where(CallRecord.message_id == f"refused-{number}")
                ).one()
                assert (call.status, call.succeeded, call.error_type) == (status, False, error)
        with database.reading() as session:
            usages = session.scalar(select(func.count()).select_from(DataUsageRecord))
            messages = session.scalar(select(func.count()).select_from(MessageLogRecord))
    assert usages == 0  # nothing was disclosed
    assert messages == len(REFUSALS)


def test_a_provider_error_passes_through_unchanged_and_is_recorded(
    settings: Settings, database: Database, world: World
) -> None:
    with running_app(settings, database) as http:
        answer = http.get(
            world.url(),
            params={"personalCode": "12345"},
            headers=headers(world, token(database, world, "benefits"), **READ),
        )
    assert answer.status_code == 422
    assert "X-Road-Error" not in answer.headers
    assert answer.json()["type"].endswith("/validation-failed")
    with database.reading() as session:
        row = message_row(session, message_id=answer.headers["X-Road-Id"])
    assert (row["status"], row["error_type"]) == (422, "Provider.validation-failed")


@pytest.mark.parametrize("alias", ["Information-Mediator-Client", "X-GovStack-Client"])
def test_govstack_client_headers_are_accepted(
    settings: Settings, database: Database, world: World, alias: str
) -> None:
    with running_app(settings, database) as http:
        sent = headers(world, token(database, world, "benefits"), **READ)
        sent[alias] = sent.pop("X-Road-Client")
        answer = http.get(world.url(), params={"personalCode": world.person}, headers=sent)
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Road-Client"] == world.client
        sent["X-Road-Client"] = world.police  # two headers naming different clients
        conflicting = http.get(world.url(), params={"personalCode": world.person}, headers=sent)
    assert conflicting.status_code == 400
    assert conflicting.headers["X-Road-Error"] == "Client.InvalidClientIdentifier"


def test_purpose_as_query_parameter_and_generated_message_id(
    settings: Settings, database: Database, world: World
) -> None:
    with running_app(settings, database) as http:
        answer = http.get(
            world.url(),
            params={"personalCode": world.person, "purpose": "child-benefit"},
            headers=headers(world, token(database, world, "benefits")),
        )
    assert answer.status_code == 200, answer.text
    assert len(answer.headers["X-Road-Id"]) == 36  # a generated UUID
    assert set(answer.json()) == {"personalCode", "givenNames", "familyName", "birthDate"}


def test_law_enforcement_use_is_recorded_but_hidden_until_disclosure(
    settings: Settings, database: Database, world: World
) -> None:
    with running_app(settings, database) as http:
        answer = http.get(
            world.url(),
            params={"personalCode": world.person},
            headers=headers(
                world,
                token(database, world, "police"),
                client=world.police,
                **{"X-Road-Purpose": "investigation"},
            ),
        )
        assert answer.status_code == 200, answer.text
        portal = token(database, world, "portal")
        tracker = http.get(
            "/v2/findUsage",
            params={"userCode": world.person},
            headers={"Authorization": f"Bearer {portal}", "X-Road-UserId": world.person},
        )
        assert tracker.json() == {"totalUsages": 0, "usages": []}
        listed = http.get(
            "/api/v1/data-usage",
            params={"personalCode": world.person},
            headers={"Authorization": f"Bearer {portal}"},
        )
        assert listed.json()["items"] == []
    with database.reading() as session:
        usage = session.scalars(select(DataUsageRecord)).one()  # it exists and is logged
        assert usage.law_enforcement
        assert usage.hidden_until is not None
        assert (usage.hidden_until - today()).days == 30
        before = find_usage(session, subject_code=world.person, on=today())
        after = find_usage(session, subject_code=world.person, on=usage.hidden_until)
        hidden_until = usage.hidden_until
    assert before[0] == 0
    assert after[0] == 1
    assert after[1][0].action == "investigation (person)"
    assert json.loads(after[1][0].canonical)["hidden_until"] == hidden_until.isoformat()


def test_a_rest_provider_that_cannot_be_reached_is_a_network_error(
    settings: Settings, database: Database, world: World
) -> None:
    from mediation_support import TRACKER_OPENAPI

    from joinedup.exchange import register_rest_service

    with database.unit_of_work() as session:
        register_rest_service(
            session,
            provider=SubsystemRef("GOV", world.population, "population"),
            code="unreachable",
            title="Nobody listens",
            base_url="http://127.0.0.1:9",
            openapi=TRACKER_OPENAPI,
            fields=["totalUsages"],
            actor="test",
        )
        grant_access_right(
            session,
            client=SubsystemRef("GOV", world.social, "benefits"),
            service=ServiceRef("GOV", world.population, "population", "unreachable"),
            fields=["totalUsages"],
            purposes=[PurposeGrant(purpose="child-benefit", legal_basis=BASIS)],
            valid_from=today(),
            actor="test",
        )
    service = f"{INSTANCE}/GOV/{world.population}/population/unreachable"
    with running_app(settings, database) as http:
        answer = http.get(
            world.url(service, "/v2/findUsage"),
            headers=headers(world, token(database, world, "benefits"), **READ),
        )
    assert answer.status_code == 502
    assert answer.headers["X-Road-Error"] == "Server.ServerProxy.NetworkError"
    with database.reading() as session:
        row = message_row(session, message_id=answer.headers["X-Road-Id"])
    assert row["error_type"] == "Server.ServerProxy.NetworkError"
    assert row["path_template"] == "{}/findUsage"
