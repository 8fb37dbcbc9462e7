"""Reading the mailbox: newest first in keyset pages, the read receipt on first opening, and
nobody else's letters."""

from __future__ import annotations

from typing import Any

import pytest
from notify_support import ACTOR, Country
from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup import notify
from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.outbox import OutboxEvent
from joinedup.core.pagination import PageRequest, encode_cursor
from joinedup.core.translog import inclusion_proof, latest_tree_head, leaf_hash, verify_inclusion
from joinedup.notify.canonical import receipt_leaf
from joinedup.notify.models import Letter


def _letters(database: Database, country: Country, count: int, to: str | None = None) -> list:
    with database.unit_of_work() as session:
        return [
            notify.send_letter(
                session,
                recipient_code=to or country.person,
                sender=country.social if number % 2 else country.tax,
                kind="information",
                subject=f"Letter {number}",
                paragraphs=[f"Text {number}"],
                reference=f"letter-{number}-{to}",
                actor=ACTOR,
            )
            for number in range(count)
        ]


def test_the_mailbox_lists_newest_first_in_pages(database: Database, country: Country) -> None:
    _letters(database, country, 5)
    _letters(database, country, 2, to=country.other)
    with database.reading() as session:
        first = notify.list_letters(
            session, recipient_code=country.person, request=PageRequest(limit=3)
        )
        assert [item.subject for item in first.items] == ["Letter 4", "Letter 3", "Letter 2"]
        assert first.next_cursor is not None
        rest = notify.list_letters(
            session,
            recipient_code=country.person,
            request=PageRequest(cursor=first.next_cursor, limit=3),
        )
        assert [item.subject for item in rest.items] == ["Letter 1", "Letter 0"]
        assert rest.next_cursor is None
        tax_code = country.tax.split("/")[1]
        only_tax = notify.list_letters(
            session,
            recipient_code=country.person,
            request=PageRequest(limit=10),
            sender_member_code=tax_code,
        )
        assert [item.subject for item in only_tax.items] == ["Letter 4", "Letter 2", "Letter 0"]
        assert notify.count_unread(session, recipient_code=country.person) == 5


def test_opening_a_letter_records_one_read_receipt(database: Database, country: Country) -> None:
    (sent,) = _letters(database, country, 1)
    before = utcnow()
    with database.unit_of_work() as session:
        opened = notify.open_letter(
            session,
            message_id=sent.message_id,
            recipient_code=country.person,
            reader_code=country.other,  # e.g. a guardian acting for the recipient
        )
    assert opened.read_at is not None
    assert opened.read_at >= before
    assert opened.read_by == country.other
    assert opened.deemed_delivered_on == opened.read_at.date()  # read before the deemed day
    assert opened.paragraphs == ["Text 0"]
    with database.unit_of_work() as session:
        again = notify.open_letter(
            session,
            message_id=str(sent.message_id),
            recipient_code=country.person,
            reader_code=country.person,
        )
    assert (again.read_at, again.read_by) == (opened.read_at, opened.read_by)
    with database.reading() as session:
        row = session.scalars(select(Letter)).one()
        values = {c.key: getattr(row, c.key) for c in Letter.__table__.columns}
        assert row.receipt_log_index is not None
        head = latest_tree_head(session)
        assert head is not None
        proof = inclusion_proof(session, index=row.receipt_log_index, tree_size=head.tree_size)
        assert verify_inclusion(
            leaf_hash(receipt_leaf(values)), proof.index, head.tree_size, proof.path, head.root_hash
        )
        reads = list(
            session.scalars(select(OutboxEvent).where(OutboxEvent.name == "notify.letter_read.v1"))
        )
        assert len(reads) == 1
        assert reads[0].payload["by_recipient"] is False
        assert notify.count_unread(session, recipient_code=country.person) == 0


@pytest.mark.parametrize("guess", ["not-a-uuid", "0eadbcf9-fd7b-42c8-bab0-6e2d1ec795b1", ""])
def test_guessed_or_malformed_letter_ids_are_not_found(
    database: Database, country: Country, guess: str
) -> None:
    _letters(database, country, 1)
    with database.reading() as session, pytest.raises(NotFound):
        notify.get_letter(session, message_id=guess, recipient_code=country.person)


