"""The X-Road message protocol for REST as joinedup speaks it: headers, the request hash,
error types and their problem documents.

**Request headers.** ``Authorization: Bearer <token>`` (the client subsystem's OAuth 2.0
access token); ``X-Road-Client: INSTANCE/CLASS/MEMBER/SUBSYSTEM`` (GovStack's
``Information-Mediator-Client`` and ``X-GovStack-Client`` are accepted as the same header;
given more than once they must agree); ``X-Road-Id`` (message id; generated, a UUID, when
absent); ``X-Road-UserId``; ``X-Road-Issue`` (case reference); ``X-Road-Represented-Party``.
X-Road has no standard header for the **purpose** of a call: joinedup reads the extension
header ``X-Road-Purpose``, or else the query parameter ``purpose``. The query parameter
``fields=a,b`` asks for some of the fields the right allows (default: all of them).
``purpose`` and ``fields`` are the mediator's parameters: they are not passed to the provider.

**X-Road-Request-Hash** is the standard base64 of SHA-512 over these bytes::

    METHOD "\\n" RAW_PATH "\\n" RAW_QUERY "\\n"
    for each of x-road-client, x-road-id, x-road-userid, x-road-issue,
        x-road-represented-party, x-road-purpose, content-type that has a value, in this
        order: NAME ":" VALUE "\\n"
    "\\n" BODY

where RAW_PATH and RAW_QUERY are the request target exactly as received (percent-encoded,
no ``?``), ``x-road-client`` is the client identifier from whichever alias carried it and
``x-road-id`` the message id (the generated one when the client sent none). The hash is also
in the message-log record, so a client can prove which request a record is about.

**Error types** (``X-Road-Error``, and ``x_road_error`` in the problem document) are X-Road's
``Client.…`` and ``Server.ServerProxy.…`` (:data:`ERRORS`), plus one joinedup extension:
``Client.ConsentMissing`` (403) — the purpose's lawful basis is the data subject's consent and
their consent to the purpose's data agreement is not in force that day; the refusal is decided
before the registry's query returns any data, and recorded like every refusal.

**Write services** (joinedup extension: the population register's civil-registration entry
points, :mod:`joinedup.exchange.write_services`) take ``POST`` with a JSON body and are
idempotent on the body's ``reference`` per client subsystem: a repeated request answers the
original answer again with ``Idempotent-Replay: true``; the same reference with another body
is a 409 problem.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joinedup.core.errors import PROBLEM_BASE

CLIENT_HEADERS = ("x-road-client", "information-mediator-client", "x-govstack-client")
HASHED_HEADERS = (
    "x-road-client",
    "x-road-id",
    "x-road-userid",
    "x-road-issue",
    "x-road-represented-party",
    "x-road-purpose",
    "content-type",
)
PROBLEM_MEDIA_TYPE = "application/problem+json"
#: Where the web layer keeps the request id in the ASGI scope (``joinedup.web.context``).
REQUEST_ID_SCOPE_KEY = "joinedup.request_id"

#: X-Road error type → (HTTP status, problem slug, title).
ERRORS: dict[str, tuple[int, str, str]] = {
    "Client.InvalidClientIdentifier": (
        400,
        "xroad-invalid-client-identifier",
        "The client identifier header is missing or malformed",
    ),
    "Client.InvalidRequest": (400, "xroad-invalid-request", "The request is not valid"),
    "Client.MissingPurpose": (400, "xroad-missing-purpose", "The call names no purpose"),
    "Client.AuthenticationFailed": (
        401,
        "xroad-authentication-failed",
        "The client subsystem is not authenticated",
    ),
    "Client.ClientIdentifierMismatch": (
        403,
        "xroad-client-identifier-mismatch",
        "The client header does not name the authenticated subsystem",
    ),
    "Client.AccessDenied": (403, "xroad-access-denied", "The client has no right to this call"),
    "Client.PurposeNotAllowed": (
        403,
        "xroad-purpose-not-allowed",
        "The client's right does not cover this purpose",
    ),
    "Client.FieldsNotAllowed": (
        403,
        "xroad-fields-not-allowed",
        "The client's right does not cover these fields",
    ),
    # joinedup extension: the purpose's lawful basis is consent, and the data subject's
    # consent to its data agreement is not in force today (never given, withdrawn, or given
    # to a version or agreement that no longer holds). Nothing was read.
    "Client.ConsentMissing": (
        403,
        "xroad-consent-missing",
        "The data subject has not consented to this purpose",
    ),
    "Server.ServerProxy.UnknownService": (404, "xroad-unknown-service", "No such service"),
    "Server.ServerProxy.ServiceFailed": (
        500,
        "xroad-service-failed",
        "The service failed to answer",
    ),
    "Server.ServerProxy.LoggingFailed": (
        500,
        "xroad-logging-failed",
        "The call could not be recorded, so its answer is withheld",
    ),
    "Server.ServerProxy.NetworkError": (
        502,
        "xroad-network-error",
        "The service could not be reached",
    ),
    "Server.ServerProxy.ServiceTimeout": (
        504,
        "xroad-service-timeout",
        "The service did not answer in time",
    ),
}

#: ``AccessDenied.reason`` → X-Road error type.
DENIALS = {
    "no-purpose": "Client.MissingPurpose",
    "no-right": "Client.AccessDenied",
    "right-expired": "Client.AccessDenied",
    "purpose-not-allowed": "Client.PurposeNotAllowed",
    "fields-not-allowed": "Client.FieldsNotAllowed",
    "consent-missing": "Client.ConsentMissing",
}


class MediationError(Exception):
    """The mediator refuses or fails a call: answered with ``X-Road-Error``."""

    def __init__(self, error_type: str, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.error_type = error_type
        self.detail = detail
        self.extensions = extensions

    @property
    def status(self) -> int:
        return ERRORS[self.error_type][0]


def request_hash(
    *, method: str, raw_path: bytes, raw_query: bytes, headers: Mapping[str, str], body: bytes
) -> bytes:
    """SHA-512 of the request as the module docstring defines it (raw digest)."""
    digest = hashlib.sha512()
    digest.update(method.encode() + b"\n" + raw_path + b"\n" + raw_query + b"\n")
    for name in HASHED_HEADERS:
        value = headers.get(name)
        if value:
            digest.update(f"{name}:{value}\n".encode())
    digest.update(b"\n")
    digest.update(body)
    return digest.digest()


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


@dataclass(frozen=True)
class ProblemBody:
    status: int
    content: bytes


def problem(
    *,
    status: int,
    slug: str,
    title: str,
    detail: str,
    instance: str,
    request_id: str | None,
    extensions: Mapping[str, Any] | None = None,
) -> ProblemBody:
    """An RFC 9457 problem document, as the web layer writes them."""
    document: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if request_id:
        document["request_id"] = request_id
    for key, value in (extensions or {}).items():
        if key not in document:
            document[key] = value
    return ProblemBody(status, json.dumps(document, default=str).encode())


def mediation_problem(
    error: MediationError, *, instance: str, request_id: str | None
) -> ProblemBody:
    status, slug, title = ERRORS[error.error_type]
    return problem(
        status=status,
        slug=slug,
        title=title,
        detail=error.detail,
        instance=instance,
        request_id=request_id,
        extensions={"x_road_error": error.error_type, **error.extensions},
    )
