"""Opening the exchange's local clients (:class:`~joinedup.exchange.local.ExchangeClient`): as
a registered subsystem, for a unit of work whose records are written when it commits
(:func:`exchange_client`), or for a transaction that only reads and hands its records to
another client (:func:`reading_client`).

**Records at the commit.** The records of an :func:`exchange_client` block's calls (message
log, data usage, monitoring, and their transparency-log entries) are written just before its
transaction commits, together with those of the transaction's other blocks — one
transparency-log batch and one signed tree head per log key — rather than when each block
ends. Appending to the transparency log is serialised: on PostgreSQL it takes a
transaction-scoped advisory lock that is held until the commit, and a block that ended early
in a long transaction (a batch of births read, then evaluated, recorded and written to the
mailbox) held it through everything after it: every other writer of the log waited (the
births worker held it 165 ms a batch, 14.5 ms an event, and the log's lock was the ceiling
of the production path, 2026-12-08). A transaction that rolls back writes none of them, as
before, when they were written in it and rolled back with it. :func:`write_records_now`
writes them earlier, for a caller that reads them back in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial

from sqlalchemy.orm import Session

from joinedup.core.db import READ_ONLY_SESSION, Database
from joinedup.core.errors import NotFound
from joinedup.core.events import before_commit_now, before_this_commit
from joinedup.core.keys import SigningKey, load_log_signing_key
from joinedup.core.settings import get_settings
from joinedup.exchange.access import (
    ClientIdentity,
)
from joinedup.exchange.directory import current_directory
from joinedup.exchange.local import ExchangeClient
from joinedup.exchange.recorder import Recording, write_recordings
from joinedup.exchange.schemas import SubsystemRef


def local_client_identity(session: Session, *, client: SubsystemRef | str) -> ClientIdentity:
    """The identity of the subsystem ``client`` (``CLASS/MEMBER/SUBSYSTEM``) for local calls
    (``NotFound`` when it is not registered)."""
    instance = get_settings().xroad_instance
    if isinstance(client, SubsystemRef):
        ref = client
    else:
        ref = SubsystemRef.parse(client, instance=instance)
    key = (ref.member_class, ref.member_code, ref.subsystem_code)
    directory = current_directory(session)
    if key not in directory.subsystems:  # registered a moment ago elsewhere, or not at all
        directory = current_directory(session, check=True)
    if key not in directory.subsystems:
        raise NotFound(f"no subsystem {ref} is registered", subsystem=str(ref))
    subsystem_id, member_id = directory.subsystems[key]
    member_name = directory.member_names[(ref.member_class, ref.member_code)]
    return ClientIdentity(
        client_id=f"local:{ref}",
        subsystem_id=subsystem_id,
        member_id=member_id,
        member_class=ref.member_class,
        member_code=ref.member_code,
        subsystem_code=ref.subsystem_code,
        xroad_id=f"{instance}/{ref}",
        member_name=member_name,
    )


def reading_client(
    session: Session, *, client: SubsystemRef | str, key_database: Database | None
) -> ExchangeClient:
    """A client for calls made in a transaction that only reads, whose records another
    client of the same subsystem writes in a write transaction
    (:meth:`ExchangeClient.detach_records` → :meth:`ExchangeClient.attach_records`). It never
    signs a tree head (its log key is a throwaway); a member's first signing key is created
    on ``key_database``, in a transaction of its own."""
    return ExchangeClient(
        session=session,
        client=local_client_identity(session, client=client),
        log_signer=SigningKey.generate(),
        key_database=key_database,
    )


@contextmanager
def exchange_client(
    session: Session,
    *,
    client: SubsystemRef | str,
    log_signer: SigningKey | None = None,
    user_id: str | None = None,
    represented_party: str | None = None,
) -> Iterator[ExchangeClient]:
    """Calls through the exchange as the subsystem ``client`` in ``session``'s transaction;
    when the block ends without an exception, their records are written just before the
    transaction commits (see the module docstring). ``log_signer`` defaults to the
    configured transparency-log key."""
    calls = ExchangeClient(
        session=session,
        client=local_client_identity(session, client=client),
        log_signer=log_signer or load_log_signing_key(get_settings()),
        user_id=user_id,
        represented_party=represented_party,
    )
    yield calls
    if session.info.get(READ_ONLY_SESSION):
        # a transaction that only reads never commits: written now, where a write is refused
        # (SQLite's reading connections) — an error, never records silently dropped
        calls.flush()
        return
    pending = calls.take_records()
    if pending:
        queued = before_this_commit(session, _AT_COMMIT, list, partial(_write_queued, session))
        queued.append((calls.log_signer, pending))


#: :func:`~joinedup.core.events.before_this_commit` key: the records the transaction's ended
#: :func:`exchange_client` blocks left for its commit, with the log key of each block.
_AT_COMMIT = "joinedup.exchange.records_at_commit"


def write_records_now(session: Session) -> None:
    """Write now, in ``session``'s transaction, the records its ended :func:`exchange_client`
    blocks left for the commit."""
    before_commit_now(session, _AT_COMMIT)


def _write_queued(session: Session, queued: list[tuple[SigningKey, list[Recording]]]) -> None:
    """The queued records, one transparency-log batch per log key."""
    by_key: dict[str, tuple[SigningKey, list[Recording]]] = {}
    for signer, recordings in queued:
        by_key.setdefault(signer.key_id, (signer, []))[1].extend(recordings)
    for signer, recordings in by_key.values():
        write_recordings(session, recordings, signer=signer)


def write_read_records(session: Session, reads: Sequence[tuple[str, Sequence[Recording]]]) -> None:
    """Write in ``session``'s transaction the records of reads made elsewhere (each
    subsystem's, :meth:`~joinedup.exchange.local.ExchangeClient.detach_records` of a
    :func:`reading_client`), each signed with its members' keys as the subsystem's own calls
    are, and all of them as **one** transparency-log batch (one signed tree head) rather than
    one a subsystem: a birth's decisions read as two (the life-events service resolving the
    persons, the benefits' owner reading them)."""
    signer = load_log_signing_key(get_settings())
    pending: list[Recording] = []
    for client, recordings in reads:
        calls = ExchangeClient(
            session=session, client=local_client_identity(session, client=client), log_signer=signer
        )
        calls.attach_records(recordings)
        pending += calls.take_records()
    if pending:
        write_recordings(session, pending, signer=signer)
