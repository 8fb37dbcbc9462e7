"""Sending letters to a person's digital mailbox (and on paper to those exempt).

An agency sends a letter already written in the recipient's language. Sending validates
everything first (nothing is written when anything is wrong), fixes each letter's content in
the transparency log (one batch, one signed tree head, for however many letters), stores it,
queues a paper copy for persons exempt from digital post, and emits one
``notify.letter_sent.v1`` per letter. A letter is identified for its sender by the sender's
``reference``: sending the same reference again is a replay (the first letter is answered,
nothing is written); the same reference with a different content is a conflict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from joinedup import exchange
from joinedup.core import i18n
from joinedup.core.bulk_writes import insert_rows
from joinedup.core.clock import utcnow
from joinedup.core.errors import Conflict
from joinedup.core.events import emit_many
from joinedup.core.ids import new_id, new_salt
from joinedup.core.keys import SigningKey, load_log_signing_key
from joinedup.core.settings import get_settings
from joinedup.core.translog import append_batch
from joinedup.notify.canonical import LETTER_KIND, letter_canonicals, letter_leaf
from joinedup.notify.events import LetterSent
from joinedup.notify.models import Letter, PaperDispatch
from joinedup.notify.schemas import (
    MAX_PARAGRAPH,
    MAX_PARAGRAPHS,
    MAX_REFERENCE,
    MAX_SUBJECT,
    Channel,
    LetterKind,
    LetterRecord,
    NewLetter,
    PreferenceRecord,
)
from joinedup.notify.service.checks import check_person_code, refuse
from joinedup.notify.service.preferences import delivery_preferences

_LETTERS = cast(Table, Letter.__table__)
_DISPATCHES = cast(Table, PaperDispatch.__table__)
_KINDS = frozenset(kind.value for kind in LetterKind)
_CHUNK = 400


@dataclass(frozen=True)
class _Sender:
    member_class: str
    member_code: str
    name: str


def deemed_delivered(sent_at: datetime) -> date:
    """The day a letter deposited at ``sent_at`` counts as delivered if never opened."""
    return sent_at.date() + timedelta(days=get_settings().mailbox_deemed_delivered_days)


def _text_problems(subject: str, paragraphs: Sequence[str]) -> list[tuple[str, str]]:
    """What is wrong with a letter's text: (field, message) pairs."""
    found: list[tuple[str, str]] = []
    if not subject.strip():
        found.append(("subject", "is required"))
    elif len(subject) > MAX_SUBJECT:
        found.append(("subject", f"must be at most {MAX_SUBJECT} characters"))
    if not paragraphs:
        found.append(("paragraphs", "a letter needs at least one paragraph"))
    elif len(paragraphs) > MAX_PARAGRAPHS:
        found.append(("paragraphs", f"at most {MAX_PARAGRAPHS} paragraphs"))
    for number, paragraph in enumerate(paragraphs, start=1):
        if not paragraph.strip():
            found.append((f"paragraphs[{number}]", "is empty"))
        elif len(paragraph) > MAX_PARAGRAPH:
            found.append((f"paragraphs[{number}]", f"must be at most {MAX_PARAGRAPH} characters"))
    return found


#: Per sending, the text problems of each text (subject and paragraphs objects) checked
#: already, holding them (their ids are not reused meanwhile): a bulk sending's thousands of
#: letters share a few texts.
_TextChecks = dict[tuple[int, int], tuple[str, Sequence[str], list[tuple[str, str]]]]


def _check(
    letter: NewLetter,
    position: str,
    problems: list[dict[str, str]],
    texts: _TextChecks | None = None,
) -> None:
    def problem(field: str, message: str) -> None:
        problems.append({"field": f"{position}{field}", "message": message})

    check_person_code(problems, f"{position}recipient_code", letter.recipient_code)
    if len(letter.sender.split("/")) != 2 or "" in letter.sender.split("/"):
        problem("sender", "must be CLASS/MEMBER_CODE")
    if letter.kind not in _KINDS:
        problem("kind", "must be one of " + ", ".join(sorted(_KINDS)))
    key = (id(letter.subject), id(letter.paragraphs))
    checked = texts.get(key) if texts is not None else None
    if checked is None:
        checked = (
            letter.subject,
            letter.paragraphs,
            _text_problems(letter.subject, letter.paragraphs),
        )
        if texts is not None:
            texts[key] = checked
    for field, message in checked[2]:
        problem(field, message)
    if not letter.reference.strip():
        problem("reference", "is required")
    elif len(letter.reference) > MAX_REFERENCE:
        problem("reference", f"must be at most {MAX_REFERENCE} characters")
    if letter.regarding is not None and len(letter.regarding) > 200:
        problem("regarding", "must be at most 200 characters")
    if letter.locale is not None and i18n.supported(letter.locale) != letter.locale:
        problem("locale", "must be one of " + ", ".join(i18n.available_locales()))


