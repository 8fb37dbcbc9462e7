"""A buffered appender for hot paths: many entries, one batch and one tree head per transaction.

A context that logs as it works (the exchange logs every mediated message) does not append
entry by entry: it adds entries to the session's :class:`LogAppender`, and they are appended
together just before the transaction commits, or earlier when ``flush()`` is called (for
example because the caller needs the indices). That takes the append lock as late as possible
and holds it briefly, and signs one tree head for the whole transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from joinedup.core.keys import SigningKey
from joinedup.core.translog.service import append_batch
from joinedup.core.translog.treehead import SignedTreeHead

_SESSION_KEY = "joinedup.translog.appender"


@dataclass
class PendingEntry:
    """An entry waiting for its batch. ``index`` is known once the batch is appended."""

    kind: str
    leaf_input: bytes
    leaf_hash: bytes
    index: int | None = None


class LogAppender:
    """Collects entries during one transaction and appends them as one batch.

    Use :meth:`of` to get the session's appender: it appends whatever is pending before the
    session commits, and forgets pending entries when the transaction rolls back (they were
    never written). ``max_pending`` bounds memory: reaching it appends the entries so far.
    """

    def __init__(self, session: Session, *, signer: SigningKey, max_pending: int = 2000) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.session = session
        self.signer = signer
        self.max_pending = max_pending
        self._pending: list[PendingEntry] = []
        self.last_tree_head: SignedTreeHead | None = None

    @classmethod
    def of(cls, session: Session, *, signer: SigningKey, max_pending: int = 2000) -> LogAppender:
        """The appender bound to ``session``, created (and hooked to its commit) on first use."""
        existing = session.info.get(_SESSION_KEY)
        if isinstance(existing, LogAppender):
            if existing.signer.key_id != signer.key_id:
                raise ValueError("this session's log appender signs with another key")
            return existing
        appender = cls(session, signer=signer, max_pending=max_pending)
        session.info[_SESSION_KEY] = appender
        event.listen(session, "before_commit", appender._before_commit)
        event.listen(session, "after_rollback", appender._after_rollback)
        return appender

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, *, kind: str, leaf_input: bytes) -> PendingEntry:
        """Queue one entry; it is appended at the next flush (at the latest, at commit)."""
        entry = PendingEntry(
            kind=kind,
            leaf_input=leaf_input,
            leaf_hash=hashlib.sha256(b"\x00" + leaf_input).digest(),
        )
        self._pending.append(entry)
        if len(self._pending) >= self.max_pending:
            self.flush()
        return entry

    def flush(self) -> list[int]:
        """Append the pending entries as one batch under one signed tree head.

        Changes: ``tlog_entry``, ``tlog_node``, ``tlog_tree_head``. Returns the new indices
        (also set on each :class:`PendingEntry`); an empty list when nothing was pending.
        """
        if not self._pending:
            return []
        pending, self._pending = self._pending, []
        result = append_batch(
            self.session,
            kinds=[entry.kind for entry in pending],
            leaf_inputs=[entry.leaf_input for entry in pending],
            signer=self.signer,
        )
        for entry, index in zip(pending, result.indices, strict=True):
            entry.index = index
        self.last_tree_head = result.tree_head
        return list(result.indices)

    def _before_commit(self, _session: Session) -> None:
        self.flush()

    def _after_rollback(self, *_args: Any) -> None:
        self._pending.clear()
