"""Personal codes and business registration codes: issuing, check digits, decoding."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.registries.codes import (
    SERIALS_PER_DAY,
    complete_personal_code,
    inspect_business_codes,
    inspect_personal_codes,
    is_valid_business_code,
    is_valid_personal_code,
    issuable_serials,
    issue_business_codes,
    issue_personal_codes,
    next_business_code,
    personal_code_check_digit,
)

W1 = [1, 2, 3, 4, 5, 6, 7, 8, 9, 1]
W2 = [3, 4, 5, 6, 7, 8, 9, 1, 2, 3]


def estonian_check_digit(first_ten: str) -> int:
    """The rule as Estonia publishes it, written out plainly as an independent oracle."""
    first = sum(int(c) * w for c, w in zip(first_ten, W1, strict=True)) % 11
    if first < 10:
        return first
    second = sum(int(c) * w for c, w in zip(first_ten, W2, strict=True)) % 11
    return second if second < 10 else 0


def single_digit_changes(code: str) -> list[str]:
    return [
        code[:i] + digit + code[i + 1 :]
        for i in range(len(code))
        for digit in "0123456789"
        if digit != code[i]
    ]


birth_dates = st.dates(min_value=date(1800, 1, 1), max_value=date(2199, 12, 31))


@settings(max_examples=300, deadline=None)
@given(
    birth=birth_dates,
    sex=st.sampled_from(["F", "M"]),
    rank=st.integers(0, SERIALS_PER_DAY - 1),
    from_top=st.booleans(),
)
def test_every_issued_code_validates_and_no_single_digit_change_does(
    birth: date, sex: str, rank: int, from_top: bool
) -> None:
    code = str(
        issue_personal_codes(
            np.array([birth], dtype="datetime64[D]"),
            np.array([sex]),
            np.array([rank]),
            from_top=from_top,
        )[0]
    )
    report = inspect_personal_codes([code])
    assert not report.invalid[0]
    assert report.birth_date[0] == np.datetime64(birth, "D")
    assert report.sex[0] == sex
    assert int(code[-1]) == estonian_check_digit(code[:10])
    mutated = inspect_personal_codes(single_digit_changes(code))
    assert mutated.invalid.all(), "a single mistyped digit must always be caught"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_check_digit_is_estonias_two_stage_rule(first_ten: str) -> None:
    assert personal_code_check_digit(first_ten) == estonian_check_digit(first_ten)


def test_known_estonian_codes() -> None:
    assert is_valid_personal_code("37605030299")
    assert is_valid_personal_code("49403136515")
    assert not is_valid_personal_code("37605030298")


def test_codes_needing_the_second_stage_are_never_issued_and_refused() -> None:
    """Estonia's fallback lets single-digit errors through; joinedup skips those serials."""
    prefix = "3850317"
    skipped = sorted(set(range(1000)) - set(issuable_serials(prefix)))
    assert skipped, "about one serial in eleven is skipped"
    first_ten = f"{prefix}{skipped[0]:03d}"
    estonian = first_ten + str(estonian_check_digit(first_ten))
    assert not is_valid_personal_code(estonian)
    assert inspect_personal_codes([estonian]).bad_check_digit[0]


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("3850317000", "malformed"),
        ("385031700001", "malformed"),
        ("3850317a001", "malformed"),
        ("", "malformed"),
        ("38502300009", "bad_date"),  # 30 February
        ("98503170001", "bad_date"),  # no century 9
        ("08503170001", "bad_date"),
    ],
)
def test_malformed_codes_are_refused(code: str, problem: str) -> None:
    report = inspect_personal_codes([code])
    assert report.invalid[0]
    assert getattr(report, problem)[0]


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.text(alphabet="0123456789", min_size=11, max_size=11),
        st.text(min_size=0, max_size=13),
        st.builds(
            lambda d, s, r: str(
                issue_personal_codes(np.array([d], "datetime64[D]"), np.array([s]), np.array([r]))[
                    0
                ]
            ),
            st.dates(date(1800, 1, 1), date(2199, 12, 31)),
            st.sampled_from(["F", "M"]),
            st.integers(0, SERIALS_PER_DAY - 1),
        ),
    )
)
def test_one_code_is_judged_as_the_array_rules_judge_it(code: str) -> None:
    assert is_valid_personal_code(code) == (not bool(inspect_personal_codes([code]).invalid[0]))


def test_the_issuable_codes_of_a_day_are_the_serials_completed_in_order() -> None:
    from joinedup.registries.codes import issuable_personal_codes

    for prefix in ("6260105", "5000101", "3991231", "6240229"):
        expected = tuple(complete_personal_code(prefix, s) for s in issuable_serials(prefix))
        assert issuable_personal_codes(prefix) == expected


def test_decoding_century_and_sex() -> None:
    codes = [
        complete_personal_code("1990101", issuable_serials("1990101")[0]),  # man born 1899
        complete_personal_code("6250228", issuable_serials("6250228")[0]),  # woman born 2025
        complete_personal_code("4000229", issuable_serials("4000229")[0]),  # 29 Feb 1900? no
    ]
    report = inspect_personal_codes(codes)
    assert report.birth_date[0] == np.datetime64("1899-01-01")
    assert report.sex[0] == "M"
    assert report.birth_date[1] == np.datetime64("2025-02-28")
    assert report.sex[1] == "F"
    assert report.bad_date[2], "1900 was not a leap year"


def test_issuing_rejects_more_codes_than_a_day_has() -> None:
    with pytest.raises(ValueError, match="per birth date"):
        issue_personal_codes(
            np.array(["2000-01-01"], dtype="datetime64[D]"),
            np.array(["F"]),
            np.array([SERIALS_PER_DAY]),
        )


def test_ranks_from_top_and_bottom_do_not_meet() -> None:
    day = np.array(["1990-05-05"] * 3, dtype="datetime64[D]")
    sexes = np.array(["M"] * 3)
    low = issue_personal_codes(day, sexes, np.array([0, 1, 2]))
    high = issue_personal_codes(day, sexes, np.array([0, 1, 2]), from_top=True)
    assert len(set(low.tolist()) | set(high.tolist())) == 6
    assert low[0] < low[1] < high[1] < high[0]


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from([1, 7, 8, 9]), serial=st.integers(0, 999_999))
def test_business_codes_catch_every_single_digit_error(kind: int, serial: int) -> None:
    codes = issue_business_codes(kind, np.array([serial]))
    if codes.size == 0:
        return  # an unissuable serial
    code = str(codes[0])
    assert is_valid_business_code(code)
    assert code[0] == str(kind)
    malformed, bad = inspect_business_codes(single_digit_changes(code))
    assert (malformed | bad).all()


def test_business_code_type_digit_and_format() -> None:
    assert not is_valid_business_code("2000000")
    assert not is_valid_business_code("1000000x")
    valid = str(issue_business_codes(1, np.arange(5))[0])
    assert not is_valid_business_code("2" + valid[1:])  # type 2 does not exist
    first = next_business_code(1, None)
    assert is_valid_business_code(first)
    assert next_business_code(1, first) > first
