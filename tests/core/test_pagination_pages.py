"""A page of a list: the parametrised model ``Page[X]`` is made once per item type."""

from __future__ import annotations

import gc
import weakref

from pydantic import BaseModel

from joinedup.core.pagination import Page


class _Item(BaseModel):
    number: int


def _made_in_a_function() -> weakref.ref[type]:
    return weakref.ref(Page[_Item])


def test_a_page_type_made_in_a_function_outlives_a_garbage_collection() -> None:
    """Pydantic keeps ``Page[X]`` only while something refers to it: a list function's
    ``Page[X](…)`` had its schema built again after every collection."""
    made = _made_in_a_function()
    gc.collect()
    assert made() is not None
    assert Page[_Item] is made()
    page = Page[_Item](items=[_Item(number=1)], next_cursor="abc")
    assert page.model_dump() == {"items": [{"number": 1}], "next_cursor": "abc"}
    assert Page[_Item].model_json_schema()["title"] == "Page[_Item]"
    assert Page[int] is not Page[_Item]
