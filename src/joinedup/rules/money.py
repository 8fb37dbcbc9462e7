"""Money is exact: integer minor units (cents) in ``int64`` columns, Python ``int`` one by one.

Rounding rules (the same in both evaluation modes, so they agree to the cent):

* Amounts are added, subtracted and compared in whole cents, exactly.
* A rate from a parameter (``0.15``, a scale's ``0.04``) is an exact decimal ``num/den``; an
  amount times a rate is computed as ``(cents × num) / den`` — an exact integer product and one
  correctly rounded division — so the result is the nearest double to the exact quotient and
  rounds exactly as decimal arithmetic would, for amounts below 2⁵³ / num cents.
* A money *variable* is rounded to the cent once, when its formula's result is stored, half away
  from zero (``0.5`` cent → 1 cent, ``-0.5`` → ``-1``). Intermediate values inside one formula
  keep their fraction of a cent. ``round_cents(x)`` rounds explicitly inside a formula.
* Money inputs are euros: integers and decimals are taken exactly; binary floats are rounded to
  the nearest cent as their decimal text would be (1.005 → 1.01).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import numpy as np
import numpy.typing as npt

CURRENCY_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$"}
_CENT = Decimal("0.01")


def round_half_away(value: float) -> int:
    """Fractional cents → whole cents, half away from zero (scalar form): add half a cent
    away from zero, then drop the fraction (``int`` truncates toward zero)."""
    return int(value + math.copysign(0.5, value))


def round_half_away_array(values: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Fractional cents → whole cents, half away from zero: the columnar form of the same
    operations (``astype`` truncates toward zero, like ``int``)."""
    if values.dtype.kind in "iub":
        return values.astype(np.int64, copy=False)
    shifted: npt.NDArray[np.float64] = np.copysign(0.5, values)
    shifted += values
    return shifted.astype(np.int64)


def to_cents(value: Any) -> int:
    """An amount in euros (int, Decimal, str or float) → whole cents (half away from zero)."""
    if isinstance(value, bool):
        raise TypeError("a yes/no value is not an amount of money")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not an amount of money")
        value = repr(value)
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError) as exc:
        raise ValueError(f"{value!r} is not an amount of money") from exc
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount of money")
    return int((amount / _CENT).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def cents_array(values: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """A column of euros → whole cents. Integer columns are whole euros; floats are rounded."""
    if values.dtype.kind in "iu":
        return values.astype(np.int64) * 100
    if values.dtype.kind == "f":
        if not np.all(np.isfinite(values)):
            raise ValueError("contains values that are not finite numbers")
        cents = np.asarray(values, dtype=np.float64) * 100.0
        # 1.005 € is 100.49999999999999 cents in binary: nudge by a millionth of a cent so a
        # written half cent rounds away from zero, as the decimal text does (to_cents)
        cents += np.copysign(1e-6, cents)
        return round_half_away_array(cents)
    if values.dtype.kind == "O":
        return np.fromiter((to_cents(v) for v in values), dtype=np.int64, count=len(values))
    raise ValueError(f"holds {values.dtype} values, not amounts of money")


def to_decimal(cents: int) -> Decimal:
    return (Decimal(cents) * _CENT).quantize(_CENT)


def format_money(cents: float, currency: str = "EUR") -> str:
    """``120000`` → ``€1,200.00``; fractions of a cent are shown rounded."""
    whole = round_half_away(cents) if isinstance(cents, float) else int(cents)
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
    sign = "−" if whole < 0 else ""
    euros, rest = divmod(abs(whole), 100)
    return f"{sign}{symbol}{euros:,}.{rest:02d}"
