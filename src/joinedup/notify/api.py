"""The digital mailbox over HTTP for agencies: send a letter, follow its delivery.

``POST /api/v1/notify/letters`` is how any agency's system — national, regional or local —
puts a letter into a person's one mailbox (as GOV.UK Notify's API, Denmark's Digital Post).
The caller authenticates with the OAuth 2.0 client credentials of one of its subsystems
(``POST /oauth/token``); the letter's sender is always the caller's own member, never a field
of the body. People read their mailbox in the portal.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from joinedup import exchange
from joinedup.core.http import ReadSession, WriteSession, get_database
from joinedup.notify.schemas import LetterRecord, SendLetterBody
from joinedup.notify.service import letter_status, send_letter

router = APIRouter(prefix="/api/v1/notify", tags=["digital mailbox"])


def _agency(request: Request) -> exchange.ClientIdentity:
    with get_database(request).reading() as session:
        client: exchange.ClientIdentity = exchange.authenticate_client(
            session, authorization=request.headers.get("authorization")
        )
    return client


Agency = Annotated[exchange.ClientIdentity, Depends(_agency)]


@router.post(
    "/letters",
    status_code=status.HTTP_201_CREATED,
    summary="Send a letter to a person's digital mailbox",
    responses={200: {"description": "The reference was sent before: that letter, unchanged."}},
)
def post_letter(
    body: SendLetterBody, agency: Agency, session: WriteSession, response: Response
) -> LetterRecord:
    """The letter goes to the person's mailbox and, when they are exempt from digital post,
    on paper too. Sending the same ``reference`` again answers the first letter (200) and
    sends nothing; the same reference with another content is a 409."""
    record = send_letter(
        session,
        recipient_code=body.recipient_code,
        sender=f"{agency.member_class}/{agency.member_code}",
        kind=body.kind.value,
        subject=body.subject,
        paragraphs=body.paragraphs,
        reference=body.reference,
        regarding=body.regarding,
        locale=body.locale,
        actor=f"client:{agency.client_id}",
    )
    if record.replayed:
        response.status_code = status.HTTP_200_OK
    return record


@router.get("/letters/{message_id}", summary="A letter you sent: delivery and read receipt")
def get_letter_status(message_id: uuid.UUID, agency: Agency, session: ReadSession) -> LetterRecord:
    return letter_status(
        session,
        message_id=message_id,
        sender_member_class=agency.member_class,
        sender_member_code=agency.member_code,
    )
