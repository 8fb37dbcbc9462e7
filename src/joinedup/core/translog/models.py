"""Tables of the transparency log (RFC 6962 Merkle tree).

- ``tlog_entry``: leaf ``index`` (0-based, dense), what was logged (``leaf_input``) and its
  leaf hash ``SHA-256(0x00 || leaf_input)``.
- ``tlog_node``: hashes of complete subtrees above the leaves, keyed by ``(level, index)``:
  the node at level ``l`` and index ``i`` covers leaves ``[i·2^l, (i+1)·2^l)``. They make
  roots and proofs O(log n) reads; the verifier recomputes them and never trusts them.
- ``tlog_tree_head``: signed tree heads (Ed25519), one per appended batch, each naming the
  size of the one before it (see :mod:`joinedup.core.translog.treehead` for the signed bytes).

``kind`` is a label for browsing: only ``leaf_input`` is covered by the hashes, so anything
that must be tamper-evident belongs inside ``leaf_input``. When an entry was appended is the
timestamp of the first signed tree head whose size exceeds its index (signed, unlike a
per-row column; it also keeps appends free of per-row timestamp conversion).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, LargeBinary, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from joinedup.core.db import Base


class LogEntry(Base):
    __tablename__ = "tlog_entry"

    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(64))
    leaf_input: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogNode(Base):
    __tablename__ = "tlog_node"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class TreeHead(Base):
    __tablename__ = "tlog_tree_head"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    previous_tree_size: Mapped[int] = mapped_column(BigInteger)
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
