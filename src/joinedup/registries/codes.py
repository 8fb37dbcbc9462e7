"""National identifiers with check digits: personal codes and business registration codes.

**Personal code** (11 digits, ``GYYMMDDSSSC``), the scheme of Estonia's *isikukood*:

- ``G`` century and sex: 1/2 born 1800–1899, 3/4 1900–1999, 5/6 2000–2099, 7/8 2100–2199;
  odd is male, even is female;
- ``YYMMDD`` the birth date; ``SSS`` a serial among people born that day; ``C`` the check digit.

The check digit is the weighted sum of the first ten digits modulo 11 with weights
1 2 3 4 5 6 7 8 9 1; when that gives 10, the weights 3 4 5 6 7 8 9 1 2 3 are tried, and when
that too gives 10 the check digit is 0.

Estonia's fallback lets some single-digit errors through (the mistyped code can fall into the
second stage and match by chance). joinedup's register therefore never *issues* a serial whose
first stage gives 10, and refuses such codes: every single-digit error is then caught, because
one changed digit changes the first-stage sum by ``w·δ ≢ 0 (mod 11)``. About one serial in
eleven is skipped, which leaves ~909 codes per birth date and sex.

**Business registration code** (8 digits, ``TNNNNNNC``): a type digit (1 company, 7 state or
local government body, 8 non-profit association, 9 foundation), six serial digits and a check
digit computed the same way with weights 1–7 (fallback 3–9), with the same issuing rule.

Every function works on whole arrays so the batch imports validate a million codes at numpy
speed; the one-record use cases call the same functions with arrays of one.
"""

from __future__ import annotations

import bisect
from collections.abc import Container, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from operator import mul

import numpy as np
import numpy.typing as npt

PERSONAL_CODE_LENGTH = 11
BUSINESS_CODE_LENGTH = 8

_PERSON_W1 = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 1], dtype=np.int64)
_PERSON_W2 = np.array([3, 4, 5, 6, 7, 8, 9, 1, 2, 3], dtype=np.int64)
_BUSINESS_W1 = np.array([1, 2, 3, 4, 5, 6, 7], dtype=np.int64)
_BUSINESS_W2 = np.array([3, 4, 5, 6, 7, 8, 9], dtype=np.int64)

#: Business code type digits.
COMPANY, GOVERNMENT_BODY, NON_PROFIT, FOUNDATION = 1, 7, 8, 9

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
DateArray = npt.NDArray[np.datetime64]


def _as_str_array(codes: Sequence[str] | npt.NDArray[np.str_]) -> npt.NDArray[np.str_]:
    return np.asarray(codes, dtype=np.str_)


def digit_matrix(
    codes: Sequence[str] | npt.NDArray[np.str_], width: int
) -> tuple[IntArray, BoolArray]:
    """Codes as an ``n × width`` digit matrix, and a mask of those that are not ``width`` digits."""
    arr = _as_str_array(codes)
    n = arr.shape[0]
    if n == 0:
        return np.zeros((0, width), dtype=np.int64), np.zeros(0, dtype=np.bool_)
    lengths = np.char.str_len(arr)
    fixed = np.where(lengths == width, arr, "0" * width).astype(f"U{width}")
    # A U-string is UTF-32: one code point per 4 bytes, little-endian on every platform numpy
    # supports; non-ASCII characters land outside 48..57 and are caught below.
    raw = np.frombuffer(fixed.tobytes(), dtype="<u4").reshape(n, width).astype(np.int64) - 48
    malformed = (lengths != width) | ((raw < 0) | (raw > 9)).any(axis=1)
    raw[malformed] = 0
    return raw, malformed


def mod11_check(digits: IntArray, w1: IntArray, w2: IntArray) -> tuple[IntArray, BoolArray]:
    """Estonian-style mod-11 check digits of each row, and whether the first stage gave 10."""
    first = (digits * w1).sum(axis=1) % 11
    second = (digits * w2).sum(axis=1) % 11
    check = np.where(first < 10, first, np.where(second < 10, second, 0))
    return check.astype(np.int64), first == 10


