"""Request and response bodies of the rules API."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from joinedup.rules.expr import Param, ScaleCalc, Var, walk
from joinedup.rules.model import Reference, Variable
from joinedup.rules.parameters import DatedValue, Parameter, Scale
from joinedup.rules.ruleset import Ruleset


class ReferenceOut(BaseModel):
    citation: str
    url: str | None = None

    @staticmethod
    def of(reference: Reference | None) -> ReferenceOut | None:
        return ReferenceOut(citation=reference.citation, url=reference.url) if reference else None


class RoleOut(BaseModel):
    key: str
    plural: str
    label: str


class EntityOut(BaseModel):
    key: str
    plural: str
    label: str
    is_person: bool
    roles: list[RoleOut]


class RulesetOut(BaseModel):
    name: str
    label: str
    description: str
    version: str
    currency: str
    reference: ReferenceOut | None
    variables: int
    parameters: int
    entities: list[EntityOut]

    @staticmethod
    def of(ruleset: Ruleset) -> RulesetOut:
        return RulesetOut(
            name=ruleset.name,
            label=ruleset.label,
            description=ruleset.description,
            version=ruleset.version,
            currency=ruleset.currency,
            reference=ReferenceOut.of(ruleset.reference),
            variables=len(ruleset.variables),
            parameters=len(ruleset.parameters),
            entities=[
                EntityOut(
                    key=e.key,
                    plural=e.plural,
                    label=e.label,
                    is_person=e.is_person,
                    roles=[RoleOut(key=r.key, plural=r.plural, label=r.label) for r in e.roles],
                )
                for e in ruleset.entities.values()
            ],
        )


class FormulaOut(BaseModel):
    since: date | None = Field(description="In force from (null: always).")
    until: date | None = Field(description="In force until (null: still in force).")
    reference: ReferenceOut | None
    description: str
    reads: list[str] = Field(description="Variables the formula reads.")
    parameters: list[str] = Field(description="Parameters the formula uses.")


class EnumValueOut(BaseModel):
    key: str
    label: str


class VariableOut(BaseModel):
    name: str
    label: str
    entity: str
    value_type: str = Field(description="bool, int, float, money (euros with cents), date or enum.")
    period: str = Field(description="day, month, year or eternity.")
    description: str
    unit: str | None
    reference: ReferenceOut | None
    is_input: bool
    end: date | None = Field(description="The last day the variable exists in law.")
    possible_values: list[EnumValueOut] | None
    tags: list[str]
    formulas: list[FormulaOut]

    @staticmethod
    def of(variable: Variable) -> VariableOut:
        formulas = []
        for i, formula in enumerate(variable.formulas):
            in_force = variable.formula_at(formula.start or date.min)
            nodes = list(walk(formula.expr))
            formulas.append(
                FormulaOut(
                    since=formula.start,
                    until=in_force.until if in_force else None,
                    reference=ReferenceOut.of(formula.reference),
                    description=formula.description,
                    reads=sorted({n.name for n in nodes if isinstance(n, Var)}),
                    parameters=sorted({n.path for n in nodes if isinstance(n, Param | ScaleCalc)}),
                )
            )
            del i
        enum = variable.enum
        return VariableOut(
            name=variable.name,
            label=variable.label,
            entity=variable.entity,
            value_type=variable.value_type.value,
            period=variable.period.value,
            description=variable.description,
            unit=variable.unit,
            reference=ReferenceOut.of(variable.reference),
            is_input=variable.is_input,
            end=variable.end,
            possible_values=[EnumValueOut(key=k, label=v) for k, v in enum.members]
            if enum
            else None,
            tags=list(variable.tags),
            formulas=formulas,
        )


class DatedValueOut(BaseModel):
    start: date
    value: str | None = Field(description="A decimal number as text; null once repealed.")
    reference: ReferenceOut | None

    @staticmethod
    def of(dated: DatedValue) -> DatedValueOut:
        return DatedValueOut(
            start=dated.start,
            value=None if dated.value is None else str(dated.value),
            reference=ReferenceOut.of(dated.reference),
        )


class BracketOut(BaseModel):
    threshold: list[DatedValueOut]
    value: list[DatedValueOut] = Field(description="The rate, or the amount, of the bracket.")


class ParameterOut(BaseModel):
    path: str
    description: str
    label: str
    unit: str
    reference: ReferenceOut | None
    values: list[DatedValueOut] | None = Field(description="Dated values (not for a scale).")
    scale_kind: str | None = Field(description="marginal_rate, single_amount or marginal_amount.")
    brackets: list[BracketOut] | None

    @staticmethod
    def of(item: Parameter | Scale) -> ParameterOut:
        if isinstance(item, Parameter):
            return ParameterOut(
                path=item.path,
                description=item.description,
                label=item.label,
                unit=item.unit,
                reference=ReferenceOut.of(item.reference),
                values=[DatedValueOut.of(d) for d in item.values],
                scale_kind=None,
                brackets=None,
            )
        return ParameterOut(
            path=item.path,
            description=item.description,
            label=item.label,
            unit=item.threshold_unit,
            reference=ReferenceOut.of(item.reference),
            values=None,
            scale_kind=item.kind,
            brackets=[
                BracketOut(
                    threshold=[DatedValueOut.of(d) for d in b.threshold],
                    value=[DatedValueOut.of(d) for d in b.value],
                )
                for b in item.brackets
            ],
        )


class ExplainRequest(BaseModel):
    situation: dict[str, Any] = Field(description="Persons and groups, as for calculate.")
    variables: list[str] = Field(min_length=1, examples=[["disposable_income"]])
    period: str = Field(examples=["2017-01"])
    entity: str = Field("household", description="The entity explained: person or a group.")
    id: str = Field(description="Its id in the situation.", examples=["_"])


class SyntheticPopulationIn(BaseModel):
    persons: int = Field(10_000, ge=10, le=200_000)
    seed: int = 7


class WhatIfRequest(BaseModel):
    period: str = Field(examples=["2017-01"])
    changes: list[str] = Field(
        min_length=1,
        description="Parameter changes: path=value[@YYYY-MM-DD], or path[i].rate=value for a "
        "scale's bracket.",
        examples=[["benefits.basic_income=700"]],
    )
    synthetic: SyntheticPopulationIn | None = Field(
        None, description="A seeded synthetic population (country_template only)."
    )
    situation: dict[str, Any] | None = Field(
        None, description="Or a situation of a few households."
    )
    target: str = "disposable_income"
    income: str | None = Field(None, description="Deciles of this variable (default: target).")
    breakdown: list[str] = Field(default_factory=list, description="Totals of these too.")
