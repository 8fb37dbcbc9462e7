"""An explanation's sentences are kept in parts as well as in English, and are put together
again in the reader's language: message ids and the rulesets' marked texts through the
catalogue, amounts, numbers and dates written the reader's way, citations as enacted."""

from __future__ import annotations

import io
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from test_rules_demo import MAY, _family

from joinedup.core import i18n
from joinedup.rules import Verdict, sentences_in_language
from joinedup.rules.model import ValueType
from joinedup.rules.parameters import extract_labels
from joinedup.rules.periods import Period
from joinedup.rules.ruleset import Ruleset
from joinedup.rules.service import explain_situation
from joinedup.rules.vocabulary import format_value, value_part
from joinedup.rules.wording import Language, Phrase, english, part_of

#: Words that read the same in both languages (the country's name).
SAME_IN_BOTH = {"Joinland"}


def _document(
    ruleset: Ruleset, situation: dict[str, Any], name: str, entity: str = "household", **kw: str
) -> dict[str, Any]:
    explanation = explain_situation(
        ruleset=ruleset,
        data=situation,
        variables=[name],
        period=Period.parse(kw.get("period", MAY)),
        entity=entity,
        entity_id=kw.get("entity_id", "h"),
    )
    document = explanation.as_dict()
    return json.loads(json.dumps(document))  # as it is stored


def _citations(document: dict[str, Any]) -> list[str]:
    return re.findall(r"\(((?:[A-Z][\w()-]* )+\d{4} §[\w()]+)\)", " ".join(document["sentences"]))


def _words(sentences: list[str], document: dict[str, Any]) -> set[str]:
    text = " ".join(sentences)
    for citation in _citations(document):
        text = text.replace(citation, "")
    return set(re.findall(r"[A-Za-zÀ-ž]{3,}", text)) - SAME_IN_BOTH


CASES = {
    "child benefit, two children": (("2015-01-01", "2018-02-01"), "child_benefit"),
    "child benefit, a large family": (
        ("2010-01-01", "2015-01-01", "2018-02-01"),
        "child_benefit",
    ),
    "child benefit, none": (("2006-01-01",), "child_benefit"),
    "birth grant": (("2024-05-10",), "birth_grant"),
    "birth grant, none": (("2024-04-30",), "birth_grant"),
}


@pytest.mark.parametrize("case", CASES)
def test_the_sentences_put_together_in_english_are_the_stored_sentences(
    demo: Ruleset, case: str
) -> None:
    births, name = CASES[case]
    document = _document(demo, _family(*births), name)
    assert len(document["sentence_parts"]) == len(document["sentences"])
    rebuilt = [english(part_of(p)) for p in document["sentence_parts"]]
    assert rebuilt == document["sentences"]
    assert sentences_in_language(document, "en") == document["sentences"]


@pytest.mark.parametrize("case", CASES)
def test_the_family_benefits_read_in_estonian_without_an_english_word(
    demo: Ruleset, case: str
) -> None:
    births, name = CASES[case]
    document = _document(demo, _family(*births), name)
    estonian = sentences_in_language(document, "et")
    assert len(estonian) == len(document["sentences"])
    english_words = _words(document["sentences"], document)
    assert english_words
    left = english_words & _words(estonian, document)
    assert not left, f"English left in {estonian}"
    # the citations are kept as enacted
    for citation in _citations(document):
        assert citation in " ".join(estonian)


def test_values_are_written_the_readers_way(demo: Ruleset) -> None:
    document = _document(demo, _family("2010-01-01", "2015-01-01", "2018-02-01"), "child_benefit")
    first, verdict, computed, rule = sentences_in_language(document, "et")
    assert first == "Lapsetoetus perioodil 2024-05 (leibkond h): 560,00\xa0€."
    assert verdict.startswith("Õigus on olemas: leibkonda kuulub Joinlandis elav alla 18-aastane")
    # a condition the rules word themselves, with its figures, in Estonian too
    assert "lapsetoetust andvate laste arv (3) on vähemalt suurpere laste arv (3)" in verdict
    assert computed == (
        "Arvutus: lapsetoetust andvate laste arv 3 × lapsetoetus lapse kohta 120,00\xa0€ "
        "+ suurpere lisa 200,00\xa0€."
    )
    assert rule == "Reegel kehtib alates 1. jaan 2019 (Family Benefits Act 2019 §5)."
    grant = _document(demo, _family("2024-05-10"), "birth_grant")
    assert sentences_in_language(grant, "et")[2] == (
        "Arvutus: sel kuul Joinlandis sündinud laste arv 1 × sünnitoetus 1\xa0000,00\xa0€."
    )


