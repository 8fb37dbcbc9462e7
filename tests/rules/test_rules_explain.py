"""Explanations: why and why not, with values, parameters, formula versions and references."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rules_support import household

from joinedup.rules.explanation import situation_given
from joinedup.rules.periods import Period
from joinedup.rules.ruleset import Ruleset
from joinedup.rules.service import evaluate_situation, explain_situation


def _explain(
    ruleset: Ruleset,
    situation: dict[str, Any],
    names: list[str],
    period: str,
    entity: str = "household",
    entity_id: str = "h",
) -> Any:
    return explain_situation(
        ruleset=ruleset,
        data=situation,
        variables=names,
        period=Period.parse(period),
        entity=entity,
        entity_id=entity_id,
    )


def _family(salary: int, month: str = "2017-01") -> dict[str, Any]:
    return household(
        {
            "ann": {
                "birth": {"ETERNITY": "1985-04-02"},
                "salary": {month: salary},
                "capital_returns": {month: 0},
            },
            "kid": {
                "birth": {"ETERNITY": "2013-09-01"},
                "salary": {month: 0},
                "capital_returns": {month: 0},
            },
        },
        ["ann"],
        ["kid"],
        rent={month: 700},
        accommodation_size={month: 60},
        housing_occupancy_status={month: "tenant"},
    )


def test_why_not_names_the_failed_condition_with_values_and_the_law(template: Ruleset) -> None:
    explanation = _explain(template, _family(1200), ["parenting_allowance"], "2017-01")
    assert explanation.sentences[0] == "Parenting allowance for 2017-01 (household h): €0.00."
    assert explanation.sentences[1] == (
        "Not eligible: household income €1,200.00 is above the income limit of €500.00 "
        "(Parenting Allowance Act §3(2))."
    )
    assert explanation.complete
    result = explanation.as_dict()["results"][0]
    (both,) = result["conditions"]
    assert both["met"] is False
    assert both["text"].startswith("not all of: household income")
    income, children = both["conditions"]
    assert (income["met"], children["met"]) == (False, True)
    assert children["reference"]["citation"] == "Parenting Allowance Act §3(1)"
    assert {p["parameter"] for p in result["parameters"]} == {
        "benefits.parenting_allowance.income_threshold"
    }


def test_why_names_every_condition_and_the_amount(template: Ruleset) -> None:
    explanation = _explain(template, _family(300), ["parenting_allowance"], "2017-01")
    assert explanation.sentences[1].startswith(
        "Eligible: household income €300.00 is at most the income limit of €500.00"
    )
    assert "the household cares for a young enough child" in explanation.sentences[1]
    assert explanation.sentences[2] == "Computed as the parenting allowance amount €600.00."
    assert explanation.sentences[3] == "Rule: Parenting Allowance Act."


def test_formula_versions_and_member_by_member_results(template: Ruleset) -> None:
    explanation = _explain(template, _family(300, "2016-06"), ["basic_income"], "2016-06")
    ann, kid = explanation.as_dict()["results"]
    assert (ann["id"], ann["value"], kid["value"]) == ("ann", 0.0, 0.0)
    assert ann["formula"]["since"] == "2015-12-01"
    assert ann["formula"]["until"] == "2016-11-30"
    assert "Not eligible: salary €300.00 is not €0.00 (Basic Income Act §1(2) (2015))." in (
        explanation.sentences
    )
    assert "Not eligible: age (2) is below the age of majority (18) (Basic Income Act §1(1))." in (
        explanation.sentences
    )


def test_bracket_scales_and_inputs_are_in_the_tree(template: Ruleset) -> None:
    explanation = _explain(
        template, _family(7000), ["social_security_contribution"], "2017-01", "person", "ann"
    )
    result = explanation.as_dict()["results"][0]
    assert result["text"] == "€180.00"
    (scale,) = result["parameters"]
    assert scale["scale"] == "marginal_rate"
    assert scale["brackets"] == [
        {"threshold": "€0.00", "value": "2%"},
        {"threshold": "€6,000.00", "value": "6%"},
        {"threshold": "€12,400.00", "value": "12%"},
    ]
    assert scale["applied"] == [
        "2% of €6,000.00 (from €0.00) = €120.00",
        "6% of €1,000.00 (from €6,000.00) = €60.00",
    ]
    assert result["inputs"][0]["variable"] == "salary"
    assert result["inputs"][0]["source"] == "input"
    assert (
        "Computed as the social security contribution scale applied to salary €7,000.00"
        in (explanation.sentences[1])
    )


def test_missing_inputs_are_named_and_the_default_said(template: Ruleset) -> None:
    situation = household({"ann": {"birth": {"ETERNITY": "1985-04-02"}}}, ["ann"])
    explanation = _explain(template, situation, ["income_tax"], "2017-01", "person", "ann")
    assert not explanation.complete
    assert [(m["variable"], m["id"], m["period"]) for m in explanation.missing] == [
        ("salary", "ann", "2017-01"),
        ("capital_returns", "ann", "2017-01"),
    ]
    assert explanation.sentences[-1] == (
        "Not given, so the defaults were assumed: salary for 2017-01 (person ann) (€0.00); "
        "capital returns for 2017-01 (person ann) (€0.00)."
    )


@pytest.mark.parametrize(
    ("names", "entity", "entity_id", "given"),
    [
        (["income_tax"], "person", "ann", {}),
        (["income_tax"], "person", "ann", {"salary": {"2017-01": 1000}}),
        (["housing_allowance", "parenting_allowance"], "household", "h", {}),
        (["income_tax"], "person", "ann", {"salary": {"2017-01": 1000},
                                           "capital_returns": {"2017-01": 5}}),
    ],
)  # fmt: skip
def test_missing_inputs_are_the_explanations_without_writing_it(
    template: Ruleset, names: list[str], entity: str, entity_id: str, given: dict[str, Any]
) -> None:
    """What a gatherer asks before it reads: the same items, in the same order, as the
    explanation of the same situation reports missing."""
    situation = household({"ann": {"birth": {"ETERNITY": "1985-04-02"}, **given}}, ["ann"])
    explained = _explain(template, situation, names, "2017-01", entity, entity_id)
    asked = evaluate_situation(
        ruleset=template,
        data=situation,
        variables=names,
        period=Period.parse("2017-01"),
        entity=entity,
        entity_id=entity_id,
    ).missing
    assert asked == explained.missing
    assert bool(asked) is not explained.complete


def test_ended_and_not_yet_in_force(template: Ruleset) -> None:
    ended = _explain(template, _family(300), ["housing_allowance"], "2017-01")
    assert ended.sentences[1] == "No longer in force: the rules ended on 2016-11-30."
    early = _explain(template, _family(300), ["basic_income"], "2015-01", "person", "ann")
    assert early.sentences[1] == "Not in force yet: the rules start on 2015-12-01."


def test_the_whole_tree_is_json_and_shows_each_value_once(template: Ruleset) -> None:
    explanation = _explain(
        template, _family(300), ["disposable_income", "parenting_allowance"], "2017-01"
    )
    document = explanation.as_dict()
    text = json.dumps(document)
    assert "Disposable income" in text
    assert document["ruleset"] == "country_template"
    keys: list[str] = []

    targets = [r["key"] for r in document["results"]]

    def walk(node: dict[str, Any]) -> None:
        if "see" in node:
            assert node["see"] in keys or node["see"] in targets
            return
        keys.append(node["key"])
        for child in node["inputs"]:
            walk(child)

    for result in document["results"]:
        walk(result)
    assert len(keys) == len(set(keys))
    assert "parenting_allowance/2017-01/household/h" in keys


def test_an_explanation_to_a_depth_shows_the_values_below_it_by_their_worth(
    template: Ruleset,
) -> None:
    """A decision's record keeps the value decided in full and what it was computed from by
    value (``depth=1``); the whole derivation is the explanation without a depth."""
    explanation = _explain(template, _family(1200), ["parenting_allowance"], "2017-01")
    full, short = explanation.as_dict(), explanation.as_dict(depth=1)
    assert "depth" not in full
    assert short["depth"] == 1
    for same in ("ruleset", "complete", "sentences", "sentence_parts", "missing"):
        assert short[same] == full[same]
    (whole,), (cut,) = full["results"], short["results"]
    assert {k: v for k, v in cut.items() if k != "inputs"} == {
        k: v for k, v in whole.items() if k != "inputs"
    }
    assert [i["key"] for i in cut["inputs"]] == [
        i.get("key", i.get("see")) for i in whole["inputs"]
    ]
    summed_up = {"key", "variable", "label", "entity", "id", "period", "value", "text", "source"}
    for below, shown in zip(cut["inputs"], whole["inputs"], strict=True):
        assert set(below) == summed_up  # how it was worked out is left out
        assert {k: shown[k] for k in summed_up} == below
    assert any(i.get("inputs") for i in whole["inputs"])  # (there was more below to leave out)
    # the facts it rests on, each once: every value given anywhere in the derivation
    given: dict[str, Any] = {}
    stack = list(whole["inputs"])
    while stack:
        value = stack.pop()
        if "see" not in value:
            if value["source"] == "input":
                given[value["key"]] = value["value"]
            stack += value.get("inputs", [])
    assert "given" not in full
    assert short["given"] == {key: given[key] for key in sorted(given)}
    assert {"salary/2017-01/person/ann", "birth/eternity/person/kid"} <= set(given)
    # what it rests on, explained again, gives every step it leaves out
    assert short["groups"] == {"households": {"h": {"adults": ["ann"], "children": ["kid"]}}}
    again = _explain(template, situation_given(template, short), ["parenting_allowance"], "2017-01")
    assert again.as_dict()["results"] == full["results"]
    assert again.sentences == explanation.sentences
    assert len(json.dumps(short)) < len(json.dumps(full))


def test_an_explanation_to_a_depth_assumes_the_same_defaults_again(template: Ruleset) -> None:
    """A default assumed is not a value given: explained again, the situation assumes it
    again and names it missing, as the document did."""
    situation = household({"ann": {"birth": {"ETERNITY": "1985-04-02"}}}, ["ann"])
    explanation = _explain(template, situation, ["income_tax"], "2017-01", "person", "ann")
    short = explanation.as_dict(depth=1)
    assert short["missing"]
    assert set(short["given"]) == {"birth/eternity/person/ann"}
    again = _explain(
        template, situation_given(template, short), ["income_tax"], "2017-01", "person", "ann"
    ).as_dict(depth=1)
    assert again == short
