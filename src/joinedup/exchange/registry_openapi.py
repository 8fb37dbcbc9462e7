"""The OpenAPI 3.0 documents of the registries' services (what the exchange's ``getOpenAPI``
returns for them), built from their declarations: a registry service's
(:mod:`~joinedup.exchange.registry_services`, answered to ``GET``) and a write service's
(:mod:`~joinedup.exchange.registry_writes`, ``POST`` with a JSON body)."""

from __future__ import annotations

from typing import Any

from joinedup.exchange.registry_services import RegistryService
from joinedup.exchange.registry_writes import WriteService


def _problem() -> dict[str, Any]:
    """A problem document's content (a new one for each use: documents share no dicts)."""
    return {"application/problem+json": {"schema": {"type": "object"}}}


def _document(
    declared: RegistryService | WriteService,
    *,
    xroad_id: str,
    version: str,
    method: str,
    operation: dict[str, Any],
) -> dict[str, Any]:
    """A service's document: its one operation on ``/`` (``operation`` adds to the operation
    id and summary every service has)."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": declared.title,
            "version": version,
            "description": declared.description,
        },
        "servers": [{"url": f"/r1/{xroad_id}"}],
        "paths": {
            "/": {method: {"operationId": declared.code, "summary": declared.title, **operation}}
        },
    }


def registry_openapi(declared: RegistryService, *, xroad_id: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.0 document of the registry service ``declared``."""
    fields: dict[str, Any] = dict(declared.fields)
    answer: dict[str, Any] = {"type": "object", "properties": fields}
    if declared.item_list:
        answer = {
            "type": "object",
            "properties": {
                declared.item_list: {
                    "type": "array",
                    "items": {"type": "object", "properties": fields},
                }
            },
        }
    elif declared.bulk:
        answer = {
            "type": "object",
            "properties": {
                "count": {"type": "integer"},
                "inRange": {"type": "array", "items": {"type": "boolean"}},
                "columns": {"type": "object", "properties": fields},
            },
        }
    return _document(
        declared,
        xroad_id=xroad_id,
        version=version,
        method="get",
        operation={
            "description": declared.description
            + " Only the fields your access right allows are returned.",
            "parameters": [
                {
                    "name": p.name,
                    "in": "query",
                    "required": p.required,
                    "description": p.description,
                    "schema": p.schema,
                }
                for p in declared.parameters
            ],
            "responses": {
                "200": {
                    "description": "The answer (authorised fields only).",
                    "content": {"application/json": {"schema": answer}},
                },
                "404": {"description": "No such data subject.", "content": _problem()},
                "422": {"description": "A parameter is not valid.", "content": _problem()},
            },
        },
    )


def write_openapi(declared: WriteService, *, xroad_id: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.0 document of the write service ``declared``."""
    body = declared.body.model_json_schema(
        by_alias=True, ref_template="#/components/schemas/{model}"
    )
    components = body.pop("$defs", {})
    answer = {"type": "object", "properties": dict(declared.fields)}
    document = _document(
        declared,
        xroad_id=xroad_id,
        version=version,
        method="post",
        operation={
            "description": declared.description
            + " Idempotent on `reference`: a repeated request is answered again "
            "(`Idempotent-Replay: true`) and registers nothing; the same reference "
            "with another body is refused (409).",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": body}},
            },
            "responses": {
                "201": {
                    "description": "Registered (authorised fields only).",
                    "content": {"application/json": {"schema": answer}},
                },
                "409": {
                    "description": "The reference was used for another request.",
                    "content": _problem(),
                },
                "422": {"description": "A field is not valid.", "content": _problem()},
            },
        },
    )
    document["components"] = {"schemas": components}
    return document


__all__ = ["registry_openapi", "write_openapi"]
