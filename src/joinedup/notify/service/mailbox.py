"""Reading the digital mailbox: a person's letters, opening one (the read receipt), and the
sender's view of a letter's delivery."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, func, select
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.events import emit
from joinedup.core.keys import SigningKey, load_log_signing_key
from joinedup.core.pagination import Page, PageRequest, encode_cursor, keyset_page, page_after
from joinedup.core.settings import get_settings
from joinedup.core.translog import append_batch
from joinedup.notify.canonical import RECEIPT_KIND, receipt_leaf
from joinedup.notify.events import LetterRead
from joinedup.notify.models import Letter, PaperDispatch
from joinedup.notify.schemas import (
    Channel,
    LetterDetail,
    LetterKind,
    LetterRecord,
    LetterSummary,
    MailboxLetter,
    MailboxPage,
)
from joinedup.notify.service.letters import letter_record


def _summary(row: Letter) -> LetterSummary:
    return LetterSummary(
        message_id=row.message_id,
        sender_name=row.sender_name,
        kind=LetterKind(row.kind),
        subject=row.subject,
        sent_at=row.sent_at,
        read=row.read_at is not None,
        regarding=row.regarding,
    )


def list_letters(
    session: Session,
    *,
    recipient_code: str,
    request: PageRequest,
    unread_only: bool = False,
    sender_member_code: str | None = None,
) -> Page[LetterSummary]:
    """The person's letters, newest first (keyset pages)."""
    statement = select(Letter).where(Letter.recipient_code == recipient_code)
    if unread_only:
        statement = statement.where(Letter.read_at.is_(None))
    if sender_member_code is not None:
        statement = statement.where(Letter.sender_member_code == sender_member_code)
    rows, cursor = keyset_page(
        session, statement, keys=[Letter.id.expression], request=request, descending=True
    )
    return Page[LetterSummary](items=[_summary(row) for row in rows], next_cursor=cursor)


def count_unread(session: Session, *, recipient_code: str) -> int:
    """How many of the person's letters nobody has opened yet."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Letter)
            .where(Letter.recipient_code == recipient_code, Letter.read_at.is_(None))
        )
        or 0
    )


def _mailbox_statement(*, unread_only: bool, after: bool) -> Select[Any]:
    """A page of a mailbox, newest first, each row with the count of the mailbox's unread
    letters (an uncorrelated subquery: worked out once, not once a row)."""
    recipient: BindParameter[str] = bindparam("recipient")
    unread = (
        select(func.count())
        .select_from(Letter)
        .where(Letter.recipient_code == recipient, Letter.read_at.is_(None))
        .scalar_subquery()
    )
    statement = select(
        # a MailboxLetter's fields, in its order
        Letter.message_id,
        Letter.subject,
        Letter.read_at.is_not(None),
        Letter.kind,
        Letter.sender_name,
        Letter.sent_at,
        # the key, and the mailbox's count
        Letter.id,
        unread.label("unread"),
    ).where(Letter.recipient_code == recipient)
    if unread_only:
        statement = statement.where(Letter.read_at.is_(None))
    if after:
        statement = statement.where(Letter.id < bindparam("after"))
    return statement.order_by(Letter.id.desc()).limit(bindparam("limit"))


#: The mailbox's statements, built once (a page runs one, not a dozen constructor calls).
_MAILBOX = {
    (unread_only, after): _mailbox_statement(unread_only=unread_only, after=after)
    for unread_only in (False, True)
    for after in (False, True)
}


def mailbox_page(
    session: Session,
    *,
    recipient_code: str,
    request: PageRequest,
    unread_only: bool = False,
) -> MailboxPage:
    """The person's letters, newest first (the keyset pages and cursors of
    :func:`list_letters`), and how many of all their letters nobody has opened yet: one
    statement (two when the page is empty)."""
    after = page_after(request, (Letter.id.expression,))
    values: dict[str, Any] = {"recipient": recipient_code, "limit": request.limit + 1}
    if after is not None:
        (values["after"],) = after
    rows = session.connection().execute(_MAILBOX[unread_only, after is not None], values).all()
    if not rows:  # no row to carry the count
        unread = count_unread(session, recipient_code=recipient_code)
        return MailboxPage(letters=[], next_cursor=None, unread=unread)
    more = len(rows) > request.limit
    if more:
        rows = rows[: request.limit]
    return MailboxPage(
        letters=[MailboxLetter(*row[:6]) for row in rows],
        next_cursor=encode_cursor([rows[-1].id]) if more else None,
        unread=rows[0].unread,
    )


def _find(session: Session, message_id: uuid.UUID | str, recipient_code: str) -> Letter:
    try:
        wanted = message_id if isinstance(message_id, uuid.UUID) else uuid.UUID(message_id)
    except ValueError:
        raise NotFound("there is no such letter in this mailbox") from None
    row = session.scalar(
        select(Letter).where(Letter.message_id == wanted, Letter.recipient_code == recipient_code)
    )
    if row is None:  # someone else's letter is "not found" too: ids are not a secret to guess
        raise NotFound("there is no such letter in this mailbox")
    return row


def _detail(session: Session, row: Letter) -> LetterDetail:
    paper = session.scalar(select(PaperDispatch.status).where(PaperDispatch.letter_id == row.id))
    return LetterDetail(
        message_id=row.message_id,
        recipient_code=row.recipient_code,
        sender_member_class=row.sender_member_class,
        sender_member_code=row.sender_member_code,
        sender_name=row.sender_name,
        kind=LetterKind(row.kind),
        subject=row.subject,
        paragraphs=list(row.paragraphs),
        locale=row.locale,
        regarding=row.regarding,
        channel=Channel(row.channel),
        sent_at=row.sent_at,
        deemed_delivered_on=row.deemed_delivered_on,
        read_at=row.read_at,
        read_by=row.read_by,
        paper_status=paper,
        log_index=row.log_index,
        content_hash=row.content_hash.hex(),
    )


def get_letter(
    session: Session, *, message_id: uuid.UUID | str, recipient_code: str
) -> LetterDetail:
    """One letter of the person's mailbox without opening it (no receipt)."""
    return _detail(session, _find(session, message_id, recipient_code))


