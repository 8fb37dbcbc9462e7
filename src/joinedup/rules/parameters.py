"""Parameters: dated values (amounts, rates, ages) and bracket scales, each with its legal
reference, read at an instant.

A ruleset keeps its parameters in a TOML file, one table per parameter::

    [benefits.parenting_allowance.income_threshold]
    description = "Parenting allowance income threshold"
    label = "the income limit"
    unit = "currency"
    reference = { citation = "Parenting Allowance Act §3(2)", url = "https://…" }
    values = [{ start = 2015-12-01, value = 500.00 }]

A value ``{ start = …, repealed = true }`` ends the parameter. A scale has ``kind``
(``marginal_rate``, ``single_amount``, ``marginal_amount``), ``threshold_unit`` and
``[[….brackets]]`` whose ``threshold`` and ``rate`` (or ``amount``) are dated value lists.
Numbers are read as exact decimals.

A ``label`` is how sentences name the parameter ("the birth grant €1,000.00"): a message id,
extracted for the translators by :func:`extract_labels` (``babel.cfg``) as ``N_()`` marks a
ruleset's texts in Python.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal

from joinedup.core.errors import ValidationFailed
from joinedup.rules.model import Reference, RulesetDefinitionError

#: ``currency``: an amount in euros; ``rate``: a fraction (0.15 = 15 %); ``currency_per_unit``:
#: euros per unit of something (per m²); ``year``: a number of years; ``number``: a count.
ParameterUnit = Literal["currency", "rate", "currency_per_unit", "year", "number", "bool"]
ScaleKind = Literal["marginal_rate", "single_amount", "marginal_amount"]
_UNITS = {"currency", "rate", "currency_per_unit", "year", "number", "bool"}
_KINDS = {"marginal_rate", "single_amount", "marginal_amount"}


@dataclass(frozen=True, slots=True)
class DatedValue:
    """A value in force from ``start`` until the next one; ``None`` means repealed."""

    start: date
    value: Decimal | bool | None
    reference: Reference | None = None


def _value_at(values: tuple[DatedValue, ...], day: date) -> DatedValue | None:
    found: DatedValue | None = None
    for dated in values:
        if dated.start > day:
            break
        found = dated
    return found if found is not None and found.value is not None else None


@dataclass(frozen=True, slots=True)
class Parameter:
    path: str
    description: str
    label: str
    unit: ParameterUnit
    values: tuple[DatedValue, ...]
    reference: Reference | None = None

    def at(self, day: date) -> DatedValue | None:
        """The value in force on ``day``, or ``None`` when there is none (not yet, repealed)."""
        return _value_at(self.values, day)


@dataclass(frozen=True, slots=True)
class Bracket:
    threshold: tuple[DatedValue, ...]
    value: tuple[DatedValue, ...]  # a rate (marginal_rate) or an amount (the amount scales)


@dataclass(frozen=True, slots=True)
class BracketAt:
    threshold: Decimal
    value: Decimal
    since: date


@dataclass(frozen=True, slots=True)
class Scale:
    path: str
    description: str
    label: str
    kind: ScaleKind
    threshold_unit: ParameterUnit
    brackets: tuple[Bracket, ...]
    reference: Reference | None = None

    @property
    def value_unit(self) -> ParameterUnit:
        return "rate" if self.kind == "marginal_rate" else "currency"

    def at(self, day: date) -> tuple[BracketAt, ...]:
        """The brackets in force on ``day`` (a bracket without a threshold then is left out)."""
        found: list[BracketAt] = []
        for bracket in self.brackets:
            threshold = _value_at(bracket.threshold, day)
            value = _value_at(bracket.value, day)
            if threshold is None or value is None:
                continue
            assert isinstance(threshold.value, Decimal)
            assert isinstance(value.value, Decimal)
            found.append(BracketAt(threshold.value, value.value, max(threshold.start, value.start)))
        return tuple(sorted(found, key=lambda b: b.threshold))


class ParameterNotInForce(ValidationFailed):
    slug = "parameter-not-in-force"
    title = "A parameter the rules need has no value on that date"


class ParameterTree:
    """Every parameter and scale of a ruleset, by dotted path."""

    def __init__(self, items: Mapping[str, Parameter | Scale], *, descriptions: Mapping[str, str]):
        self._items = dict(items)
        self.descriptions = dict(descriptions)

    def __iter__(self) -> Iterator[Parameter | Scale]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, path: object) -> bool:
        return path in self._items

    def get(self, path: str) -> Parameter | Scale:
        try:
            return self._items[path]
        except KeyError:
            raise KeyError(f"no parameter '{path}'") from None

    def replaced(self, item: Parameter | Scale) -> ParameterTree:
        """A copy with one parameter or scale replaced (what a reform does)."""
        if item.path not in self._items:
            raise KeyError(f"no parameter '{item.path}'")
        items = dict(self._items)
        items[item.path] = item
        return ParameterTree(items, descriptions=self.descriptions)

    @staticmethod
    def load(path: Path) -> ParameterTree:
        with path.open("rb") as handle:
            data = tomllib.load(handle, parse_float=Decimal)
        items: dict[str, Parameter | Scale] = {}
        descriptions: dict[str, str] = {}
        _walk(data, "", items, descriptions)
        return ParameterTree(items, descriptions=descriptions)


def with_value(parameter: Parameter, value: Decimal | bool, start: date | None) -> Parameter:
    """``parameter`` with ``value`` in force from ``start`` on (``None``: at every date)."""
    if start is None:
        kept: list[DatedValue] = [
            DatedValue(d.start, value if d.value is not None else None, d.reference)
            for d in parameter.values
        ]
    else:
        kept = [d for d in parameter.values if d.start < start]
        later = [d for d in parameter.values if d.start > start]
        kept.append(DatedValue(start, value, Reference("reform")))
        # the reform holds until the law itself next changes the value
        kept.extend(later)
    return replace(parameter, values=tuple(kept))


def _reference(raw: Any, where: str) -> Reference | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return Reference(raw)
    if isinstance(raw, dict) and isinstance(raw.get("citation"), str):
        return Reference(raw["citation"], raw.get("url"))
    raise RulesetDefinitionError(f"{where}: a reference is a citation or {{citation, url}}")


def _dated(raw: Any, where: str) -> tuple[DatedValue, ...]:
    if not isinstance(raw, list) or not raw:
        raise RulesetDefinitionError(f"{where}: 'values' must be a non-empty list")
    out: list[DatedValue] = []
    for item in raw:
        start = item.get("start") if isinstance(item, dict) else None
        if not isinstance(start, date):
            raise RulesetDefinitionError(f"{where}: each value needs a 'start' date")
        if item.get("repealed"):
            value: Decimal | bool | None = None
        else:
            value = item.get("value")
            if isinstance(value, int) and not isinstance(value, bool):
                value = Decimal(value)
            if not isinstance(value, Decimal | bool):
                raise RulesetDefinitionError(f"{where}: value at {start} is not a number")
        out.append(DatedValue(start, value, _reference(item.get("reference"), where)))
    out.sort(key=lambda d: d.start)
    return tuple(out)


def _walk(
    node: dict[str, Any],
    prefix: str,
    items: dict[str, Parameter | Scale],
    descriptions: dict[str, str],
) -> None:
    path = prefix.rstrip(".")
    if "values" in node or "brackets" in node:
        items[path] = _item(node, path)
        return
    if path and isinstance(node.get("description"), str):
        descriptions[path] = node["description"]
    for key, child in node.items():
        if isinstance(child, dict):
            _walk(child, f"{prefix}{key}.", items, descriptions)


def _item(node: dict[str, Any], path: str) -> Parameter | Scale:
    description = str(node.get("description", path))
    label = str(node.get("label", "the " + description[:1].lower() + description[1:]))
    reference = _reference(node.get("reference"), path)
    if "brackets" in node:
        kind = node.get("kind")
        threshold_unit = node.get("threshold_unit", "currency")
        if kind not in _KINDS or threshold_unit not in _UNITS:
            raise RulesetDefinitionError(f"{path}: a scale needs a kind and a threshold_unit")
        value_key = "rate" if kind == "marginal_rate" else "amount"
        brackets = tuple(
            Bracket(_dated(b.get("threshold"), path), _dated(b.get(value_key), path))
            for b in node["brackets"]
        )
        return Scale(path, description, label, kind, threshold_unit, brackets, reference)
    unit = node.get("unit")
    if unit not in _UNITS:
        raise RulesetDefinitionError(f"{path}: unit must be one of {sorted(_UNITS)}")
    return Parameter(path, description, label, unit, _dated(node["values"], path), reference)


_LABEL = re.compile(rb"^\s*label\s*=")


def extract_labels(
    fileobj: IO[bytes],
    keywords: Collection[str],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Babel's extraction method for a parameters file: each ``label`` is a message."""
    for lineno, line in enumerate(fileobj, start=1):
        if _LABEL.match(line):
            label = tomllib.loads(line.decode("utf-8")).get("label")
            if isinstance(label, str) and label:
                yield lineno, None, label, []
