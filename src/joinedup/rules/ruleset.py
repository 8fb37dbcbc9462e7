"""A ruleset: entities, variables and parameters of one body of legislation, with the cache of
its formulas bound per period."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import date
from typing import Any

from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.rules.model import Entity, Reference, RulesetDefinitionError, ValueType, Variable
from joinedup.rules.money import to_cents
from joinedup.rules.parameters import ParameterTree
from joinedup.rules.periods import ETERNITY, Period, Unit, period_of_unit

#: Bound formulas kept per ruleset (variable × period); far more than any real use needs.
_BOUND_CACHE_LIMIT = 20_000


class UnknownVariable(ValidationFailed):
    slug = "unknown-variable"
    title = "The ruleset has no such variable"


class Ruleset:
    """One body of legislation as code. Immutable once built; a reform is a new ``Ruleset``
    sharing the variables with different parameters."""

    def __init__(
        self,
        *,
        name: str,
        label: str,
        description: str,
        version: str,
        person: Entity,
        groups: Iterable[Entity],
        variables: Iterable[Variable],
        parameters: ParameterTree,
        currency: str = "EUR",
        reference: Reference | None = None,
        reform: str | None = None,
    ) -> None:
        self.name = name
        self.label = label
        self.description = description
        self.version = version
        self.person = person
        self.groups = {g.key: g for g in groups}
        self.entities: dict[str, Entity] = {person.key: person, **self.groups}
        self.variables: dict[str, Variable] = {}
        for variable in variables:
            if variable.name in self.variables:
                raise RulesetDefinitionError(f"{name}: variable {variable.name} defined twice")
            if variable.entity not in self.entities:
                raise RulesetDefinitionError(f"{variable.name}: no entity '{variable.entity}'")
            self.variables[variable.name] = variable
        self.parameters = parameters
        self.currency = currency
        self.reference = reference
        self.reform = reform
        self._bound: dict[tuple[str, Period], Any] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Ruleset {self.name}{' + ' + self.reform if self.reform else ''}>"

    def variable(self, name: str) -> Variable:
        try:
            return self.variables[name]
        except KeyError:
            raise UnknownVariable(
                f"The ruleset '{self.name}' has no variable '{name}'.", variable=name
            ) from None

    def entity(self, key: str) -> Entity:
        try:
            return self.entities[key]
        except KeyError:
            raise NotFound(f"The ruleset '{self.name}' has no entity '{key}'.") from None

    def default(self, variable: Variable) -> Any:
        """The variable's default value in the engines' representation (cents for money)."""
        value = variable.default
        match variable.value_type:
            case ValueType.MONEY:
                return 0 if value is None else to_cents(value)
            case ValueType.INT:
                return int(value or 0)
            case ValueType.FLOAT:
                return float(value or 0.0)
            case ValueType.BOOL:
                return bool(value)
            case ValueType.DATE:
                return value if isinstance(value, date) else date(1970, 1, 1)
            case ValueType.ENUM:
                assert variable.enum is not None
                return 0 if value is None else variable.enum.code(value)
        raise AssertionError(variable.value_type)

    def period_for(self, variable: Variable, period: Period) -> Period:
        """The period of ``variable`` to compute when ``period`` is asked for: the variable's
        own unit containing it (the year of a month for a yearly variable)."""
        if variable.period is Unit.ETERNITY:
            return ETERNITY
        if period.unit is Unit.ETERNITY:
            raise ValidationFailed(
                f"{variable.name} is defined per {variable.period.value}; give a period.",
                variable=variable.name,
            )
        return period_of_unit(variable.period, period)

    def bound(self, name: str, period: Period) -> Any:
        """The variable bound for ``period`` (cached). See :mod:`joinedup.rules.bind`."""
        key = (name, period)
        found = self._bound.get(key)
        if found is not None:
            return found
        from joinedup.rules.bind import bind_variable

        made = bind_variable(self, self.variable(name), period)
        with self._lock:
            if len(self._bound) >= _BOUND_CACHE_LIMIT:
                self._bound.clear()
            self._bound[key] = made
        return made

    def with_parameters(self, parameters: ParameterTree, *, reform: str) -> Ruleset:
        return Ruleset(
            name=self.name,
            label=self.label,
            description=self.description,
            version=self.version,
            person=self.person,
            groups=self.groups.values(),
            variables=self.variables.values(),
            parameters=parameters,
            currency=self.currency,
            reference=self.reference,
            reform=reform,
        )
