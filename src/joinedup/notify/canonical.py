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
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

LETTER_KIND = "notify.letter"
RECEIPT_KIND = "notify.receipt"
LETTER_TAG = b"JU-LTR-1"
RECEIPT_TAG = b"JU-RCT-1"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: A string as ``json.dumps(…, ensure_ascii=False)`` writes it (the C encoder, called directly).
_encode_string = json.encoder.encode_basestring
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


#: The keys of a letter's canonical object, in their (sorted) order, with the column each
#: comes from (None: a constant).
_LETTER_KEYS: tuple[tuple[str, str | None], ...] = tuple(
    sorted(
        # the letter's ``kind`` column takes the place of the constant (as in the dict above)
        [("v", None)]
        + [("sent_at_us" if name == "sent_at" else name, name) for name in LETTER_COLUMNS],
        key=lambda pair: pair[0],
    )
)
#: The columns many letters of one sending share (one sender, a few texts): encoded once each.
_SHARED = frozenset(
    {
        "sender_member_class",
        "sender_member_code",
        "sender_name",
        "kind",
        "subject",
        "paragraphs",
        "locale",
        "channel",
        "sent_at",
    }
)


def _value_json(name: str, value: Any) -> str:
    """One value of a letter's canonical object, as :func:`letter_canonical` writes it."""
    if name == "sent_at":
        value = _micros(value)
    elif name == "salt":
        value = base64.b64encode(value).decode()
    elif name == "message_id":
        value = str(value)
    elif name == "paragraphs":
        value = list(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def letter_canonicals(rows: Sequence[Mapping[str, Any]]) -> list[bytes]:
    """:func:`letter_canonical` of each of ``rows`` (the same bytes), for a bulk sending:
    the values the rows share (the same objects: one sender, a few texts, one time) are
    encoded once, not once per letter."""
    constants = {"v": "1"}
    shared: dict[tuple[str, int], tuple[Any, str]] = {}
    found: list[bytes] = []
    for row in rows:
        parts: list[str] = []
        for key, name in _LETTER_KEYS:
            if name is None:
                encoded = constants[key]
            else:
                value = row[name]
                if name in _SHARED:
                    # keyed by identity, holding the value: its id is not reused meanwhile
                    known = shared.get((name, id(value)))
                    if known is None:
                        known = shared[name, id(value)] = (value, _value_json(name, value))
                    encoded = known[1]
                elif type(value) is str:
                    encoded = _encode_string(value)
                elif value is None:
                    encoded = "null"
                elif name == "message_id" and type(value) is uuid.UUID:
                    encoded = f'"{value}"'  # hex digits and hyphens: nothing to escape
                elif name == "salt":
                    encoded = f'"{base64.b64encode(value).decode()}"'  # base64: nothing either
                else:
                    encoded = _value_json(name, value)
            parts.append(f'"{key}":{encoded}')
        found.append(("{" + ",".join(parts) + "}").encode())
    return found


def _leaf(tag: bytes, message_id: uuid.UUID, canonical: bytes) -> bytes:
    return tag + message_id.bytes + hashlib.sha256(canonical).digest()


def letter_leaf(row: Mapping[str, Any], canonical: bytes | None = None) -> bytes:
    """The letter's log leaf input (``canonical``: its :func:`letter_canonical`, when the
    caller has made it already)."""
    body = letter_canonical(row) if canonical is None else canonical
    return _leaf(LETTER_TAG, row["message_id"], body)


def receipt_leaf(row: Mapping[str, Any]) -> bytes:
    return _leaf(RECEIPT_TAG, row["message_id"], receipt_canonical(row))
