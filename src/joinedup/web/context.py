"""What the web layer knows about the request in flight: its id.

The request id comes from a well-formed ``X-Request-Id`` header or is generated; it is kept in
the ASGI scope (so error documents can quote it) and bound to every log line of the request.
"""

from __future__ import annotations

import re
import uuid

from starlette.types import Scope

from joinedup.core.logging import mask_personal_data

REQUEST_ID_SCOPE_KEY = "joinedup.request_id"
REQUEST_ID_HEADER = "X-Request-Id"
_WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")


def new_request_id() -> str:
    while True:
        candidate = uuid.uuid4().hex
        # A run of 11 digits would be masked as a personal code in the logs.
        if mask_personal_data(candidate) == candidate:
            return candidate


def accept_request_id(header: str | None) -> str:
    """The caller's id when it is well formed and safe to log verbatim, else a new one."""
    if header and _WELL_FORMED.fullmatch(header) and mask_personal_data(header) == header:
        return header
    return new_request_id()


def request_id_of(scope: Scope) -> str | None:
    value = scope.get(REQUEST_ID_SCOPE_KEY)
    return value if isinstance(value, str) else None
