"""Sending letters: validated, fixed in the transparency log, idempotent on the reference,
on paper as well for persons exempt from digital post."""

from __future__ import annotations

from datetime import timedelta

import pytest
from notify_support import ACTOR, Country
from sqlalchemy import func, select

from joinedup import notify
from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.core.errors import Conflict, ValidationFailed
from joinedup.core.outbox import OutboxEvent
from joinedup.core.settings import get_settings
from joinedup.core.translog import inclusion_proof, latest_tree_head, leaf_hash, verify_inclusion
from joinedup.notify.canonical import letter_leaf
from joinedup.notify.models import Letter, PaperDispatch


def _send(database: Database, country: Country, **overrides: object) -> notify.LetterRecord:
    values: dict[str, object] = {
        "recipient_code": country.person,
        "sender": country.social,
        "kind": "decision",
        "subject": "Child benefit granted",
        "paragraphs": ["You get child benefit from 1 January.", "You may appeal within 30 days."],
        "reference": "entitlement:1:1",
        "actor": ACTOR,
    }
    values.update(overrides)
    with database.unit_of_work() as session:
        return notify.send_letter(session, **values)  # type: ignore[arg-type]


def _count(database: Database, model: type) -> int:
    with database.reading() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_letter_is_stored_fixed_in_the_log_and_announced(
    database: Database, country: Country
) -> None:
    before = utcnow()
    record = _send(database, country, regarding="entitlement:abc")
    assert record.channel == notify.Channel.MAILBOX
    assert record.locale == "en"
    assert not record.replayed
    days = get_settings().mailbox_deemed_delivered_days
    assert record.deemed_delivered_on == (record.sent_at + timedelta(days=days)).date()
    assert record.sent_at >= before
    with database.reading() as session:
        row = session.scalars(select(Letter)).one()
        assert row.sender_name == "Social Insurance Board"
        assert row.paragraphs == [
            "You get child benefit from 1 January.",
            "You may appeal within 30 days.",
        ]
        values = {c.key: getattr(row, c.key) for c in Letter.__table__.columns}
        head = latest_tree_head(session)
        assert head is not None
        proof = inclusion_proof(session, index=row.log_index, tree_size=head.tree_size)
        assert verify_inclusion(
            leaf_hash(letter_leaf(values)), proof.index, head.tree_size, proof.path, head.root_hash
        )
        sent = session.scalars(
            select(OutboxEvent).where(OutboxEvent.name == "notify.letter_sent.v1")
        ).one()
        assert sent.payload["message_id"] == str(record.message_id)
        assert country.person not in str(sent.payload)  # events carry no personal codes


