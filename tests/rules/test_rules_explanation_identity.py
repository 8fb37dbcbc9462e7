"""An explanation is written from plans kept per bound formula and texts kept per phrase; it
must read exactly as the straightforward walk writes it (:mod:`explanation_reference`), byte
for byte — the document, its sentences in English and Estonian, the verdict and its stored
parts — for every kind of situation, and whatever was explained before it (nothing kept from
one person's explanation may show in another's)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from explanation_reference import Condition, ReferenceExplainer, ReferenceVerdict, in_language
from explanation_reference import text_of as reference_text
from explanation_reference import value_text as reference_value_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_rules_modes_agree import _population, shapes

import joinedup.rules.explanation_plans as plans
from joinedup.core import i18n
from joinedup.rules import Verdict, sentences_in_language
from joinedup.rules.explain import Evaluation, Instance
from joinedup.rules.explanation import Explainer
from joinedup.rules.explanation_values import WorkedValues, json_value, over_members
from joinedup.rules.model import Reference, ValueType, Variable
from joinedup.rules.money import to_decimal
from joinedup.rules.periods import Period, Unit
from joinedup.rules.population import Population
from joinedup.rules.registry import get_ruleset
from joinedup.rules.ruleset import Ruleset
from joinedup.rules.service import evaluate_situation
from joinedup.rules.situation import Situation
from joinedup.rules.wording import Joined, Phrase, Text, Value, part_of

PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAY = "2024-05"
#: The orders a caller may read an explanation in (what is kept inside one must not matter).
ORDERS = ("document first", "verdict first", "values first")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _reference_verdict(stored: dict[str, Any]) -> ReferenceVerdict:
    """A stored verdict as the straightforward code reads it back."""
    return ReferenceVerdict(
        bool(stored.get("met")),
        str(stored["word"]),
        [
            Condition(
                str(c["text"]),
                bool(stored.get("met")),
                Reference(str(c["citation"]), None) if c.get("citation") else None,
                [],
                part_of(c["parts"]) if c.get("parts") is not None else None,
            )
            for c in stored["conditions"]
        ],
    )


#: How values were worked out, shared by every explanation of this module that does not bring
#: its own (as a batch of life events shares it): across persons, households and examples.
WORKED = WorkedValues()


def assert_explained_as_before(
    evaluation: Evaluation,
    roots: list[Instance],
    order: str = ORDERS[0],
    worked: WorkedValues | None = WORKED,
) -> dict[str, Any]:
    """``roots`` explained by the explainer (sharing ``worked`` with the others), compared
    with the straightforward explanation in every form a caller reads it; returns the
    document."""
    reference = ReferenceExplainer(evaluation, roots)
    expected = reference.document()
    explanation = Explainer(evaluation, worked).explain(roots)
    if order == "verdict first":
        explanation.verdict()
    elif order == "values first":
        values = explanation.values
        for inst, explained in zip(explanation.graph, values.values(), strict=True):
            assert _json(explained.as_dict()) == _json(reference.value(inst))
    document = explanation.as_dict()
    assert _json(document) == _json(expected)
    assert explanation.sentences == expected["sentences"]
    assert _json(explanation.as_dict()) == _json(expected)  # read again: the same

    estonian = in_language("et")
    stored = json.loads(_json(document))
    assert sentences_in_language(stored, "et") == [
        reference_text(part_of(p), estonian) for p in stored["sentence_parts"]
    ]

    verdict = explanation.verdict()
    expected_verdict = reference.verdict(roots[0])
    if expected_verdict is None:
        assert verdict is None
        return document
    assert verdict is not None
    assert verdict.sentence() == expected_verdict.sentence()
    assert _json(verdict.as_dict()) == _json(expected_verdict.as_dict())
    assert verdict.sentence(estonian.translate, locale="et") == expected_verdict.sentence(estonian)
    # as a letter reads it back: from what was stored, in English and in Estonian
    kept = json.loads(_json(verdict.as_dict()))
    again, read_back = Verdict.from_dict(kept), _reference_verdict(kept)
    assert again.sentence() == read_back.sentence() == verdict.sentence()
    assert again.sentence(estonian.translate, locale="et") == read_back.sentence(estonian)
    with i18n.use_locale("et"):
        assert again.sentence(i18n.gettext) == read_back.sentence(estonian)
    return document


def _roots(
    evaluation: Evaluation, names: list[str], period: Period, entity: str, index: int
) -> Any:
    ruleset = evaluation.ruleset
    roots = []
    for name in names:
        variable = ruleset.variables[name]
        own = ruleset.period_for(variable, period)
        if variable.entity == entity:
            indexes = [index]
        elif entity == ruleset.person.key:
            indexes = [evaluation.situation.groups[variable.entity].person_group[index]]
        else:
            indexes = evaluation.situation.groups[entity].members[index]
        roots.extend(evaluation.instance(name, own, i) for i in indexes)
    return roots


def _explain_every_variable(population: Population, period: Period, order: str) -> int:
    """Each formula variable explained on its own (as a service decides) for a household (a
    person variable: for each member) and for its first member, then all of them at once; in
    the first few households. Returns how many explanations were compared."""
    ruleset = population.ruleset
    names = [n for n, v in ruleset.variables.items() if not v.is_input]
    if period.start.year < 2017:  # no parameter values before (as in test_rules_modes_agree)
        names = [n for n in names if n not in ("meal_price", "swimming_pool_access")]
    membership = population.memberships["household"]
    compared = 0
    for h in range(min(membership.count, 3)):
        situation = Situation.from_population(population, "household", h)
        asked = [("household", 0)] + ([("person", 0)] if situation.person_ids else [])
        for entity, index in asked:
            for name in names:
                evaluation = Evaluation(situation)
                roots = _roots(evaluation, [name], period, entity, index)
                if roots:
                    assert_explained_as_before(evaluation, roots, order)
                    compared += 1
        evaluation = Evaluation(situation)
        roots = _roots(evaluation, names, period, "household", 0)
        if roots:
            assert_explained_as_before(evaluation, roots, order)
            compared += 1
    return compared


days = st.integers(min_value=0, max_value=40_000)
cents = st.one_of(st.just(0), st.integers(min_value=0, max_value=2_000_000))


@PROPERTY
@given(
    shape=shapes(),
    period=st.sampled_from(["2015-12", "2016-01", "2016-12", "2017-01", "2017-02"]),
    data=st.data(),
    held=st.booleans(),
    order=st.sampled_from(ORDERS),
)
def test_country_template_explanations_read_as_before(
    shape: dict[str, Any], period: str, data: st.DataObject, held: bool, order: str
) -> None:
    ruleset = get_ruleset("country_template")
    population = _population(ruleset, shape)
    month = Period.parse(period)
    n, h = population.count, shape["households"]
    draw = data.draw
    birth = [
        date(1925, 1, 1) + timedelta(days=d) for d in draw(st.lists(days, min_size=n, max_size=n))
    ]
    population.set_input("birth", np.array(birth, dtype="datetime64[D]"), native=True)
    for m in [None] if held else [month, month.this_year.first_month]:
        for name, size in (("salary", n), ("capital_returns", n), ("rent", h)):
            values = draw(st.lists(cents, min_size=size, max_size=size))
            population.set_input(name, np.array(values, dtype=np.int64), m, native=True)
        sizes = draw(
            st.lists(st.floats(min_value=0, max_value=500, allow_nan=False), min_size=h, max_size=h)
        )
        population.set_input("accommodation_size", np.array(sizes), m, native=True)
        statuses = draw(st.lists(st.integers(min_value=0, max_value=3), min_size=h, max_size=h))
        population.set_input(
            "housing_occupancy_status", np.array(statuses, dtype=np.int8), m, native=True
        )
    assert _explain_every_variable(population, month, order) > 0  # something was compared


@PROPERTY
@given(
    shape=shapes(),
    period=st.sampled_from(["2019-03", "2023-01", "2024-02", "2024-05", "2027-01"]),
    data=st.data(),
    order=st.sampled_from(ORDERS),
)
def test_demo_explanations_read_as_before(
    shape: dict[str, Any], period: str, data: st.DataObject, order: str
) -> None:
    ruleset = get_ruleset("demo")
    population = _population(ruleset, shape)
    month = Period.parse(period)
    n, h = population.count, shape["households"]
    draw = data.draw
    start = date(1925, 1, 1)
    # births around the month asked about too (a birth grant, parental benefit, school at six)
    near = (month.start - start).days
    born = st.one_of(st.integers(0, 37_000), st.integers(max(near - 2_500, 0), near + 40))
    birth = [start + timedelta(days=d) for d in draw(st.lists(born, min_size=n, max_size=n))]
    deaths = st.lists(st.one_of(st.none(), st.integers(35_000, 38_000)), min_size=n, max_size=n)
    death = [date.max if d is None else start + timedelta(days=d) for d in draw(deaths)]
    population.set_input("birth_date", np.array(birth, dtype="datetime64[D]"), native=True)
    population.set_input("date_of_death", np.array(death, dtype="datetime64[D]"), native=True)
    if draw(st.booleans()):  # else not given: the default assumed, and said
        resident = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        population.set_input("resident", np.array(resident), month, native=True)
    for m in (month, *month.last_months(3).subperiods(Unit.MONTH)):
        if draw(st.booleans()):
            income = draw(st.lists(cents, min_size=n, max_size=n))
            population.set_input("monthly_income", np.array(income, dtype=np.int64), m, native=True)
    rent = draw(st.lists(cents, min_size=h, max_size=h))
    population.set_input("rent", np.array(rent, dtype=np.int64), month, native=True)
    tenure = draw(st.lists(st.integers(0, 2), min_size=h, max_size=h))
    population.set_input("housing_tenure", np.array(tenure, dtype=np.int8), month, native=True)
    assert _explain_every_variable(population, month, order) > 0  # something was compared


# the proactive services' decisions at a birth, one after another -----------------------------


def _person(birth: str, *, resident: bool = True, income: float | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {
        "birth_date": {"ETERNITY": birth},
        "date_of_death": {"ETERNITY": "9999-12-31"},
        "resident": {MAY: resident},
    }
    if income is not None:
        values["monthly_income"] = dict.fromkeys(("2024-02", "2024-03", "2024-04", MAY), income)
    return values


def _household(prefix: str, adults: list[dict[str, Any]], children: list[dict[str, Any]]) -> Any:
    persons = {f"{prefix}a{i}": p for i, p in enumerate(adults)}
    persons.update({f"{prefix}c{i}": p for i, p in enumerate(children)})
    return {
        "persons": persons,
        "households": {
            f"{prefix}h": {
                "adults": [f"{prefix}a{i}" for i in range(len(adults))],
                "children": [f"{prefix}c{i}" for i in range(len(children))],
            }
        },
    }


BIRTHS = {
    "a birth this month": _household(
        "p",
        [_person("1990-03-04", income=3_012.34), _person("1988-07-01")],
        [_person("2024-05-10")],
    ),
    "no birth, older children": _household(
        "q",
        [_person("1975-01-31", income=0)],
        [_person("2006-02-01"), _person("2015-01-01"), _person("2018-02-01")],
    ),
    "a large family, one not resident": _household(
        "r",
        [_person("1980-12-12", income=987.65), _person("1982-06-30", income=4_400.5)],
        [_person(d) for d in ("2010-01-01", "2015-01-01", "2018-02-01")]
        + [_person("2024-05-01", resident=False)],
    ),
    "alone, income not given": _household("s", [_person("1962-05-15")], []),
    "born on the last day, not resident": _household(
        "t", [_person("2000-01-01", resident=False, income=1_500)], [_person("2024-05-31")]
    ),
}
DECIDED = [
    "child_benefit",
    "birth_grant",
    "parental_benefit",
    "old_age_pension",
    "school_enrolment_due",
    "housing_support",
    "funeral_grant",
    "elderly_care_assessment",
    "reaches_pension_age",
]


def _decision(
    ruleset: Ruleset,
    data: Any,
    name: str,
    person: str,
    worked: WorkedValues | None = WORKED,
) -> dict[str, Any]:
    evaluated = evaluate_situation(
        ruleset=ruleset,
        data=data,
        variables=[name],
        period=Period.parse(MAY),
        entity="person",
        entity_id=person,
    )
    return assert_explained_as_before(evaluated.evaluation, evaluated.roots, worked=worked)


def test_the_decisions_at_a_birth_read_as_before(demo: Ruleset) -> None:
    for _ in range(2):  # the second time, from what the first kept
        documents = [
            _decision(demo, data, name, person)
            for data in BIRTHS.values()
            for person in data["persons"]
            for name in DECIDED
        ]
        assert documents
        assert all(document["sentences"] for document in documents)  # each explained


def test_nothing_of_one_persons_explanation_shows_in_anothers(demo: Ruleset) -> None:
    """Two households explained in turn, from the same kept plans: each reads as its own
    straightforward explanation, and names none of the other's people or amounts."""
    first, second = BIRTHS["a birth this month"], BIRTHS["a large family, one not resident"]
    own = {
        "p": ("pa0", "3,012.34", "€360.00"),
        "r": ("ra1", "4,400.50", "€560.00"),
    }
    for _ in range(3):
        for data, person, other in ((first, "pa0", "r"), (second, "ra1", "p")):
            for name in ("child_benefit", "birth_grant", "parental_benefit"):
                text = _json(_decision(demo, data, name, person))
                for word in own[other]:
                    assert word not in text
                assert f"{other}h" not in text


