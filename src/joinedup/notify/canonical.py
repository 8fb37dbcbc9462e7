"""The exact bytes of a letter and of its read receipt, and the log entries that fix them.

Legal delivery needs proof of *what* was delivered and *when*: a letter's content is fixed in
the transparency log when it is sent, and its read receipt when it is first opened. The
public log never holds the letter (it names a person and says private things): as for the
exchange's records, a leaf holds a tag, the letter's id and a SHA-256 of the canonical bytes,
which include a random per-letter salt::

    letter leaf  = b"JU-LTR-1" || message_id (16 bytes) || SHA-256(canonical letter)
    receipt leaf = b"JU-RCT-1" || message_id (16 bytes) || SHA-256(canonical receipt)

Canonical bytes: a JSON object with sorted keys, no insignificant whitespace, UTF-8; times as
integer microseconds since the epoch (UTC), bytes as standard base64, ``"v": 1``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

LETTER_KIND = "notify.letter"
RECEIPT_KIND = "notify.receipt"
LETTER_TAG = b"JU-LTR-1"
RECEIPT_TAG = b"JU-RCT-1"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

#: The stored columns a letter's canonical bytes cover (everything that was sent).
LETTER_COLUMNS = (
    "message_id",
    "salt",
    "recipient_code",
    "sender_member_class",
    "sender_member_code",
    "sender_name",
    "kind",
    "subject",
    "paragraphs",
    "locale",
    "regarding",
    "reference",
    "channel",
    "sent_at",
)


def _micros(instant: datetime) -> int:
    return (instant.astimezone(UTC) - _EPOCH) // _MICROSECOND


def _dumps(values: dict[str, Any]) -> bytes:
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def letter_canonical(row: Mapping[str, Any]) -> bytes:
    values: dict[str, Any] = {"v": 1, "kind": LETTER_KIND}
    for name in LETTER_COLUMNS:
        value = row[name]
        if name == "sent_at":
            values["sent_at_us"] = _micros(value)
        elif name == "salt":
            values[name] = base64.b64encode(value).decode()
        elif name == "message_id":
            values[name] = str(value)
        elif name == "paragraphs":
            values[name] = list(value)
        else:
            values[name] = value
    return _dumps(values)


def receipt_canonical(row: Mapping[str, Any]) -> bytes:
    return _dumps(
        {
            "v": 1,
            "kind": RECEIPT_KIND,
            "message_id": str(row["message_id"]),
            "salt": base64.b64encode(row["salt"]).decode(),
            "read_at_us": _micros(row["read_at"]),
            "read_by": row["read_by"],
        }
    )


def _leaf(tag: bytes, message_id: uuid.UUID, canonical: bytes) -> bytes:
    return tag + message_id.bytes + hashlib.sha256(canonical).digest()


def letter_leaf(row: Mapping[str, Any], canonical: bytes | None = None) -> bytes:
    """The letter's log leaf input (``canonical``: its :func:`letter_canonical`, when the
    caller has made it already)."""
    body = letter_canonical(row) if canonical is None else canonical
    return _leaf(LETTER_TAG, row["message_id"], body)


def receipt_leaf(row: Mapping[str, Any]) -> bytes:
    return _leaf(RECEIPT_TAG, row["message_id"], receipt_canonical(row))
