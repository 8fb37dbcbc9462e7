"""The vocabulary of the rules' plain-language text: the verbs and symbols of comparisons and
operators (message ids), values written for their kind, a variable's name, and a citation
after a phrase. :mod:`joinedup.rules.render` builds conditions and computations from them."""

from __future__ import annotations

from datetime import date
from typing import Any

from joinedup.rules.model import N_, EnumType, ValueType, Variable
from joinedup.rules.money import format_money
from joinedup.rules.wording import Part, Phrase, Text, Value

#: What a frame holds for a node that was not evaluated.
ABSENT = object()

#: A comparison stated with its values: (when it holds, when it does not).
VERBS = {
    "<=": (N_("%(left)s is at most %(right)s"), N_("%(left)s is above %(right)s")),
    "<": (N_("%(left)s is below %(right)s"), N_("%(left)s is not below %(right)s")),
    ">=": (N_("%(left)s is at least %(right)s"), N_("%(left)s is below %(right)s")),
    ">": (N_("%(left)s is above %(right)s"), N_("%(left)s is not above %(right)s")),
    "==": (N_("%(left)s is %(right)s"), N_("%(left)s is not %(right)s")),
    "!=": (N_("%(left)s is not %(right)s"), N_("%(left)s is %(right)s")),
}
#: A comparison without values, inside "a child of the household has …".
SHORT = {
    "<": N_("%(left)s below %(right)s"),
    "<=": N_("%(left)s at most %(right)s"),
    ">": N_("%(left)s above %(right)s"),
    ">=": N_("%(left)s at least %(right)s"),
    "==": N_("%(left)s equal to %(right)s"),
    "!=": N_("%(left)s other than %(right)s"),
}
SYMBOLS = {
    "+": N_("%(left)s + %(right)s"),
    "-": N_("%(left)s − %(right)s"),
    "*": N_("%(left)s × %(right)s"),
    "/": N_("%(left)s ÷ %(right)s"),
}
YES, NO = Phrase(N_("yes")), Phrase(N_("no"))
NOUN_VALUE = N_("%(noun)s %(value)s")


def format_value(kind: ValueType, value: Any, enum: EnumType | None = None) -> str:
    if value is ABSENT:
        return "?"
    if kind is ValueType.MONEY:
        return format_money(value)
    if kind is ValueType.BOOL:
        return "yes" if value else "no"
    if kind is ValueType.ENUM and enum is not None:
        return enum.label(int(value))
    if kind is ValueType.FLOAT:
        return format(float(value), ".10g")
    if kind is ValueType.DATE:
        if value == date.max:
            return "none recorded"
        return value.isoformat() if hasattr(value, "isoformat") else str(value)
    return str(value)


def value_part(kind: ValueType, value: Any, enum: EnumType | None = None) -> Part:
    """:func:`format_value` in parts: the same words in English, the reader's way elsewhere."""
    if value is ABSENT:
        return "?"
    if kind is ValueType.MONEY:
        plain = value.item() if hasattr(value, "item") else value  # a numpy scalar
        return Value("money", plain if isinstance(plain, int | float) else float(plain))
    if kind is ValueType.BOOL:
        return YES if value else NO
    if kind is ValueType.ENUM and enum is not None:
        return Text(enum.label(int(value)))
    if kind is ValueType.FLOAT:
        return Value("number", format(float(value), ".10g"))
    if kind is ValueType.DATE:
        if value == date.max:
            return Phrase(N_("none recorded"))
        return Value("date", value.isoformat()) if hasattr(value, "isoformat") else str(value)
    return Value("number", str(value)) if kind is ValueType.INT else str(value)


def name_of(variable: Variable, *, capital: bool = False) -> Part:
    """How a sentence names ``variable`` (its noun, else its label with a small first letter)."""
    if capital:
        return Text(variable.label)
    return Text(variable.noun) if variable.noun else Text(variable.label, lower=True)


def word_for(key: str, label: str | None) -> Part:
    """An entity or role named by its key ("household"): its label where that is the same
    word ("Household"), so that a ruleset's marked labels translate it; else the key."""
    if label and label[:1].lower() + label[1:] == key:
        return Text(label, lower=True)
    return Text(key)


def with_article(word: str, part: Part) -> Phrase:
    return Phrase(
        N_("an %(word)s") if word[:1].lower() in "aeiou" else N_("a %(word)s"), {"word": part}
    )


def cited(part: Part, citation: str | None) -> Part:
    """A condition with the law it comes from."""
    if citation is None:
        return part
    return Phrase(N_("%(condition)s (%(citation)s)"), {"condition": part, "citation": citation})


__all__ = [
    "NOUN_VALUE",
    "SHORT",
    "SYMBOLS",
    "VERBS",
    "cited",
    "format_value",
    "name_of",
    "value_part",
    "with_article",
    "word_for",
]
