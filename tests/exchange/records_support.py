"""Building exchange records without a mediated call (the recorder's and verifier's tests)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from joinedup.cli import app
from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.core.keys import SigningKey
from joinedup.exchange.messagelog import MessageFacts, message_record
from joinedup.exchange.recorder import Recording
from joinedup.exchange.usage import CHANNEL_EXCHANGE, Receiver, usage_records

CLIENT_KEY = SigningKey.generate()
PROVIDER_KEY = SigningKey.generate()
RECEIVER = Receiver("GOV", "70000019", "Social Insurance Board", "benefits")
runner = CliRunner()


def recording(
    *,
    subjects: tuple[str, ...] = ("39001010008",),
    message_id: str | None = None,
    status: int = 200,
    hidden_until: date | None = None,
    log_bodies: bool = False,
) -> Recording:
    """A successful call's records: message, one usage per subject, monitoring."""
    logged_at = utcnow()
    message_id = message_id or str(uuid.uuid4())
    facts = MessageFacts(
        logged_at=logged_at,
        message_id=message_id,
        client_xroad_id="JOINEDUP/GOV/70000019/benefits",
        service_xroad_id="JOINEDUP/GOV/70000001/population/person",
        client_member_id=1,
        provider_member_id=2,
        user_id="EE39001010008",
        issue="case-1",
        represented_party=None,
        purpose="child-benefit",
        legal_basis="Family Benefits Act §5",
        method="GET",
        path="",
        status=status,
        error_type=None,
        duration_us=1234,
        request_hash=hashlib.sha512(message_id.encode()).digest(),
        request_body=b"",
        response_body=b'{"birthDate":"1990-01-01"}',
        log_bodies=log_bodies,
    )
    message = message_record(facts, client_key=CLIENT_KEY, provider_key=PROVIDER_KEY)
    rows = usage_records(
        logged_at=logged_at,
        subjects=subjects,
        channel=CHANNEL_EXCHANGE,
        receiver=RECEIVER,
        service_xroad_id=facts.service_xroad_id,
        action="child-benefit (person)",
        fields=("birthDate",),
        purpose="child-benefit",
        legal_basis="Family Benefits Act §5",
        case_reference="case-1",
        user_id="EE39001010008",
        represented_party=None,
        message_id=message_id,
        law_enforcement=hidden_until is not None,
        hidden_until=hidden_until,
    )
    return Recording(
        message=message,
        usages=[row for row, _ in rows],
        usage_leaves=[leaf for _, leaf in rows],
        call={
            "started_at": logged_at,
            "message_id": message_id,
            "client_xroad_id": facts.client_xroad_id,
            "service_xroad_id": facts.service_xroad_id,
            "method": "GET",
            "status": status,
            "succeeded": status < 400,
            "error_type": None,
            "total_us": 1234,
            "authorization_us": 100,
            "provider_us": 800,
            "request_size": 0,
            "response_size": 26,
        },
    )


def verify_cli(database: Database, log_key: SigningKey, tmp_path: Path) -> tuple[int, list[str]]:
    """``joinedup log verify`` on ``database``: exit code and output lines."""
    public_key = tmp_path / "log-public.pem"
    public_key.write_text(log_key.public_pem())
    result = runner.invoke(
        app,
        ["log", "verify", "--database-url", database.url, "--public-key", str(public_key)],
    )
    return result.exit_code, result.stdout.strip().splitlines()
