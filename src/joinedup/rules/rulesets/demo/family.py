"""Joinland's family services: child benefit (automatic), birth grant (proactive offer),
parental benefit (on application), school enrolment at six (municipal)."""

from __future__ import annotations

from datetime import date

from joinedup.rules.expr import (
    Day,
    all_of,
    cond,
    max_,
    min_,
    named,
    param,
    var,
    where,
    within_period,
    years_since,
)
from joinedup.rules.model import N_, Formula, Reference, Variable
from joinedup.rules.rulesets.demo.common import (
    ALIVE,
    BOOL,
    INT,
    LAWS,
    MONEY,
    MONTH,
    RESIDENT,
    age,
    birth_date,
    household,
    monthly_income,
)

FAMILY_ACT = "family-benefits-act-2019"
PARENTAL_ACT = "parental-benefit-act-2020"


def _ref(act: str, section: str, title: str) -> Reference:
    return Reference(f"{title} §{section}", f"{LAWS}{act}#s{section.replace('(', '-').rstrip(')')}")


n_children = var("child_benefit_children")


def variables() -> list[Variable]:
    child_benefit_child = all_of(
        cond(
            age < param("family.child_benefit.age_limit"),
            reference=_ref(FAMILY_ACT, "4(1)", "Family Benefits Act 2019"),
        ),
        RESIDENT,
        ALIVE,
    )
    large_family = cond(
        n_children >= param("family.child_benefit.large_family_children"),
        reference=_ref(FAMILY_ACT, "5(3)", "Family Benefits Act 2019"),
    )
    newborn = var("born_this_month")
    parent_of_infant = household.value(
        household.any(age < param("family.parental_benefit.child_age_limit"), role="child")
    )
    average_income = monthly_income.sum_last_months(3) / 3
    return [
        Variable(
            "child_benefit_child",
            "person",
            BOOL,
            MONTH,
            N_("Gives right to child benefit"),
            noun=N_("a child giving right to child benefit"),
            reference=_ref(FAMILY_ACT, "4", "Family Benefits Act 2019"),
            formulas=(Formula(child_benefit_child, start=date(2019, 1, 1)),),
        ),
        Variable(
            "born_this_month",
            "person",
            BOOL,
            MONTH,
            N_("Born this month in Joinland"),
            noun=N_("born this month in Joinland"),
            formulas=(Formula(all_of(within_period(birth_date), var("resident"))),),
        ),
        Variable(
            "child_benefit_children",
            "household",
            INT,
            MONTH,
            N_("Children giving right to child benefit"),
            noun=N_("the number of children giving right to child benefit"),
            formulas=(
                Formula(household.count(var("child_benefit_child")), start=date(2019, 1, 1)),
            ),
        ),
        Variable(
            "child_benefit",
            "household",
            MONEY,
            MONTH,
            N_("Child benefit"),
            reference=_ref(FAMILY_ACT, "4", "Family Benefits Act 2019"),
            description="Paid automatically, every month, for each resident child under 18.",
            tags=("automatic", "social-insurance"),
            formulas=(
                Formula(
                    where(
                        cond(
                            n_children > 0,
                            met=N_("a child under 18 living in Joinland belongs to the household"),
                            not_met=N_(
                                "no child under 18 living in Joinland belongs to the household"
                            ),
                            reference=_ref(FAMILY_ACT, "4(1)", "Family Benefits Act 2019"),
                        ),
                        n_children * param("family.child_benefit.amount_per_child")
                        + where(
                            large_family, param("family.child_benefit.large_family_supplement"), 0
                        ),
                        0,
                    ),
                    start=date(2019, 1, 1),
                    reference=_ref(FAMILY_ACT, "5", "Family Benefits Act 2019"),
                ),
            ),
        ),
        Variable(
            "birth_grant",
            "household",
            MONEY,
            MONTH,
            N_("Birth grant"),
            reference=_ref(FAMILY_ACT, "8", "Family Benefits Act 2019"),
            description="Offered to the parents as soon as a birth is registered.",
            tags=("proactive offer", "social-insurance"),
            formulas=(
                Formula(
                    where(
                        cond(
                            household.any(newborn, role="child"),
                            met=N_("a child of the household was born this month in Joinland"),
                            not_met=N_("no child of the household was born this month"),
                            reference=_ref(FAMILY_ACT, "8(1)", "Family Benefits Act 2019"),
                        ),
                        named(  # one label, so that a translation can order its words
                            household.count(newborn, role="child"),
                            N_("the number of children born this month in Joinland"),
                        )
                        * param("family.birth_grant.amount"),
                        0,
                    ),
                    start=date(2019, 1, 1),
                ),
            ),
        ),
        Variable(
            "parental_benefit",
            "person",
            MONEY,
            MONTH,
            N_("Parental benefit"),
            reference=_ref(PARENTAL_ACT, "6", "Parental Benefit Act 2020"),
            description="On application: 80% of the average monthly income of the three months "
            "before, between a minimum and a maximum.",
            tags=("application", "social-insurance"),
            formulas=(
                Formula(
                    where(
                        all_of(
                            cond(
                                household.has_role("adult"),
                                met=N_("is a parent (an adult of the household)"),
                                not_met=N_("is not an adult of the household"),
                                reference=_ref(PARENTAL_ACT, "3(1)", "Parental Benefit Act 2020"),
                            ),
                            cond(
                                parent_of_infant,
                                met=N_("a child under one year old belongs to the household"),
                                not_met=N_("no child under one year old belongs to the household"),
                                reference=_ref(PARENTAL_ACT, "3(1)", "Parental Benefit Act 2020"),
                            ),
                            RESIDENT,
                        ),
                        max_(
                            min_(
                                average_income * param("family.parental_benefit.replacement_rate"),
                                param("family.parental_benefit.maximum"),
                            ),
                            param("family.parental_benefit.minimum"),
                        ),
                        0,
                    ),
                    start=date(2020, 1, 1),
                ),
            ),
        ),
        Variable(
            "school_enrolment_due",
            "person",
            BOOL,
            MONTH,
            N_("School enrolment due this year"),
            reference=Reference(
                "Basic Schools Act 2010 §9(1)", LAWS + "basic-schools-act-2010#s9-1"
            ),
            description="The municipality of residence enrols every child who is six by "
            "1 September.",
            verdicts=(N_("Enrolment due"), N_("No enrolment due")),
            tags=("municipal", "proactive offer"),
            formulas=(
                Formula(
                    all_of(
                        cond(
                            named(
                                years_since(birth_date, Day.of_year(9, 1)), N_("age on 1 September")
                            )
                            == param("education.school_starting_age"),
                            reference=Reference(
                                "Basic Schools Act 2010 §9(1)", LAWS + "basic-schools-act-2010#s9-1"
                            ),
                        ),
                        RESIDENT,
                        ALIVE,
                    )
                ),
            ),
        ),
    ]