def test_the_same_reference_is_the_same_letter(database: Database, country: Country) -> None:
    first = _send(database, country)
    again = _send(database, country)
    assert again.replayed
    assert again.message_id == first.message_id
    assert _count(database, Letter) == 1
    with pytest.raises(Conflict, match="already used"):
        _send(database, country, subject="Something else")
    # another sender may use the same reference for its own letter
    other = _send(database, country, sender=country.tax)
    assert other.message_id != first.message_id
    assert _count(database, Letter) == 2


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"recipient_code": "12345678901"}, "recipient_code"),
        ({"recipient_code": ""}, "recipient_code"),
        ({"sender": "GOV"}, "sender"),
        ({"sender": "GOV/99999999"}, "sender"),
        ({"kind": "threat"}, "kind"),
        ({"subject": " "}, "subject"),
        ({"subject": "x" * 301}, "subject"),
        ({"paragraphs": []}, "paragraphs"),
        ({"paragraphs": ["fine", ""]}, "paragraphs[2]"),
        ({"paragraphs": ["x" * 4001]}, "paragraphs[1]"),
        ({"paragraphs": ["p"] * 61}, "paragraphs"),
        ({"reference": ""}, "reference"),
        ({"reference": "r" * 201}, "reference"),
        ({"locale": "fr"}, "locale"),
        ({"regarding": "x" * 201}, "regarding"),
        ({"actor": " "}, "actor"),
    ],
)
def test_bad_letters_are_refused_and_nothing_is_written(
    database: Database, country: Country, overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        _send(database, country, **overrides)
    fields = [problem["field"] for problem in refused.value.extensions["errors"]]
    assert field in fields
    assert _count(database, Letter) == 0
    with database.reading() as session:
        assert latest_tree_head(session) is None or True  # the log may hold the seed's heads
        assert not session.scalar(
            select(OutboxEvent.id).where(OutboxEvent.name == "notify.letter_sent.v1")
        )


def test_many_letters_are_sent_in_one_batch_all_or_nothing(
    database: Database, country: Country
) -> None:
    letters = [
        notify.NewLetter(
            recipient_code=code,
            sender=country.social,
            kind="information",
            subject="New rates",
            paragraphs=["The benefit rates change on 1 January."],
            reference=f"rates-2027:{code}",
        )
        for code in (country.person, country.other)
    ]
    bad = [*letters, notify.NewLetter(country.person, country.social, "x", "s", ["p"], "r")]
    with pytest.raises(ValidationFailed), database.unit_of_work() as session:
        notify.send_letters(session, bad, actor=ACTOR)
    assert _count(database, Letter) == 0
    with database.reading() as session:
        heads_before = latest_tree_head(session)
    with database.unit_of_work() as session:
        assert notify.send_letters(session, letters, actor=ACTOR) == 2
    with database.unit_of_work() as session:
        assert notify.send_letters(session, letters, actor=ACTOR) == 0  # replays
    with database.reading() as session:
        head = latest_tree_head(session)
        assert head is not None
        assert head.tree_size - (heads_before.tree_size if heads_before else 0) == 2
    duplicated = [letters[0], letters[0]]
    with pytest.raises(Conflict), database.unit_of_work() as session:
        notify.send_letters(
            session,
            [
                notify.NewLetter(**{**vars(d), "reference": "twice"})  # type: ignore[arg-type]
                for d in duplicated
            ],
            actor=ACTOR,
        )


def test_a_person_exempt_from_digital_post_also_gets_paper(
    database: Database, country: Country
) -> None:
    with database.unit_of_work() as session:
        notify.set_delivery_preference(
            session,
            person_code=country.person,
            digital_exempt=True,
            exempt_reason="no internet at home",
            locale="et",
            actor=ACTOR,
        )
    record = _send(database, country)
    assert record.channel == notify.Channel.MAILBOX_AND_PAPER
    assert record.locale == "et"  # written in the person's language
    assert record.deemed_delivered_on is None  # counted from the posting
    with database.reading() as session:
        dispatch = session.scalars(select(PaperDispatch)).one()
        assert dispatch.status == "queued"


def test_preferences_are_validated(database: Database, country: Country) -> None:
    with database.unit_of_work() as session:
        assert notify.preferred_locale(session, person_code=country.person) == "en"
        with pytest.raises(ValidationFailed, match="exempt_reason"):
            notify.set_delivery_preference(
                session, person_code=country.person, digital_exempt=True, actor=ACTOR
            )
        with pytest.raises(ValidationFailed, match="locale"):
            notify.set_delivery_preference(
                session, person_code=country.person, locale="xx", actor=ACTOR
            )
        with pytest.raises(ValidationFailed, match="person_code"):
            notify.set_delivery_preference(session, person_code="1", locale="et", actor=ACTOR)
        changed = notify.set_delivery_preference(
            session, person_code=country.person, locale="et", actor=ACTOR
        )
        assert (changed.locale, changed.digital_exempt) == ("et", False)
        back = notify.set_delivery_preference(
            session,
            person_code=country.person,
            digital_exempt=True,
            exempt_reason="decided by the municipality",
            actor=ACTOR,
        )
        assert (back.locale, back.digital_exempt) == ("et", True)
        assert (
            notify.exempt_from_digital_post(
                session,
                person_codes=[country.person, country.other],
                reason="migration",
                actor=ACTOR,
            )
            == 1
        )


def test_looking_up_sent_references_searches_the_index(
    database: Database, country: Country
) -> None:
    from query_plans import full_scans

    def batch(sender: str) -> list[notify.NewLetter]:
        return [
            notify.NewLetter(
                recipient_code=code,
                sender=sender,
                kind="information",
                subject="New rates",
                paragraphs=["The benefit rates change on 1 January."],
                reference=f"rates-2027:{code}",
            )
            for code in (country.person, country.other)
        ]

    with database.unit_of_work() as session:
        assert notify.send_letters(session, batch(country.social), actor=ACTOR) == 2
    with full_scans(database, "notify_letter") as scans, database.unit_of_work() as session:
        assert notify.send_letters(session, batch(country.social), actor=ACTOR) == 0  # replays
        assert notify.send_letters(session, batch(country.tax), actor=ACTOR) == 2
    # a batch's look-up of its references used to scan every letter ever sent
    assert scans == []


def test_letters_sharing_a_text_are_each_checked(database: Database, country: Country) -> None:
    # a bulk sending checks each text once; every letter of a bad text is still named
    bad = ("fine", " ")
    good = ("fine",)
    letters = [
        notify.NewLetter(country.person, country.social, "decision", "s", paragraphs, f"r:{i}")
        for i, paragraphs in enumerate((bad, good, bad))
    ]
    with pytest.raises(ValidationFailed) as refused, database.unit_of_work() as session:
        notify.send_letters(session, letters, actor=ACTOR)
    fields = [problem["field"] for problem in refused.value.extensions["errors"]]
    assert fields == ["letters[0].paragraphs[2]", "letters[2].paragraphs[2]"]
    assert _count(database, Letter) == 0


def test_a_bulk_sending_uses_the_preferences_given_or_reads_them(
    database: Database, country: Country
) -> None:
    with database.unit_of_work() as session:
        notify.set_delivery_preference(
            session,
            person_code=country.other,
            digital_exempt=True,
            exempt_reason="no internet at home",
            locale="et",
            actor=ACTOR,
        )

    def letters(reference: str) -> list[notify.NewLetter]:
        return [
            notify.NewLetter(code, country.social, "information", "s", ("p",), f"{reference}:{i}")
            for i, code in enumerate((country.person, country.other))
        ]

    with database.unit_of_work() as session:
        read = notify.delivery_preferences(session, person_codes=[country.person, country.other])
        assert notify.send_letters(session, letters("given"), actor=ACTOR, preferences=read) == 2
        # preferences lacking a recipient are read again, whole
        partial = {country.person: read[country.person]}
        assert notify.send_letters(session, letters("partial"), actor=ACTOR, preferences=partial)
    with database.reading() as session:
        sent = {
            (row.reference, row.recipient_code): (row.locale, row.channel)
            for row in session.scalars(select(Letter))
        }
    for reference in ("given", "partial"):
        assert sent[f"{reference}:0", country.person] == ("en", "mailbox")
        assert sent[f"{reference}:1", country.other] == ("et", "mailbox+paper")
    assert _count(database, PaperDispatch) == 2


def test_a_bulk_sending_writes_each_letter_as_sent_alone(
    database: Database, country: Country
) -> None:
    # the canonical bytes of many letters, made together (shared values encoded once), are
    # those of each letter made alone: every letter's leaf is in the log
    from joinedup.notify.canonical import letter_canonical, letter_canonicals

    texts = [('Ünïcode "quoted"\n', "b\u2028c"), ("other",)]
    letters = [
        notify.NewLetter(
            recipient_code=code,
            sender=country.social,
            kind=kind,
            subject=subject,
            paragraphs=texts[i % 2],
            reference=f"canonical:{i}",
            regarding=None if i == 1 else f"entitlement:{i}",
            locale=locale,
        )
        for i, (code, kind, subject, locale) in enumerate(
            [
                (country.person, "decision", "Söme", "et"),
                (country.other, "information", "Söme", None),
                (country.person, "offer", "x", "en"),
                (country.other, "decision", "Söme", "et"),
            ]
        )
    ]
    with database.unit_of_work() as session:
        assert notify.send_letters(session, letters, actor=ACTOR) == 4
    with database.reading() as session:
        rows = [
            {c.key: getattr(row, c.key) for c in Letter.__table__.columns}
            for row in session.scalars(select(Letter).order_by(Letter.id))
        ]
        alone = [letter_canonical(row) for row in rows]
        assert letter_canonicals(rows) == alone
        for row, body in zip(rows, alone, strict=True):
            proof = inclusion_proof(session, index=row["log_index"])
            head = proof.tree_head
            assert verify_inclusion(
                leaf_hash(letter_leaf(row, body)),
                proof.index,
                head.tree_size,
                proof.path,
                head.root_hash,
            )
