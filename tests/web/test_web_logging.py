"""Structured logs: JSON lines with the request id, and never a personal code or name."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient

from joinedup.core.logging import mask_event, mask_personal_code, mask_personal_data

CODE = "38001010001"


def _lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"person {CODE} moved", "person *******0001 moved"),
        (f"/api/persons/{CODE}/address", "/api/persons/*******0001/address"),
        ("longer number 123456789012 stays", "longer number 123456789012 stays"),
        ("ten digits 3800101000 stay", "ten digits 3800101000 stay"),
        ("account EE382200221020145685", "account EE**************5685"),
        ("account EE38 2200 2210 2014 5685.", "account EE**************5685."),
        ("write to mari.maasikas@example.org", "write to [email]"),
        (
            "(IntegrityError)\n[SQL: INSERT ...]\n[parameters: ('Mari', 'x')]\n(Background",
            "(IntegrityError)\n[SQL: INSERT ...]\n[parameters: redacted]\n(Background",
        ),
    ],
)
def test_mask_personal_data(text: str, expected: str) -> None:
    assert mask_personal_data(text) == expected


def test_mask_personal_code_keeps_the_last_four_digits() -> None:
    assert mask_personal_code(CODE) == "*******0001"


def test_mask_event_redacts_sensitive_keys_at_any_depth() -> None:
    event = mask_event(
        None,
        "info",
        {
            "event": f"looked up {CODE}",
            "given_name": "Mari",
            "family_name": "Maasikas",
            "Authorization": "Bearer abc",
            "person": {"name": "Mari", "code": int(CODE), "ids": [CODE, "ok"]},
            "count": 3,
            "error": LookupError(f"no person {CODE}"),
            "request_id": "0123456789abcdef",
        },
    )
    assert event["event"] == "looked up *******0001"
    assert event["given_name"] == event["family_name"] == event["Authorization"] == "[redacted]"
    assert event["person"] == {
        "name": "[redacted]",
        "code": "*******0001",
        "ids": ["*******0001", "ok"],
    }
    assert event["count"] == 3
    assert event["error"] == "no person *******0001"
    assert event["request_id"] == "0123456789abcdef"


def test_structlog_and_stdlib_lines_are_masked_json(log_output: io.StringIO) -> None:
    structlog.get_logger("test").info("registered birth", personal_code=CODE, mother=f"code {CODE}")
    logging.getLogger("uvicorn.error").warning("client sent %s", CODE)
    try:
        raise ValueError(f"no person {CODE}")
    except ValueError:
        structlog.get_logger("test").exception("failed")

    output = log_output.getvalue()
    assert CODE not in output
    first, second, third = _lines(log_output)
    assert first["event"] == "registered birth"
    assert first["personal_code"] == "[redacted]"
    assert first["mother"] == "code *******0001"
    assert first["level"] == "info"
    assert first["timestamp"].endswith("Z")
    assert second["logger"] == "uvicorn.error"
    assert second["event"] == "client sent *******0001"
    assert "ValueError: no person *******0001" in third["exception"]


def test_access_log_uses_the_route_template_not_the_raw_path(
    app: FastAPI, log_output: io.StringIO
) -> None:
    @app.get("/api/test/persons/{code}")
    def person(code: str) -> dict[str, str]:
        structlog.get_logger("test").info("looking up", code=code)
        return {"found": "yes"}

    with TestClient(app) as client:
        response = client.get(f"/api/test/persons/{CODE}", headers={"x-request-id": "req-0000000a"})
        client.get(f"/unknown/{CODE}")
    assert response.status_code == 200
    assert CODE not in log_output.getvalue()

    lines = _lines(log_output)
    handler_line = next(line for line in lines if line["event"] == "looking up")
    assert handler_line["request_id"] == "req-0000000a"  # bound for every line of the request
    assert handler_line["code"] == "*******0001"
    access = [line for line in lines if line["logger"] == "joinedup.access"]
    assert access[0] == {
        **access[0],
        "method": "GET",
        "path": "/api/test/persons/{code}",
        "status": 200,
        "request_id": "req-0000000a",
    }
    assert isinstance(access[0]["duration_ms"], float)
    assert access[1]["path"] == "/unknown/*******0001"
    assert access[1]["status"] == 404


def test_generated_request_ids_are_unique_loggable_and_need_no_system_call_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A request id is drawn from the per-thread pool of :mod:`joinedup.core.ids`: ``uuid4``
    (one system call per request, giving up the interpreter lock on the event loop's thread)
    is not used."""
    import os
    import uuid

    from joinedup.web.context import accept_request_id, new_request_id

    def refuse() -> uuid.UUID:
        raise AssertionError("uuid4 called per request")

    monkeypatch.setattr(uuid, "uuid4", refuse)
    reads: list[int] = []
    real_urandom = os.urandom
    monkeypatch.setattr(os, "urandom", lambda n: reads.append(n) or real_urandom(n))
    ids = {new_request_id() for _ in range(500)}
    assert len(ids) == 500
    assert all(len(i) == 32 and mask_personal_data(i) == i for i in ids)
    assert len(reads) <= 3  # a few refills of 256 ids, not one read per id
    assert accept_request_id("not ok!") not in ids
