"""The transparency log: an append-only RFC 6962 Merkle tree with signed tree heads.

Other contexts use these names (never the models): :func:`append` or, on hot paths, the
session's :class:`LogAppender`; :func:`inclusion_proof` and :func:`consistency_proof` to give
a person what they need to check an entry; :func:`verify_log` to audit the whole log.
"""

from joinedup.core.translog.appender import LogAppender, PendingEntry
from joinedup.core.translog.merkle import leaf_hash, verify_consistency, verify_inclusion
from joinedup.core.translog.service import (
    AppendResult,
    ConsistencyProof,
    InclusionProof,
    LogDamaged,
    append,
    append_batch,
    consistency_proof,
    inclusion_proof,
    latest_tree_head,
    list_entries,
    tree_head_at,
)
from joinedup.core.translog.treehead import SignedTreeHead
from joinedup.core.translog.verify import VerificationReport, verify_log

__all__ = [
    "AppendResult",
    "ConsistencyProof",
    "InclusionProof",
    "LogAppender",
    "LogDamaged",
    "PendingEntry",
    "SignedTreeHead",
    "VerificationReport",
    "append",
    "append_batch",
    "consistency_proof",
    "inclusion_proof",
    "latest_tree_head",
    "leaf_hash",
    "list_entries",
    "tree_head_at",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
]
