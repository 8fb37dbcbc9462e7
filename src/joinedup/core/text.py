"""Checks of free text that people and systems send the platform."""

from __future__ import annotations

import re

#: Control characters (C0, DEL, C1): nothing a name, an address or a citation holds, and
#: PostgreSQL refuses NUL in text.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

#: What a refusal says of such text.
CONTROL_CHARACTERS_MESSAGE = "must not contain control characters"


def has_control_characters(value: str) -> bool:
    return _CONTROL.search(value) is not None
