"""Validation shared by the mailbox's use cases."""

from __future__ import annotations

from joinedup import registries


def check_person_code(problems: list[dict[str, str]], field: str, code: str) -> None:
    if not code or not code.strip():
        problems.append({"field": field, "message": "is required"})
    elif not registries.is_valid_personal_code(code):
        problems.append({"field": field, "message": "is not a valid personal code"})


def refuse(problems: list[dict[str, str]]) -> None:
    """Raise one ``ValidationFailed`` naming every problem (nothing was written)."""
    from joinedup.core.errors import ValidationFailed

    if problems:
        raise ValidationFailed(
            "; ".join(f"{p['field']} {p['message']}" for p in problems), errors=problems
        )