def test_nobody_opens_another_persons_letter(database: Database, country: Country) -> None:
    (sent,) = _letters(database, country, 1)
    with database.unit_of_work() as session, pytest.raises(NotFound):
        notify.open_letter(
            session,
            message_id=sent.message_id,
            recipient_code=country.other,
            reader_code=country.other,
        )
    with database.reading() as session:
        assert session.scalars(select(Letter.read_at)).one() is None
    with database.unit_of_work() as session, pytest.raises(ValidationFailed):
        notify.open_letter(
            session, message_id=sent.message_id, recipient_code=country.person, reader_code=" "
        )


def test_a_sender_sees_delivery_of_its_own_letters_only(
    database: Database, country: Country
) -> None:
    (sent,) = _letters(database, country, 1)
    tax_class, tax_code = country.tax.split("/")
    social_class, social_code = country.social.split("/")
    with database.reading() as session:
        with pytest.raises(NotFound):
            notify.letter_status(
                session,
                message_id=sent.message_id,
                sender_member_class=social_class,
                sender_member_code=social_code,
            )
        status = notify.letter_status(
            session,
            message_id=sent.message_id,
            sender_member_class=tax_class,
            sender_member_code=tax_code,
        )
    assert status.read_at is None


def _as_listed(
    session: Session, recipient: str, request: PageRequest, unread_only: bool
) -> tuple[list[tuple[Any, ...]], str | None, int]:
    """A mailbox page as list_letters and count_unread give it (mailbox_page's reference)."""
    page = notify.list_letters(
        session, recipient_code=recipient, request=request, unread_only=unread_only
    )
    letters = [
        (i.message_id, i.subject, i.read, i.kind.value, i.sender_name, i.sent_at)
        for i in page.items
    ]
    return letters, page.next_cursor, notify.count_unread(session, recipient_code=recipient)


def test_the_portals_mailbox_page_is_list_letters_and_count_unread_in_one(
    database: Database, country: Country
) -> None:
    sent = _letters(database, country, 7)
    _letters(database, country, 2, to=country.other)
    with database.unit_of_work() as session:
        for letter in sent[1::3]:  # letters 1 and 4 opened: 5 unread
            notify.open_letter(
                session,
                message_id=letter.message_id,
                recipient_code=country.person,
                reader_code=country.person,
            )
    with database.reading() as session:
        for recipient in (country.person, country.other, "00000000000"):
            for unread_only in (False, True):
                for limit in (1, 3, 7, 20):
                    cursor, pages = None, 0
                    while True:
                        request = PageRequest(cursor=cursor, limit=limit)
                        page = notify.mailbox_page(
                            session,
                            recipient_code=recipient,
                            request=request,
                            unread_only=unread_only,
                        )
                        got = (
                            [tuple(letter) for letter in page.letters],
                            page.next_cursor,
                            page.unread,
                        )
                        assert got == _as_listed(session, recipient, request, unread_only)
                        pages += 1
                        cursor = page.next_cursor
                        if cursor is None:
                            break
                    assert pages <= 8
        # a cursor past the last letter: an empty page, still counting the unread ones
        empty = notify.mailbox_page(
            session,
            recipient_code=country.person,
            request=PageRequest(cursor=encode_cursor([-1]), limit=5),
            unread_only=True,
        )
        assert (empty.letters, empty.next_cursor, empty.unread) == ([], None, 5)
        assert empty.unread == notify.count_unread(session, recipient_code=country.person)


@pytest.mark.parametrize(
    "cursor", ["zzz", encode_cursor(["1"]), encode_cursor([True]), encode_cursor([1.5]),
               encode_cursor([2**63]), encode_cursor([1, 2]), encode_cursor([None])],
)  # fmt: skip
def test_the_portals_mailbox_page_refuses_cursors_as_list_letters_does(
    database: Database, country: Country, cursor: str
) -> None:
    with database.reading() as session:
        with pytest.raises(ValidationFailed) as listed:
            notify.list_letters(
                session, recipient_code=country.person, request=PageRequest(cursor=cursor)
            )
        with pytest.raises(ValidationFailed) as paged:
            notify.mailbox_page(
                session, recipient_code=country.person, request=PageRequest(cursor=cursor)
            )
    assert str(paged.value) == str(listed.value)
    assert paged.value.extensions == listed.value.extensions
