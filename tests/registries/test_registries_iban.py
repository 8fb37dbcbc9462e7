"""IBAN validation (ISO 13616 mod-97) and the synthetic country's account numbers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.registries import NATIONAL_COUNTRY, iban_problem, make_ibans, normalise_iban
from joinedup.registries.iban import iban_problems

# Published example IBANs (SWIFT registry and national banking associations).
VALID = [
    "GB82WEST12345698765432",
    "DE89370400440532013000",
    "EE382200221020145685",
    "FI2112345600000785",
    "NO9386011117947",
    "FR1420041010050500013M02606",
    "LV80BANK0000435195001",
]


@pytest.mark.parametrize("iban", VALID)
def test_published_ibans_are_valid(iban: str) -> None:
    assert iban_problem(iban) is None


@pytest.mark.parametrize(
    ("iban", "fragment"),
    [
        ("GB82WEST12345698765433", "mod-97"),
        ("GB82WEST1234569876543", "length"),
        ("QQ82WEST12345698765432", "country"),
        ("gb82WEST12345698765432", "not an IBAN"),
        ("GB8XWEST12345698765432", "not an IBAN"),
        ("GB82 WEST 1234 5698 7654 32", "not an IBAN"),
        ("", "not an IBAN"),
        ("GB82WEST1234569876543200000000000000", "not an IBAN"),
    ],
)
def test_bad_ibans_say_what_is_wrong(iban: str, fragment: str) -> None:
    problem = iban_problem(iban)
    assert problem is not None
    assert fragment in problem


def test_normalising_the_paper_format() -> None:
    assert normalise_iban(" gb82 west 1234 5698 7654 32 ") == "GB82WEST12345698765432"
    assert iban_problem(normalise_iban("gb82 west 1234 5698 7654 32")) is None


def test_batches_mix_lengths_and_problems() -> None:
    problems = iban_problems([*VALID, "GB82WEST12345698765433", "XX"])
    assert problems[: len(VALID)].tolist() == [""] * len(VALID)
    assert problems[len(VALID)] != ""
    assert problems[-1] != ""


@settings(max_examples=200, deadline=None)
@given(
    account=st.text(alphabet="0123456789", min_size=16, max_size=16),
    position=st.integers(4, 19),
    replacement=st.sampled_from("0123456789"),
)
def test_national_ibans_validate_and_a_changed_digit_does_not(
    account: str, position: int, replacement: str
) -> None:
    iban = str(make_ibans(NATIONAL_COUNTRY, np.array([account]))[0])
    assert len(iban) == 20
    assert iban.startswith(NATIONAL_COUNTRY)
    assert iban_problem(iban) is None
    changed = iban[:position] + replacement + iban[position + 1 :]
    if changed != iban:
        assert iban_problem(changed) is not None


def test_making_ibans_needs_one_length() -> None:
    with pytest.raises(ValueError, match="one length"):
        make_ibans(NATIONAL_COUNTRY, np.array(["1234", "12345"]))
