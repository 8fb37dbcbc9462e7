"""The exact bytes of message-log and data-usage records, and the log entries that fix them.

A record's **canonical bytes** are a JSON object with sorted keys, no insignificant
whitespace, UTF-8 (not ASCII-escaped): every stored column except the surrogate ``id`` and
``log_index``, with

- times as integers: ``logged_at_us`` (microseconds since the epoch, UTC);
- dates as ``YYYY-MM-DD``; hashes, signatures and salts as standard base64; UUIDs in
  their canonical hex form; ``fields`` as a list of names;
- ``"v": 1`` and ``"kind"`` (``exchange.message`` or ``exchange.data_usage``).

The **transparency-log entry** of a record (its ``leaf_input``) never holds the record itself
(the log is public and a record names a person)::

    leaf_input = tag (``JU-MSG-1`` or ``JU-USE-1``, 8 bytes) || record_id (16 bytes)
                 || SHA-256(canonical bytes || client signature || provider signature
                            || signature proof)

Signatures and the proof (of the batch the record was signed in, see
:mod:`joinedup.exchange.messagelog`) are empty for data-usage records. Each record carries a
random 16-byte salt, so the hash cannot be reversed by trying the few plausible values of a
record. Anyone holding a
record (the person, from the portal) recomputes its canonical bytes, the leaf input and the
leaf hash, and checks the inclusion proof against a signed tree head.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

MESSAGE_KIND = "exchange.message"
USAGE_KIND = "exchange.data_usage"
MESSAGE_TAG = b"JU-MSG-1"
USAGE_TAG = b"JU-USE-1"
TAG_SIZE = 8
LEAF_SIZE = TAG_SIZE + 16 + 32

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

MESSAGE_COLUMNS = (
    "record_id",
    "salt",
    "logged_at",
    "message_id",
    "client_xroad_id",
    "service_xroad_id",
    "client_member_id",
    "provider_member_id",
    "user_id",
    "issue",
    "represented_party",
    "purpose",
    "legal_basis",
    "method",
    "path_template",
    "status",
    "error_type",
    "duration_us",
    "request_hash",
    "request_body_hash",
    "response_body_hash",
    "client_key_id",
    "provider_key_id",
)
USAGE_COLUMNS = (
    "record_id",
    "salt",
    "logged_at",
    "subject_code",
    "channel",
    "receiver_member_class",
    "receiver_member_code",
    "receiver_member_name",
    "receiver_system",
    "service_xroad_id",
    "action",
    "fields",
    "purpose",
    "legal_basis",
    "case_reference",
    "user_id",
    "represented_party",
    "message_id",
    "law_enforcement",
    "hidden_until",
)


def epoch_us(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (no float rounding)."""
    return (moment.astimezone(UTC) - _EPOCH) // _MICROSECOND


def _value(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return epoch_us(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


#: Values written as they are: what JSON has a type for.
_PLAIN = frozenset({str, int, bool, type(None)})


def _dumps(document: dict[str, Any]) -> bytes:
    """``json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
    UTF-8 encoded: orjson writes the same bytes for these documents (string, integer, boolean
    and null values, lists of strings; a test compares them over every code point), several
    times faster. An integer beyond 64 bits, which orjson refuses, takes the ``json`` road."""
    try:
        return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()


def _canonical(kind: str, columns: tuple[str, ...], values: Mapping[str, Any]) -> bytes:
    document: dict[str, Any] = {"v": 1, "kind": kind}
    for column in columns:
        value = values[column]
        if column == "logged_at":
            document["logged_at_us"] = epoch_us(value)
        elif column == "fields":
            document["fields"] = [name for name in str(value).split(",") if name]
        elif type(value) in _PLAIN:
            document[column] = value
        else:
            document[column] = _value(value)
    return _dumps(document)


def message_canonical(values: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a message-log record (what both members sign)."""
    return _canonical(MESSAGE_KIND, MESSAGE_COLUMNS, values)


def usage_canonical(values: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a data-usage record."""
    return _canonical(USAGE_KIND, USAGE_COLUMNS, values)


#: Stand-ins for the values that differ between the data-usage records of one call.
_VARYING = ("record_id", "salt", "subject_code")
_STAND_IN = "\u2063joinedup-varying-{}\u2063"


class UsageTemplate:
    """The canonical bytes of many data-usage records that differ only in ``record_id``,
    ``salt`` and ``subject_code`` (the records of one call, one per person): the document is
    written once with stand-ins, cut at them, and each record's bytes are the pieces joined
    around its own three values — byte for byte what :func:`usage_canonical` writes (keys are
    sorted, so where each value goes does not depend on the values)."""

    def __init__(self, common: Mapping[str, Any]) -> None:
        values = dict(common)
        for name in _VARYING:
            values[name] = _STAND_IN.format(name)
        document = usage_canonical(values)
        pieces: list[bytes] = []
        rest = document
        for name in _VARYING:
            marker = orjson.dumps(_STAND_IN.format(name))
            if rest.count(marker) != 1:
                raise ValueError("a data-usage record's text holds the template's stand-in")
            head, rest = rest.split(marker)
            pieces.append(head)
        pieces.append(rest)
        self._pieces = pieces

    def canonical(self, record_id: uuid.UUID, salt: bytes, subject_code: str) -> bytes:
        p = self._pieces
        return b"".join(
            (
                p[0],
                orjson.dumps(str(record_id)),
                p[1],
                orjson.dumps(base64.b64encode(salt).decode()),
                p[2],
                orjson.dumps(subject_code),
                p[3],
            )
        )


def message_leaf(values: Mapping[str, Any], canonical: bytes | None = None) -> bytes:
    """The transparency-log leaf input committing to a message-log record and its signatures."""
    digest = hashlib.sha256(canonical or message_canonical(values))
    digest.update(values["client_signature"] or b"")
    digest.update(values["provider_signature"] or b"")
    digest.update(values.get("signature_proof") or b"")
    return MESSAGE_TAG + _uuid_bytes(values["record_id"]) + digest.digest()


def usage_leaf(values: Mapping[str, Any], canonical: bytes | None = None) -> bytes:
    """The transparency-log leaf input committing to a data-usage record."""
    digest = hashlib.sha256(canonical or usage_canonical(values)).digest()
    return USAGE_TAG + _uuid_bytes(values["record_id"]) + digest


def _uuid_bytes(value: uuid.UUID | str) -> bytes:
    return value.bytes if isinstance(value, uuid.UUID) else uuid.UUID(value).bytes


def leaf_record_id(leaf_input: bytes) -> tuple[bytes, uuid.UUID] | None:
    """``(tag, record_id)`` of an exchange leaf input; ``None`` for any other entry."""
    if len(leaf_input) != LEAF_SIZE or leaf_input[:TAG_SIZE] not in (MESSAGE_TAG, USAGE_TAG):
        return None
    return leaf_input[:TAG_SIZE], uuid.UUID(bytes=leaf_input[TAG_SIZE : TAG_SIZE + 16])