def _senders(session: Session, letters: Sequence[NewLetter]) -> dict[str, _Sender]:
    """The senders' names, from the exchange's directory (members are never renamed)."""
    wanted: dict[str, tuple[str, str]] = {}
    for letter in letters:
        member_class, _slash, member_code = letter.sender.partition("/")
        wanted[letter.sender] = (member_class, member_code)
    names = exchange.member_names(session, wanted.values())
    refuse(
        [
            {"field": "sender", "message": f"{sender} is not a registered member"}
            for sender, member in sorted(wanted.items())
            if member not in names
        ]
    )
    return {sender: _Sender(c, code, names[(c, code)]) for sender, (c, code) in wanted.items()}


def _same_content(row: Letter, letter: NewLetter, locale: str) -> bool:
    return (
        row.recipient_code == letter.recipient_code
        and row.kind == letter.kind
        and row.subject == letter.subject
        and list(row.paragraphs) == list(letter.paragraphs)
        and row.regarding == letter.regarding
        and row.locale == locale
    )


def _existing(
    session: Session, keys: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str, str], Letter]:
    """The letters already sent under ``keys`` (sender class, sender code, reference).

    Per sender, ``reference IN (…)``: the unique index (sender class, code, reference) is
    searched. A row-value ``(class, code, reference) IN (…)`` is not, on SQLite: it scanned
    the whole table, each letter sent costing time in proportion to every letter ever sent."""
    found: dict[tuple[str, str, str], Letter] = {}
    by_sender: dict[tuple[str, str], list[str]] = {}
    for member_class, member_code, reference in dict.fromkeys(keys):
        by_sender.setdefault((member_class, member_code), []).append(reference)
    for (member_class, member_code), references in by_sender.items():
        for start in range(0, len(references), _CHUNK):
            for row in session.scalars(
                select(Letter).where(
                    Letter.sender_member_class == member_class,
                    Letter.sender_member_code == member_code,
                    Letter.reference.in_(references[start : start + _CHUNK]),
                )
            ):
                found[(row.sender_member_class, row.sender_member_code, row.reference)] = row
    return found


def letter_record(row: Letter, *, replayed: bool = False) -> LetterRecord:
    return LetterRecord(
        message_id=row.message_id,
        recipient_code=row.recipient_code,
        sender_member_class=row.sender_member_class,
        sender_member_code=row.sender_member_code,
        sender_name=row.sender_name,
        kind=LetterKind(row.kind),
        subject=row.subject,
        reference=row.reference,
        regarding=row.regarding,
        locale=row.locale,
        channel=Channel(row.channel),
        sent_at=row.sent_at,
        deemed_delivered_on=row.deemed_delivered_on,
        read_at=row.read_at,
        log_index=row.log_index,
        replayed=replayed,
    )


def _write(
    session: Session,
    letters: Sequence[NewLetter],
    *,
    actor: str,
    log_signer: SigningKey | None,
    answer: bool = True,
    preferences: Mapping[str, PreferenceRecord] | None = None,
) -> tuple[int, list[tuple[int, LetterRecord]]]:
    """Validate and write ``letters``; returns how many were new and, when ``answer``, the
    (position, record) of every letter (replays included, marked) in the order given.
    ``preferences``: the recipients' (read in this transaction), else read here."""
    problems: list[dict[str, str]] = []
    texts: _TextChecks = {}
    for position, letter in enumerate(letters):
        _check(letter, f"letters[{position}]." if len(letters) > 1 else "", problems, texts)
    if not actor.strip():
        problems.append({"field": "actor", "message": "is required"})
    refuse(problems)
    senders = _senders(session, letters)
    recipients = [letter.recipient_code for letter in letters]
    if preferences is None or not all(code in preferences for code in recipients):
        preferences = delivery_preferences(session, person_codes=recipients)
    keys = [
        (senders[le.sender].member_class, senders[le.sender].member_code, le.reference)
        for le in letters
    ]
    existing = _existing(session, keys)
    now = utcnow()
    delivered_on = deemed_delivered(now)
    answers: list[tuple[int, LetterRecord]] = []
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, str, str], int] = {}
    paragraph_lists: dict[int, list[str]] = {}  # by id of the letters' paragraphs (held)
    for position, (letter, key) in enumerate(zip(letters, keys, strict=True)):
        preference = preferences[letter.recipient_code]
        locale = letter.locale or preference.locale
        found = existing.get(key)
        if found is not None:
            if not _same_content(found, letter, locale):
                raise Conflict(
                    f"reference {letter.reference!r} was already used for another letter",
                    reference=letter.reference,
                )
            if answer:
                answers.append((position, letter_record(found, replayed=True)))
            continue
        if key in seen:
            raise Conflict(
                f"reference {letter.reference!r} appears twice in one sending",
                reference=letter.reference,
            )
        seen[key] = position
        sender = senders[letter.sender]
        exempt = preference.digital_exempt
        rows.append(
            {
                "message_id": new_id(),
                "salt": new_salt(),
                "recipient_code": letter.recipient_code,
                "sender_member_class": sender.member_class,
                "sender_member_code": sender.member_code,
                "sender_name": sender.name[:300],
                "kind": letter.kind,
                "subject": letter.subject,
                # one list per text, not per letter (its JSON is made once in a row)
                "paragraphs": paragraph_lists.setdefault(
                    id(letter.paragraphs), list(letter.paragraphs)
                ),
                "locale": locale,
                "regarding": letter.regarding,
                "reference": letter.reference,
                "channel": (Channel.MAILBOX_AND_PAPER if exempt else Channel.MAILBOX).value,
                "sent_at": now,
                "sent_by": actor[:100],
                # on paper, delivery is counted from the posting (set when posted)
                "deemed_delivered_on": None if exempt else delivered_on,
                "read_at": None,
                "read_by": None,
                "receipt_log_index": None,
                "_position": position,
            }
        )
    if rows:
        signer = log_signer or load_log_signing_key(get_settings())
        canonical = letter_canonicals(rows)
        result = append_batch(
            session,
            kinds=[LETTER_KIND] * len(rows),
            leaf_inputs=[letter_leaf(row, body) for row, body in zip(rows, canonical, strict=True)],
            signer=signer,
        )
        for row, index, body in zip(rows, result.indices, canonical, strict=True):
            row["log_index"] = index
            row["content_hash"] = hashlib.sha256(body).digest()
        names = tuple(name for name in rows[0] if not name.startswith("_"))
        connection = session.connection()
        insert_rows(connection, _LETTERS, names, [tuple(row[n] for n in names) for row in rows])
        on_paper = [row for row in rows if row["channel"] == Channel.MAILBOX_AND_PAPER.value]
        if on_paper:  # their letters' ids (read back only when a paper copy needs them)
            ids = dict(
                session.execute(
                    select(Letter.message_id, Letter.id).where(
                        Letter.log_index.between(result.indices[0], result.indices[-1])
                    )
                ).all()
            )
            paper = [(ids[row["message_id"]], "queued", now) for row in on_paper]
            insert_rows(connection, _DISPATCHES, ("letter_id", "status", "queued_at"), paper)
        emit_many(
            session,
            [
                LetterSent(
                    message_id=str(row["message_id"]),
                    sender_member_code=row["sender_member_code"],
                    kind=row["kind"],
                    channel=row["channel"],
                )
                for row in rows
            ],
        )
        if answer:
            for row in rows:
                answers.append((row["_position"], _record_of_row(row)))
    answers.sort(key=lambda pair: pair[0])
    return len(rows), answers


