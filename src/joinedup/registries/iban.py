"""International Bank Account Numbers (ISO 13616): normalising, validating and making them.

An IBAN is a country code, two check digits and the national account number (BBAN). It is
valid when it has its country's length and, read with the first four characters moved to the
end and letters replaced by 10..35, it is 1 modulo 97. The check works on whole arrays (the
batch import validates hundreds of thousands at once); one IBAN is an array of one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

#: The synthetic country's ISO 3166 code (a user-assigned code, so it is nobody's real one).
NATIONAL_COUNTRY = "XJ"

#: IBAN length per country (SWIFT's IBAN registry), plus the synthetic country.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    NATIONAL_COUNTRY: 20,
}  # fmt: skip

MAX_IBAN_LENGTH = 34


def normalise_iban(text: str) -> str:
    """Upper case without spaces (the electronic format)."""
    return "".join(text.split()).upper()


def _code_points(arr: npt.NDArray[np.str_], width: int) -> npt.NDArray[np.int64]:
    """An ``n × width`` matrix of code points (0 past the end of a shorter string)."""
    n = arr.shape[0]
    fixed = arr.astype(f"U{width}")  # longer strings are cut; callers check lengths first
    return np.frombuffer(fixed.tobytes(), dtype="<u4").reshape(n, width).astype(np.int64)


def _mod97(chars: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``int(s) mod 97`` of rows of digits and capital letters (letters count as 10..35)."""
    value = np.zeros(chars.shape[0], dtype=np.int64)
    for column in range(chars.shape[1]):
        c = chars[:, column]
        is_digit = (c >= 48) & (c <= 57)
        value = np.where(is_digit, value * 10 + (c - 48), value * 100 + (c - 55)) % 97
    return value


def iban_problems(ibans: Sequence[str] | npt.NDArray[np.str_]) -> npt.NDArray[np.str_]:
    """For each (normalised) IBAN, "" when valid, else what is wrong with it."""
    arr = np.asarray(ibans, dtype=np.str_).reshape(-1)
    n = arr.shape[0]
    problems = np.full(n, "", dtype=object)
    if n == 0:
        return problems.astype(np.str_)
    lengths = np.char.str_len(arr).astype(np.int64)
    chars = _code_points(np.where(lengths <= MAX_IBAN_LENGTH, arr, ""), MAX_IBAN_LENGTH)
    inside = np.arange(MAX_IBAN_LENGTH)[None, :] < lengths[:, None]
    digit = (chars >= 48) & (chars <= 57)
    upper = (chars >= 65) & (chars <= 90)
    well_formed = (
        (lengths >= 5)
        & (lengths <= MAX_IBAN_LENGTH)
        & np.where(inside, digit | upper, True).all(axis=1)
        & upper[:, 0]
        & upper[:, 1]
        & digit[:, 2]
        & digit[:, 3]
    )
    problems[~well_formed] = (
        "is not an IBAN (two capital letters, two digits, then letters and digits)"
    )
    countries = np.where(well_formed, arr.astype("U2"), "")
    expected = np.array([IBAN_LENGTHS.get(c, 0) for c in countries.tolist()], dtype=np.int64)
    unknown = well_formed & (expected == 0)
    problems[unknown] = "has a country code without an IBAN format"
    wrong_length = well_formed & ~unknown & (lengths != expected)
    problems[wrong_length] = "does not have its country's IBAN length"
    candidates = np.flatnonzero(well_formed & ~unknown & ~wrong_length)
    for length in np.unique(lengths[candidates]).tolist():
        rows = candidates[lengths[candidates] == length]
        part = chars[rows, :length]
        rearranged = np.concatenate([part[:, 4:], part[:, :4]], axis=1)
        bad = _mod97(rearranged) != 1
        problems[rows[bad]] = "fails the ISO 13616 mod-97 check: a character is mistyped"
    return problems.astype(np.str_)


def iban_problem(iban: str) -> str | None:
    """What is wrong with one IBAN (normalise it first), or None when it is valid."""
    problem = str(iban_problems([iban])[0])
    return problem or None


def make_ibans(country: str, bbans: Sequence[str] | npt.NDArray[np.str_]) -> npt.NDArray[np.str_]:
    """IBANs of ``country`` for same-length national account numbers (check digits computed)."""
    arr = np.asarray(bbans, dtype=np.str_).reshape(-1)
    if arr.shape[0] == 0:
        return arr
    widths = np.char.str_len(arr)
    width = int(widths.max())
    if int(widths.min()) != width:
        raise ValueError("national account numbers of one country have one length")
    rearranged = np.char.add(arr, country + "00")
    check = 98 - _mod97(_code_points(rearranged, width + 4))
    return np.char.add(np.char.add(country, np.char.zfill(check.astype(np.str_), 2)), arr)
