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


def test_the_data_usage_template_writes_the_canonical_bytes_exactly() -> None:
    """The bulk path (one text per call, three values per record) is byte for byte the
    documented canonical form, whatever the values hold (quotes, escapes, any code point)."""
    import uuid as _uuid
    from datetime import UTC, date, datetime

    from joinedup.exchange.canonical import usage_canonical, usage_leaf
    from joinedup.exchange.usage import Receiver, usage_records

    for subject, legal_basis, hidden in (
        ("38001085718", "Family Benefits Act § 23 (1)", None),
        ('a"b\\c\u2028\x00é😀', 'say "yes" \n\t', date(2030, 1, 2)),
    ):
        rows = usage_records(
            logged_at=datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC),
            subjects=[subject, "49912310000", subject],
            channel="exchange",
            receiver=Receiver("GOV", "70000001", "Sotsiaalkindlustusamet ‹SKA›", "benefits"),
            service_xroad_id="JOINEDUP/GOV/70000002/population/population-extract",
            action="child-benefit (population-extract)",
            fields=["personRef", "birthDate"],
            purpose="child-benefit",
            legal_basis=legal_basis,
            case_reference="law-change/x",
            user_id=None,
            represented_party=None,
            message_id=str(_uuid.uuid4()),
            law_enforcement=hidden is not None,
            hidden_until=hidden,
        )
        assert [row["subject_code"] for row, _ in rows] == [subject, "49912310000"]
        for row, leaf in rows:
            assert leaf == usage_leaf(row, usage_canonical(row))
