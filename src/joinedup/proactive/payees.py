"""Who receives a household benefit: one parent of the household, never each of them.

A benefit the rules decide per household (child benefit, the birth grant: a variable of the
``household`` entity) is one entitlement of one **payee**, as Denmark's and Finland's child
benefit is paid to one parent. The household's receiving parents are its living adults who
are a registered parent of one of its children. Among them the payee is, in this order:

1. the parent who already holds the benefit (an entitlement to it in any status but
   ``ended``: granted, offered, eligible, declined, opted out or waiting for consent), so a
   benefit stays with whom it was paid to and a person's decline or opt-out binds the
   household, not only themselves (of two holders, as recorded before this rule: the one
   who gave birth to the youngest child, else the lowest register reference);
2. else the parent who gave birth to the household's youngest child (the child's first
   registered parent; at a birth, the newborn's);
3. else the first of the others by register reference.

A household is the persons registered at one residence address: a parent living elsewhere
is not one of its parents, is not paid for its children and is not counted among its
adults. Both paths read it from the population register's extract and give its members
their roles with one function (:func:`joinedup.proactive.reevaluation.inputs.households`):
the life-event path (:mod:`joinedup.proactive.service.life_events`, the household of the
newborn, of whoever turned 18, of the deceased's children after a death; see
:mod:`joinedup.proactive.service.households`) and the columnar re-evaluation
(:mod:`joinedup.proactive.reevaluation`), so a law change does not move a benefit between
parents. When the payee dies, the benefit ends with them and is decided again for the
surviving parents of the household their children live in (the life-event path's reaction
to a death; the next re-evaluation would find the same) — whatever the deceased held it as:
a dead holder binds nobody.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from joinedup.proactive.schemas import EntitlementStatus
from joinedup.rules import Ruleset

Array = npt.NDArray[Any]

#: The statuses in which someone holds a benefit for their household (all but ``ended``).
HOLDING = frozenset(s for s in EntitlementStatus if s is not EntitlementStatus.ENDED)


def is_household_benefit(ruleset: Ruleset, variable: str) -> bool:
    """Whether the rules decide ``variable`` per household (so it has one payee)."""
    return ruleset.variable(variable).entity != ruleset.person.key


def choose_payee(
    parents: Sequence[str], *, holders: Collection[str], birth_parent: str | None
) -> str | None:
    """The payee among ``parents`` (personal codes, by register reference; see the module
    docstring). None when there is no parent."""
    held = [code for code in parents if code in holders]
    if held:
        return birth_parent if birth_parent in held else held[0]
    if birth_parent is not None and birth_parent in parents:
        return birth_parent
    return parents[0] if parents else None


def payee_mask(*, receiving: Array, household: Array, holder: Array, birth_parent: Array) -> Array:
    """The same rule over columns: per person (positions ordered by register reference),
    whether they are their household's payee. ``receiving``, ``holder`` and ``birth_parent``
    are boolean columns; ``household`` numbers each person's household."""
    candidates = np.flatnonzero(receiving)
    chosen = np.zeros(len(receiving), dtype=np.bool_)
    if not len(candidates):
        return chosen
    # rank: a holder first (the birth parent first of two), then the birth parent, then the
    # lowest reference (position)
    gave_birth = birth_parent[candidates]
    rank = np.where(holder[candidates], np.where(gave_birth, 0, 1), np.where(gave_birth, 2, 3))
    order = np.lexsort((candidates, rank, household[candidates]))
    ordered = household[candidates][order]
    first = np.ones(len(order), dtype=np.bool_)
    first[1:] = ordered[1:] != ordered[:-1]
    chosen[candidates[order[first]]] = True
    return chosen


__all__ = ["HOLDING", "choose_payee", "is_household_benefit", "payee_mask"]
