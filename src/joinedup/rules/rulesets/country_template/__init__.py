"""The reference ruleset: the legislation of OpenFisca's country template, reimplemented.

Same entities (person; household with adults and children), same variables, periods, dated
formulas and parameter values, so the differential tests can hold joinedup to OpenFisca
within a cent on random populations.
"""

from __future__ import annotations

from pathlib import Path

from joinedup.rules.model import Entity, Reference, Role
from joinedup.rules.parameters import ParameterTree
from joinedup.rules.ruleset import Ruleset
from joinedup.rules.rulesets.country_template.variables import variables

PERSON = Entity("person", "persons", "Person", is_person=True)
HOUSEHOLD = Entity(
    "household",
    "households",
    "Household",
    roles=(Role("adult", "adults", "Adult"), Role("child", "children", "Child")),
)


def build() -> Ruleset:
    return Ruleset(
        name="country_template",
        label="OpenFisca country template",
        description="The legislation of OpenFisca's country template (openfisca-country-template "
        "8), reimplemented: basic income, housing allowance, parenting allowance, pension, "
        "income tax, social security contribution, housing tax, disposable income.",
        version="8.2.0",
        person=PERSON,
        groups=(HOUSEHOLD,),
        variables=variables(),
        parameters=ParameterTree.load(Path(__file__).with_name("parameters.toml")),
        reference=Reference(
            "OpenFisca country template", "https://github.com/openfisca/country-template"
        ),
    )
