"""How far each birth date and sex's personal codes are known to be issued, in this process.

Serials are issued upwards (:func:`~joinedup.registries.codes.first_free_personal_code`) and
a code is never given back, so once the transaction that issued a code commits, every
issuable code of its birth date and sex up to it is taken for good. Without knowing that, the
next birth of the day reads every code issued that day and steps over them one by one: on a
busy day, work that grows with each birth. A process keeps, per database and prefix, the last
serial it saw issued (:func:`last_issued`) and the next issue reads from there on.

The database stays the authority: the codes at and after the mark are read, so a code another
process issued since is seen, and the unique index refuses a duplicate. A mark is kept only
once the transaction that issued the code commits (a rolled-back one leaves none), and a mark
whose code is no longer there (a database emptied under a running process, as tests do) is
forgotten by the reader (:mod:`joinedup.registries.service.births`).
"""

from __future__ import annotations

import threading
from functools import partial
from weakref import WeakKeyDictionary

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from joinedup.core.events import after_this_commit

#: :func:`~joinedup.core.events.after_this_commit` key: the marks of the codes the
#: transaction issued, kept once it commits.
_PENDING = "joinedup.issued_personal_codes"
_marks: WeakKeyDictionary[Engine, dict[str, int]] = WeakKeyDictionary()
_lock = threading.Lock()


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def last_issued(session: Session, prefixes: list[str]) -> dict[str, int]:
    """For each prefix with a mark: the serial of the last code this process saw issued for it
    in a committed transaction (every issuable code up to it is taken)."""
    marks = _marks.get(_engine(session))
    if not marks:
        return {}
    return {prefix: marks[prefix] for prefix in prefixes if prefix in marks}


def issued(session: Session, codes: list[str]) -> None:
    """Mark ``codes`` (issued upwards in the session's transaction, each the first free one of
    its prefix) once the transaction commits."""
    pending = after_this_commit(session, _PENDING, dict, partial(_keep, _engine(session)))
    for code in codes:
        prefix, serial = code[:7], int(code[7:10])
        if serial > pending.get(prefix, -1):
            pending[prefix] = serial


def forget(session: Session, prefix: str) -> None:
    """Drop the mark of ``prefix`` (its code is no longer in the database)."""
    with _lock:
        marks = _marks.get(_engine(session))
        if marks is not None:
            marks.pop(prefix, None)


def _keep(engine: Engine, pending: dict[str, int]) -> None:
    with _lock:
        marks = _marks.setdefault(engine, {})
        for prefix, serial in pending.items():
            if serial > marks.get(prefix, -1):
                marks[prefix] = serial
