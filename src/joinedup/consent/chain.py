"""The exact bytes of agreement versions and consent revisions, and the log entries fixing them.

**Agreement version.** Its canonical bytes are a JSON object (sorted keys, no insignificant
whitespace, UTF-8): ``v``, ``kind`` (``consent.agreement_version``), ``agreement_id``,
``controller``, ``code``, ``version``, ``title``, ``purpose``, ``lawful_basis``,
``data_items``, ``retention_days``, ``policy_url``, ``consents_from_version`` and
``published_at_us`` (microseconds since the epoch, UTC). ``revision_hash`` = SHA-256 of them:
every consent revision copies it, so a consent names exactly the text it was given to.

**Consent revision.** Its canonical bytes hold ``v``, ``kind`` (``consent.revision``),
``revision_id``, ``consent_record_id``, ``seq``, ``action``, ``agreement_id``,
``agreement_version``, ``agreement_hash``, ``subject_code``, ``recorded_at_us``,
``recorded_by``, ``acting_for``, ``signed_as``, ``salt`` and ``predecessor_hash`` (the
previous revision's ``serialized_hash``; null for the first), with bytes as standard base64.
``serialized_hash`` = SHA-256 of them. So each revision commits to its predecessor: a hash
chain per consent record (GovStack's ``Revision`` with ``predecessorHash`` and
``serializedHash``).

**Transparency-log entry** of a revision (public, so no personal code in it)::

    leaf_input = b"JU-CNS-1" (8 bytes) || revision_id (16 bytes) || serialized_hash (32 bytes)

The random 16-byte ``salt`` inside the canonical bytes makes the hash impossible to reverse by
trying the few plausible personal codes. Rewriting a revision changes its hash, which no longer
matches its log entry; rewriting its hash too breaks its successor's ``predecessor_hash`` and
still differs from the log; deleting a revision leaves a log entry without its row.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

REVISION_KIND = "consent.revision"
AGREEMENT_KIND = "consent.agreement_version"
REVISION_TAG = b"JU-CNS-1"
TAG_SIZE = 8
LEAF_SIZE = TAG_SIZE + 16 + 32

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def epoch_us(moment: datetime) -> int:
    return (moment.astimezone(UTC) - _EPOCH) // _MICROSECOND


def _json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _b64(value: bytes | None) -> str | None:
    return base64.b64encode(value).decode() if value is not None else None


def agreement_canonical(values: Mapping[str, Any]) -> bytes:
    """The canonical bytes of an agreement version (see the module docstring)."""
    return _json(
        {
            "v": 1,
            "kind": AGREEMENT_KIND,
            "agreement_id": str(values["agreement_id"]),
            "controller": values["controller"],
            "code": values["code"],
            "version": values["version"],
            "title": values["title"],
            "purpose": values["purpose"],
            "lawful_basis": values["lawful_basis"],
            "data_items": [
                {"service": item["service"], "field": item["field"]}
                for item in values["data_items"]
            ],
            "retention_days": values["retention_days"],
            "policy_url": values["policy_url"],
            "consents_from_version": values["consents_from_version"],
            "published_at_us": epoch_us(values["published_at"]),
        }
    )


def revision_canonical(values: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a consent revision (see the module docstring)."""
    return _json(
        {
            "v": 1,
            "kind": REVISION_KIND,
            "revision_id": str(values["revision_id"]),
            "consent_record_id": str(values["consent_record_id"]),
            "seq": values["seq"],
            "action": values["action"],
            "agreement_id": str(values["agreement_id"]),
            "agreement_version": values["agreement_version"],
            "agreement_hash": _b64(values["agreement_hash"]),
            "subject_code": values["subject_code"],
            "recorded_at_us": epoch_us(values["recorded_at"]),
            "recorded_by": values["recorded_by"],
            "acting_for": values["acting_for"],
            "signed_as": values["signed_as"],
            "salt": _b64(values["salt"]),
            "predecessor_hash": _b64(values["predecessor_hash"]),
        }
    )


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def revision_leaf(revision_id: uuid.UUID, serialized_hash: bytes) -> bytes:
    """The transparency-log leaf input of a revision."""
    return REVISION_TAG + revision_id.bytes + serialized_hash


def leaf_revision_id(leaf_input: bytes) -> uuid.UUID | None:
    """The revision id in a consent leaf input; ``None`` for any other entry."""
    if len(leaf_input) != LEAF_SIZE or leaf_input[:TAG_SIZE] != REVISION_TAG:
        return None
    return uuid.UUID(bytes=leaf_input[TAG_SIZE : TAG_SIZE + 16])
