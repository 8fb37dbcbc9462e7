"""Sentences in parts, so that an explanation stored in English can be read in any language.

A sentence is a :class:`Phrase`: a message id (its English words, marked ``N_()`` so the
translators see it) with named arguments. An argument is another phrase; a :class:`Text` of
the rules (a variable's label, a condition's words, a parameter's label — translated where
the catalogue has it, as written otherwise); a :class:`Value` written the reader's way
(amounts, numbers, percentages, dates); a :class:`Joined` list; or a plain string kept as
it is (a citation as enacted, an id, a period).

In English the parts give back exactly the sentence the rules wrote (:data:`SOURCE`: no
catalogue, the rules' own formatting); in another language each message id and text goes
through that language's catalogue and each value through Babel (:meth:`Language.of`)::

    Phrase(N_("Computed as %(computation)s."), {"computation": ...}).text()  # English
    Phrase.from_dict(stored).text(Language.of("et"))                           # Estonian
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Union

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent

from joinedup.core import i18n
from joinedup.rules.money import format_money, round_half_away

Part = Union["Phrase", "Text", "Value", "Joined", str]

#: The kinds of :class:`Value`: an amount in cents (EUR), a number as the rules wrote it in
#: English, a percentage (its number), a date (ISO).
VALUE_KINDS = ("money", "number", "percent", "date")


@dataclass(frozen=True, slots=True)
class Language:
    """How parts are put into words: the catalogue's ``translate`` and the ``locale`` values
    are written for."""

    locale: str
    translate: Callable[[str], str]

    @classmethod
    def of(cls, locale: str | None = None) -> Language:
        """``locale`` (default: the current language); English is the rules' own words."""
        chosen = i18n.supported(locale or i18n.current_locale()) or i18n.SOURCE_LOCALE
        if chosen == i18n.SOURCE_LOCALE:
            return SOURCE
        return cls(chosen, i18n.translations(chosen).gettext)


#: English as the rules write it: no catalogue, the rules' own formatting of values.
SOURCE = Language(i18n.SOURCE_LOCALE, str)


_NO_ARGS: Any = object()


def _writer(cls: type, name: str) -> Callable[[Any, Any], None]:
    """How a frozen part's own ``__init__`` writes a field: through the field's slot (half
    the cost of ``object.__setattr__``, which the dataclass's ``__init__`` calls; sentences
    are made of parts by the thousand)."""
    setter: Callable[[Any, Any], None] = cls.__dict__[name].__set__
    return setter


@dataclass(frozen=True, slots=True, init=False)
class Phrase:
    """A message id (English, ``N_()``-marked where it is written) and its named arguments.

    Immutable, arguments included (nothing changes ``args`` once the phrase is made): its
    English text is written when first asked for and kept (an explanation reads a condition
    or a computation twice: in a value's details and in a sentence)."""

    id: str
    args: Mapping[str, Part] = field(default_factory=dict)
    _english: str | None = field(default=None, init=False, repr=False, compare=False)

    def __init__(self, id: str, args: Mapping[str, Part] = _NO_ARGS) -> None:
        _phrase_id(self, id)
        _phrase_args(self, {} if args is _NO_ARGS else args)
        _phrase_english(self, None)

    def text(self, language: Language = SOURCE) -> str:
        if language is SOURCE:
            found = self._english
            if found is None:
                found = self._words(SOURCE)
                _phrase_english(self, found)
            return found
        return self._words(language)

    def _words(self, language: Language) -> str:
        words = self.id if language is SOURCE else language.translate(self.id)
        args = self.args
        if not args:
            return words
        values = {}
        for name, part in args.items():
            values[name] = part if isinstance(part, str) else part.text(language)
        return words % values

    def as_dict(self) -> dict[str, Any]:
        if not self.args:
            return {"id": self.id}
        args = {}
        for name, part in self.args.items():
            args[name] = part if isinstance(part, str) else part_dict(part)
        return {"id": self.id, "args": args}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Phrase:
        found = part_of(data)
        if not isinstance(found, Phrase):
            raise ValueError("not a phrase")
        return found


_phrase_id = _writer(Phrase, "id")
_phrase_args = _writer(Phrase, "args")
_phrase_english = _writer(Phrase, "_english")


@dataclass(frozen=True, slots=True, init=False)
class Text:
    """Words of the rules (a label, a condition, a noun): translated where the catalogue has
    them. ``lower``: the first letter made small ("Monthly income" → "monthly income")."""

    words: str
    lower: bool = False

    def __init__(self, words: str, lower: bool = False) -> None:
        _text_words(self, words)
        _text_lower(self, lower)

    def text(self, language: Language = SOURCE) -> str:
        words = self.words if language is SOURCE else language.translate(self.words)
        return words[:1].lower() + words[1:] if self.lower else words


_text_words = _writer(Text, "words")
_text_lower = _writer(Text, "lower")


@dataclass(frozen=True, slots=True, init=False)
class Value:
    """A value written the reader's way; ``kind`` is one of :data:`VALUE_KINDS`."""

    kind: str
    value: int | float | str

    def __init__(self, kind: str, value: int | float | str) -> None:
        _value_kind(self, kind)
        _value_value(self, value)

    def text(self, language: Language = SOURCE) -> str:
        return _value(self, language.locale)


