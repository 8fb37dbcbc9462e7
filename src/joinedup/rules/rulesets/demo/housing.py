"""Joinland's housing support (means-tested help with the rent, on application) and the Food
Bank Foundation's food parcels delivered home (offered when a job ends, on consent)."""

from __future__ import annotations

from datetime import date

from joinedup.rules.expr import all_of, cond, max_, min_, named, param, var, where
from joinedup.rules.model import N_, Formula, Reference, Variable
from joinedup.rules.rulesets.demo.common import (
    BOOL,
    LAWS,
    MONEY,
    MONTH,
    household,
    household_income,
    housing_tenure,
    rent,
    resident,
)

FOOD_BANK_CHARTER = Reference(
    "Food Bank Foundation Charter §3 (home delivery)", LAWS + "food-bank-charter#s3"
)

ACT = "housing-support-act-2018"


def _ref(section: str) -> Reference:
    return Reference(
        f"Housing Support Act 2018 §{section}",
        f"{LAWS}{ACT}#s{section.replace('(', '-').rstrip(')')}",
    )


def variables() -> list[Variable]:
    disregard = var("housing_support_income_disregard")
    covered_rent = named(min_(rent, param("housing.rent_cap")), N_("the rent taken into account"))
    reduction = max_(household_income - disregard, 0) * param("housing.taper")
    return [
        Variable(
            "housing_support_income_disregard",
            "household",
            MONEY,
            MONTH,
            N_("Income disregarded for housing support"),
            noun=N_("the income disregard"),
            reference=_ref("5(1)"),
            formulas=(
                Formula(
                    param("housing.free_income_base")
                    + (household.count() - 1) * param("housing.free_income_per_member"),
                    start=date(2018, 1, 1),
                ),
            ),
        ),
        Variable(
            "housing_support",
            "household",
            MONEY,
            MONTH,
            N_("Housing support"),
            reference=_ref("4"),
            description="On application: 60% of the rent up to a cap, reduced by 35% of the "
            "household income above a disregard.",
            tags=("application", "means-tested", "municipal"),
            formulas=(
                Formula(
                    where(
                        all_of(
                            cond(
                                housing_tenure == "tenant",
                                met=N_("the household rents its home"),
                                not_met=N_("the household does not rent its home"),
                                reference=_ref("2(1)"),
                            ),
                            cond(rent > 0, reference=_ref("2(1)")),
                            cond(
                                household.any(var("resident")),
                                met=N_("the household lives in Joinland"),
                                not_met=N_("no member of the household lives in Joinland"),
                                reference=_ref("2(2)"),
                            ),
                            cond(
                                covered_rent * param("housing.rent_share") > reduction,
                                met=N_("the household income leaves room for support"),
                                not_met=N_("the household income is too high for support"),
                                reference=_ref("5(2)"),
                            ),
                        ),
                        covered_rent * param("housing.rent_share") - reduction,
                        0,
                    ),
                    start=date(2018, 1, 1),
                ),
            ),
        ),
        Variable(
            "food_parcel_delivery",
            "person",
            BOOL,
            MONTH,
            N_("Food parcels can be delivered home"),
            reference=FOOD_BANK_CHARTER,
            description="The Food Bank Foundation delivers food parcels to the registered home "
            "of a person who lost their job; it reads the address only with their consent.",
            verdicts=(N_("Delivery offered"), N_("No delivery offered")),
            tags=("voluntary partner", "proactive offer", "consent"),
            formulas=(
                Formula(
                    cond(
                        resident,
                        met=N_("has a registered home in Joinland to deliver to"),
                        not_met=N_("has no registered home in Joinland to deliver to"),
                        reference=FOOD_BANK_CHARTER,
                    ),
                    start=date(2015, 1, 1),
                ),
            ),
        ),
    ]
