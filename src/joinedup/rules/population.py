"""A population in columns: persons, their groups (households) with roles, and input values.

Columns are NumPy arrays in the engines' representation: money ``int64`` cents, dates
``datetime64[D]``, enums ``int8`` codes, roles ``int8`` codes. Inputs are kept per period, or
*held* (``period=None``): one value that holds for every period the rules ask about.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from joinedup.core.errors import ValidationFailed
from joinedup.rules.model import Entity, ValueType, Variable
from joinedup.rules.money import cents_array
from joinedup.rules.periods import Period
from joinedup.rules.ruleset import Ruleset

Array = npt.NDArray[Any]

DTYPES: dict[ValueType, Any] = {
    ValueType.MONEY: np.int64,
    ValueType.INT: np.int64,
    ValueType.FLOAT: np.float64,
    ValueType.BOOL: np.bool_,
    ValueType.DATE: "datetime64[D]",
    ValueType.ENUM: np.int8,
}


class InvalidPopulation(ValidationFailed):
    slug = "invalid-population"
    title = "The population given to the rules is not valid"


def _sample(values: Array, limit: int = 3) -> str:
    shown = ", ".join(str(v) for v in values[:limit].tolist())
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def check_unique(ids: Array, what: str) -> None:
    """Refuse duplicate identifiers (linear time when they are sorted integers)."""
    if len(ids) < 2:
        return
    if ids.dtype.kind in "iu" and bool(np.all(np.diff(ids) > 0)):
        return
    uniq, counts = np.unique(ids, return_counts=True)
    if len(uniq) != len(ids):
        raise InvalidPopulation(f"{what} ids are not unique: {_sample(uniq[counts > 1])}")


def _are_positions(ids: Array) -> bool:
    n = len(ids)
    if not n or ids.dtype.kind not in "iu" or ids[0] != 0 or ids[-1] != n - 1:
        return False
    return bool(np.all(np.diff(ids) == 1))


def index_of(group_ids: Array, wanted: Array, *, what: str) -> npt.NDArray[np.int64]:
    """Positions in ``group_ids`` of each of ``wanted``; unknown ids are refused."""
    n = len(group_ids)
    if _are_positions(group_ids) and wanted.dtype.kind in "iu":
        # ids are already positions 0..n-1: nothing to look up, only to check
        if len(wanted) and (int(wanted.min()) < 0 or int(wanted.max()) >= n):
            bad = wanted[(wanted < 0) | (wanted >= n)]
            raise InvalidPopulation(f"{what}: {_sample(np.unique(bad))} not found")
        return wanted.astype(np.int64, copy=False)
    order = np.argsort(group_ids, kind="stable")
    ordered = group_ids[order]
    try:
        at = np.searchsorted(ordered, wanted)
    except TypeError as exc:
        raise InvalidPopulation(f"{what}: ids of different types ({exc})") from None
    at_clipped = np.minimum(at, max(n - 1, 0))
    found = (at < n) & (ordered[at_clipped] == wanted) if n else np.zeros(len(wanted), bool)
    if not bool(np.all(found)):
        raise InvalidPopulation(f"{what}: {_sample(np.unique(wanted[~found]))} not found")
    return order[at_clipped].astype(np.int64)


class Membership:
    """Which group each person belongs to and in which role, with what aggregations need:
    the persons ordered by group and where each group's members start."""

    def __init__(self, entity: Entity, ids: Array, member_group: Array, member_role: Array):
        self.entity = entity
        self.ids = ids
        self.count = len(ids)
        self.member_group = member_group
        self.member_role = member_role
        persons = len(member_group)
        in_order = persons < 2 or bool(np.all(member_group[1:] >= member_group[:-1]))
        self.order: Array | None = None if in_order else np.argsort(member_group, kind="stable")
        counts = np.bincount(member_group, minlength=self.count)
        offsets = np.zeros(self.count + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        self._index(counts, offsets)

    def block(self, lo: int, hi: int, g0: int, g1: int) -> Membership:
        """The membership of groups ``g0..g1`` (numbered from 0) whose members are persons
        ``lo..hi`` (numbered from 0), for persons in group order; sliced, not recomputed."""
        assert self.order is None
        part = Membership.__new__(Membership)
        part.entity = self.entity
        part.ids = self.ids[g0:g1]
        part.count = g1 - g0
        part.member_group = self.member_group[lo:hi] - g0
        part.member_role = self.member_role[lo:hi]
        part.order = None
        part._index(self.counts[g0:g1], self.offsets[g0 : g1 + 1] - lo)
        return part

    def _index(self, counts: Array, offsets: Array) -> None:
        self.counts = counts
        self.offsets = offsets
        nonempty = counts > 0
        self.all_nonempty = bool(nonempty.all())
        self.starts = self.offsets[:-1][nonempty]
        self.nonempty = None if self.all_nonempty else np.flatnonzero(nonempty)
        self.largest = int(counts.max()) if self.count else 0
        self._role_counts: dict[int | None, Array] = {}

    def members(self, group: int) -> list[int]:
        """Person positions of one group's members, in population order."""
        lo, hi = int(self.offsets[group]), int(self.offsets[group + 1])
        if self.order is None:
            return list(range(lo, hi))
        return sorted(self.order[lo:hi].tolist())

    def reduce(self, ufunc: np.ufunc, values: Array, empty: Any) -> Array:
        ordered = values if self.order is None else values[self.order]
        if len(self.starts) == 0:
            return np.full(self.count, empty, dtype=values.dtype)
        reduced = ufunc.reduceat(ordered, self.starts)
        if self.nonempty is None:
            return reduced
        out = np.full(self.count, empty, dtype=reduced.dtype)
        out[self.nonempty] = reduced
        return out

    def role_count(self, role: int | None) -> Array:
        """How many members (holding ``role``) each group has; kept once computed."""
        found = self._role_counts.get(role)
        if found is None:
            if role is None:
                found = self.counts.astype(np.int64)
            else:
                found = self.count_true(self.member_role == role)
            self._role_counts[role] = found
        return found

    def _running_totals(self, values: Array) -> Array:
        """Per group of persons in group order, the ``int64`` sum of its members' values: the
        difference of the running total at its last member and before its first — exact
        (in 64-bit integers, wrapping as their sums do), and empty groups give 0."""
        running = np.empty(len(values) + 1, dtype=np.int64)
        running[0] = 0
        np.cumsum(values, out=running[1:])
        totals: Array = running[self.offsets[1:]]
        totals -= running[self.offsets[:-1]]
        return totals

    def count_true(self, values: Array) -> Array:
        """Per group, how many members' values are true."""
        if self.order is None:
            return self._running_totals(values)
        counts = np.bincount(self.member_group, weights=values, minlength=self.count)
        return counts.astype(np.int64)

    def sum_exact(self, values: Array) -> Array:
        """Per group, the exact sum of whole numbers (cents). Persons in group order: running
        totals in 64-bit integers. Otherwise added in floating point when no sum can reach
        2⁵³ (then every partial sum is exact), else in 64-bit integers."""
        if len(values) == 0:
            return np.zeros(self.count, dtype=np.int64)
        if self.order is None:
            return self._running_totals(values)
        bound = (1 << 53) // max(self.largest, 1)
        if -bound < int(values.min()) and int(values.max()) < bound:
            return np.bincount(self.member_group, weights=values, minlength=self.count).astype(
                np.int64
            )
        return self.reduce(np.add, values.astype(np.int64, copy=False), 0)

    def sum_float(self, values: Array) -> Array:
        # bincount adds in population order, member after member: the order the explaining
        # evaluator adds in, so fractions of a cent round the same way in both modes
        return np.bincount(self.member_group, weights=values, minlength=self.count)


@dataclass(frozen=True, slots=True)
class GroupColumns:
    """One group entity's columns: its ids, and for each person the group id and role."""

    ids: Sequence[Any] | Array
    person_group: Sequence[Any] | Array
    person_role: Sequence[Any] | Array


class Population:
    """Persons, their groups and their input values, as columns."""

    def __init__(self, ruleset: Ruleset, person_ids: Array, memberships: Mapping[str, Membership]):
        self.ruleset = ruleset
        self.person_ids = person_ids
        self.count = len(person_ids)
        self.memberships = dict(memberships)
        self.inputs: dict[str, dict[Period | None, Array]] = {}
        self._blocks: dict[int, list[PopulationBlock] | None] = {}

    def blocks(self, persons: int) -> list[PopulationBlock] | None:
        """The population cut into consecutive blocks of about ``persons`` persons, never
        splitting a group: each block holds whole groups (with the memberless groups between
        them) and their members. ``None`` when there would be one block only, or when the
        persons are not in group order (a block could not hold whole groups). Kept once cut."""
        if persons not in self._blocks:
            self._blocks[persons] = self._cut(persons)
        return self._blocks[persons]

    def _cut(self, persons: int) -> list[PopulationBlock] | None:
        n = self.count
        if n <= persons or any(m.order is not None for m in self.memberships.values()):
            return None
        cuts = [0]
        at = persons
        while at < n:
            # move forward to the first person who starts a group in every grouping
            moved = True
            while moved and at < n:
                moved = False
                for membership in self.memberships.values():
                    groups = membership.member_group
                    start = int(np.searchsorted(groups, groups[at - 1], side="right"))
                    if start != at:
                        at, moved = start, True
            if at >= n:
                break
            cuts.append(at)
            at += persons
        if len(cuts) == 1:
            return None
        cuts.append(n)
        return [self._block(lo, hi, lo == 0, hi == n) for lo, hi in itertools.pairwise(cuts)]

    def _block(self, lo: int, hi: int, first: bool, last: bool) -> PopulationBlock:
        rows = {self.ruleset.person.key: slice(lo, hi)}
        memberships = {}
        for key, membership in self.memberships.items():
            groups = membership.member_group
            g0 = 0 if first else int(groups[lo])
            g1 = membership.count if last else int(groups[hi])
            rows[key] = slice(g0, g1)
            memberships[key] = membership.block(lo, hi, g0, g1)
        return PopulationBlock(self, rows, memberships)

    @staticmethod
    def build(
        ruleset: Ruleset, *, person_ids: Sequence[Any] | Array, groups: Mapping[str, GroupColumns]
    ) -> Population:
        """Check and index the persons and groups (ids unique, every person in a known group,
        roles known). Integer ids numbered 0..n-1 in order are used as positions directly."""
        persons = np.asarray(person_ids)
        check_unique(persons, "person")
        missing = set(ruleset.groups) - set(groups)
        if missing:
            raise InvalidPopulation(f"the population lacks its {', '.join(sorted(missing))}")
        memberships = {}
        for key, columns in groups.items():
            entity = ruleset.groups.get(key)
            if entity is None:
                raise InvalidPopulation(f"the ruleset has no group entity '{key}'")
            ids = np.asarray(columns.ids)
            check_unique(ids, key)
            person_group = np.asarray(columns.person_group)
            if len(person_group) != len(persons):
                raise InvalidPopulation(f"every person needs a {key}")
            member_group = index_of(ids, person_group, what=f"{key} of a person")
            member_role = role_codes(entity, np.asarray(columns.person_role))
            memberships[key] = Membership(entity, ids, member_group, member_role)
        return Population(ruleset, persons, memberships)

    def size(self, entity: str) -> int:
        return self.count if entity == self.ruleset.person.key else self.memberships[entity].count

    def ids(self, entity: str) -> Array:
        return (
            self.person_ids if entity == self.ruleset.person.key else self.memberships[entity].ids
        )

    def set_input(
        self, name: str, values: Any, period: Period | None = None, *, native: bool = False
    ) -> None:
        """Give the values of an input for ``period`` (``None``: for every period).
        ``native`` values are already in the engine representation (cents, codes)."""
        variable = self.ruleset.variable(name)
        size = self.size(variable.entity)
        column = np.asarray(values) if native else convert_column(variable, values)
        if column.shape != (size,):
            raise InvalidPopulation(
                f"{name}: {column.shape[0] if column.ndim else 1} values for {size} "
                f"{variable.entity} rows"
            )
        if native:
            column = column.astype(DTYPES[variable.value_type], copy=False)
        self.inputs.setdefault(name, {})[period] = column

    def input_for(self, name: str, period: Period) -> Array | None:
        given = self.inputs.get(name)
        if given is None:
            return None
        found = given.get(period)
        return found if found is not None else given.get(None)


class PopulationBlock(Population):
    """Consecutive whole groups of a population and their members (see
    :meth:`Population.blocks`); its inputs are views of the population's, read when asked."""

    def __init__(
        self, whole: Population, rows: dict[str, slice], memberships: Mapping[str, Membership]
    ) -> None:
        super().__init__(
            whole.ruleset, whole.person_ids[rows[whole.ruleset.person.key]], memberships
        )
        self.whole = whole
        self.rows = rows

    def blocks(self, persons: int) -> list[PopulationBlock] | None:
        return None

    def set_input(
        self, name: str, values: Any, period: Period | None = None, *, native: bool = False
    ) -> None:
        raise TypeError("inputs are given to the whole population, not to a block of it")

    def input_for(self, name: str, period: Period) -> Array | None:
        found = self.whole.input_for(name, period)
        if found is None:
            return None
        return found[self.rows[self.ruleset.variable(name).entity]]


def role_codes(entity: Entity, roles: Array) -> npt.NDArray[np.int8]:
    if roles.dtype.kind in "iu":
        if len(roles) and (int(roles.min()) < 0 or int(roles.max()) >= len(entity.roles)):
            raise InvalidPopulation(f"{entity.key} role codes must be 0..{len(entity.roles) - 1}")
        return roles.astype(np.int8)
    codes = np.full(len(roles), -1, dtype=np.int8)
    for i, role in enumerate(entity.roles):
        codes[roles == role.key] = i
    if bool(np.any(codes < 0)):
        known = ", ".join(r.key for r in entity.roles)
        raise InvalidPopulation(
            f"unknown {entity.key} role {_sample(np.unique(roles[codes < 0]))} (roles: {known})"
        )
    return codes


def convert_column(variable: Variable, values: Any) -> Array:
    """Input values (euros, ISO dates, enum keys, …) → the engine representation.
    Raises ``InvalidPopulation`` saying what is wrong."""
    name, kind = variable.name, variable.value_type
    column = np.asarray(values)
    try:
        if kind is ValueType.MONEY:
            return cents_array(column)
        if kind is ValueType.INT:
            if column.dtype.kind == "f":
                if not bool(np.all(np.isfinite(column) & (column == np.round(column)))):
                    raise ValueError("holds values that are not whole numbers")
            elif column.dtype.kind not in "iub":
                raise ValueError(f"holds {column.dtype} values, not whole numbers")
            return column.astype(np.int64)
        if kind is ValueType.FLOAT:
            if column.dtype.kind not in "iuf":
                raise ValueError(f"holds {column.dtype} values, not numbers")
            out = column.astype(np.float64)
            if not bool(np.all(np.isfinite(out))):
                raise ValueError("holds values that are not finite numbers")
            return out
        if kind is ValueType.BOOL:
            if column.dtype.kind == "b":
                return column
            if column.dtype.kind in "iu" and bool(np.all((column == 0) | (column == 1))):
                return column.astype(np.bool_)
            raise ValueError(f"holds {column.dtype} values, not yes/no values")
        if kind is ValueType.DATE:
            if column.dtype.kind == "M":
                days = column.astype("datetime64[D]")
            elif column.dtype.kind in "OU" and all(
                v is None or isinstance(v, date | str) for v in column.tolist()
            ):
                days = np.array(
                    [v.isoformat() if isinstance(v, date) else v for v in column.tolist()],
                    dtype="datetime64[D]",
                )
            else:
                raise ValueError(f"holds {column.dtype} values, not dates")
            missing = np.isnat(days)
            if bool(np.any(missing)):
                if not variable.optional or not isinstance(variable.default, date):
                    raise ValueError("has missing dates")
                days = np.where(missing, np.datetime64(variable.default, "D"), days)
            return days
        assert variable.enum is not None
        if column.dtype.kind in "iu":
            if len(column) and (
                int(column.min()) < 0 or int(column.max()) >= len(variable.enum.keys)
            ):
                raise ValueError("holds codes outside the enum")
            return column.astype(np.int8)
        if column.dtype.kind not in "OU":
            raise ValueError(
                f"holds {column.dtype} values, not one of {', '.join(variable.enum.keys)}"
            )
        uniq, inverse = np.unique(column.astype(str), return_inverse=True)
        codes = []
        for key in uniq.tolist():
            try:
                codes.append(variable.enum.code(key))
            except KeyError:
                raise ValueError(
                    f"holds '{key}', which is not one of {', '.join(variable.enum.keys)}"
                ) from None
        return np.asarray(codes, dtype=np.int8)[inverse.reshape(-1)]
    except ValueError as exc:
        raise InvalidPopulation(f"{name} ({kind.value}) {exc}", variable=name) from None