# what is kept, and its bounds ---------------------------------------------------------------


def test_with_little_kept_the_explanations_read_the_same(
    demo: Ruleset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the bounds of what is kept (everything dropped again and again, no way a formula
    went kept), nothing changes."""
    monkeypatch.setattr(plans, "KEPT", 2)
    monkeypatch.setattr(plans, "BRANCHES_KEPT", 0)
    for kept in ("_PLANS", "_WORDED", "_NOUNS", "_PHRASES", "_CONSTANT_TERMS", "_CONSTANTS"):
        monkeypatch.setattr(plans, kept, {})
    for data in BIRTHS.values():
        for person in data["persons"]:
            for name in DECIDED:
                _decision(demo, data, name, person)
    assert len(plans._PLANS) <= 2
    assert all(not plan.branches for plan in plans._PLANS.values())


def test_with_nothing_worked_out_kept_the_explanations_read_the_same(demo: Ruleset) -> None:
    """Sharing how values were worked out with none kept, or with one, or with none shared
    at all: the same explanations."""
    for worked in (WorkedValues(limit=0), WorkedValues(limit=1), None):
        for data in BIRTHS.values():
            for person in data["persons"]:
                for name in DECIDED:
                    _decision(demo, data, name, person, worked)
        if worked is not None:
            assert len(worked) <= worked.limit


def test_what_names_a_households_members_is_never_shared(demo: Ruleset) -> None:
    """A value over a group's members (whose condition names each member and their value) is
    worked out anew for each explanation; the values kept name nobody."""
    worked = WorkedValues()
    for data in BIRTHS.values():
        for person in data["persons"]:
            for name in DECIDED:
                _decision(demo, data, name, person, worked)
    kept = worked.formulas()
    assert kept  # (some were shared)
    assert not any(over_members(bound.root) for bound in kept if bound.root is not None)
    people = {code for data in BIRTHS.values() for code in data["persons"]}
    text = _json(worked.shown())
    assert not any(code in text for code in people)


def test_explanations_written_in_threads_read_as_before(demo: Ruleset) -> None:
    """Worker threads share what is kept: each explanation still reads as its own."""
    jobs = [
        (data, name, person)
        for data in BIRTHS.values()
        for person in data["persons"]
        for name in ("child_benefit", "birth_grant", "parental_benefit")
    ]
    expected = {}
    for data, name, person in jobs:
        evaluated = evaluate_situation(
            ruleset=demo,
            data=data,
            variables=[name],
            period=Period.parse(MAY),
            entity="person",
            entity_id=person,
        )
        expected[(id(data), name, person)] = _json(
            ReferenceExplainer(evaluated.evaluation, evaluated.roots).document()
        )

    def explain_all(offset: int) -> list[bool]:
        same = []
        for k in range(len(jobs) * 3):
            data, name, person = jobs[(k + offset) % len(jobs)]
            evaluated = evaluate_situation(
                ruleset=demo,
                data=data,
                variables=[name],
                period=Period.parse(MAY),
                entity="person",
                entity_id=person,
            )
            document = evaluated.explain().as_dict()
            same.append(_json(document) == expected[(id(data), name, person)])
        return same

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(explain_all, range(4)))
    assert all(all(same) for same in results)


@pytest.mark.parametrize(
    "value",
    [
        Value("money", 123456),
        Value("money", -5),
        Value("money", 0),
        Value("money", 10**20),
        Value("money", 1234.5),
        Value("money", -0.0),
        Value("money", "12"),
        Value("number", "3"),
        Value("number", 3),
        Value("number", 3.0),
        Value("number", 0.0),
        Value("number", -0.0),
        Value("number", "0.125"),
        Value("number", "x"),
        Value("number", True),
        Value("number", float("nan")),
        Value("percent", "80"),
        Value("percent", 12.5),
        Value("date", "2024-05-01"),
        Value("date", "not a date"),
    ],
)
def test_a_value_reads_in_estonian_as_before_however_often(value: Value) -> None:
    """Values written by Babel are kept per kind, value and language: the same text as
    written afresh, the second time too (0.0 and -0.0, 1 and 1.0 and True are not one)."""
    estonian = in_language("et")
    phrase = Phrase("%(v)s", {"v": value})
    for _ in range(2):
        assert _outcome(value.text, estonian) == _outcome(reference_value_text, value, "et")
        assert _outcome(value.text) == _outcome(reference_value_text, value, "en")
        assert _outcome(phrase.text, estonian) == _outcome(reference_text, phrase, estonian)


def _outcome(write: Any, *args: Any) -> tuple[str, str]:
    """What writing gives: the text, or the kind of error (the same either way)."""
    try:
        return "text", write(*args)
    except Exception as error:  # any error, as long as it is the same
        return "error", type(error).__name__


def test_a_phrase_keeps_its_english_and_translates_anew() -> None:
    phrase = Phrase(
        "%(verdict)s: %(conditions)s.",
        {"verdict": Text("Eligible"), "conditions": Joined((Text("is alive"), "x"), "; ")},
    )
    estonian = in_language("et")
    assert phrase.text() == "Eligible: is alive; x."
    assert phrase.text() == reference_text(phrase)
    assert phrase.text(estonian) == reference_text(phrase, estonian) != phrase.text()
    assert phrase == Phrase(phrase.id, dict(phrase.args))  # what is kept is not compared
    verdict = Verdict(True, "Eligible", ())
    assert verdict.sentence(str, locale="et") == verdict.sentence()  # nothing in it to write


def test_an_amount_in_a_document_is_the_exact_decimal_amount() -> None:
    """Whole cents are divided by 100 for the document: the float of the exact decimal."""
    cents = [0, 1, -1, 5, 10, 99, 12345, -12345, 2**53 - 1, -(2**53) + 1, 2**53, 10**27]
    cents += list(range(-1_000, 1_000, 7)) + [n * 1_000_003 for n in range(-500, 500)]
    money = Variable("x", "person", ValueType.MONEY, Unit.MONTH, "X")
    for value in cents:
        assert json_value(money, value) == float(to_decimal(value))