def personal_code_check_digit(first_ten: str) -> int:
    """The check digit of a personal code's first ten digits (both stages, as Estonia's)."""
    digits, malformed = digit_matrix([first_ten], 10)
    if malformed[0]:
        raise ValueError("a personal code's first part is ten digits")
    return int(mod11_check(digits, _PERSON_W1, _PERSON_W2)[0][0])


@dataclass(frozen=True)
class PersonalCodeReport:
    """What a batch of personal codes says, and which ones are wrong and why."""

    malformed: BoolArray  # not 11 digits
    bad_check_digit: BoolArray  # check digit mismatch, or a serial that is never issued
    bad_date: BoolArray  # century digit 0 or 9, or no such calendar day
    birth_date: DateArray  # NaT where the code is malformed or has no valid date
    sex: npt.NDArray[np.str_]  # "M" or "F" ("" where malformed)

    @property
    def invalid(self) -> BoolArray:
        return self.malformed | self.bad_check_digit | self.bad_date


def _calendar_dates(year: IntArray, month: IntArray, day: IntArray) -> tuple[DateArray, BoolArray]:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_days = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
    ok_month = (month >= 1) & (month <= 12)
    m0 = np.clip(month, 1, 12) - 1
    limit = month_days[m0] + ((m0 == 1) & leap)
    ok = ok_month & (day >= 1) & (day <= limit)
    months = np.where(ok, (year - 1970) * 12 + m0, 0).astype("datetime64[M]")
    dates = months.astype("datetime64[D]") + np.where(ok, day - 1, 0).astype("timedelta64[D]")
    return np.where(ok, dates, np.datetime64("NaT", "D")), ~ok


