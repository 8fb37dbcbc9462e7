"""A situation: a few persons and their groups, with input values per period — what one
household's explanation is computed from, and what the HTTP API takes, in OpenFisca's shape::

    {"persons": {"Alicia": {"birth": {"ETERNITY": "1980-01-01"}, "salary": {"2017-01": 4000}}},
     "households": {"_": {"adults": ["Alicia"], "disposable_income": {"2017-01": null}}}}

A ``null`` value asks for the variable to be computed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from joinedup.core.errors import ValidationFailed
from joinedup.rules.model import Entity, ValueType, Variable
from joinedup.rules.money import to_cents
from joinedup.rules.periods import ETERNITY, Period, Unit
from joinedup.rules.population import DTYPES, GroupColumns, Population
from joinedup.rules.ruleset import Ruleset

MISSING = object()


@dataclass(slots=True)
class SituationGroup:
    entity: Entity
    ids: list[str]
    members: list[list[int]]  # person positions of each group's members, in person order
    person_group: list[int]
    person_role: list[int]


@dataclass(frozen=True, slots=True)
class Request:
    """A value the caller asked for (``null`` in the situation)."""

    entity: str
    entity_id: str
    variable: str
    period_key: str
    period: Period


class Situation:
    """Persons, groups and sparse input values (engine representation), for small numbers."""

    def __init__(
        self, ruleset: Ruleset, person_ids: list[str], groups: Mapping[str, SituationGroup]
    ) -> None:
        self.ruleset = ruleset
        self.person_ids = person_ids
        self.groups = dict(groups)
        self.inputs: dict[str, dict[Period, dict[int, Any]]] = {}

    def ids(self, entity: str) -> list[str]:
        return self.person_ids if entity == self.ruleset.person.key else self.groups[entity].ids

    def index(self, entity: str, entity_id: str) -> int:
        try:
            return self.ids(entity).index(entity_id)
        except ValueError:
            raise ValidationFailed(
                f"There is no {entity} '{entity_id}' in the situation."
            ) from None

    def set(self, name: str, period: Period, index: int, value: Any) -> None:
        self.inputs.setdefault(name, {}).setdefault(period, {})[index] = value

    def get(self, name: str, period: Period, index: int) -> Any:
        by_period = self.inputs.get(name)
        if by_period is None:
            return MISSING
        values = by_period.get(period)
        found = MISSING if values is None else values.get(index, MISSING)
        if found is MISSING and (held := by_period.get(_HELD)) is not None:
            found = held.get(index, MISSING)
        return found

    @staticmethod
    def from_population(population: Population, group: str, index: int) -> Situation:
        """One group (household) of a columnar population, with its members and inputs."""
        ruleset = population.ruleset
        if set(ruleset.groups) != {group}:
            raise ValueError("one-group extraction needs a ruleset with that one group entity")
        membership = population.memberships[group]
        members = membership.members(index)
        person_ids = [str(i) for i in population.person_ids[members].tolist()]
        roles = membership.member_role[members].tolist()
        situation = Situation(
            ruleset,
            person_ids,
            {
                group: SituationGroup(
                    membership.entity,
                    [str(membership.ids[index])],
                    [list(range(len(members)))],
                    [0] * len(members),
                    roles,
                )
            },
        )
        person_key = ruleset.person.key
        for name, by_period in population.inputs.items():
            on_persons = ruleset.variables[name].entity == person_key
            for period, column in by_period.items():
                rows = column[members].tolist() if on_persons else [column[index].item()]
                store = situation.inputs.setdefault(name, {}).setdefault(
                    period if period is not None else _HELD, {}
                )
                store.update(enumerate(rows))
        return situation

    def to_population(self) -> Population:
        """The same persons, groups and inputs as columns (missing values take defaults)."""
        ruleset = self.ruleset
        population = Population.build(
            ruleset,
            person_ids=np.array(self.person_ids, dtype=object),
            groups={
                key: GroupColumns(
                    np.array(g.ids, dtype=object),
                    np.array([g.ids[i] for i in g.person_group], dtype=object),
                    np.array(g.person_role, dtype=np.int8),
                )
                for key, g in self.groups.items()
            },
        )
        for name, by_period in self.inputs.items():
            variable = ruleset.variables[name]
            size = population.size(variable.entity)
            default = ruleset.default(variable)
            for period, values in by_period.items():
                column = [values.get(i, default) for i in range(size)]
                if variable.value_type is ValueType.DATE:
                    column = [np.datetime64(v, "D") for v in column]
                population.set_input(
                    name,
                    np.array(column, dtype=DTYPES[variable.value_type]),
                    None if period is _HELD else period,
                    native=True,
                )
        return population


#: The period under which values held for every period are kept (see Population.set_input).
_HELD = Period(Unit.DAY, date.min, 1)


def held_period() -> Period:
    return _HELD


def convert_value(variable: Variable, value: Any, where: str) -> Any:
    """One JSON value → the engine representation (cents, date, enum code, …)."""
    kind = variable.value_type
    try:
        if kind is ValueType.MONEY:
            return to_cents(value)
        if isinstance(value, bool) and kind is not ValueType.BOOL:
            raise ValueError("a yes/no value")
        if kind is ValueType.INT and isinstance(value, int | float) and value == int(value):
            return int(value)
        if kind is ValueType.FLOAT and isinstance(value, int | float):
            return float(value)
        if kind is ValueType.BOOL and isinstance(value, bool):
            return value
        if kind is ValueType.DATE and isinstance(value, str):
            return date.fromisoformat(value)
        if kind is ValueType.ENUM and isinstance(value, str):
            assert variable.enum is not None
            return variable.enum.code(value)
        raise ValueError(repr(value))
    except (ValueError, TypeError, KeyError) as exc:
        expected = {
            ValueType.MONEY: "an amount in euros",
            ValueType.INT: "a whole number",
            ValueType.FLOAT: "a number",
            ValueType.BOOL: "true or false",
            ValueType.DATE: "a date YYYY-MM-DD",
            ValueType.ENUM: "one of " + ", ".join(variable.enum.keys if variable.enum else ()),
        }[kind]
        raise ValidationFailed(
            f"{where}: {variable.name} must be {expected} ({exc}).", field=where
        ) from None


def parse_situation(ruleset: Ruleset, data: Any) -> tuple[Situation, list[Request]]:
    """An OpenFisca-style situation → a ``Situation`` and the values asked for (``null``)."""
    if not isinstance(data, dict):
        raise ValidationFailed("A situation is a JSON object with persons and groups.")
    person = ruleset.person
    persons = data.get(person.plural)
    if not isinstance(persons, dict) or not persons:
        raise ValidationFailed(f"The situation needs '{person.plural}', an object of persons.")
    known = {person.plural, *(g.plural for g in ruleset.groups.values())}
    unknown = set(data) - known
    if unknown:
        raise ValidationFailed(
            f"Unknown key(s) {', '.join(sorted(unknown))}; expected {', '.join(sorted(known))}."
        )
    person_ids = [str(p) for p in persons]
    groups = {
        key: _group(ruleset, entity, data.get(entity.plural), person_ids)
        for key, entity in ruleset.groups.items()
    }
    situation = Situation(ruleset, person_ids, groups)
    requests: list[Request] = []
    for index, (pid, values) in enumerate(persons.items()):
        _values(situation, person, str(pid), index, values, requests, roles=())
    for key, entity in ruleset.groups.items():
        raw = data.get(entity.plural) or {}
        for index, (gid, values) in enumerate(raw.items()):
            roles = tuple(r.plural for r in entity.roles)
            _values(situation, entity, str(gid), index, values, requests, roles=roles)
        del key
    return situation, requests


def _group(ruleset: Ruleset, entity: Entity, raw: Any, person_ids: list[str]) -> SituationGroup:
    position = {pid: i for i, pid in enumerate(person_ids)}
    if raw is None:
        # as in OpenFisca: without any group given, each person is alone in the first role
        n = len(person_ids)
        return SituationGroup(
            entity,
            [f"_{pid}" for pid in person_ids],
            [[i] for i in range(n)],
            list(range(n)),
            [0] * n,
        )
    if not isinstance(raw, dict):
        raise ValidationFailed(f"'{entity.plural}' must be an object of {entity.plural}.")
    group_of: list[int] = [-1] * len(person_ids)
    role_of: list[int] = [0] * len(person_ids)
    for g, (gid, body) in enumerate(raw.items()):
        if not isinstance(body, dict):
            raise ValidationFailed(f"{entity.plural}.{gid} must be an object.")
        for r, role in enumerate(entity.roles):
            for pid in body.get(role.plural, []) or []:
                i = position.get(str(pid))
                if i is None:
                    raise ValidationFailed(
                        f"{entity.plural}.{gid}.{role.plural}: no person '{pid}'."
                    )
                if group_of[i] != -1:
                    raise ValidationFailed(f"Person '{pid}' is in more than one {entity.key}.")
                group_of[i], role_of[i] = g, r
    alone = [person_ids[i] for i, g in enumerate(group_of) if g == -1]
    if alone:
        raise ValidationFailed(
            f"Every person must be in a {entity.key}; not placed: {', '.join(alone)}."
        )
    members: list[list[int]] = [[] for _ in raw]
    for i, g in enumerate(group_of):
        members[g].append(i)
    return SituationGroup(entity, [str(k) for k in raw], members, group_of, role_of)


def _values(
    situation: Situation,
    entity: Entity,
    entity_id: str,
    index: int,
    values: Any,
    requests: list[Request],
    *,
    roles: tuple[str, ...],
) -> None:
    if not isinstance(values, dict):
        raise ValidationFailed(f"{entity.plural}.{entity_id} must be an object.")
    ruleset = situation.ruleset
    for name, by_period in values.items():
        if name in roles:
            continue
        where = f"{entity.plural}.{entity_id}.{name}"
        variable = ruleset.variable(name)
        if variable.entity != entity.key:
            raise ValidationFailed(
                f"{where}: {name} belongs to {variable.entity}, not {entity.key}."
            )
        if not isinstance(by_period, dict):
            raise ValidationFailed(f"{where} must be an object of values by period.")
        for period_key, value in by_period.items():
            asked = Period.parse(str(period_key))
            period = ETERNITY if variable.period is Unit.ETERNITY else asked
            if value is None:
                own = ruleset.period_for(variable, asked)
                requests.append(Request(entity.key, entity_id, name, str(period_key), own))
                continue
            if period is not ETERNITY and (period.unit is not variable.period or period.size != 1):
                raise ValidationFailed(
                    f"{where}.{period_key}: {name} is given per {variable.period.value}."
                )
            situation.set(
                name, period, index, convert_value(variable, value, f"{where}.{period_key}")
            )
