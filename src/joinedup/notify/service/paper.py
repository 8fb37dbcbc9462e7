"""Paper letters for persons exempt from digital post: the print run.

A letter to an exempt person is queued for paper when it is sent. A print run (``joinedup
notify print-run``, run by an operator or a scheduler) takes queued letters, reads each
recipient's name and postal address **through the exchange** (the mailbox's subsystem, purpose
``postal-delivery``: the read is a data-usage record like any other), hands the letter to the
print provider, and records it as posted: delivery is then counted from the posting
(``JOINEDUP_PAPER_DEEMED_DELIVERED_DAYS``).

Print providers: the embedded one writes each letter as a text file into
``<data_dir>/print/``; ``JOINEDUP_PRINT_PROVIDER_URL`` selects a provider's HTTP API. The
letter's message id is the provider's idempotency key, so a run that crashed after handing a
letter over and is run again does not post it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup import exchange
from joinedup.core.clock import utcnow
from joinedup.core.errors import DomainError, ValidationFailed
from joinedup.core.events import emit
from joinedup.core.pagination import Page, PageRequest, keyset_page
from joinedup.core.settings import Settings, get_settings
from joinedup.notify.events import LetterPosted
from joinedup.notify.models import Letter, PaperDispatch
from joinedup.notify.schemas import PaperDispatchRecord

POSTAL_PURPOSE = "postal-delivery"
_POSTAL_FIELDS = ("givenNames", "familyName", "residenceAddress")


@dataclass(frozen=True)
class PrintJob:
    """One letter as the print provider receives it."""

    message_id: str
    recipient_name: str
    address_lines: tuple[str, ...]
    sender_name: str
    sent_on: str
    subject: str
    paragraphs: tuple[str, ...]

    def as_text(self) -> str:
        lines = [self.recipient_name, *self.address_lines, "", self.sender_name, self.sent_on]
        lines += ["", self.subject, "", *(p + "\n" for p in self.paragraphs)]
        lines += [f"Letter {self.message_id}"]
        return "\n".join(lines) + "\n"


class PrintProvider(Protocol):
    """Prints and posts letters; answers the provider's reference of each."""

    def submit(self, job: PrintJob) -> str: ...


class FilePrintProvider:
    """The embedded print provider: one text file per letter (what would be printed)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def submit(self, job: PrintJob) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{job.message_id}.txt"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(job.as_text(), encoding="utf-8")
        temporary.replace(path)  # a repeated run writes the same file again: idempotent
        return path.name


class HttpPrintProvider:
    """A print provider's HTTP API: ``POST <url>`` with the job as JSON and the message id as
    ``Idempotency-Key``; a 2xx answer's ``reference`` means it was accepted for posting."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.url = url
        self.timeout = timeout

    def submit(self, job: PrintJob) -> str:
        answer = httpx.post(
            self.url,
            json={
                "messageId": job.message_id,
                "recipient": {"name": job.recipient_name, "address": list(job.address_lines)},
                "sender": job.sender_name,
                "date": job.sent_on,
                "subject": job.subject,
                "paragraphs": list(job.paragraphs),
            },
            headers={"Idempotency-Key": job.message_id},
            timeout=self.timeout,
        )
        answer.raise_for_status()
        reference = answer.json().get("reference")
        if not isinstance(reference, str) or not reference:
            raise ValueError("the print provider answered without a reference")
        return reference


def print_provider(settings: Settings) -> PrintProvider:
    """The configured print provider."""
    if settings.print_provider_url:
        return HttpPrintProvider(settings.print_provider_url)
    return FilePrintProvider(settings.data_dir / "print")


@dataclass(frozen=True)
class PrintRun:
    posted: int
    undeliverable: int
    failed: int
    remaining: int


def _address_lines(address: dict[str, Any]) -> tuple[str, ...]:
    street = f"{address.get('street', '')} {address.get('houseNumber', '')}".strip()
    if address.get("apartment"):
        street += f"-{address['apartment']}"
    town = f"{address.get('postcode', '')} {address.get('municipalityName', '')}".strip()
    return tuple(line for line in (street, town) if line)