def test_the_current_language_is_the_default(demo: Ruleset) -> None:
    document = _document(demo, _family("2024-05-10"), "birth_grant")
    with i18n.use_locale("et"):
        assert sentences_in_language(document)[0].startswith("Sünnitoetus perioodil 2024-05")
    assert sentences_in_language(document) == document["sentences"]


def test_an_explanation_stored_without_parts_stays_in_english(demo: Ruleset) -> None:
    document = _document(demo, _family("2024-05-10"), "birth_grant")
    old = {k: v for k, v in document.items() if k != "sentence_parts"}
    assert sentences_in_language(old, "et") == document["sentences"]
    assert sentences_in_language(None, "et") == []
    # parts that cannot be read (another shape, a sentence missing) leave that sentence, or
    # all of them, in English
    broken = {**document, "sentence_parts": [{"what": 1}, *document["sentence_parts"][1:]]}
    shown = sentences_in_language(broken, "et")
    assert shown[0] == document["sentences"][0]
    assert shown[1].startswith("Õigus on olemas")
    short = {**document, "sentence_parts": document["sentence_parts"][1:]}
    assert sentences_in_language(short, "et") == document["sentences"]


def test_a_verdict_keeps_the_parts_of_a_condition_the_rules_word_themselves(
    demo: Ruleset,
) -> None:
    explanation = explain_situation(
        ruleset=demo,
        data=_family("2010-01-01", "2015-01-01", "2018-02-01"),
        variables=["child_benefit"],
        period=Period.parse(MAY),
        entity="household",
        entity_id="h",
    )
    verdict = explanation.verdict()
    assert verdict is not None
    stored = json.loads(json.dumps(verdict.as_dict()))
    written, generated = stored["conditions"]
    assert "parts" not in written  # the ruleset's own text is its message id
    assert generated["parts"]["id"] == "%(left)s is at least %(right)s"
    again = Verdict.from_dict(stored)
    assert again.sentence() == verdict.sentence() == explanation.sentences[1]
    with i18n.use_locale("et"):
        estonian = again.sentence(i18n.gettext)
    assert "lapsetoetust andvate laste arv (3) on vähemalt suurpere laste arv (3)" in estonian
    # a verdict stored before its conditions had parts reads as before
    for condition in stored["conditions"]:
        condition.pop("parts", None)
    with i18n.use_locale("et"):
        old = Verdict.from_dict(stored).sentence(i18n.gettext)
    assert "the number of children giving right to child benefit (3) is at least" in old


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (ValueType.MONEY, 123456),
        (ValueType.MONEY, 1234.5),
        (ValueType.MONEY, -500),
        (ValueType.INT, 3),
        (ValueType.FLOAT, 0.125),
        (ValueType.BOOL, True),
        (ValueType.BOOL, False),
        (ValueType.DATE, date(2024, 5, 1)),
        (ValueType.DATE, date.max),
    ],
)
def test_a_value_in_parts_reads_in_english_as_the_rules_write_it(
    kind: ValueType, value: Any
) -> None:
    assert english(value_part(kind, value)) == format_value(kind, value)


def test_values_in_estonian() -> None:
    et = Language.of("et")
    amount = Phrase("%(v)s", {"v": value_part(ValueType.MONEY, -123456)}).text(et)
    assert amount[:1] in "-−"  # Babel's minus for the language
    assert amount[1:] == "1\xa0234,56\xa0€"
    assert Phrase("%(v)s", {"v": value_part(ValueType.FLOAT, 0.125)}).text(et) == "0,125"
    assert Phrase("%(v)s", {"v": value_part(ValueType.BOOL, True)}).text(et) == "jah"
    assert Language.of("xx") is Language.of("en")


def test_the_demo_parameter_labels_are_extracted_for_the_translators() -> None:
    import joinedup.rules.rulesets.demo as demo_package

    path = Path(demo_package.__file__).with_name("parameters.toml")
    found = list(extract_labels(io.BytesIO(path.read_bytes()), ["N_"], [], {}))
    labels = {message for _, _, message, _ in found}
    assert {"the birth grant", "the child benefit per child", "the taper rate"} <= labels
    assert all(path.read_text().splitlines()[n - 1].startswith("label") for n, *_ in found)
