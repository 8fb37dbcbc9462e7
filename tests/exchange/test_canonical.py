"""Canonical bytes: orjson writes exactly what the documented ``json.dumps`` call writes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.exchange.canonical import _dumps


def _reference(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_every_code_point_is_written_as_json_writes_it() -> None:
    # In chunks: one string per 4,096 code points (surrogates cannot be encoded by either).
    for start in range(0, 0x110000, 4096):
        text = "".join(
            chr(c) for c in range(start, min(start + 4096, 0x110000)) if not 0xD800 <= c <= 0xDFFF
        )
        document = {"v": 1, "kind": "exchange.message", "user_id": text}
        assert _dumps(document) == _reference(document), hex(start)


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),  # past 64 bits: the json fallback
    st.text(),
    st.lists(st.text(), max_size=5),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=20), _VALUES, max_size=25))
def test_record_documents_are_written_as_json_writes_them(document: dict[str, Any]) -> None:
    assert _dumps(document) == _reference(document)
