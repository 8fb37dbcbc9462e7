"""The variables of OpenFisca's country template, reimplemented as joinedup formulas.

The facts (names, periods, formulas' logic, dates) are the template's
(openfisca-country-template 8); the formulas are written once in joinedup's expression language
with their conditions named and cited, so every result explains itself.
"""

from __future__ import annotations

from datetime import date

from joinedup.rules.expr import (
    Group,
    all_of,
    any_of,
    cond,
    max_,
    money,
    param,
    scale,
    var,
    where,
    years_since,
)
from joinedup.rules.model import EnumType, Formula, Reference, ValueType, Variable
from joinedup.rules.periods import Unit

MONEY, INT, FLOAT, DATE, ENUM = (
    ValueType.MONEY,
    ValueType.INT,
    ValueType.FLOAT,
    ValueType.DATE,
    ValueType.ENUM,
)
MONTH, YEAR, ETERNITY = Unit.MONTH, Unit.YEAR, Unit.ETERNITY
LAW = "https://law.gov.example/"

household = Group("household")
birth, age, salary, capital_returns, pension = (
    var("birth"),
    var("age"),
    var("salary"),
    var("capital_returns"),
    var("pension"),
)
basic_income, income_tax, social_security_contribution = (
    var("basic_income"),
    var("income_tax"),
    var("social_security_contribution"),
)
rent, accommodation_size, housing_occupancy_status = (
    var("rent"),
    var("accommodation_size"),
    var("housing_occupancy_status"),
)
housing_allowance, parenting_allowance, household_income, housing_tax = (
    var("housing_allowance"),
    var("parenting_allowance"),
    var("household_income"),
    var("housing_tax"),
)

HOUSING_OCCUPANCY_STATUS = EnumType(
    "HousingOccupancyStatus",
    (
        ("owner", "Owner"),
        ("tenant", "Tenant"),
        ("free_lodger", "Free lodger"),
        ("homeless", "Homeless"),
    ),
)

BASIC_INCOME_ACT = Reference("Basic Income Act", LAW + "basic_income")
ADULT = cond(
    age >= param("general.age_of_majority"),
    reference=Reference("Basic Income Act §1(1)", LAW + "basic_income"),
)


def _inputs() -> list[Variable]:
    return [
        Variable(
            "birth",
            "person",
            DATE,
            ETERNITY,
            "Birth date",
            default=date(1970, 1, 1),
            reference=Reference("Birth date", "https://en.wiktionary.org/wiki/birthdate"),
        ),
        Variable(
            "salary",
            "person",
            MONEY,
            MONTH,
            "Salary",
            reference=Reference("Salary", LAW + "salary"),
        ),
        Variable(
            "capital_returns",
            "person",
            MONEY,
            MONTH,
            "Capital returns",
            reference=Reference("Capital returns", LAW + "capital_return"),
        ),
        Variable("rent", "household", MONEY, MONTH, "Rent paid by the household", noun="rent"),
        Variable(
            "accommodation_size",
            "household",
            FLOAT,
            MONTH,
            "Size of the accommodation, in square metres",
            unit="m²",
            noun="accommodation size (m²)",
        ),
        Variable(
            "housing_occupancy_status",
            "household",
            ENUM,
            MONTH,
            "Legal housing situation of the household concerning their main residence",
            enum=HOUSING_OCCUPANCY_STATUS,
            default="tenant",
            noun="housing occupancy status",
        ),
    ]


def _benefits() -> list[Variable]:
    amount = param("benefits.basic_income")
    return [
        Variable(
            "age",
            "person",
            INT,
            MONTH,
            "Age",
            unit="years",
            description="Whole years completed on the first day of the period.",
            formulas=(Formula(years_since(birth)),),
        ),
        Variable(
            "basic_income",
            "person",
            MONEY,
            MONTH,
            "Basic income",
            reference=BASIC_INCOME_ACT,
            formulas=(
                Formula(
                    where(
                        all_of(
                            ADULT,
                            cond(
                                salary == 0,
                                reference=Reference(
                                    "Basic Income Act §1(2) (2015)", LAW + "basic_income"
                                ),
                            ),
                        ),
                        amount,
                        0,
                    ),
                    start=date(2015, 12, 1),
                    reference=Reference(
                        "Basic Income Act (2015): adults without a salary", LAW + "basic_income"
                    ),
                    description="From 1 December 2015 to 30 November 2016, adults with no salary.",
                ),
                Formula(
                    where(ADULT, amount, 0),
                    start=date(2016, 12, 1),
                    reference=Reference(
                        "Basic Income Act (2016): every adult", LAW + "basic_income"
                    ),
                    description="Since 1 December 2016, every adult, whatever their income.",
                ),
            ),
        ),
        Variable(
            "housing_allowance",
            "household",
            MONEY,
            MONTH,
            "Housing allowance",
            reference=Reference("Housing Allowance Act §1", LAW + "housing_allowance"),
            end=date(2016, 11, 30),
            unit="EUR",
            description="Introduced on 1 January 1980; abolished from 1 December 2016.",
            formulas=(Formula(rent * param("benefits.housing_allowance"), start=date(1980, 1, 1)),),
        ),
        Variable(
            "pension",
            "person",
            MONEY,
            MONTH,
            "Pension",
            reference=Reference(
                "Pensions Act", "https://fr.wikipedia.org/wiki/Retraite_(économie)"
            ),
            description="The template's pension is its age condition itself, counted as one "
            "currency unit.",
            formulas=(
                Formula(
                    where(
                        cond(
                            age >= param("general.age_of_retirement"),
                            reference=Reference("Pensions Act §1"),
                        ),
                        money("1.00"),
                        0,
                    )
                ),
            ),
        ),
        Variable(
            "parenting_allowance",
            "household",
            MONEY,
            MONTH,
            "Parenting allowance",
            reference=Reference(
                "Parenting Allowance Act",
                "https://www.servicesaustralia.gov.au/individuals/services/centrelink/"
                "parenting-payment/who-can-get-it",
            ),
            description="For low-income households caring for a young child.",
            formulas=(
                Formula(
                    where(
                        all_of(
                            cond(
                                household_income
                                <= param("benefits.parenting_allowance.income_threshold"),
                                reference=Reference("Parenting Allowance Act §3(2)"),
                            ),
                            cond(
                                any_of(
                                    all_of(
                                        household.count(role="adult") == 1,
                                        household.any(age < 8),
                                    ),
                                    household.any(age < 6),
                                ),
                                met="the household cares for a young enough child",
                                not_met="no child young enough: a single adult needs a child "
                                "under 8, a couple a child under 6",
                                reference=Reference("Parenting Allowance Act §3(1)"),
                            ),
                        ),
                        param("benefits.parenting_allowance.amount"),
                        0,
                    )
                ),
            ),
        ),
    ]


