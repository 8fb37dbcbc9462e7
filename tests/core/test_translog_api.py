"""The transparency log's HTTP API, on the real application and both databases."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from joinedup.core.db import Database
from joinedup.core.keys import SigningKey, VerifyingKey, load_log_signing_key
from joinedup.core.settings import Settings
from joinedup.core.translog import append, merkle
from joinedup.web import create_app

PROBLEM = "application/problem+json"


@pytest.fixture
def signer(settings: Settings) -> SigningKey:
    return load_log_signing_key(settings)  # the key the application publishes


@pytest.fixture
def client(settings: Settings, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database=database)) as test_client:
        yield test_client


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _fill(database: Database, signer: SigningKey, sizes: list[int]) -> list[bytes]:
    inputs: list[bytes] = []
    for size in sizes:
        batch = [f"usage {len(inputs) + i}".encode() for i in range(size)]
        with database.unit_of_work() as session:
            append(session, kind="exchange.usage", leaf_inputs=batch, signer=signer)
        inputs += batch
    return inputs


def test_an_empty_log_has_no_tree_head(client: TestClient) -> None:
    response = client.get("/api/v1/log/tree-head")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert "empty" in response.json()["detail"]


def test_tree_head_and_public_key_verify_each_other(
    client: TestClient, database: Database, signer: SigningKey
) -> None:
    inputs = _fill(database, signer, [5, 8])
    head = client.get("/api/v1/log/tree-head").json()
    assert head["tree_size"] == 13
    assert head["previous_tree_size"] == 5
    assert _b64(head["root_hash"]) == merkle.mth([merkle.leaf_hash(d) for d in inputs])
    response = client.get("/api/v1/log/public-key")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-pem-file")
    key = VerifyingKey.from_pem(response.text)
    assert key.key_id == head["key_id"] == response.headers["x-key-id"]
    signed = (
        b"\x00\x01"
        + head["timestamp"].to_bytes(8, "big")
        + head["tree_size"].to_bytes(8, "big")
        + _b64(head["root_hash"])
        + head["previous_tree_size"].to_bytes(8, "big")
    )
    assert key.verify(_b64(head["signature"]), signed)


def test_inclusion_and_consistency_proofs_verify(
    client: TestClient, database: Database, signer: SigningKey
) -> None:
    inputs = _fill(database, signer, [7, 9, 20])
    proof = client.get("/api/v1/log/proof/inclusion", params={"index": 11, "tree_size": 16})
    assert proof.status_code == 200
    body = proof.json()
    assert body["tree_size"] == body["tree_head"]["tree_size"] == 16
    assert _b64(body["leaf_hash"]) == merkle.leaf_hash(inputs[11])
    assert merkle.verify_inclusion(
        merkle.leaf_hash(inputs[11]),
        11,
        16,
        [_b64(p) for p in body["path"]],
        _b64(body["tree_head"]["root_hash"]),
    )
    latest = client.get("/api/v1/log/proof/inclusion", params={"index": 35}).json()
    assert latest["tree_size"] == 36

    consistency = client.get("/api/v1/log/proof/consistency", params={"first": 7}).json()
    assert (consistency["first"], consistency["second"]) == (7, 36)
    assert merkle.verify_consistency(
        7,
        36,
        _b64(consistency["first_tree_head"]["root_hash"]),
        _b64(consistency["second_tree_head"]["root_hash"]),
        [_b64(p) for p in consistency["path"]],
    )


def test_entries_are_paged_by_cursor(
    client: TestClient, database: Database, signer: SigningKey
) -> None:
    inputs = _fill(database, signer, [30])
    first = client.get("/api/v1/log/entries", params={"limit": 20}).json()
    assert [e["index"] for e in first["items"]] == list(range(20))
    assert first["items"][0] == {
        "index": 0,
        "kind": "exchange.usage",
        "leaf_hash": base64.b64encode(merkle.leaf_hash(inputs[0])).decode(),
    }
    rest = client.get(
        "/api/v1/log/entries", params={"limit": 20, "cursor": first["next_cursor"]}
    ).json()
    assert [e["index"] for e in rest["items"]] == list(range(20, 30))
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("path", "params", "status", "slug"),
    [
        ("/api/v1/log/proof/inclusion", {"index": 3, "tree_size": 4}, 404, "not-found"),
        ("/api/v1/log/proof/inclusion", {"index": 5, "tree_size": 5}, 422, "validation-failed"),
        ("/api/v1/log/proof/inclusion", {"index": -1}, 422, "validation-failed"),
        ("/api/v1/log/proof/inclusion", {"index": "x"}, 422, "validation-failed"),
        ("/api/v1/log/proof/inclusion", {}, 422, "validation-failed"),
        ("/api/v1/log/proof/consistency", {"first": 9, "second": 5}, 422, "validation-failed"),
        ("/api/v1/log/proof/consistency", {"first": 0}, 422, "validation-failed"),
        ("/api/v1/log/entries", {"limit": 0}, 422, "validation-failed"),
        ("/api/v1/log/entries", {"cursor": "not-ours"}, 422, "validation-failed"),
    ],
)
def test_bad_parameters_are_problem_documents(
    client: TestClient,
    database: Database,
    signer: SigningKey,
    path: str,
    params: dict[str, object],
    status: int,
    slug: str,
) -> None:
    _fill(database, signer, [5, 4])
    response = client.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith("/" + slug)
