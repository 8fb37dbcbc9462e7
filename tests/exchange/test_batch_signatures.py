"""Message-log records written together are signed as one batch (as X-Road's security
servers do): each member key signs the batch tree's root once, and every record still proves
on its own that both its members signed it; a changed record, signature or proof fails."""

from __future__ import annotations

from typing import Any

from records_support import CLIENT_KEY, PROVIDER_KEY, recording
from sqlalchemy import select, text

from joinedup.core.db import Database
from joinedup.core.keys import SigningKey
from joinedup.exchange.canonical import message_leaf
from joinedup.exchange.messagelog import sign_batch, signatures_valid
from joinedup.exchange.recorder import write_recordings
from joinedup.exchange.records import MessageLogRecord
from joinedup.exchange.verification import verify_exchange_records

LOG_KEY = SigningKey.generate()
OTHER_CLIENT = SigningKey.generate()


def _rows(database: Database) -> list[dict[str, Any]]:
    with database.reading() as session:
        return [
            {c.key: getattr(row, c.key) for c in MessageLogRecord.__table__.columns}
            for row in session.scalars(select(MessageLogRecord).order_by(MessageLogRecord.id))
        ]


def test_one_signature_per_key_and_batch_and_each_record_verifies(database: Database) -> None:
    batch = [recording() for _ in range(13)]  # a tree that is not a power of two
    with database.unit_of_work() as session:
        write_recordings(session, batch, signer=LOG_KEY)
    rows = _rows(database)
    assert len(rows) == 13
    # the client's key and the provider's key each signed once for the whole batch
    assert len({row["client_signature"] for row in rows}) == 1
    assert len({row["provider_signature"] for row in rows}) == 1
    assert len({row["signature_proof"] for row in rows}) == 13
    for row in rows:
        assert signatures_valid(
            row, client=CLIENT_KEY.verifying_key, provider=PROVIDER_KEY.verifying_key
        )
        assert not signatures_valid(
            row, client=OTHER_CLIENT.verifying_key, provider=PROVIDER_KEY.verifying_key
        )
    checked, findings = verify_exchange_records(database.url)
    assert findings == []
    assert checked >= 13


def test_a_changed_record_or_proof_no_longer_verifies(database: Database) -> None:
    with database.unit_of_work() as session:
        write_recordings(session, [recording() for _ in range(5)], signer=LOG_KEY)
    row = _rows(database)[2]
    keys = {"client": CLIENT_KEY.verifying_key, "provider": PROVIDER_KEY.verifying_key}
    assert signatures_valid(row, **keys)
    assert not signatures_valid({**row, "status": 500}, **keys)
    proof = row["signature_proof"]
    # another record's place in the batch, a cut path, a broken proof
    assert not signatures_valid({**row, "signature_proof": b"\x00" * 4 + proof[4:]}, **keys)
    assert not signatures_valid({**row, "signature_proof": proof[:-32]}, **keys)
    assert not signatures_valid({**row, "signature_proof": proof[:-1]}, **keys)
    # and the transparency log notices a changed proof, as it does a changed signature
    with database.unit_of_work() as session:
        session.execute(
            text("UPDATE exchange_message SET signature_proof = :p WHERE id = :i"),
            {"p": proof[:-32], "i": row["id"]},
        )
    _, findings = verify_exchange_records(database.url)
    assert any(f"log entry {row['log_index']}" in str(finding) for finding in findings)


def test_a_record_signed_alone_before_batches_still_verifies() -> None:
    """Records written before batch signatures have no proof: their canonical bytes were
    signed directly, and they still verify."""
    unsigned = recording().message
    assert unsigned is not None
    row = dict(unsigned.row)
    row["client_signature"] = CLIENT_KEY.sign(unsigned.canonical)
    row["provider_signature"] = PROVIDER_KEY.sign(unsigned.canonical)
    row["signature_proof"] = None
    assert signatures_valid(
        row, client=CLIENT_KEY.verifying_key, provider=PROVIDER_KEY.verifying_key
    )
    # a batch of one is a tree of one leaf: its root is the leaf hash
    single = recording().message
    assert single is not None
    (leaf,) = sign_batch([single])
    assert leaf == message_leaf(single.row, single.canonical)
    assert signatures_valid(
        single.row, client=CLIENT_KEY.verifying_key, provider=PROVIDER_KEY.verifying_key
    )
