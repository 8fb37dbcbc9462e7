"""Paper letters for persons exempt from digital post: the address is read through the
exchange, the letter goes to the print provider once, delivery counts from the posting."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from notify_support import ACTOR, Country
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from joinedup import notify
from joinedup.core.db import Database
from joinedup.core.settings import get_settings
from joinedup.exchange.records import DataUsageRecord
from joinedup.notify.models import Letter, PaperDispatch


def _exempt_letter(database: Database, country: Country, reference: str = "r1") -> Any:
    with database.unit_of_work() as session:
        notify.set_delivery_preference(
            session,
            person_code=country.person,
            digital_exempt=True,
            exempt_reason="no internet at home",
            actor=ACTOR,
        )
        return notify.send_letter(
            session,
            recipient_code=country.person,
            sender=country.social,
            kind="decision",
            subject="Pension granted",
            paragraphs=["Your old-age pension starts on 1 March.", "You may appeal."],
            reference=reference,
            actor=ACTOR,
        )


def test_a_print_run_posts_the_letter_and_records_the_address_read(
    database: Database, country: Country, tmp_path: Path
) -> None:
    sent = _exempt_letter(database, country)
    provider = notify.FilePrintProvider(tmp_path / "print")
    with database.unit_of_work() as session:
        run = notify.print_run(session, client=country.mailbox, provider=provider, actor=ACTOR)
    assert (run.posted, run.undeliverable, run.failed, run.remaining) == (1, 0, 0, 0)
    printed = (tmp_path / "print" / f"{sent.message_id}.txt").read_text(encoding="utf-8")
    assert "Pension granted" in printed
    assert "Your old-age pension starts on 1 March." in printed
    with database.reading() as session:
        dispatch = session.scalars(select(PaperDispatch)).one()
        letter = session.scalars(select(Letter)).one()
        usage = session.scalars(
            select(DataUsageRecord).where(DataUsageRecord.purpose == notify.POSTAL_PURPOSE)
        ).one()
        assert dispatch.status == "posted"
        assert dispatch.print_reference == f"{sent.message_id}.txt"
        assert dispatch.posted_at is not None
        days = get_settings().paper_deemed_delivered_days
        assert letter.deemed_delivered_on == dispatch.posted_at.date() + timedelta(days=days)
        assert usage.subject_code == country.person
        assert usage.fields == "givenNames,familyName,residenceAddress"
    with database.unit_of_work() as session:  # nothing is posted twice
        again = notify.print_run(session, client=country.mailbox, provider=provider, actor=ACTOR)
    assert again.posted == 0


def test_without_a_right_to_addresses_nothing_is_posted(
    database: Database, country: Country, tmp_path: Path
) -> None:
    _exempt_letter(database, country)
    provider = notify.FilePrintProvider(tmp_path / "print")
    social = country.social + "/benefits"  # has rights, but not for postal delivery
    with database.unit_of_work() as session:
        run = notify.print_run(session, client=social, provider=provider, actor=ACTOR)
    assert run.undeliverable == 1
    with database.reading() as session:
        dispatch = session.scalars(select(PaperDispatch)).one()
        assert dispatch.status == "undeliverable"
        assert "purpose" in (dispatch.problem or "")
    assert not (tmp_path / "print").exists()


@pytest.fixture
def print_provider_url() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A print provider's HTTP API on loopback: accepts jobs, refuses the first of a kind."""
    received: list[dict[str, Any]] = []

    async def accept(request: Request) -> JSONResponse:
        job = json.loads(await request.body())
        job["_key"] = request.headers.get("idempotency-key")
        received.append(job)
        if job["subject"] == "refuse me":
            return JSONResponse({"error": "no"}, status_code=503)
        return JSONResponse({"reference": f"PP-{len(received)}"}, status_code=202)

    app = Starlette(routes=[Route("/jobs", accept, methods=["POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the print provider did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/jobs", received
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_an_http_print_provider_gets_the_job_with_an_idempotency_key(
    database: Database, country: Country, print_provider_url: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = print_provider_url
    sent = _exempt_letter(database, country)
    with database.unit_of_work() as session:
        run = notify.print_run(
            session, client=country.mailbox, provider=notify.HttpPrintProvider(url), actor=ACTOR
        )
    assert run.posted == 1
    (job,) = received
    assert job["_key"] == str(sent.message_id)
    assert job["paragraphs"] == ["Your old-age pension starts on 1 March.", "You may appeal."]
    assert job["recipient"]["address"]
    with database.reading() as session:
        assert session.scalars(select(PaperDispatch.print_reference)).one() == "PP-1"


def test_a_refused_job_stays_queued_for_the_next_run(
    database: Database, country: Country, print_provider_url: tuple[str, list[dict[str, Any]]]
) -> None:
    url, _ = print_provider_url
    with database.unit_of_work() as session:
        notify.set_delivery_preference(
            session,
            person_code=country.person,
            digital_exempt=True,
            exempt_reason="no internet",
            actor=ACTOR,
        )
        notify.send_letter(
            session,
            recipient_code=country.person,
            sender=country.social,
            kind="information",
            subject="refuse me",
            paragraphs=["x"],
            reference="refused",
            actor=ACTOR,
        )
    with database.unit_of_work() as session:
        run = notify.print_run(
            session, client=country.mailbox, provider=notify.HttpPrintProvider(url), actor=ACTOR
        )
    assert (run.posted, run.failed, run.remaining) == (0, 1, 1)
    with database.reading() as session:
        dispatch = session.scalars(select(PaperDispatch)).one()
        assert dispatch.status == "queued"
        assert "HTTPStatusError" in (dispatch.problem or "")
