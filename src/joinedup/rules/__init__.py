"""Rules as code: one definition of the law, evaluated for one person with a why/why-not
explanation, and for a whole population in columns; what-if simulation of reforms.

Public names other contexts use: :func:`get_ruleset`, :func:`explain`, :func:`calculate`,
:class:`Situation`, :class:`Population`, :class:`Simulation`, :class:`Period`;
:func:`sentences_in_language` for a stored explanation's sentences in the reader's language.
Rules never touch the database: callers gather the inputs and store the outcome.
"""

from joinedup.rules.columnar import Simulation
from joinedup.rules.explanation import Explanation, situation_given
from joinedup.rules.explanation_values import WorkedValues
from joinedup.rules.formula_walk import days_the_rules_change, parameters_deciding
from joinedup.rules.periods import Period
from joinedup.rules.population import GroupColumns, Population
from joinedup.rules.reform import ParameterChange, WhatIfReport, apply_reform, what_if
from joinedup.rules.registry import UnknownRuleset, get_ruleset, ruleset_names
from joinedup.rules.ruleset import Ruleset
from joinedup.rules.service import (
    EvaluatedSituation,
    calculate,
    evaluate_situation,
    explain,
    explain_situation,
)
from joinedup.rules.situation import Situation, parse_situation
from joinedup.rules.verdicts import Verdict
from joinedup.rules.wording import sentences_in_language

__all__ = [
    "EvaluatedSituation",
    "Explanation",
    "GroupColumns",
    "ParameterChange",
    "Period",
    "Population",
    "Ruleset",
    "Simulation",
    "Situation",
    "UnknownRuleset",
    "Verdict",
    "WhatIfReport",
    "WorkedValues",
    "apply_reform",
    "calculate",
    "days_the_rules_change",
    "evaluate_situation",
    "explain",
    "explain_situation",
    "get_ruleset",
    "parameters_deciding",
    "parse_situation",
    "ruleset_names",
    "sentences_in_language",
    "situation_given",
    "what_if",
]
