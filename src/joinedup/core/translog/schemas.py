"""Response models of the transparency log's API. Hashes and signatures are standard base64,
as in RFC 6962's JSON API."""

from __future__ import annotations

import base64

from pydantic import BaseModel, Field

from joinedup.core.translog.service import ConsistencyProof, EntrySummary, InclusionProof
from joinedup.core.translog.treehead import SignedTreeHead


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


class TreeHeadOut(BaseModel):
    """A signed tree head. The signature covers RFC 6962's TreeHeadSignature
    (version 0, signature type 1, timestamp, tree size, root hash) followed by
    ``previous_tree_size`` as a uint64, all big-endian; Ed25519."""

    tree_size: int = Field(description="Entries in the tree.")
    timestamp: int = Field(description="When it was signed, milliseconds since the epoch.")
    root_hash: str = Field(description="RFC 6962 Merkle Tree Hash, base64.")
    previous_tree_size: int = Field(description="Size of the tree head before this one.")
    key_id: str = Field(description="Hex SHA-256 (first 16 bytes) of the raw public key.")
    signature: str = Field(description="Ed25519 signature, base64.")

    @classmethod
    def of(cls, head: SignedTreeHead) -> TreeHeadOut:
        return cls(
            tree_size=head.tree_size,
            timestamp=head.timestamp_ms,
            root_hash=b64(head.root_hash),
            previous_tree_size=head.previous_tree_size,
            key_id=head.key_id,
            signature=b64(head.signature),
        )


class InclusionProofOut(BaseModel):
    """PATH(index, D[tree_size]) of RFC 6962 §2.1.1; verify as RFC 9162 §2.1.3.2."""

    index: int
    tree_size: int
    leaf_hash: str = Field(description="SHA-256(0x00 || leaf_input), base64.")
    path: list[str] = Field(description="Audit path, leaf side first, base64.")
    tree_head: TreeHeadOut

    @classmethod
    def of(cls, proof: InclusionProof) -> InclusionProofOut:
        return cls(
            index=proof.index,
            tree_size=proof.tree_size,
            leaf_hash=b64(proof.leaf_hash),
            path=[b64(h) for h in proof.path],
            tree_head=TreeHeadOut.of(proof.tree_head),
        )


class ConsistencyProofOut(BaseModel):
    """PROOF(first, D[second]) of RFC 6962 §2.1.2; verify as RFC 9162 §2.1.4.2."""

    first: int
    second: int
    path: list[str] = Field(description="Consistency proof nodes, base64.")
    first_tree_head: TreeHeadOut
    second_tree_head: TreeHeadOut

    @classmethod
    def of(cls, proof: ConsistencyProof) -> ConsistencyProofOut:
        return cls(
            first=proof.first.tree_size,
            second=proof.second.tree_size,
            path=[b64(h) for h in proof.path],
            first_tree_head=TreeHeadOut.of(proof.first),
            second_tree_head=TreeHeadOut.of(proof.second),
        )


class EntryOut(BaseModel):
    index: int
    kind: str
    leaf_hash: str = Field(description="SHA-256(0x00 || leaf_input), base64.")

    @classmethod
    def of(cls, entry: EntrySummary) -> EntryOut:
        return cls(index=entry.index, kind=entry.kind, leaf_hash=b64(entry.leaf_hash))
