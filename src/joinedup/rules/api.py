"""The rules API, in the spirit of OpenFisca's web API: rulesets, their variables and
parameters with legal references, calculate, explain, what-if, and each ruleset's own
OpenAPI description. Mounted by :func:`joinedup.platform.api_modules`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Body, Query

from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.pagination import MAX_LIMIT, Page, decode_cursor, encode_cursor
from joinedup.rules import describe
from joinedup.rules.periods import Period
from joinedup.rules.reform import ParameterChange, apply_reform, what_if
from joinedup.rules.registry import get_ruleset, ruleset_names
from joinedup.rules.ruleset import UnknownVariable
from joinedup.rules.schemas import (
    ExplainRequest,
    ParameterOut,
    RulesetOut,
    VariableOut,
    WhatIfRequest,
)
from joinedup.rules.service import calculate, explain_situation
from joinedup.rules.situation import parse_situation
from joinedup.rules.synthetic import generate, input_months, to_population

router = APIRouter(prefix="/api/v1/rules", tags=["rules"])
T = TypeVar("T")
CURSOR = Query(None, description="The next_cursor of the previous page.")
LIMIT = Query(100, ge=1, le=MAX_LIMIT)


def _page(items: list[T], key: Callable[[T], str], cursor: str | None, limit: int) -> Page[T]:
    after = str(decode_cursor(cursor, 1)[0]) if cursor else None
    rest = [item for item in sorted(items, key=key) if after is None or key(item) > after]
    chosen = rest[:limit]
    more = len(rest) > limit
    return Page[T](items=chosen, next_cursor=encode_cursor([key(chosen[-1])]) if more else None)


@router.get("/rulesets", response_model=list[RulesetOut], summary="The rulesets")
def list_rulesets() -> list[RulesetOut]:
    return [RulesetOut.of(get_ruleset(name)) for name in ruleset_names()]


@router.get("/rulesets/{name}", response_model=RulesetOut, summary="One ruleset")
def read_ruleset(name: str) -> RulesetOut:
    return RulesetOut.of(get_ruleset(name))


@router.get(
    "/rulesets/{name}/variables",
    response_model=Page[VariableOut],
    summary="Variables, with formulas' dates and legal references",
)
def list_variables(name: str, cursor: str | None = CURSOR, limit: int = LIMIT) -> Page[VariableOut]:
    ruleset = get_ruleset(name)
    items = [VariableOut.of(v) for v in ruleset.variables.values()]
    return _page(items, lambda v: v.name, cursor, limit)


@router.get("/rulesets/{name}/variables/{variable}", response_model=VariableOut)
def read_variable(name: str, variable: str) -> VariableOut:
    ruleset = get_ruleset(name)
    try:
        return VariableOut.of(ruleset.variable(variable))
    except UnknownVariable as exc:
        raise NotFound(exc.detail, variable=variable) from None


@router.get(
    "/rulesets/{name}/parameters",
    response_model=Page[ParameterOut],
    summary="Parameters: dated values and bracket scales, with legal references",
)
def list_parameters(
    name: str, cursor: str | None = CURSOR, limit: int = LIMIT
) -> Page[ParameterOut]:
    ruleset = get_ruleset(name)
    items = [ParameterOut.of(p) for p in ruleset.parameters]
    return _page(items, lambda p: p.path, cursor, limit)


@router.get("/rulesets/{name}/parameters/{path}", response_model=ParameterOut)
def read_parameter(name: str, path: str) -> ParameterOut:
    ruleset = get_ruleset(name)
    if path not in ruleset.parameters:
        raise NotFound(f"The ruleset '{name}' has no parameter '{path}'.", parameter=path)
    return ParameterOut.of(ruleset.parameters.get(path))


@router.get("/rulesets/{name}/openapi", summary="The ruleset's OpenAPI description")
def ruleset_openapi(name: str) -> dict[str, Any]:
    return describe.openapi_document(get_ruleset(name))


@router.post("/rulesets/{name}/calculate", summary="Compute the values set to null")
def calculate_situation(name: str, situation: dict[str, Any] = Body(...)) -> dict[str, Any]:
    return calculate(ruleset=get_ruleset(name), data=situation)


@router.post("/rulesets/{name}/explain", summary="Why and why not, for one person or group")
def explain_values(name: str, request: ExplainRequest) -> dict[str, Any]:
    explanation = explain_situation(
        ruleset=get_ruleset(name),
        data=request.situation,
        variables=request.variables,
        period=Period.parse(request.period),
        entity=request.entity,
        entity_id=request.id,
    )
    return explanation.as_dict()


@router.post("/rulesets/{name}/whatif", summary="A reform's cost, winners and losers by decile")
def reform_what_if(name: str, request: WhatIfRequest) -> dict[str, Any]:
    baseline = get_ruleset(name)
    period = Period.parse(request.period)
    reform = apply_reform(baseline, [ParameterChange.parse(c) for c in request.changes])
    if (request.synthetic is None) == (request.situation is None):
        raise ValidationFailed("Give either a synthetic population or a situation.")
    if request.situation is not None:
        population = parse_situation(baseline, request.situation)[0].to_population()
    else:
        if name != "country_template":
            raise ValidationFailed("Synthetic populations exist for country_template only.")
        assert request.synthetic is not None
        synthetic = generate(request.synthetic.persons, seed=request.synthetic.seed)
        population = to_population(baseline, synthetic, input_months([period]))
    report = what_if(
        baseline=baseline,
        reform=reform,
        population=population,
        period=period,
        target=request.target,
        income=request.income,
        breakdown=request.breakdown,
    )
    return report.as_dict()
