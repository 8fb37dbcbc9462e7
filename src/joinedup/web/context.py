"""What the web layer knows about the request in flight: its id.

The request id comes from a well-formed ``X-Request-Id`` header or is generated; it is kept in
the ASGI scope (so error documents can quote it) and bound to every log line of the request.
"""

from __future__ import annotations

import re

from starlette.types import Scope

from joinedup.core.ids import new_id
from joinedup.core.logging import PERSONAL_CODE, mask_personal_data

REQUEST_ID_SCOPE_KEY = "joinedup.request_id"
REQUEST_ID_HEADER = "X-Request-Id"
_WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")


def new_request_id() -> str:
    # new_id, not uuid4: uuid4's system call gives up the interpreter lock on the event
    # loop's thread, which then waits for a busy query thread to give it back
    while True:
        candidate = new_id().hex
        # A run of 11 digits would be masked as a personal code in the logs; lower-case hex
        # can match none of the other masks (they need capitals, "@" or "[parameters")
        if PERSONAL_CODE.search(candidate) is None:
            return candidate


def accept_request_id(header: str | None) -> str:
    """The caller's id when it is well formed and safe to log verbatim, else a new one."""
    if header and _WELL_FORMED.fullmatch(header) and mask_personal_data(header) == header:
        return header
    return new_request_id()


def request_id_of(scope: Scope) -> str | None:
    value = scope.get(REQUEST_ID_SCOPE_KEY)
    return value if isinstance(value, str) else None
