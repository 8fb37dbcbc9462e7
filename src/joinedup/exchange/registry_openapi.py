"""The OpenAPI 3.0 document of a registry service (what the exchange's ``getOpenAPI`` returns
for it), built from its declaration (:mod:`~joinedup.exchange.registry_services`)."""

from __future__ import annotations

from typing import Any

from joinedup.exchange.registry_services import RegistryService


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
    problem = {"application/problem+json": {"schema": {"type": "object"}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": declared.title, "version": version, "description": declared.description},
        "servers": [{"url": f"/r1/{xroad_id}"}],
        "paths": {
            "/": {
                "get": {
                    "operationId": declared.code,
                    "summary": declared.title,
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
                        "404": {"description": "No such data subject.", "content": problem},
                        "422": {"description": "A parameter is not valid.", "content": problem},
                    },
                }
            }
        },
    }


__all__ = ["registry_openapi"]
