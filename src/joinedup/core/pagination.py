"""Keyset pagination, used by every list endpoint (STYLE.md habit 11).

A page is the rows after an opaque cursor, ordered by a unique key (one or more columns).
No OFFSET, no exact total count: both degrade badly at millions of rows.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, DateTime, Select, TypeDecorator, and_, or_
from sqlalchemy.orm import Session

from joinedup.core.errors import ValidationFailed

T = TypeVar("T")
MAX_LIMIT = 500
DEFAULT_LIMIT = 50


class Page(BaseModel, Generic[T]):
    """One page of a list. ``next_cursor`` is null on the last page."""

    items: list[T]
    next_cursor: str | None = None

    def __class_getitem__(cls, params: Any) -> Any:
        """``Page[X]``, made once. Pydantic keeps a parametrised model only while something
        refers to it (a weak cache; one made at a module's top level is also kept in that
        module): made inside a list function, it was dropped at the next garbage collection
        and its whole schema built again under load. The item types are the code's own: a
        bounded set."""
        key = (cls, params)
        found = _PARAMETRISED.get(key)
        if found is None:
            found = _PARAMETRISED[key] = super().__class_getitem__(params)
        return found


#: ``Page[X]`` by (generic class, parameters): kept for the life of the process.
_PARAMETRISED: dict[tuple[type, Any], Any] = {}


@dataclass(frozen=True)
class PageRequest:
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[Any]:
    """The key values in ``cursor``; a cursor that was not made by us is a 422, not a 500."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise _bad_cursor() from exc
    if not isinstance(values, list) or len(values) != width:
        raise _bad_cursor()
    return values


def _bad_cursor() -> ValidationFailed:
    return ValidationFailed(
        "cursor is not valid: pass the next_cursor of a previous page unchanged",
        parameter="cursor",
    )


def _is_instant(key: ColumnElement[Any]) -> bool:
    kind = key.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    return isinstance(kind, DateTime)


#: The range of the integer keys (64-bit columns): a value outside it cannot be bound.
_KEY_RANGE = range(-(2**63), 2**63)


def _python_type(key: ColumnElement[Any]) -> type | None:
    try:
        kind: type = key.type.python_type
    except NotImplementedError:
        return None
    return kind


def _typed(key: ColumnElement[Any], value: Any) -> Any:
    """A cursor's value as its key's type (an instant is written as text in the cursor); a
    value of another type (an object, null, a number for a text key or one beyond 64 bits)
    was not made by us, and the database would refuse to bind or compare it."""
    if _is_instant(key):
        if not isinstance(value, str):
            raise _bad_cursor()
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            raise _bad_cursor() from None
        if instant.tzinfo is None:  # the cursors we write name their time zone
            raise _bad_cursor()
        return instant
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise _bad_cursor()
    kind = _python_type(key)
    if kind is int and not (isinstance(value, int) and value in _KEY_RANGE):
        raise _bad_cursor()
    if kind is str and not isinstance(value, str):
        raise _bad_cursor()
    return value


def _after(keys: Sequence[ColumnElement[Any]], values: Sequence[Any], *, descending: bool) -> Any:
    """``(k1, k2, …) > (v1, v2, …)`` spelled portably (row values are not everywhere)."""
    clauses = []
    for i, key in enumerate(keys):
        equal_prefix = [keys[j] == values[j] for j in range(i)]
        step = key < values[i] if descending else key > values[i]
        clauses.append(and_(*equal_prefix, step))
    return or_(*clauses)


def page_after(request: PageRequest, keys: Sequence[ColumnElement[Any]]) -> list[Any] | None:
    """The key values a page starts after (its cursor's, each as its key's type; None for the
    first page), the request's limit checked: a limit out of range or a cursor not made by us
    is a 422. For :func:`keyset_page`, and for a list that builds its page statement once."""
    if not 1 <= request.limit <= MAX_LIMIT:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_LIMIT}", parameter="limit", value=request.limit
        )
    if not request.cursor:
        return None
    found = decode_cursor(request.cursor, len(keys))
    return [_typed(key, value) for key, value in zip(keys, found, strict=True)]


def keyset_page(
    session: Session,
    statement: Select[Any],
    *,
    keys: Sequence[ColumnElement[Any]],
    request: PageRequest,
    descending: bool = False,
    key_of: Any = None,
    mappings: bool = False,
) -> tuple[list[Any], str | None]:
    """Run ``statement`` for one page ordered by ``keys`` (unique together).

    ``key_of(row)`` gives a row's key values (default: the attributes named like the keys).
    Returns the rows (the first column's values, ORM objects for ``select(Model)``; with
    ``mappings``, each row as a mapping of its columns) and the cursor of the next page
    (``None`` when there is none).
    """
    values = page_after(request, keys)
    if values is not None:
        statement = statement.where(_after(keys, values, descending=descending))
    order = [key.desc() if descending else key.asc() for key in keys]
    page = statement.order_by(*order).limit(request.limit + 1)
    # fetched at once, not row by row (a few calls less a row)
    result = session.execute(page).mappings() if mappings else session.scalars(page)
    rows: list[Any] = list(result.all())
    has_more = len(rows) > request.limit
    rows = rows[: request.limit]
    if not has_more or not rows:
        return rows, None
    last = rows[-1]
    if key_of is None:
        names = [str(getattr(key, "key", None) or getattr(key, "name", "")) for key in keys]
        last_values = [last[name] if mappings else getattr(last, name) for name in names]
    else:
        last_values = list(key_of(last))
    return rows, encode_cursor(last_values)
