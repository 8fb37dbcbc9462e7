"""Joinland's facts the rules read — the kind the base registries hold — and the few results
every service shares (age, alive, resident, household income)."""

from __future__ import annotations

from datetime import date

from joinedup.rules.expr import Day, Group, cond, period_day, var, years_since
from joinedup.rules.model import N_, EnumType, Formula, Reference, ValueType, Variable
from joinedup.rules.periods import Unit

LAWS = "https://laws.joinland.example/"
MONEY, INT, BOOL, DATE, ENUM = (
    ValueType.MONEY,
    ValueType.INT,
    ValueType.BOOL,
    ValueType.DATE,
    ValueType.ENUM,
)
MONTH, ETERNITY = Unit.MONTH, Unit.ETERNITY

household = Group("household")
birth_date, date_of_death, resident, monthly_income = (
    var("birth_date"),
    var("date_of_death"),
    var("resident"),
    var("monthly_income"),
)
age, alive, rent, housing_tenure, household_income = (
    var("age"),
    var("alive"),
    var("rent"),
    var("housing_tenure"),
    var("household_income"),
)

HOUSING_TENURE = EnumType(
    "HousingTenure",
    (
        ("tenant", N_("Tenant")),
        ("owner", N_("Owner")),
        ("other", N_("Other (lodger, institution)")),
    ),
)

RESIDENT = cond(
    resident,
    met=N_("lives in Joinland"),
    not_met=N_("has no registered residence in Joinland"),
    reference=Reference("Residence Act 2015 §2", LAWS + "residence-act-2015#s2"),
)
ALIVE = cond(alive, met=N_("is alive"), not_met=N_("has died"))


def variables() -> list[Variable]:
    return [
        Variable(
            "birth_date",
            "person",
            DATE,
            ETERNITY,
            N_("Date of birth"),
            reference=Reference(
                "Population Register Act 2014 §6", LAWS + "population-register-act-2014#s6"
            ),
            tags=("population register",),
        ),
        Variable(
            "date_of_death",
            "person",
            DATE,
            ETERNITY,
            N_("Date of death"),
            default=date.max,
            optional=True,
            reference=Reference(
                "Population Register Act 2014 §6", LAWS + "population-register-act-2014#s6"
            ),
            description="None recorded for a living person.",
            tags=("population register",),
        ),
        Variable(
            "resident",
            "person",
            BOOL,
            MONTH,
            N_("Resident in Joinland"),
            noun=N_("resident in Joinland"),
            reference=Reference("Residence Act 2015 §2", LAWS + "residence-act-2015#s2"),
            description="Has a registered residence in Joinland during the month.",
            tags=("address register",),
        ),
        Variable(
            "monthly_income",
            "person",
            MONEY,
            MONTH,
            N_("Monthly income"),
            description="Earnings and taxable benefits reported for the month.",
            reference=Reference(
                "Income Register Act 2017 §3", LAWS + "income-register-act-2017#s3"
            ),
            tags=("income register",),
        ),
        Variable(
            "rent",
            "household",
            MONEY,
            MONTH,
            N_("Monthly rent"),
            noun=N_("rent"),
            description="Declared in the housing support application.",
            tags=("application",),
        ),
        Variable(
            "housing_tenure",
            "household",
            ENUM,
            MONTH,
            N_("Housing tenure"),
            enum=HOUSING_TENURE,
            default="other",
            noun=N_("housing tenure"),
            tags=("address register",),
        ),
        Variable(
            "age",
            "person",
            INT,
            MONTH,
            N_("Age"),
            unit="years",
            description="Whole years completed on the first day of the month.",
            formulas=(Formula(years_since(birth_date)),),
        ),
        Variable(
            "alive",
            "person",
            BOOL,
            MONTH,
            N_("Alive at the start of the month"),
            noun=N_("alive"),
            formulas=(Formula(date_of_death >= period_day(Day())),),
        ),
        Variable(
            "household_income",
            "household",
            MONEY,
            MONTH,
            N_("Household income"),
            description="The monthly incomes of every member of the household.",
            formulas=(Formula(household.sum(monthly_income)),),
        ),
    ]
