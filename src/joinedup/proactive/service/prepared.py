"""Life events decided outside the write transaction, and written in it if nothing they rest
on has changed meanwhile (the life-event consumers' first phase on SQLite:
:mod:`joinedup.core.handling`).

:func:`decide_life_events` does the first half of
:func:`~joinedup.proactive.service.life_events.react` in a transaction that only reads — the
persons resolved, every service concerned evaluated — keeping the records of its reads aside.
:meth:`Decided.apply` writes the outcomes and letters in the delivery's write transaction,
unless what the decisions rest on besides the reads has changed since (:class:`Basis`):

- the entitlements and consents of every person the decisions looked at (their revision
  numbers: who holds a household benefit, what a person declined, what they consented to);
- the base registers' events since the first phase naming one of those persons by register
  reference (a parent's death, a move, a marriage, a birth in the family, an employment
  ended), or a move into or out of the address of a household read, or one that names nobody
  (a bulk import: any counts), or a person registered or a residence corrected while
  households were read — a register read made before such a change is out of date, and the
  consumer of that event may already have decided without what this batch is about to
  record;
- the law in force for every ruleset evaluated (a parameter or ruleset version published);
- the catalogue and the data agreements: a service catalogued or revised (its delivery mode,
  whom a life event concerns, its ruleset or purpose), or a data agreement published, revised
  or retired (which consents hold), between the phases — any of them counts, whoever it
  concerns (they are rare: a batch decided again costs little).

Then the consumer's handler decides again in the write transaction, as without a first phase.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from joinedup import consent, exchange
from joinedup.catalogue import LifeEvent
from joinedup.core.db import Database
from joinedup.core.outbox import events_after, outbox_mark
from joinedup.proactive.reevaluation.law import versions_in_force
from joinedup.proactive.service.deciding import Occurrence
from joinedup.proactive.service.entitlements import Outcome, entitlement_revisions_of
from joinedup.proactive.service.life_events import (
    Looked,
    Reaction,
    Reading,
    _decide,
    _finish,
    _refs,
    resolve_codes,
)
from joinedup.registries.events import may_concern

#: The base registers' events (by name prefix): most name the persons they change by register
#: reference (``person_id``, ``person_ids``, ``parent_ids``); a move also the addresses.
REGISTER_EVENTS = ("population.", "employment.", "income.", "business.", "payment_account.")
#: Events that change the terms every decision rests on (whoever they concern): a service
#: catalogued or revised, a data agreement published, revised or retired (a consent given or
#: withdrawn counts through the revisions of the persons looked at, not here).
TERMS_EVENTS = ("catalogue.", "consent.agreement_")
#: Events that change who lives where without naming the address.
_SETTLING = {"population.person_registered.v1", "population.residence_corrected.v1"}


@dataclass(frozen=True)
class Basis:
    """What decisions about some persons rest on besides the register reads themselves, as
    it was when they were made (see the module docstring)."""

    persons: tuple[str, ...]
    #: Their register references (those known: the persons named, their households' and the
    #: relatives read).
    refs: frozenset[int]
    #: Whether some person looked at has no known reference: then any register event
    #: since the first phase counts.
    unmapped: bool
    #: The addresses of the households read, and whether any was read.
    addresses: frozenset[int]
    households: bool
    #: The newest event in the outbox when the decisions were made (SQLite: exact).
    mark: int
    rulesets: tuple[str, ...]
    revisions: tuple[dict[int, int], dict[int, int], tuple[tuple[uuid.UUID, ...], ...]]

    @classmethod
    def of(cls, session: Session, looked: Looked) -> Basis:
        persons = tuple(sorted(looked.persons))
        rulesets = tuple(sorted(looked.rulesets))
        return cls(
            persons=persons,
            refs=frozenset(ref for ref in looked.persons.values() if ref is not None),
            unmapped=any(ref is None for ref in looked.persons.values()),
            addresses=frozenset(looked.addresses),
            households=looked.households,
            mark=outbox_mark(session),
            rulesets=rulesets,
            revisions=_revisions(session, persons, rulesets),
        )

    def holds(self, session: Session) -> bool:
        """Whether nothing the decisions rest on has changed (in the write transaction)."""
        changed = events_after(session, self.mark, prefixes=(*REGISTER_EVENTS, *TERMS_EVENTS))
        if any(self._touched(name, payload) for name, payload in changed):
            return False
        return _revisions(session, self.persons, self.rulesets) == self.revisions

    def _touched(self, name: str, payload: dict[str, Any]) -> bool:
        """Whether a register event may have changed what the decisions read, or an event
        the terms they were made on."""
        if name.startswith(TERMS_EVENTS):
            return True
        if may_concern(payload, self.refs, unmapped=self.unmapped):
            return True  # (an event naming nobody, a bulk import, counts whatever it is)
        moved = (payload.get(key) for key in ("address_id", "previous_address_id"))
        if {int(a) for a in moved if a is not None} & self.addresses:
            return True  # someone moved into or out of a household read
        return self.households and name in _SETTLING


def _revisions(
    session: Session, persons: Sequence[str], rulesets: Sequence[str]
) -> tuple[dict[int, int], dict[int, int], tuple[tuple[uuid.UUID, ...], ...]]:
    return (
        entitlement_revisions_of(session, person_codes=persons),
        consent.consent_revisions_of(session, subject_codes=persons),
        tuple(versions_in_force(session, name) for name in rulesets),
    )


@dataclass
class Decided(exchange.KeepsReads):
    """Life events decided in a transaction that only reads (:func:`decide_life_events`),
    to be written in a write transaction: the outcomes, the records of the reads made, and
    what the decisions rest on (:class:`Basis`)."""

    occurrences: int
    outcomes: list[Outcome]
    basis: Basis
    reaction: Reaction = field(default_factory=Reaction)

    @property
    def reads(self) -> exchange.Reads:
        """The records of the reads made, not yet written by a committed transaction."""
        return self.ahead.reads

    def apply(self, session: Session) -> bool:
        """Record the outcomes and send the letters, unless what the decisions rest on has
        changed since they were made (False: nothing written)."""
        if not self.basis.holds(session):
            return False
        _finish(session, self.reaction, self.outcomes, events=self.occurrences)
        return True


def decide_life_events(
    session: Session, occurrences: Sequence[Occurrence], *, key_database: Database | None = None
) -> Decided | None:
    """The first half of :func:`~joinedup.proactive.service.life_events.react`, in a
    transaction that only reads (no write lock held while reading and evaluating): the persons
    resolved, every service concerned evaluated, the reads' records kept aside (a member's
    first signing key, if one is needed, is created on ``key_database``). None for a list
    with a death (ending the deceased's entitlements writes before deciding: ``react`` does
    it all in one transaction)."""
    if not occurrences or any(o.life_event is LifeEvent.DEATH for o in occurrences):
        return None
    reading = Reading(key_database, what="life_event_decisions")
    reaction = Reaction()
    with reading.kept_if_failing():
        codes = resolve_codes(session, _refs(occurrences), reading=reading)
        looked = _decide(session, occurrences, codes, reaction, reading)
        basis = Basis.of(session, looked)
    return Decided(
        occurrences=len(occurrences),
        outcomes=looked.outcomes,
        ahead=reading,
        basis=basis,
        reaction=reaction,
    )


__all__ = ["REGISTER_EVENTS", "TERMS_EVENTS", "Basis", "Decided", "decide_life_events"]
