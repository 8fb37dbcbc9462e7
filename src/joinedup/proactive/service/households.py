"""The household a person lives in, read for the life-event consumers as the re-evaluation
reads it: the persons registered at the same residence address on a day.

A household benefit (child benefit, the birth grant) goes to a parent of the household the
child actually lives in. The population register records where each person lives — a newborn
at the address of the parent who gave birth — and its ``population-extract`` service answers,
for a range of register references, those persons and everyone living with them. Asked for
one reference (the newborn's at a birth, a survivor's after a death), it gives exactly that
person's household (asked for a batch's references, exactly theirs, in one call:
:func:`households_of`), with the columns the columnar re-evaluation reads for the whole
population, and :func:`joinedup.proactive.reevaluation.inputs.households` gives its members
the same roles there and here: a parent who lives elsewhere is neither paid for the child
nor counted among the household's adults (nor, so, in a household income). The read is a
mediated call like any other: the service owner's right, the purpose, a data-usage record
for every person in the answer.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from joinedup.exchange import MAX_REFERENCES, PERSON_REFS
from joinedup.proactive.reevaluation.inputs import Households, households
from joinedup.proactive.service.gathering import Gatherer

EXTRACT = "population-extract"
_FIELDS = ["personRef", "personalCode", "birthDate", "dateOfDeath", "householdRef", "parentRefs"]


@dataclass(frozen=True)
class Household:
    """One household on a day, its members by personal code in register-reference order."""

    #: Everyone living there, with their register references.
    refs: dict[str, int]
    #: The household's roles on the first day of the month decided (a child is under 18).
    adults: list[str]
    children: list[str]
    #: Who receives for it: its living adults who are a registered parent of one of its
    #: children (:mod:`joinedup.proactive.payees`).
    parents: list[str]
    #: Who gave birth to its youngest child, when they live there.
    birth_parent: str | None
    #: The register references of each member's parents (the first gave birth).
    parent_refs: dict[str, tuple[int, ...]]
    #: Those whose death the register records (on any day, even after the day read).
    dead: frozenset[str] = frozenset()
    #: The address it lives at (the register's household reference; None: no residence).
    address_ref: int | None = None

    def living_parents(self) -> list[str]:
        """The parents who receive for it, but for one whose death is registered already:
        the dead are paid and offered nothing (a birth may be handled after a parent's
        death, by another consumer)."""
        return [code for code in self.parents if code not in self.dead]

    def has_child_of(self, ref: int) -> bool:
        """Whether someone of the household is a child of the person ``ref``."""
        return any(ref in parents for parents in self.parent_refs.values())


def read_extract(gatherer: Gatherer, refs: Sequence[int]) -> dict[str, Any]:
    """The persons ``refs`` and everyone living with them on ``gatherer.on``, read through
    the exchange by the gatherer's client for its purpose."""
    answer = gatherer.calls.call(
        gatherer.registry_service(EXTRACT),
        purpose=gatherer.purpose,
        query={PERSON_REFS: ",".join(map(str, refs)), "asOf": gatherer.on.isoformat()},
        fields=_FIELDS,
        on=gatherer.on,
    )
    return dict(answer.body["columns"])


def household_of(gatherer: Gatherer, ref: int, *, first_day: date) -> Household:
    """The household of the person ``ref`` as the population register has it on
    ``gatherer.on``, its roles on ``first_day``; what it says of each member (birth, death,
    residence in that month) is noted in the gatherer, so the rules read it once."""
    columns = read_extract(gatherer, [ref])
    return _household(gatherer, columns, households(columns, first_day), ref, first_day)


def households_of(
    gatherer: Gatherer, wanted: Collection[tuple[int, date]]
) -> dict[tuple[int, date], Household]:
    """:func:`household_of` for each ``(ref, first_day)`` of ``wanted``, read in one call per
    :data:`~joinedup.exchange.MAX_REFERENCES` persons (a batch of life events: one message,
    a data-usage record for every person in the households)."""
    refs = sorted({ref for ref, _ in wanted})
    found: dict[tuple[int, date], Household] = {}
    for start in range(0, len(refs), MAX_REFERENCES):
        chunk = set(refs[start : start + MAX_REFERENCES])
        columns = read_extract(gatherer, sorted(chunk))
        roles: dict[date, Households] = {}
        for ref, first_day in wanted:
            if ref not in chunk:
                continue
            if first_day not in roles:
                roles[first_day] = households(columns, first_day)
            found[ref, first_day] = _household(gatherer, columns, roles[first_day], ref, first_day)
    return found


def _household(
    gatherer: Gatherer, columns: dict[str, Any], homes: Households, ref: int, first_day: date
) -> Household:
    """The household of ``ref`` among the extract's (``columns``, grouped as ``homes``)."""
    found = np.flatnonzero(homes.person_ref == ref).tolist()
    if not found:  # not in the register: nobody lives with them
        return Household({}, [], [], [], None, {})
    position = found[0]
    members = np.flatnonzero(homes.household == homes.household[position]).tolist()
    codes = [str(homes.personal_code[i]) for i in members]
    month = first_day.strftime("%Y-%m")
    for i, code in zip(members, codes, strict=True):
        facts = gatherer.of(code)
        facts.birth_date = str(columns["birthDate"][i])
        facts.date_of_death = columns["dateOfDeath"][i]
        facts.resident.setdefault(month, bool(homes.resident[i]))
    adult = homes.adult.tolist()
    birth_parent = [codes[k] for k, i in enumerate(members) if homes.birth_parent[i]]
    return Household(
        refs={code: int(homes.person_ref[i]) for i, code in zip(members, codes, strict=True)},
        adults=[code for i, code in zip(members, codes, strict=True) if adult[i]],
        children=[code for i, code in zip(members, codes, strict=True) if not adult[i]],
        parents=[code for i, code in zip(members, codes, strict=True) if homes.parent[i]],
        birth_parent=birth_parent[0] if birth_parent else None,
        parent_refs={
            code: tuple(int(r) for r in columns["parentRefs"][i])
            for i, code in zip(members, codes, strict=True)
        },
        dead=frozenset(
            code
            for i, code in zip(members, codes, strict=True)
            if columns["dateOfDeath"][i] is not None
        ),
        address_ref=_ref(columns["householdRef"][position]),
    )


def _ref(value: Any) -> int | None:
    return None if value is None else int(value)


__all__ = ["Household", "household_of", "households_of", "read_extract"]
