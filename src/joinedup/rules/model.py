"""What a ruleset is made of: entities with roles, typed variables with dated formulas, legal
references. Parameters live in :mod:`joinedup.rules.parameters`; formulas are expressions of
:mod:`joinedup.rules.expr`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from joinedup.rules.periods import Unit

if TYPE_CHECKING:
    from joinedup.rules.expr import Expr


def N_(message: str) -> str:  # noqa: N802 (gettext's name for "mark for translation only")
    """Mark a ruleset's sentence (a condition's words, a verdict) for the translators: the
    rules keep it in English; a page or letter shows it in the reader's language."""
    return message


class ValueType(StrEnum):
    """The type of a variable's values; money is exact whole cents."""

    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    MONEY = "money"
    DATE = "date"
    ENUM = "enum"


class RulesetDefinitionError(Exception):
    """A ruleset is written wrongly (a type mismatch, an unknown name): a programming error."""


@dataclass(frozen=True, slots=True)
class Reference:
    """Where a rule comes from: a citation people read, and where to read it."""

    citation: str
    url: str | None = None

    def __str__(self) -> str:
        return self.citation

    def as_dict(self) -> dict[str, str | None]:
        return {"citation": self.citation, "url": self.url}


@dataclass(frozen=True, slots=True)
class Role:
    key: str
    plural: str
    label: str


@dataclass(frozen=True, slots=True)
class Entity:
    """A person, or a group of persons (a household) whose members each hold one role."""

    key: str
    plural: str
    label: str
    roles: tuple[Role, ...] = ()
    is_person: bool = False

    def role_index(self, key: str) -> int:
        for i, role in enumerate(self.roles):
            if role.key == key:
                return i
        known = ", ".join(r.key for r in self.roles)
        raise KeyError(f"{self.key} has no role '{key}' (roles: {known})")


@dataclass(frozen=True, slots=True)
class EnumType:
    """The possible values of an enum variable: ``(key, label)`` pairs, coded by position."""

    name: str
    members: tuple[tuple[str, str], ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.members)

    def code(self, key: str) -> int:
        for i, (k, _) in enumerate(self.members):
            if k == key:
                return i
        raise KeyError(f"'{key}' is not one of {', '.join(self.keys)}")

    def label(self, code: int) -> str:
        return self.members[code][1]


@dataclass(frozen=True, slots=True)
class Formula:
    """One version of a variable's formula, in force from ``start`` (``None``: always)."""

    expr: Expr
    start: date | None = None
    reference: Reference | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class FormulaInForce:
    """The formula version in force at a date, with the dates of that version."""

    formula: Formula
    since: date | None
    until: date | None


@dataclass(frozen=True)
class Variable:
    """A typed fact or result about an entity for a period (month, year, eternity, day).

    ``formulas`` are dated versions; without any the variable is an input. After ``end`` the
    variable no longer exists in law and takes its default value, like before its first
    formula. ``noun`` is how sentences name it ("household income").
    """

    name: str
    entity: str
    value_type: ValueType
    period: Unit
    label: str
    formulas: tuple[Formula, ...] = ()
    reference: Reference | None = None
    end: date | None = None
    default: Any = None
    enum: EnumType | None = None
    unit: str | None = None
    description: str = ""
    noun: str | None = None
    #: an absent value means the default (a date of death that is not recorded), not an error
    optional: bool = False
    verdicts: tuple[str, str] = (N_("Eligible"), N_("Not eligible"))
    tags: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.value_type is ValueType.ENUM and self.enum is None:
            raise RulesetDefinitionError(f"{self.name}: an enum variable needs its enum values")
        starts = [f.start or date.min for f in self.formulas]
        if starts != sorted(starts) or len(set(starts)) != len(starts):
            raise RulesetDefinitionError(f"{self.name}: formulas must be in date order")

    @property
    def is_input(self) -> bool:
        return not self.formulas

    @property
    def sentence_name(self) -> str:
        return self.noun or self.label[:1].lower() + self.label[1:]

    def formula_at(self, day: date) -> FormulaInForce | None:
        """The formula version in force on ``day``, or ``None`` (input, not yet, or ended)."""
        if self.end is not None and day > self.end:
            return None
        chosen: FormulaInForce | None = None
        for i, formula in enumerate(self.formulas):
            start = formula.start or date.min
            if start > day:
                break
            nxt = self.formulas[i + 1].start if i + 1 < len(self.formulas) else None
            until = nxt - timedelta(days=1) if nxt is not None else self.end
            chosen = FormulaInForce(formula, formula.start, until)
        return chosen
