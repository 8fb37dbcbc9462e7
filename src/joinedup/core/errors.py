"""Domain errors, each mapped to a stable RFC 9457 problem type.

Use cases raise these; the web layer turns them into ``application/problem+json`` documents
whose ``type`` is ``https://joinedup.example/problems/<slug>`` and never changes meaning.
"""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_BASE = "https://joinedup.example/problems/"


class DomainError(Exception):
    """A refusal a caller can act on. ``detail`` says what to fix, in plain words."""

    slug: ClassVar[str] = "domain-error"
    title: ClassVar[str] = "The request cannot be carried out"
    status: ClassVar[int] = 422

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.slug


class ValidationFailed(DomainError):
    slug = "validation-failed"
    title = "The input is not valid"
    status = 422


class NotFound(DomainError):
    slug = "not-found"
    title = "Not found"
    status = 404


class Conflict(DomainError):
    slug = "conflict"
    title = "The request conflicts with the current state"
    status = 409


class Forbidden(DomainError):
    slug = "forbidden"
    title = "Not allowed"
    status = 403


class Unauthenticated(DomainError):
    slug = "unauthenticated"
    title = "Authentication is required"
    status = 401


class ServiceUnavailable(DomainError):
    slug = "service-unavailable"
    title = "A dependency is unavailable"
    status = 503