def _taxes_and_totals() -> list[Variable]:
    january_status = housing_occupancy_status.at("first_month")
    return [
        Variable(
            "household_income",
            "household",
            MONEY,
            MONTH,
            "Household income",
            description="The sum of the salaries of those living in a household.",
            formulas=(Formula(household.sum(salary)),),
        ),
        Variable(
            "income_tax",
            "person",
            MONEY,
            MONTH,
            "Income tax",
            reference=Reference("Income Tax Act", LAW + "income_tax"),
            formulas=(
                Formula((salary + capital_returns + pension) * param("taxes.income_tax_rate")),
            ),
        ),
        Variable(
            "social_security_contribution",
            "person",
            MONEY,
            MONTH,
            "Social security contribution",
            reference=Reference("Social Security Act", LAW + "social_security_contribution"),
            description="Progressive contribution on salaries (a marginal rate scale).",
            formulas=(Formula(scale("taxes.social_security_contribution", salary)),),
        ),
        Variable(
            "housing_tax",
            "household",
            MONEY,
            YEAR,
            "Housing tax",
            reference=Reference("Housing Tax Act", LAW + "housing_tax"),
            description="Yearly; from the accommodation size and occupancy status in January.",
            formulas=(
                Formula(
                    where(
                        cond(
                            any_of(january_status == "owner", january_status == "tenant"),
                            met="the household owns or rents its main residence",
                            not_met="the household neither owns nor rents its main residence",
                            reference=Reference("Housing Tax Act §1"),
                        ),
                        max_(
                            accommodation_size.at("first_month") * param("taxes.housing_tax.rate"),
                            param("taxes.housing_tax.minimal_amount"),
                        ),
                        0,
                    )
                ),
            ),
        ),
        Variable(
            "disposable_income",
            "household",
            MONEY,
            MONTH,
            "Disposable income",
            reference=Reference("Disposable income", "https://stats.gov.example/disposable_income"),
            description="What the household has at the end of the month.",
            formulas=(
                Formula(
                    household.sum(salary)
                    + household.sum(capital_returns)
                    + household.sum(pension)
                    + household.sum(basic_income)
                    + housing_allowance
                    + parenting_allowance
                    - household.sum(income_tax)
                    - household.sum(social_security_contribution)
                    - housing_tax.at("this_year") / 12
                ),
            ),
        ),
        Variable(
            "total_benefits",
            "household",
            MONEY,
            MONTH,
            "Total benefits",
            reference=Reference("Benefits statistics", "https://stats.gov.example/benefits"),
            formulas=(Formula(household.sum(basic_income) + housing_allowance),),
        ),
        Variable(
            "total_taxes",
            "household",
            MONEY,
            MONTH,
            "Total taxes",
            reference=Reference("Taxes statistics", "https://stats.gov.example/taxes"),
            formulas=(
                Formula(
                    household.sum(income_tax)
                    + household.sum(social_security_contribution)
                    + housing_tax.at("this_year") / 12
                ),
            ),
        ),
        Variable(
            "meal_price",
            "household",
            MONEY,
            MONTH,
            "Price of a meal",
            formulas=(Formula(scale("benefits.meal_price", household_income)),),
        ),
        Variable(
            "swimming_pool_access",
            "household",
            MONEY,
            MONTH,
            "Cost of swimming pool access",
            formulas=(
                Formula(scale("benefits.swimming_pool_access_cost_increase", household_income)),
            ),
        ),
    ]


def variables() -> list[Variable]:
    return [*_inputs(), *_benefits(), *_taxes_and_totals()]
