"""The OpenAPI document, telling the truth about errors.

FastAPI describes a 422 with its own ``HTTPValidationError`` body; joinedup answers every
error with an RFC 9457 problem document instead. The document is generated from the routes
as usual, then every operation's 422 and its ``default`` response are described as
``application/problem+json`` with the :class:`~joinedup.web.problems.Problem` schema.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from joinedup.web.problems import PROBLEM_MEDIA_TYPE, Problem

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_MEDIA_TYPE: {"schema": dict(_PROBLEM_REF)}}


def _describe_problems(document: dict[str, Any]) -> None:
    components = document.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem_schema.pop("$defs", {}))
    components["Problem"] = problem_schema
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        components.pop(name, None)

    for path_item in document.get("paths", {}).values():
        for method in _METHODS:
            operation = path_item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for code, response in responses.items():
                content = response.get("content", {})
                json_schema = content.get("application/json", {}).get("schema", {})
                refers = str(json_schema.get("$ref", ""))
                if code == "422" or refers.endswith(("/Problem", "/HTTPValidationError")):
                    response["content"] = _problem_content()
            if "422" in responses:
                responses["422"]["description"] = (
                    "The input is not valid: `errors` names each refused field."
                )
            responses.setdefault(
                "default",
                {
                    "description": "An error, as an RFC 9457 problem document.",
                    "content": _problem_content(),
                },
            )


def install_openapi(app: FastAPI) -> None:
    """Replace ``app.openapi`` with the generator above (cached after the first call)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            _describe_problems(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