def inspect_personal_codes(codes: Sequence[str] | npt.NDArray[np.str_]) -> PersonalCodeReport:
    """Check every code (format, check digit, issuing rule, date) and decode date and sex."""
    digits, malformed = digit_matrix(codes, PERSONAL_CODE_LENGTH)
    check, first_is_ten = mod11_check(digits[:, :10], _PERSON_W1, _PERSON_W2)
    bad_check = ~malformed & ((check != digits[:, 10]) | first_is_ten)
    g = digits[:, 0]
    year = 1800 + 100 * ((g - 1) // 2) + digits[:, 1] * 10 + digits[:, 2]
    month = digits[:, 3] * 10 + digits[:, 4]
    day = digits[:, 5] * 10 + digits[:, 6]
    dates, bad_calendar = _calendar_dates(year, month, day)
    bad_date = ~malformed & ((g < 1) | (g > 8) | bad_calendar)
    dates = np.where(malformed | bad_date, np.datetime64("NaT", "D"), dates)
    sex = np.where(malformed, "", np.where(g % 2 == 1, "M", "F"))
    return PersonalCodeReport(malformed, bad_check, bad_date, dates, sex)


_W1 = tuple(int(w) for w in _PERSON_W1)
_W2 = tuple(int(w) for w in _PERSON_W2)


def is_valid_personal_code(code: str) -> bool:
    """One code, by the rules of :func:`inspect_personal_codes` (which does it for arrays):
    a numpy round trip costs ~100× more than these few integer operations for one value."""
    if len(code) != PERSONAL_CODE_LENGTH or not code.isascii() or not code.isdigit():
        return False
    digits = [ord(c) - 48 for c in code]
    first = sum(map(mul, digits, _W1)) % 11  # map stops at the shorter, as zip does
    second = sum(map(mul, digits, _W2)) % 11
    check = first if first < 10 else (second if second < 10 else 0)
    if first == 10 or check != digits[10]:
        return False
    century = digits[0]
    if not 1 <= century <= 8:
        return False
    year = 1800 + 100 * ((century - 1) // 2) + digits[1] * 10 + digits[2]
    try:
        date(year, digits[3] * 10 + digits[4], digits[5] * 10 + digits[6])
    except ValueError:
        return False
    return True


# The serial's contribution to the first-stage sum (weights 8 9 1 on its three digits) and,
# for each residue of the prefix sum, the serials whose first stage does not give 10.
_SERIALS = np.arange(1000, dtype=np.int64)
_SERIAL_PART = (8 * (_SERIALS // 100) + 9 * (_SERIALS // 10 % 10) + (_SERIALS % 10)) % 11
_ISSUABLE_LISTS = [_SERIALS[(r + _SERIAL_PART) % 11 != 10] for r in range(11)]
#: Codes available per birth date and sex (the smallest over the eleven residues).
SERIALS_PER_DAY = min(len(s) for s in _ISSUABLE_LISTS)
_ISSUABLE = np.stack([s[:SERIALS_PER_DAY] for s in _ISSUABLE_LISTS])


_ISSUABLE_SERIALS = tuple(tuple(int(s) for s in serials) for serials in _ISSUABLE_LISTS)


def first_free_personal_code(prefix: str, taken: Container[str], start: int = 0) -> str | None:
    """The first code in issuing order after a seven-digit ``GYYMMDD`` prefix that is not in
    ``taken`` (``None`` when every one is): :func:`issuable_personal_codes` for one birth,
    in integer arithmetic, computing only the codes it looks at. ``start``: the serials
    below it are not looked at (known to be taken)."""
    if len(prefix) != 7 or not prefix.isascii() or not prefix.isdigit():
        raise ValueError("a personal code prefix is seven digits")
    digits = [ord(c) - 48 for c in prefix]
    first_sum = sum(d * w for d, w in zip(digits, _W1[:7], strict=True))
    second_sum = sum(d * w for d, w in zip(digits, _W2[:7], strict=True))
    serials = _ISSUABLE_SERIALS[first_sum % 11]
    for serial in serials[bisect.bisect_left(serials, start) :] if start else serials:
        a, b, c = serial // 100, serial // 10 % 10, serial % 10
        first = (first_sum + a * _W1[7] + b * _W1[8] + c * _W1[9]) % 11
        second = (second_sum + a * _W2[7] + b * _W2[8] + c * _W2[9]) % 11
        check = first if first < 10 else (second if second < 10 else 0)
        code = f"{prefix}{serial:03d}{check}"
        if code not in taken:
            return code
    return None


def personal_code_prefixes(birth_dates: DateArray, sexes: npt.NDArray[np.str_]) -> IntArray:
    """The first seven digits (``GYYMMDD``) as integers, for birth dates 1800-01-01..2199-12-31."""
    days = np.asarray(birth_dates, dtype="datetime64[D]")
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    female = np.asarray(sexes) == "F"
    g = 2 * ((years - 1800) // 100) + 1 + female
    prefixes: IntArray = g * 1_000_000 + (years % 100) * 10_000 + months * 100 + dom
    return prefixes


def issue_personal_codes(
    birth_dates: DateArray, sexes: npt.NDArray[np.str_], ranks: IntArray, *, from_top: bool = False
) -> npt.NDArray[np.str_]:
    """The personal codes of people with these birth dates and sexes, the ``rank``-th issuable
    serial of each (date, sex); ``from_top`` counts ranks down from serial 999.

    The register issues serials upwards from 000 (:func:`joinedup.registries` use cases);
    synthetic loads take them downwards from 999, so the two never meet in practice.
    """
    ranks = np.asarray(ranks, dtype=np.int64)
    if ranks.size and (ranks.min() < 0 or ranks.max() >= SERIALS_PER_DAY):
        raise ValueError(f"at most {SERIALS_PER_DAY} personal codes per birth date and sex")
    prefix = personal_code_prefixes(birth_dates, sexes)
    prefix_digits = (prefix[:, None] // 10 ** np.arange(6, -1, -1)) % 10
    residue = (prefix_digits * _PERSON_W1[:7]).sum(axis=1) % 11
    column = SERIALS_PER_DAY - 1 - ranks if from_top else ranks
    serial = _ISSUABLE[residue, column]
    first_ten = prefix * 1000 + serial
    all_digits = (first_ten[:, None] // 10 ** np.arange(9, -1, -1)) % 10
    check, _ = mod11_check(all_digits, _PERSON_W1, _PERSON_W2)
    codes = first_ten * 10 + check
    return np.char.zfill(codes.astype(np.str_), PERSONAL_CODE_LENGTH)


def issuable_serials(prefix: str) -> list[int]:
    """Serials that may be issued after a seven-digit ``GYYMMDD`` prefix, in issuing order."""
    digits, malformed = digit_matrix([prefix], 7)
    if malformed[0]:
        raise ValueError("a personal code prefix is seven digits")
    residue = int((digits[0] * _PERSON_W1[:7]).sum() % 11)
    return [int(s) for s in _ISSUABLE_LISTS[residue]]


@lru_cache(maxsize=4096)
def issuable_personal_codes(prefix: str) -> tuple[str, ...]:
    """Every personal code that may be issued after a seven-digit ``GYYMMDD`` prefix, in
    issuing order (computed at once and remembered: a registrar issues many per day)."""
    serials = np.array(issuable_serials(prefix), dtype=np.int64)
    first_ten = int(prefix) * 1000 + serials
    digits = (first_ten[:, None] // 10 ** np.arange(9, -1, -1)) % 10
    check, _ = mod11_check(digits, _PERSON_W1, _PERSON_W2)
    codes = np.char.zfill((first_ten * 10 + check).astype(np.str_), PERSONAL_CODE_LENGTH)
    return tuple(str(code) for code in codes)


def complete_personal_code(prefix: str, serial: int) -> str:
    """``prefix`` (7 digits) + ``serial`` (3 digits) + the check digit."""
    first_ten = f"{prefix}{serial:03d}"
    return first_ten + str(personal_code_check_digit(first_ten))


# --- business registration codes -------------------------------------------------------------


def inspect_business_codes(
    codes: Sequence[str] | npt.NDArray[np.str_],
) -> tuple[BoolArray, BoolArray]:
    """Masks of codes that are not 8 digits, and of codes whose check digit or type is wrong."""
    digits, malformed = digit_matrix(codes, BUSINESS_CODE_LENGTH)
    check, first_is_ten = mod11_check(digits[:, :7], _BUSINESS_W1, _BUSINESS_W2)
    bad_type = ~np.isin(digits[:, 0], [COMPANY, GOVERNMENT_BODY, NON_PROFIT, FOUNDATION])
    bad = ~malformed & ((check != digits[:, 7]) | first_is_ten | bad_type)
    return malformed, bad


def is_valid_business_code(code: str) -> bool:
    malformed, bad = inspect_business_codes([code])
    return not bool(malformed[0] or bad[0])


def issue_business_codes(kind: int, serials: IntArray) -> npt.NDArray[np.str_]:
    """Codes of type ``kind`` for candidate serials (0..999999), skipping unissuable ones.

    Returns one code per issuable candidate, in candidate order, so callers pass a few more
    candidates than they need (one in eleven is skipped).
    """
    serials = np.asarray(serials, dtype=np.int64)
    first_seven = kind * 1_000_000 + serials
    digits = (first_seven[:, None] // 10 ** np.arange(6, -1, -1)) % 10
    check, first_is_ten = mod11_check(digits, _BUSINESS_W1, _BUSINESS_W2)
    codes = (first_seven * 10 + check)[~first_is_ten]
    return codes.astype(np.str_)


def next_business_code(kind: int, after: str | None) -> str:
    """The first issuable code of type ``kind`` after ``after`` (the highest one issued so far)."""
    serial = 0 if after is None else int(after[1:7]) + 1
    while serial < 1_000_000:
        candidates = issue_business_codes(kind, np.arange(serial, min(serial + 20, 1_000_000)))
        if candidates.size:
            return str(candidates[0])
        serial += 20
    raise ValueError("no business registration code of this type is left")
