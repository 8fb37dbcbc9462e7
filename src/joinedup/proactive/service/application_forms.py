"""What an online application asks (the ruleset inputs the catalogue declares for a service,
:attr:`joinedup.catalogue.CatalogueService.applicant_inputs`) and the applicant's answers
checked in the rules' terms. Reads nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from joinedup import rules
from joinedup.catalogue import CatalogueService
from joinedup.core.errors import ValidationFailed

#: The largest amount an applicant may declare (in euros): above it is a typing mistake.
MAX_AMOUNT = Decimal("1000000")
_MONEY_KINDS = ("money", "float")


@dataclass(frozen=True)
class Question:
    """One thing the applicant is asked (a ruleset input no register holds)."""

    variable: str
    #: The rules' label (English; translated where it is shown).
    label: str
    #: ``money``, ``int``, ``float``, ``bool`` or ``enum``.
    kind: str
    #: An enum's (key, label) choices.
    choices: tuple[tuple[str, str], ...] = ()
    description: str = ""


def questions_of(service: CatalogueService) -> list[Question]:
    """What an applicant for ``service`` is asked, in the catalogue's order. Reads nothing."""
    ruleset = rules.get_ruleset(service.ruleset)
    found = []
    for name in service.applicant_inputs:
        variable = ruleset.variable(name)
        found.append(
            Question(
                variable=name,
                label=variable.label,
                kind=variable.value_type.value,
                choices=tuple(variable.enum.members) if variable.enum is not None else (),
                description=variable.description,
            )
        )
    return found


def _money(text: str) -> Decimal | None:
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
    cleaned = cleaned.removeprefix("€").removesuffix("€")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def check_answers(service: CatalogueService, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The applicant's answers in the rules' terms (``{variable: value}``); ``ValidationFailed``
    naming each field that is missing or wrong (``code``: ``required``, ``not_a_number``,
    ``negative``, ``too_large``, ``too_precise``, ``not_a_choice``). Reads nothing."""
    problems: list[dict[str, str]] = []
    checked: dict[str, Any] = {}
    questions = questions_of(service)
    asked = {q.variable for q in questions}
    for name in answers:
        if name not in asked:
            problems.append(
                {"field": name, "code": "not_asked", "message": "is not asked by this service"}
            )
    for question in questions:
        raw = answers.get(question.variable)
        text = "" if raw is None else str(raw).strip()
        field = question.variable

        def refuse(code: str, message: str, field: str = field) -> None:
            problems.append({"field": field, "code": code, "message": message})

        if isinstance(raw, bool) and question.kind != "bool":
            refuse("not_a_number", "must be a number")
            continue
        if not text:
            refuse("required", "answer this question")
        elif question.kind in (*_MONEY_KINDS, "int"):
            value = _money(text)
            if value is None:
                refuse("not_a_number", "must be a number, like 450.00")
            elif value < 0:
                refuse("negative", "must be 0 or more")
            elif value > MAX_AMOUNT:
                refuse("too_large", f"must be at most {MAX_AMOUNT}")
            elif question.kind == "int" and value != value.to_integral_value():
                refuse("not_a_number", "must be a whole number")
            elif question.kind == "money" and value != value.quantize(Decimal("0.01")):
                refuse("too_precise", "must be in euros and cents, like 450.00")
            else:
                checked[field] = int(value) if question.kind == "int" else float(value)
        elif question.kind == "bool":
            if text.lower() in ("yes", "true"):
                checked[field] = True
            elif text.lower() in ("no", "false"):
                checked[field] = False
            else:
                refuse("not_a_choice", "must be yes or no")
        elif question.kind == "enum":
            keys = [key for key, _ in question.choices]
            if text in keys:
                checked[field] = text
            else:
                refuse("not_a_choice", "must be one of " + ", ".join(keys))
    if problems:
        raise ValidationFailed("The application cannot be accepted as given.", errors=problems)
    return checked


__all__ = ["MAX_AMOUNT", "Question", "check_answers", "questions_of"]
