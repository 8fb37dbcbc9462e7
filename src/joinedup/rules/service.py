"""The rules context's use cases. Rules never touch the database: callers gather the inputs
(through the exchange, so every read is logged) and store what comes back. Nothing here
changes state or emits events."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from joinedup.core.errors import ValidationFailed
from joinedup.rules.columnar import Simulation
from joinedup.rules.explain import Evaluation, Instance
from joinedup.rules.explanation import Explainer, Explanation, missing_item
from joinedup.rules.explanation_values import WorkedValues, json_value
from joinedup.rules.periods import Period
from joinedup.rules.ruleset import Ruleset
from joinedup.rules.situation import Situation, parse_situation


def explain(
    *,
    ruleset: Ruleset,
    situation: Situation,
    variables: Sequence[str],
    period: Period,
    entity: str,
    entity_id: str,
) -> Explanation:
    """Compute ``variables`` for one person or group of ``situation`` and explain why: the
    value, each condition with its value, the parameters and formula version in force with
    their legal references, and sentences. A person variable asked about a group is explained
    for each member; a group variable asked about a person, for the person's group."""
    evaluation = Evaluation(situation)
    roots = _roots(evaluation, variables, period, entity, entity_id)
    return Explainer(evaluation).explain(roots)


def _roots(
    evaluation: Evaluation, variables: Sequence[str], period: Period, entity: str, entity_id: str
) -> list[Instance]:
    """The values asked about, computed (with everything they need)."""
    situation = evaluation.situation
    ruleset = situation.ruleset
    if not variables:
        raise ValidationFailed("Name at least one variable to explain.")
    if entity not in ruleset.entities:
        raise ValidationFailed(f"'{entity}' is not an entity of {ruleset.name}.")
    index = situation.index(entity, entity_id)
    person = ruleset.person.key
    roots: list[Instance] = []
    for name in variables:
        variable = ruleset.variable(name)
        own = ruleset.period_for(variable, period)
        if variable.entity == entity:
            indexes = [index]
        elif entity == person:
            indexes = [situation.groups[variable.entity].person_group[index]]
        else:
            indexes = situation.groups[entity].members[index]
        roots.extend(evaluation.instance(name, own, i) for i in indexes)
    return roots


@dataclass(frozen=True)
class EvaluatedSituation:
    """A situation with the values asked about computed: what was missing, and the
    explanation written from the same evaluation when asked for."""

    evaluation: Evaluation
    roots: list[Instance]

    @property
    def missing(self) -> list[dict[str, Any]]:
        """The inputs needed and not given (the items :attr:`Explanation.missing` lists, in
        the same order)."""
        situation = self.evaluation.situation
        return [missing_item(situation, m) for m in self.evaluation.missing]

    def explain(self, worked: WorkedValues | None = None) -> Explanation:
        """``worked``: shared with the other explanations the caller writes (see
        :class:`~joinedup.rules.explanation_values.WorkedValues`)."""
        return Explainer(self.evaluation, worked).explain(self.roots)


def evaluate_situation(
    *,
    ruleset: Ruleset,
    data: Any,
    variables: Sequence[str],
    period: Period,
    entity: str,
    entity_id: str,
) -> EvaluatedSituation:
    """Compute ``variables`` for a situation in OpenFisca's JSON shape without explaining
    yet: a caller gathering inputs asks what is missing, reads it, and explains the last
    evaluation once."""
    situation, _ = parse_situation(ruleset, data)
    evaluation = Evaluation(situation)
    return EvaluatedSituation(evaluation, _roots(evaluation, variables, period, entity, entity_id))


def explain_situation(
    *,
    ruleset: Ruleset,
    data: Any,
    variables: Sequence[str],
    period: Period,
    entity: str,
    entity_id: str,
) -> Explanation:
    """:func:`explain` for a situation in OpenFisca's JSON shape."""
    return evaluate_situation(
        ruleset=ruleset,
        data=data,
        variables=variables,
        period=period,
        entity=entity,
        entity_id=entity_id,
    ).explain()


def calculate(*, ruleset: Ruleset, data: Any) -> dict[str, Any]:
    """Fill in every ``null`` of an OpenFisca-style situation with its computed value (money in
    euros with cents). The situation is evaluated in columns, like a population of a few."""
    situation, requests = parse_situation(ruleset, data)
    if not requests:
        raise ValidationFailed("Nothing to calculate: set the values to compute to null.")
    simulation = Simulation(situation.to_population())
    results = simulation.compute((r.variable, r.period) for r in requests)
    answer: dict[str, Any] = copy.deepcopy(data)
    for r in requests:
        variable = ruleset.variables[r.variable]
        index = situation.ids(r.entity).index(r.entity_id)
        plural = ruleset.entities[r.entity].plural
        value = results[(r.variable, r.period)][index].item()
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        elif variable.value_type.value in ("money", "enum"):
            value = json_value(variable, value)
        answer[plural][r.entity_id][r.variable][r.period_key] = value
    return answer
