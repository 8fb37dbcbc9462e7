"""The results an explanation is made of: each condition met or not
(:class:`ConditionResult`), each value and how it was obtained (:class:`Explained`), and a
value's verdict sentence in parts (:class:`Verdict`), stored with an entitlement and written
again in the reader's language (:mod:`joinedup.rules.wording`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from joinedup.core import i18n
from joinedup.rules.explain import Instance
from joinedup.rules.ir import BoundVariable
from joinedup.rules.model import N_, Reference, Variable
from joinedup.rules.vocabulary import cited
from joinedup.rules.wording import (
    SOURCE,
    Joined,
    Language,
    Part,
    Phrase,
    Text,
    part_dict,
    part_of,
)


@dataclass(slots=True)
class ConditionResult:
    text: str
    met: bool
    reference: Reference | None = None
    children: list[ConditionResult] = field(default_factory=list)
    #: ``text`` in parts, to be written in another language (None: ``text`` is all there is)
    phrase: Part | None = None

    def sentence(self) -> str:
        return f"{self.text} ({self.reference.citation})" if self.reference else self.text

    def as_dict(self) -> dict[str, Any]:
        reference = self.reference
        return {
            "text": self.text,
            "met": self.met,
            "reference": reference.as_dict() if reference else None,
            "conditions": [c.as_dict() for c in self.children] if self.children else [],
        }


@dataclass(slots=True)
class Explained:
    """One value of one variable for one entity and period, and how it was obtained."""

    key: str
    instance: Instance
    entity_id: str
    value: Any
    text: str
    conditions: list[ConditionResult]
    computation: str | None
    parameters: list[dict[str, Any]]
    inputs: list[str]

    @property
    def variable(self) -> Variable:
        return self.instance.variable

    def as_dict(self) -> dict[str, Any]:
        return value_document(
            self.instance,
            self.key,
            self.entity_id,
            self.value,
            self.text,
            self.computation,
            [c.as_dict() for c in self.conditions],
            self.parameters,
            self.inputs,
        )


def value_summary(
    inst: Instance, key: str, entity_id: str, value: Any, text: str
) -> dict[str, Any]:
    """What a value of an explanation document is, not how it was worked out: the first part
    of :func:`value_document`, and all an explanation to a depth says of the values below."""
    variable = inst.variable
    return {
        "key": key,
        "variable": variable.name,
        "label": variable.label,
        "entity": variable.entity,
        "id": entity_id,
        "period": str(inst.period),
        "value": value,
        "text": text,
        "source": inst.source,
    }


def value_document(
    inst: Instance,
    key: str,
    entity_id: str,
    value: Any,
    text: str,
    computation: str | None,
    conditions: list[dict[str, Any]],
    parameters: list[dict[str, Any]],
    inputs: list[Any],
) -> dict[str, Any]:
    """One value of an explanation document (:meth:`Explained.as_dict`)."""
    variable, bound = inst.variable, inst.bound
    written = _Written(variable, None) if bound is None else _WRITTEN.get(bound) or _written(bound)
    formula = None
    if bound is not None and inst.source == "formula":
        since, until, cited = written.formula
        formula = {"since": since, "until": until, "reference": cited and dict(cited)}
    return {
        **value_summary(inst, key, entity_id, value, text),
        "formula": formula,
        "reference": written.reference and dict(written.reference),
        "computation": computation,
        "conditions": conditions,
        "parameters": parameters,
        "inputs": inputs,
    }


class _Written:
    """What a document says of every value of one bound variable alike: its formula's dates
    and reference, the variable's reference (copied into each document, never handed out)."""

    __slots__ = ("formula", "reference")

    def __init__(self, variable: Variable, bound: BoundVariable | None) -> None:
        reference = variable.reference
        self.reference = reference.as_dict() if reference else None
        self.formula: tuple[str | None, str | None, dict[str, str | None] | None] = (
            (None, None, None)
            if bound is None
            else (
                bound.since.isoformat() if bound.since else None,
                bound.until.isoformat() if bound.until else None,
                bound.reference.as_dict() if bound.reference else None,
            )
        )


#: Bound variables are immutable (a ruleset's): what is written of them is kept, as many
#: as a ruleset keeps bound; threads may race to write one, and write the same.
_WRITTEN: dict[BoundVariable, _Written] = {}
_WRITTEN_KEPT = 20_000


def _written(bound: BoundVariable) -> _Written:
    found = _Written(bound.variable, bound)
    if len(_WRITTEN) >= _WRITTEN_KEPT:
        _WRITTEN.clear()
    _WRITTEN[bound] = found
    return found


@dataclass(frozen=True, slots=True)
class Verdict:
    """The verdict sentence of a value in parts: whether its condition was met, the verdict
    word ("Eligible", "Not eligible", a variable's own), and the conditions that decided it
    — so that it can be put in another language from its parts (each condition's ``text``
    as written in the rules, or the parts of a condition the rules word themselves)."""

    met: bool
    word: str
    conditions: tuple[ConditionResult, ...]
    # made when first asked for (a verdict is written in English, then stored or translated)
    _phrase: Phrase | None = field(default=None, init=False, repr=False, compare=False)

    def phrase(self) -> Phrase:
        """The verdict sentence in parts (citations as enacted)."""
        found = self._phrase
        if found is None:
            conditions = tuple(
                cited(
                    c.phrase if c.phrase is not None else Text(c.text),
                    c.reference.citation if c.reference else None,
                )
                for c in self.conditions
            )
            found = Phrase(
                N_("%(verdict)s: %(conditions)s."),
                {"verdict": Text(self.word), "conditions": Joined(conditions, "; ")},
            )
            object.__setattr__(self, "_phrase", found)
        return found

    def sentence(self, translate: Callable[[str], str] = str, *, locale: str | None = None) -> str:
        """The verdict sentence; ``translate`` puts the verdict word and each condition's words
        in another language (citations stay as enacted), and amounts, numbers and dates are
        written for ``locale`` (default: as the rules write them when nothing is translated,
        else the current language's way)."""
        if locale is None:
            locale = i18n.SOURCE_LOCALE if translate is str else i18n.current_locale()
        if translate is str and locale == i18n.SOURCE_LOCALE:
            return self.phrase().text(SOURCE)  # English: the same words, written once
        return self.phrase().text(Language(locale, translate))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        """A verdict as :meth:`as_dict` stored it."""
        return cls(
            bool(data.get("met")),
            str(data["word"]),
            tuple(
                ConditionResult(
                    str(c["text"]),
                    bool(data.get("met")),
                    Reference(str(c["citation"]), None) if c.get("citation") else None,
                    phrase=_stored_part(c.get("parts")),
                )
                for c in data.get("conditions") or []
            ),
        )

    def as_dict(self) -> dict[str, Any]:
        conditions = []
        for c in self.conditions:
            entry = {"text": c.text, "citation": c.reference.citation if c.reference else None}
            if c.phrase is not None and c.phrase != Text(c.text):  # worded by the rules
                entry["parts"] = part_dict(c.phrase)
            conditions.append(entry)
        return {"met": self.met, "word": self.word, "conditions": conditions}


def _stored_part(data: Any) -> Part | None:
    """Stored parts, or None (none stored, or not readable: the English text is shown)."""
    if data is None:
        return None
    try:
        return part_of(data)
    except ValueError:
        return None


__all__ = ["ConditionResult", "Explained", "Verdict"]
