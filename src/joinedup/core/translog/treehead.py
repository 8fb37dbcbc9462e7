"""Signed tree heads: what the log's key signs, byte for byte.

The signed data is RFC 6962's ``TreeHeadSignature`` (§3.5) followed by one field of ours::

    uint8   version            = 0 (v1)
    uint8   signature_type     = 1 (tree_hash)
    uint64  timestamp          milliseconds since the epoch
    uint64  tree_size
    opaque  root_hash[32]      MTH of the first tree_size entries
    uint64  previous_tree_size the size of the tree head before this one (0 for the first)

all big-endian (58 bytes), signed with Ed25519. The last field chains the heads, so a tree
head removed from the middle of the log is detected by the one after it; without it, only the
heads themselves would say which heads exist.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from joinedup.core.keys import SigningKey, VerifyingKey

VERSION_V1 = 0
SIGNATURE_TYPE_TREE_HASH = 1
_LAYOUT = struct.Struct(">BBQQ32sQ")


def tree_head_signature_input(
    *, timestamp_ms: int, tree_size: int, root_hash: bytes, previous_tree_size: int
) -> bytes:
    """The exact bytes a tree head's signature covers."""
    if len(root_hash) != 32:
        raise ValueError("a root hash is 32 bytes")
    return _LAYOUT.pack(
        VERSION_V1,
        SIGNATURE_TYPE_TREE_HASH,
        timestamp_ms,
        tree_size,
        root_hash,
        previous_tree_size,
    )


@dataclass(frozen=True)
class SignedTreeHead:
    """A tree size, its root hash and the log key's signature over both (and the time)."""

    tree_size: int
    timestamp_ms: int
    root_hash: bytes
    previous_tree_size: int
    key_id: str
    signature: bytes

    def signed_data(self) -> bytes:
        return tree_head_signature_input(
            timestamp_ms=self.timestamp_ms,
            tree_size=self.tree_size,
            root_hash=self.root_hash,
            previous_tree_size=self.previous_tree_size,
        )

    def verify(self, key: VerifyingKey) -> bool:
        """Whether ``key`` signed exactly this tree head."""
        return key.key_id == self.key_id and key.verify(self.signature, self.signed_data())

    @classmethod
    def sign(
        cls,
        signer: SigningKey,
        *,
        tree_size: int,
        timestamp_ms: int,
        root_hash: bytes,
        previous_tree_size: int,
    ) -> SignedTreeHead:
        data = tree_head_signature_input(
            timestamp_ms=timestamp_ms,
            tree_size=tree_size,
            root_hash=root_hash,
            previous_tree_size=previous_tree_size,
        )
        return cls(
            tree_size=tree_size,
            timestamp_ms=timestamp_ms,
            root_hash=root_hash,
            previous_tree_size=previous_tree_size,
            key_id=signer.key_id,
            signature=signer.sign(data),
        )