_value_kind = _writer(Value, "kind")
_value_value = _writer(Value, "value")


@dataclass(frozen=True, slots=True, init=False)
class Joined:
    """Parts one after the other with a separator that reads the same in every language."""

    items: tuple[Part, ...]
    sep: str = ""

    def __init__(self, items: tuple[Part, ...], sep: str = "") -> None:
        _joined_items(self, items)
        _joined_sep(self, sep)

    def text(self, language: Language = SOURCE) -> str:
        return self.sep.join(
            item if isinstance(item, str) else item.text(language) for item in self.items
        )


_joined_items = _writer(Joined, "items")
_joined_sep = _writer(Joined, "sep")


def in_words(part: Part, language: Language = SOURCE) -> str:
    """``part`` in ``language``."""
    return part if isinstance(part, str) else part.text(language)


def english(part: Part) -> str:
    """``part`` as the rules write it."""
    return in_words(part, SOURCE)


def _value(part: Value, locale: str) -> str:
    kind, value = part.kind, part.value
    if locale == i18n.SOURCE_LOCALE:
        if kind == "money":
            assert isinstance(value, int | float)
            return format_money(value)
        return f"{value}%" if kind == "percent" else str(value)
    if type(value) is int or type(value) is str:
        return _kept_in_locale(kind, value, locale)
    return _in_locale(kind, value, locale)


def _in_locale(kind: str, value: int | float | str, locale: str) -> str:
    """A value written by Babel for ``locale``."""
    try:
        if kind == "money":
            assert isinstance(value, int | float)
            cents = round_half_away(value) if isinstance(value, float) else int(value)
            return format_currency(Decimal(cents).scaleb(-2), "EUR", locale=locale)
        if kind == "date":
            return format_date(date.fromisoformat(str(value)), format="medium", locale=locale)
        number = Decimal(str(value))
        if kind == "percent":
            return format_percent(
                number.scaleb(-2), locale=locale, decimal_quantization=False, group_separator=False
            )
        return format_decimal(
            number, locale=locale, decimal_quantization=False, group_separator=False
        )
    except (ArithmeticError, InvalidOperation, ValueError, AssertionError):
        # not a value Babel reads: as the rules wrote it
        return _value(Value(kind, value), i18n.SOURCE_LOCALE)


#: Babel reads the locale's pattern on every call (8–15 µs): the same amounts, numbers and
#: dates come back again and again, so whole cents and the rules' texts are kept, as many as
#: a letter's amounts are (a float, whose 0.0 and -0.0 are one key but not one text, is
#: written each time).
_kept_in_locale = functools.lru_cache(maxsize=4096, typed=True)(_in_locale)


def part_dict(part: Part) -> Any:
    """``part`` as JSON: a string as it is; ``{"id", "args"}`` a phrase; ``{"text"}`` words of
    the rules; ``{"join", "sep"}`` a list; ``{"money": cents}`` and the like a value."""
    if isinstance(part, str):
        return part
    if isinstance(part, Phrase):
        return part.as_dict()
    if isinstance(part, Text):
        return {"text": part.words, "lower": True} if part.lower else {"text": part.words}
    if isinstance(part, Joined):
        return {"join": [part_dict(item) for item in part.items], "sep": part.sep}
    return {part.kind: part.value}


def part_of(data: Any) -> Part:
    """A part as :func:`part_dict` stored it (``ValueError``: not one)."""
    if isinstance(data, str):
        return data
    if not isinstance(data, Mapping):
        raise ValueError(f"not a part of a sentence: {data!r}")
    if isinstance(data.get("id"), str):
        args = data.get("args") or {}
        if not isinstance(args, Mapping):
            raise ValueError("a phrase's arguments are named")
        return Phrase(data["id"], {str(k): part_of(v) for k, v in args.items()})
    if isinstance(data.get("text"), str):
        return Text(data["text"], bool(data.get("lower")))
    if isinstance(data.get("join"), list):
        return Joined(tuple(part_of(item) for item in data["join"]), str(data.get("sep", "")))
    for kind in VALUE_KINDS:
        if kind in data and isinstance(data[kind], int | float | str):
            return Value(kind, data[kind])
    raise ValueError(f"not a part of a sentence: {data!r}")


def sentences_in_language(
    explanation: Mapping[str, Any] | None, locale: str | None = None
) -> list[str]:
    """A stored explanation's sentences in ``locale`` (default: the current language), each
    put together again from its parts (``explanation["sentence_parts"]``). An explanation
    stored without parts, or a sentence whose parts cannot be read, stays in English."""
    if not explanation:
        return []
    sentences = [str(s) for s in explanation.get("sentences") or []]
    stored = explanation.get("sentence_parts")
    language = Language.of(locale)
    if language is SOURCE or not isinstance(stored, Sequence) or len(stored) != len(sentences):
        return sentences
    out = []
    for sentence, parts in zip(sentences, stored, strict=True):
        try:
            out.append(in_words(part_of(parts), language))
        except (ValueError, KeyError, TypeError):
            out.append(sentence)
    return out