def _record_of_row(row: dict[str, Any]) -> LetterRecord:
    # the row was made here from validated letters: no validation again (a bulk sending
    # answers thousands)
    return LetterRecord.model_construct(
        message_id=row["message_id"],
        recipient_code=row["recipient_code"],
        sender_member_class=row["sender_member_class"],
        sender_member_code=row["sender_member_code"],
        sender_name=row["sender_name"],
        kind=LetterKind(row["kind"]),
        subject=row["subject"],
        reference=row["reference"],
        regarding=row["regarding"],
        locale=row["locale"],
        channel=Channel(row["channel"]),
        sent_at=row["sent_at"],
        deemed_delivered_on=row["deemed_delivered_on"],
        read_at=None,
        log_index=row["log_index"],
    )


def send_letter(
    session: Session,
    *,
    recipient_code: str,
    sender: str,
    kind: str,
    subject: str,
    paragraphs: Sequence[str],
    reference: str,
    regarding: str | None = None,
    locale: str | None = None,
    actor: str,
    log_signer: SigningKey | None = None,
) -> LetterRecord:
    """Send one letter from the agency ``sender`` (``CLASS/MEMBER_CODE``) to the person
    ``recipient_code``, written in ``locale`` (default: the recipient's preferred language).

    Changes: ``notify_letter`` (and ``notify_paper_dispatch`` for a person exempt from digital
    post), the transparency log (one entry, one signed tree head). Emits
    ``notify.letter_sent.v1``. A replayed ``reference`` writes and emits nothing and answers
    the first letter (``replayed``); the same reference with another content is a
    ``Conflict``. Callers sending many letters in one transaction use :func:`send_letters`."""
    letter = NewLetter(
        recipient_code=recipient_code,
        sender=sender,
        kind=kind,
        subject=subject,
        paragraphs=tuple(paragraphs),
        reference=reference,
        regarding=regarding,
        locale=locale,
    )
    return _write(session, [letter], actor=actor, log_signer=log_signer)[1][0][1]


def send_letters(
    session: Session,
    letters: Sequence[NewLetter],
    *,
    actor: str,
    log_signer: SigningKey | None = None,
    preferences: Mapping[str, PreferenceRecord] | None = None,
) -> int:
    """Send many letters at once: all validated before anything is written, one
    transparency-log batch for all. Returns how many were new (replays are skipped).
    ``preferences``: the recipients' delivery preferences when the caller has just read them
    in this transaction (:func:`delivery_preferences`), else read here.

    Changes and events as :func:`send_letter`, per letter."""
    if not letters:
        return 0
    return _write(
        session,
        letters,
        actor=actor,
        log_signer=log_signer,
        answer=False,
        preferences=preferences,
    )[0]