def open_letter(
    session: Session,
    *,
    message_id: uuid.UUID | str,
    recipient_code: str,
    reader_code: str,
    log_signer: SigningKey | None = None,
) -> LetterDetail:
    """The person ``recipient_code``'s letter, opened by ``reader_code`` (the recipient, or
    someone the caller has established acts for them). The first opening is the read receipt:
    it sets ``read_at``/``read_by``, fixes the receipt in the transparency log, and counts as
    delivery if that is earlier than the deemed-delivered day.

    Changes (first opening only): ``notify_letter``, the transparency log. Emits
    ``notify.letter_read.v1`` (first opening only)."""
    if not reader_code.strip():
        raise ValidationFailed("reader_code is required", field="reader_code")
    row = _find(session, message_id, recipient_code)
    if row.read_at is not None:
        return _detail(session, row)
    now = utcnow()
    row.read_at = now
    row.read_by = reader_code[:32]
    values = {
        "message_id": row.message_id,
        "salt": row.salt,
        "read_at": now,
        "read_by": row.read_by,
    }
    result = append_batch(
        session,
        kinds=[RECEIPT_KIND],
        leaf_inputs=[receipt_leaf(values)],
        signer=log_signer or load_log_signing_key(get_settings()),
    )
    row.receipt_log_index = result.indices[0]
    if row.deemed_delivered_on is None or now.date() < row.deemed_delivered_on:
        row.deemed_delivered_on = now.date()
    session.flush()
    emit(
        session,
        LetterRead(
            message_id=str(row.message_id),
            sender_member_code=row.sender_member_code,
            by_recipient=reader_code == recipient_code,
        ),
    )
    return _detail(session, row)


def letter_status(
    session: Session, *, message_id: uuid.UUID | str, sender_member_class: str,
    sender_member_code: str,
) -> LetterRecord:  # fmt: skip
    """A letter as its sender sees it (delivery and read receipt). Another sender's letter is
    ``NotFound``."""
    try:
        wanted = message_id if isinstance(message_id, uuid.UUID) else uuid.UUID(message_id)
    except ValueError:
        raise NotFound("you sent no such letter") from None
    row = session.scalar(
        select(Letter).where(
            Letter.message_id == wanted,
            Letter.sender_member_class == sender_member_class,
            Letter.sender_member_code == sender_member_code,
        )
    )
    if row is None:
        raise NotFound("you sent no such letter")
    return letter_record(row)
