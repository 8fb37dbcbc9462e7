"""Validation rules shared by the one-record use cases and the batch imports.

Each rule takes whole columns (numpy arrays) and records the rows that break it in a
:class:`Problems` collector; a one-record use case passes columns of length one. So a batch of
a million persons is checked by exactly the rules that check one birth, at numpy speed. Every
rule runs before anything is written, and :meth:`Problems.raise_if_any` turns what was found
into one :class:`~joinedup.core.errors.ValidationFailed` listing every problem.

Messages name the field and the rule, never the offending value: error documents end up in
logs, and the values are personal data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from joinedup.core.errors import ValidationFailed

#: How many offending rows an error names per rule (the count says how many there were).
ROWS_SHOWN = 5

NaT = np.datetime64("NaT", "D")


def dates(values: Sequence[date | None] | npt.NDArray[Any]) -> npt.NDArray[np.datetime64]:
    """A ``datetime64[D]`` column (None becomes NaT)."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "M":
        return values.astype("datetime64[D]")
    return np.array([NaT if v is None else np.datetime64(v, "D") for v in values], "datetime64[D]")


def day(value: date) -> np.datetime64:
    return np.datetime64(value, "D")


@dataclass
class Problems:
    """What is wrong with an input. ``subject`` names the batch part ("persons") or is None
    for a one-record use case (then rows are not mentioned)."""

    subject: str | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    #: Row numbers of the input for the rows this collector sees (see :meth:`subset`).
    row_map: npt.NDArray[np.int64] | None = None

    def subset(self, rows: npt.NDArray[np.int64] | npt.NDArray[np.bool_]) -> Problems:
        """A collector for the rules that look at some rows only; it reports input row numbers."""
        selected = np.asarray(rows)
        if selected.dtype == np.bool_:
            selected = np.flatnonzero(selected)
        base = self.row_map[selected] if self.row_map is not None else selected
        return Problems(self.subject, self.items, base.astype(np.int64))

    def add(self, field_name: str, message: str, rows: npt.NDArray[np.int64] | None = None) -> None:
        item: dict[str, Any] = {"field": field_name, "message": message}
        if self.subject is not None:
            item["field"] = f"{self.subject}.{field_name}"
            if rows is not None:
                if self.row_map is not None:
                    rows = self.row_map[rows]
                    rows = rows[rows >= 0]  # -1: a row from the database, not from the input
                item["rows"] = [int(r) for r in rows[:ROWS_SHOWN]]
                item["count"] = int(rows.shape[0])
        self.items.append(item)

    def check(self, failed: npt.NDArray[np.bool_] | bool, field_name: str, message: str) -> bool:
        """Record ``message`` for the rows where ``failed``; True when there were any."""
        mask = np.asarray(failed, dtype=np.bool_).reshape(-1)
        if not mask.any():
            return False
        self.add(field_name, message, np.flatnonzero(mask))
        return True

    def extend(self, other: Problems) -> None:
        self.items.extend(other.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        parts = []
        for item in self.items:
            text = f"{item['field']}: {item['message']}"
            if "rows" in item:
                shown = ", ".join(str(r) for r in item["rows"])
                more = item["count"] - len(item["rows"])
                text += f" (rows {shown}" + (f" and {more} more)" if more else ")")
            parts.append(text)
        raise ValidationFailed("; ".join(parts), errors=self.items)


# --- rules -----------------------------------------------------------------------------------


def check_text(
    problems: Problems,
    field_name: str,
    values: npt.NDArray[np.str_] | Sequence[str],
    *,
    max_length: int,
    required: bool = True,
) -> None:
    arr = np.asarray(values, dtype=np.str_).reshape(-1)
    if arr.shape[0] == 0:
        return
    stripped = np.char.str_len(np.char.strip(arr))
    if required:
        problems.check(stripped == 0, field_name, "must not be empty")
    problems.check(np.char.str_len(arr) > max_length, field_name, f"is longer than {max_length}")


def check_one_of(
    problems: Problems, field_name: str, values: npt.NDArray[Any], allowed: Sequence[str]
) -> None:
    bad = ~np.isin(np.asarray(values, dtype=np.str_), np.asarray(allowed, dtype=np.str_))
    problems.check(bad, field_name, "must be one of " + ", ".join(allowed))


def check_required_dates(
    problems: Problems, field_name: str, values: npt.NDArray[np.datetime64]
) -> npt.NDArray[np.bool_]:
    missing = np.isnat(values)
    problems.check(missing, field_name, "is required")
    return missing


def check_not_future(
    problems: Problems, field_name: str, values: npt.NDArray[np.datetime64], today: date
) -> None:
    problems.check(~np.isnat(values) & (values > day(today)), field_name, "is in the future")


def check_order(
    problems: Problems,
    field_name: str,
    earlier: npt.NDArray[np.datetime64],
    later: npt.NDArray[np.datetime64],
    message: str,
    *,
    strict: bool = False,
) -> None:
    """``later`` must not come before ``earlier`` (NaT on either side passes)."""
    known = ~np.isnat(earlier) & ~np.isnat(later)
    wrong = (later <= earlier) if strict else (later < earlier)
    problems.check(known & wrong, field_name, message)


def check_unique(problems: Problems, field_name: str, values: npt.NDArray[Any]) -> None:
    arr = np.asarray(values)
    if arr.shape[0] < 2:
        return
    _, first = np.unique(arr, return_index=True)
    duplicated = np.ones(arr.shape[0], dtype=np.bool_)
    duplicated[first] = False  # the first of each value is fine, the repeats are not
    problems.check(duplicated, field_name, "appears more than once in the input")


def years_between(
    earlier: npt.NDArray[np.datetime64], later: npt.NDArray[np.datetime64]
) -> npt.NDArray[np.int64]:
    """Whole years from ``earlier`` to ``later`` (an age), vectorised."""
    e_year = earlier.astype("datetime64[Y]").astype(np.int64)
    l_year = later.astype("datetime64[Y]").astype(np.int64)
    # Compare month and day, not day of year, so leap years do not shift birthdays.
    e_md = _month_day(earlier)
    l_md = _month_day(later)
    ages: npt.NDArray[np.int64] = (l_year - e_year - (l_md < e_md)).astype(np.int64)
    return ages


def _month_day(values: npt.NDArray[np.datetime64]) -> npt.NDArray[np.int64]:
    months = values.astype("datetime64[M]")
    month = months.astype(np.int64) % 12
    dom = (values - months.astype("datetime64[D]")).astype(np.int64)
    result: npt.NDArray[np.int64] = (month * 100 + dom).astype(np.int64)
    return result
