"""Joinland's rulesets: the services of the joinedup demo country, each real and referenced.

| service | delivery | variable |
|---|---|---|
| child benefit | automatic | ``child_benefit`` (household) |
| birth grant | proactive offer | ``birth_grant`` (household) |
| parental benefit | application | ``parental_benefit`` (person) |
| old-age pension | offered at pension age | ``old_age_pension``, ``reaches_pension_age`` |
| housing support | means-tested, application | ``housing_support`` (household) |
| funeral grant | automatic (Tell Us Once) | ``funeral_grant`` (person) |
| school enrolment at six | municipal | ``school_enrolment_due`` (person) |
| elderly-care assessment | municipal offer | ``elderly_care_assessment`` (person) |
| food parcels (Food Bank) | offered on consent | ``food_parcel_delivery`` (person) |

Inputs are facts the base registries hold: birth and death dates, household membership and
roles, residence, monthly incomes; and, for housing support, the declared rent.
"""

from __future__ import annotations

from pathlib import Path

from joinedup.rules.model import N_, Entity, Reference, Role
from joinedup.rules.parameters import ParameterTree
from joinedup.rules.ruleset import Ruleset
from joinedup.rules.rulesets.demo import ageing, common, family, housing

PERSON = Entity("person", "persons", N_("Person"), is_person=True)
HOUSEHOLD = Entity(
    "household",
    "households",
    N_("Household"),
    roles=(
        Role("adult", N_("adults"), N_("Adult")),
        Role("child", N_("children"), N_("Child")),
    ),
)


def build() -> Ruleset:
    return Ruleset(
        name="demo",
        label="Joinland",
        description="The services of Joinland, the joinedup demo country: child benefit, birth "
        "grant, parental benefit, old-age pension, housing support, funeral grant, school "
        "enrolment and the elderly-care assessment.",
        version="2024.1",
        person=PERSON,
        groups=(HOUSEHOLD,),
        variables=[
            *common.variables(),
            *family.variables(),
            *ageing.variables(),
            *housing.variables(),
        ],
        parameters=ParameterTree.load(Path(__file__).with_name("parameters.toml")),
        reference=Reference("Joinland statute book", "https://laws.joinland.example/"),
    )
