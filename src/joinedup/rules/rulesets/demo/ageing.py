"""Joinland's services in later life and at death: the old-age pension (offered at pension
age), the elderly-care needs assessment (offered), the funeral grant."""

from __future__ import annotations

from datetime import date

from joinedup.rules.expr import (
    Day,
    all_of,
    any_of,
    cond,
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
    LAWS,
    MONEY,
    MONTH,
    RESIDENT,
    age,
    birth_date,
    household,
)

PENSION_ACT = Reference("State Pension Act 2001", LAWS + "state-pension-act-2001")
CARE_ACT = Reference("Social Care Act 2016 §12", LAWS + "social-care-act-2016#s12")
FUNERAL_ACT = Reference("Funeral Grants Act 2012 §2", LAWS + "funeral-grants-act-2012#s2")


def variables() -> list[Variable]:
    pension_age = param("pensions.pension_age")
    at_pension_age = cond(
        age >= pension_age,
        reference=Reference("State Pension Act 2001 §7(1)", LAWS + "state-pension-act-2001#s7-1"),
    )
    lives_alone = household.value(household.count()) == 1
    return [
        Variable(
            "old_age_pension",
            "person",
            MONEY,
            MONTH,
            N_("Old-age pension"),
            reference=PENSION_ACT,
            description="Offered in the month a resident reaches pension age; paid monthly.",
            tags=("proactive offer", "social-insurance"),
            formulas=(
                Formula(
                    where(
                        all_of(at_pension_age, RESIDENT, ALIVE), param("pensions.basic_pension"), 0
                    ),
                    start=date(2001, 1, 1),
                ),
            ),
        ),
        Variable(
            "reaches_pension_age",
            "person",
            BOOL,
            MONTH,
            N_("Reaches pension age this month"),
            reference=Reference(
                "State Pension Act 2001 §7(1)", LAWS + "state-pension-act-2001#s7-1"
            ),
            description="The birthday that brings pension age falls in this month: the month "
            "the pension is offered.",
            verdicts=(N_("Offer due"), N_("No offer due")),
            tags=("life event",),
            formulas=(
                Formula(
                    all_of(
                        cond(
                            age < pension_age,
                            met=N_("is below pension age on the first day of the month"),
                            not_met=N_("has already reached pension age before this month"),
                        ),
                        cond(
                            years_since(birth_date, Day("stop")) >= pension_age,
                            met=N_("reaches pension age during the month"),
                            not_met=N_("does not reach pension age during the month"),
                            reference=Reference(
                                "State Pension Act 2001 §7(1)", LAWS + "state-pension-act-2001#s7-1"
                            ),
                        ),
                        RESIDENT,
                        ALIVE,
                    ),
                    start=date(2001, 1, 1),
                ),
            ),
        ),
        Variable(
            "elderly_care_assessment",
            "person",
            BOOL,
            MONTH,
            N_("Elderly-care needs assessment offered"),
            reference=CARE_ACT,
            description="The municipality offers a needs assessment to residents over 80, or "
            "over 75 when they live alone.",
            verdicts=(N_("Assessment offered"), N_("No assessment offered")),
            tags=("municipal", "proactive offer", "care-provider"),
            formulas=(
                Formula(
                    all_of(
                        cond(
                            any_of(
                                age >= param("care.assessment_age"),
                                all_of(
                                    age >= param("care.assessment_age_living_alone"), lives_alone
                                ),
                            ),
                            met=N_("old enough for an assessment"),
                            not_met=N_("not yet of assessment age (80, or 75 when living alone)"),
                            reference=CARE_ACT,
                        ),
                        RESIDENT,
                        ALIVE,
                    ),
                    start=date(2016, 1, 1),
                ),
            ),
        ),
        Variable(
            "funeral_grant",
            "person",
            MONEY,
            MONTH,
            N_("Funeral grant"),
            reference=FUNERAL_ACT,
            description="Paid towards the funeral of a resident who died this month (Tell Us "
            "Once: no application).",
            tags=("automatic", "social-insurance"),
            formulas=(
                Formula(
                    where(
                        all_of(
                            cond(
                                within_period(var("date_of_death")),
                                met=N_("died this month"),
                                not_met=N_("did not die this month"),
                                reference=FUNERAL_ACT,
                            ),
                            RESIDENT,
                        ),
                        param("pensions.funeral_grant"),
                        0,
                    ),
                    start=date(2012, 1, 1),
                ),
            ),
        ),
    ]