def print_run(
    session: Session,
    *,
    client: str,
    provider: PrintProvider,
    limit: int = 200,
    actor: str,
) -> PrintRun:
    """Print and post up to ``limit`` queued paper letters, reading each recipient's postal
    address through the exchange as the subsystem ``client`` (``CLASS/MEMBER/SUBSYSTEM``).

    Changes: ``notify_paper_dispatch`` (posted, or undeliverable when the person has no
    address), ``notify_letter.deemed_delivered_on``, the exchange's records of the reads.
    Emits ``notify.letter_posted.v1`` per posted letter. A letter the provider refused stays
    queued (counted as failed) for the next run."""
    if not 1 <= limit <= 10_000:
        raise ValidationFailed("limit must be between 1 and 10000", field="limit")
    if not actor.strip():
        raise ValidationFailed("actor is required", field="actor")
    queued = session.execute(
        select(PaperDispatch, Letter)
        .join(Letter, Letter.id == PaperDispatch.letter_id)
        .where(PaperDispatch.status == "queued")
        .order_by(PaperDispatch.id)
        .limit(limit)
    ).all()
    days = get_settings().paper_deemed_delivered_days
    posted = undeliverable = failed = 0
    with exchange.exchange_client(session, client=client) as calls:
        for dispatch, letter in queued:
            try:
                answer = calls.call(
                    _person_service(session),
                    purpose=POSTAL_PURPOSE,
                    query={"personalCode": letter.recipient_code},
                    fields=_POSTAL_FIELDS,
                    issue=f"letter {letter.message_id}",
                )
            except DomainError as exc:
                dispatch.status = "undeliverable"
                dispatch.problem = exc.detail[:300]
                undeliverable += 1
                continue
            address = answer.body.get("residenceAddress")
            if not address:
                dispatch.status = "undeliverable"
                dispatch.problem = "the person has no registered postal address"
                undeliverable += 1
                continue
            name = " ".join(
                part for part in (answer.body.get("givenNames"), answer.body.get("familyName"))
                if part
            )  # fmt: skip
            job = PrintJob(
                message_id=str(letter.message_id),
                recipient_name=name,
                address_lines=_address_lines(address),
                sender_name=letter.sender_name,
                sent_on=letter.sent_at.date().isoformat(),
                subject=letter.subject,
                paragraphs=tuple(letter.paragraphs),
            )
            try:
                reference = provider.submit(job)
            except (httpx.HTTPError, ValueError, OSError) as exc:
                dispatch.problem = f"the print provider refused: {type(exc).__name__}"[:300]
                failed += 1
                continue
            now = utcnow()
            dispatch.status = "posted"
            dispatch.posted_at = now
            dispatch.print_reference = reference[:300]
            dispatch.problem = None
            delivered = now.date() + timedelta(days=days)
            if letter.deemed_delivered_on is None or delivered < letter.deemed_delivered_on:
                letter.deemed_delivered_on = delivered
            emit(session, LetterPosted(message_id=str(letter.message_id)))
            posted += 1
    session.flush()
    remaining = session.scalar(
        select(PaperDispatch.id).where(PaperDispatch.status == "queued").limit(1)
    )
    return PrintRun(posted, undeliverable, failed, 1 if remaining is not None else 0)


_PERSON_SERVICE_KEY = "joinedup.notify.person_service"


def _person_service(session: Session) -> str:
    """The population register's ``person`` service (found in the directory by its code)."""
    cached = session.info.get(_PERSON_SERVICE_KEY)
    if isinstance(cached, str):
        return cached
    found = str(exchange.registry_service_ref(session, code="person"))
    session.info[_PERSON_SERVICE_KEY] = found
    return found


def paper_queue(
    session: Session, *, request: PageRequest, status: str | None = None
) -> Page[PaperDispatchRecord]:
    """Paper letters and where they are (operators; no letter contents)."""
    statement = select(PaperDispatch)
    if status is not None:
        statement = statement.where(PaperDispatch.status == status)
    rows, cursor = keyset_page(
        session, statement, keys=[PaperDispatch.id.expression], request=request
    )
    message_ids = dict(
        session.execute(
            select(Letter.id, Letter.message_id).where(
                Letter.id.in_([dispatch.letter_id for dispatch in rows])
            )
        ).all()
    )
    return Page[PaperDispatchRecord](
        items=[
            PaperDispatchRecord(
                message_id=message_ids[dispatch.letter_id],
                status=dispatch.status,
                queued_at=dispatch.queued_at,
                posted_at=dispatch.posted_at,
                print_reference=dispatch.print_reference,
                problem=dispatch.problem,
            )
            for dispatch in rows
        ],
        next_cursor=cursor,
    )
