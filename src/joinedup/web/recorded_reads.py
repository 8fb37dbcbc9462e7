"""A page that only reads through the exchange: the reads in a read-only transaction, their
records committed with the process's group commit before the page is shown.

A page such as "My overview" or the acting-for switcher reads registers through the exchange
(each read a message-log record, a data-usage record for its subject and a transparency-log
entry) and writes nothing else. In a write transaction it held SQLite's write lock for all
of its reads and its rendering, and signed a tree head of its own. Here:

- the reads run in a **read-only** transaction, ended before the records are written (a
  snapshot held meanwhile kept SQLite's write-ahead log from ever starting over under steady
  load: it grew by 15 MB a second under ``bench portal``, every read searching more of it);
- the records go to the web process's **group-commit writer** (:class:`~joinedup.exchange.
  Recorder`), with every other request's, in one write transaction and one signed tree head
  per batch, signed with the log key it loaded when the application started;
- the page waits until they are **committed** before it answers: nobody is shown data whose
  use is not on record, and a read refused (for want of a right, a mandate or consent) is on
  record too. When the block raises — a refusal the page does not handle, say — what it read
  until then and the refusal are committed all the same, then the error propagates (an error
  committing them as well is raised in its place, the block's as its context).

Without a running recorder (an application made with settings of its own, a test without the
exchange's lifespan) the records are written in a write transaction of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request
from sqlalchemy.orm import Session

from joinedup.core.http import get_database, read_session
from joinedup.core.keys import SigningKey, load_log_signing_key
from joinedup.core.settings import get_settings
from joinedup.exchange import ExchangeClient, Recorder, local_client_identity, recorder_of


def log_signer(request: Request, recorder: Recorder | None) -> SigningKey:
    """The log key the reads are signed with: the one the process's group-commit writer
    loaded when the application started on the process's settings (not the key file read
    again for every view); else, as for an application made with settings of its own, the
    configured key."""
    settings = get_settings()
    if recorder is not None and recorder.running and request.app.state.settings is settings:
        return recorder.signer
    return load_log_signing_key(settings)


@contextmanager
def recorded_reads(
    request: Request,
    *,
    client: str,
    user_id: str,
    represented_party: str | None = None,
) -> Iterator[tuple[Session, ExchangeClient]]:
    """A read-only session and an exchange client of the subsystem ``client`` (``CLASS/
    MEMBER/SUBSYSTEM``) reading in it, naming ``user_id`` and ``represented_party``; when the
    block ends, the session is closed and then the calls' records are committed (see the
    module docstring)."""
    recorder = recorder_of(request.app)
    database = get_database(request)
    calls: ExchangeClient | None = None
    try:
        with read_session(request) as session:
            calls = ExchangeClient(
                session=session,
                client=local_client_identity(session, client=client),
                log_signer=log_signer(request, recorder),
                user_id=user_id,
                represented_party=represented_party,
                key_database=database,
            )
            yield session, calls
    finally:
        if calls is not None:  # (the session closed first: no snapshot held meanwhile)
            calls.commit_records(database, recorder=recorder)
