"""Data usage: the Data Tracker contract, the portal API with proofs, staff views, monitoring."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from mediation_support import AGENCY_NAME, World, headers, running_app, token

from joinedup.core.db import Database
from joinedup.core.keys import load_log_signing_key
from joinedup.core.pagination import PageRequest
from joinedup.core.settings import Settings
from joinedup.core.translog import leaf_hash, verify_inclusion
from joinedup.exchange import describe_purpose
from joinedup.exchange.canonical import USAGE_TAG
from joinedup.exchange.usage import record_staff_view
from joinedup.exchange.usage_queries import list_usage

SPEC = yaml.safe_load(
    (Path(__file__).parent / "specs" / "data-tracker-findusage-openapi.yaml").read_text()
)
READ = {"X-Road-Purpose": "child-benefit"}


@pytest.fixture
def database(mediation_country: tuple[Database, World]) -> Database:
    """Instead of an empty database: a copy of the small country of :func:`make_world`."""
    return mediation_country[0]


@pytest.fixture
def world(mediation_country: tuple[Database, World]) -> World:
    return mediation_country[1]


def _calls(http: TestClient, database: Database, world: World, count: int) -> None:
    bearer = token(database, world, "benefits")
    for number in range(count):
        answer = http.get(
            world.url(),
            params={"personalCode": world.person},
            headers=headers(world, bearer, **READ, **{"X-Road-Issue": f"case-{number}"}),
        )
        assert answer.status_code == 200, answer.text


def _check_schema(value: Any, schema: dict[str, Any]) -> None:
    """The parts of OpenAPI 3.0 schemas the Data Tracker document uses."""
    if "$ref" in schema:
        schema = SPEC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    kind = schema.get("type")
    if kind == "object":
        assert isinstance(value, dict)
        for name in schema.get("required", []):
            assert name in value, name
        for name, item in value.items():
            assert name in schema["properties"], f"{name} is not in the contract"
            _check_schema(item, schema["properties"][name])
    elif kind == "array":
        assert isinstance(value, list)
        for item in value:
            _check_schema(item, schema["items"])
    elif kind == "integer":
        assert isinstance(value, int)
    elif kind == "string":
        assert isinstance(value, str)
        if schema.get("format") == "date-time":
            assert value.endswith("Z") or "+" in value
        if "enum" in schema:
            assert value in schema["enum"]


def test_find_usage_answers_the_data_tracker_contract(
    settings: Settings, database: Database, world: World
) -> None:
    operation = SPEC["paths"]["/v2/findUsage"]["get"]
    response_schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    with running_app(settings, database) as http:
        _calls(http, database, world, 3)
        portal = {"Authorization": f"Bearer {token(database, world, 'portal')}"}
        asking = {**portal, "X-Road-UserId": world.person}
        answer = http.get("/v2/findUsage", params={"userCode": world.person}, headers=asking)
        assert answer.status_code == 200, answer.text
        _check_schema(answer.json(), response_schema)
        body = answer.json()
        assert body["totalUsages"] == 3
        usage = body["usages"][0]
        assert usage["receiverCode"] == world.social
        assert usage["receiverSystem"] == "benefits"
        assert usage["receiverName"] == AGENCY_NAME
        assert usage["action"] == "child-benefit (person)"
        paged = http.get(
            "/v2/findUsage",
            params={"userCode": world.person, "offset": 1, "limit": 1},
            headers=asking,
        ).json()
        assert paged["totalUsages"] == 3
        assert paged["usages"] == [body["usages"][1]]
        later = http.get(
            "/v2/findUsage",
            params={"userCode": world.person, "periodStart": "2999-01-01T00:00:00Z"},
            headers=asking,
        ).json()
        assert later == {"totalUsages": 0, "usages": []}
        for params, sent in (
            ({"userCode": world.person}, portal),  # no X-Road-UserId
            ({}, asking),  # no userCode
            ({"userCode": world.person, "limit": "0"}, asking),
            ({"userCode": world.person, "periodStart": "yesterday"}, asking),
        ):
            assert http.get("/v2/findUsage", params=params, headers=sent).status_code == 400
        assert http.get("/v2/findUsage", params={"userCode": world.person}).status_code == 401
        benefits = {"Authorization": f"Bearer {token(database, world, 'benefits')}"}
        refused = http.get(
            "/v2/findUsage",
            params={"userCode": world.person},
            headers={**benefits, "X-Road-UserId": world.person},
        )
        assert refused.status_code == 403  # no right to a findUsage service
        period = http.get("/v2/usagePeriod", headers=portal)
        _check_schema(period.json(), SPEC["components"]["schemas"]["UsagePeriodResponse"])
        heartbeat = http.get("/v2/heartbeat")
        _check_schema(heartbeat.json(), SPEC["components"]["schemas"]["HeartbeatResponse"])
        assert heartbeat.json()["status"] == "OK"


def test_portal_usage_api_filters_pages_and_proves(
    settings: Settings, database: Database, world: World
) -> None:
    with running_app(settings, database) as http:
        _calls(http, database, world, 5)
        with database.unit_of_work() as session:
            record_staff_view(
                session,
                staff_member=f"GOV/{world.population}",
                staff_user="clerk-7",
                person_code=world.person,
                fields=["residenceAddress"],
                purpose="address-correction",
                legal_basis="Population Register Act § 20",
                case_reference="ticket-9",
                log_signer=load_log_signing_key(settings),
            )
        portal = {"Authorization": f"Bearer {token(database, world, 'portal')}"}
        seen: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"personalCode": world.person, "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = http.get("/api/v1/data-usage", params=params, headers=portal)
            assert page.status_code == 200, page.text
            seen += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == 6
        logged = [item["logged_at"] for item in seen]
        assert logged == sorted(logged, reverse=True)  # newest first, across the pages
        assert len({item["id"] for item in seen}) == 6
        forged = base64.urlsafe_b64encode(json.dumps(["yesterday", 5]).encode()).decode()
        refused = http.get(
            "/api/v1/data-usage",
            params={"personalCode": world.person, "limit": 2, "cursor": forged},
            headers=portal,
        )
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        naive = base64.urlsafe_b64encode(json.dumps(["2026-01-01T00:00:00", 5]).encode()).decode()
        refused = http.get(
            "/api/v1/data-usage",
            params={"personalCode": world.person, "limit": 2, "cursor": naive},
            headers=portal,
        )
        assert refused.status_code == 422, refused.text  # an instant without its time zone
        # why, in words: as described (the demo's child-benefit), else the code itself
        assert {(item["purpose"], item["purpose_text"]) for item in seen} == {
            ("child-benefit", "Paying child benefit"),
            ("address-correction", "address-correction"),
        }
        with database.unit_of_work() as session:
            describe_purpose(
                session,
                code=seen[0]["purpose"],
                names={"en": "Looking after you", "et": "Teie eest hoolitsemine"},
                actor="test",
            )
        (newest,) = http.get(
            "/api/v1/data-usage",
            params={"personalCode": world.person, "limit": 1},
            headers={**portal, "Accept-Language": "et"},
        ).json()["items"]
        assert newest["purpose_text"] == "Teie eest hoolitsemine"
        assert newest["purpose"] == seen[0]["purpose"]
        assert seen[0]["channel"] == "backoffice"  # newest first
        assert seen[0]["on_behalf_of"] == "clerk-7"
        assert seen[0]["receiver"]["system"] == "back office"
        only_social = http.get(
            "/api/v1/data-usage",
            params={"personalCode": world.person, "member": world.social},
            headers=portal,
        ).json()["items"]
        assert len(only_social) == 5
        assert {item["case_reference"] for item in only_social} == {f"case-{i}" for i in range(5)}
        none_yet = http.get(
            "/api/v1/data-usage",
            params={"personalCode": world.person, "to": "2000-01-01T00:00:00Z"},
            headers=portal,
        ).json()["items"]
        assert none_yet == []
        key = load_log_signing_key(settings).verifying_key
        for item in seen:
            check = item["verification"]
            canonical = check["canonical_record"].encode()
            record = json.loads(canonical)
            assert record["purpose"] == item["purpose"]
            assert record["fields"] == item["fields"]
            assert record["subject_code"] == world.person
            leaf_input = base64.b64decode(check["leaf_input"])
            assert leaf_input.startswith(USAGE_TAG)
            assert leaf_input.endswith(hashlib.sha256(canonical).digest())
            proof = check["proof"]
            assert proof["index"] == item["log_index"]
            assert proof["tree_head"]["key_id"] == key.key_id
            assert verify_inclusion(
                leaf_hash(leaf_input),
                proof["index"],
                proof["tree_size"],
                [base64.b64decode(h) for h in proof["path"]],
                base64.b64decode(proof["tree_head"]["root_hash"]),
            )
        assert (
            http.get("/api/v1/data-usage", params={"personalCode": world.person}).status_code == 401
        )


def test_staff_view_validation(database: Database, world: World, settings: Settings) -> None:
    from joinedup.core.errors import ValidationFailed

    with database.unit_of_work() as session:
        with pytest.raises(ValidationFailed, match="purpose"):
            record_staff_view(
                session,
                staff_member=f"GOV/{world.population}",
                staff_user="clerk-7",
                person_code=world.person,
                fields=["birthDate"],
                purpose=" ",
                legal_basis="",
                case_reference=None,
                log_signer=load_log_signing_key(settings),
            )
        assert list_usage(session, subject_code=world.person, request=PageRequest()).items == []


def test_monitoring_per_call_and_per_service(
    settings: Settings, database: Database, world: World
) -> None:
    with running_app(settings, database) as http:
        _calls(http, database, world, 3)
        bearer = token(database, world, "benefits")
        refused = http.get(
            world.url(), params={"personalCode": world.person}, headers=headers(world, bearer)
        )
        assert refused.status_code == 400
        admin = {"Authorization": f"Bearer {token(database, world, 'operations')}"}
        services = http.get("/api/v1/exchange/monitoring/services", headers=admin)
        assert services.status_code == 200, services.text
        (stats,) = [s for s in services.json() if s["service"] == world.service]
        assert (stats["calls"], stats["succeeded"], stats["failed"]) == (4, 3, 1)
        assert stats["last_success_at"] is not None
        assert stats["last_failure_at"] is not None
        assert 0 < stats["min_ms"] <= stats["avg_ms"] <= stats["max_ms"]
        calls = http.get(
            "/api/v1/exchange/monitoring/calls", params={"limit": 3}, headers=admin
        ).json()
        assert len(calls["items"]) == 3
        newest = calls["items"][0]
        assert (newest["status"], newest["error_type"]) == (400, "Client.MissingPurpose")
        assert newest["total_ms"] >= newest["authorization_ms"]
        rest = http.get(
            "/api/v1/exchange/monitoring/calls",
            params={"cursor": calls["next_cursor"], "limit": 3},
            headers=admin,
        ).json()
        assert len(rest["items"]) == 1
        assert rest["items"][0]["succeeded"] is True
        assert rest["items"][0]["provider_ms"] > 0
        assert rest["items"][0]["response_size"] > 0
        failed = http.get(
            "/api/v1/exchange/monitoring/calls", params={"failed": True}, headers=admin
        ).json()
        assert [c["status"] for c in failed["items"]] == [400]
        portal = {"Authorization": f"Bearer {token(database, world, 'portal')}"}
        assert http.get("/api/v1/exchange/monitoring/services", headers=portal).status_code == 403


def test_a_page_of_usage_reads_the_persons_index_in_order_without_sorting_all_of_it(
    database: Database, world: World
) -> None:
    """A person with years of records: the newest page is read from the index (subject,
    logged at, id) in order and stops, not every record fetched and sorted (SQLite's plan
    has no temporary B-tree for the ORDER BY)."""
    from sqlalchemy import event

    if database.engine.dialect.name != "sqlite":
        pytest.skip("reads SQLite's query plan")
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, sql: str, parameters: Any, *_: Any) -> None:
        if "exchange_data_usage" in sql:
            statements.append((sql, parameters))

    event.listen(database.read_engine, "before_cursor_execute", seen)
    try:
        with database.reading() as session:
            list_usage(session, subject_code=world.person, request=PageRequest(limit=20))
    finally:
        event.remove(database.read_engine, "before_cursor_execute", seen)
    (sql, parameters), *_ = statements
    with database.reading() as session:
        plan = " | ".join(
            str(row[-1])
            for row in session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters)
        )
    assert "ix_exchange_data_usage_subject" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def test_the_receivers_of_a_persons_data_are_each_member_once_by_name_and_hidden_ones_not(
    settings: Settings, database: Database, world: World
) -> None:
    """The filter's choices: every member with a visible record about the person, once, by
    name; a member whose only records are hidden (a delayed disclosure) is not offered until
    they show; another person's receivers are not theirs."""
    from datetime import timedelta

    from sqlalchemy import text

    from joinedup.core.clock import today
    from joinedup.exchange.usage_queries import usage_receivers

    def view(member: str, person: str) -> int:
        with database.unit_of_work() as session:
            return record_staff_view(
                session, staff_member=f"GOV/{member}", staff_user="clerk", person_code=person,
                fields=["residenceAddress"], purpose="address-correction",
                legal_basis="Population Register Act § 20", case_reference=None,
                log_signer=load_log_signing_key(settings),
            ).id  # fmt: skip

    with database.reading() as session:
        assert usage_receivers(session, subject_code=world.person) == []
    view(world.population, world.person)
    view(world.population, world.person)
    hidden = view(world.social, world.person)
    view(world.social, world.parent)
    until = today() + timedelta(days=30)
    hidden_too = view(world.population, world.person)
    with database.unit_of_work() as session:
        session.execute(
            text("UPDATE exchange_data_usage SET hidden_until = :until WHERE id IN (:a, :b)"),
            {"until": until, "a": hidden, "b": hidden_too},
        )
        # a hidden record's name is never shown (here: as if named otherwise when recorded)
        session.execute(
            text("UPDATE exchange_data_usage SET receiver_member_name = 'Secret' WHERE id = :b"),
            {"b": hidden_too},
        )
    with database.reading() as session:
        names = dict(
            session.execute(
                text("SELECT member_code, name FROM exchange_member WHERE member_code IN (:a, :b)"),
                {"a": world.population, "b": world.social},
            ).all()
        )
        assert usage_receivers(session, subject_code=world.person) == [
            (world.population, names[world.population])
        ]
        shown = dict(usage_receivers(session, subject_code=world.person, on=until))
        assert set(shown) == {world.population, world.social}  # once each, shown when due
        assert shown[world.social] == names[world.social]
        assert usage_receivers(session, subject_code=world.parent) == [
            (world.social, names[world.social])
        ]
        assert usage_receivers(session, subject_code="nobody") == []
