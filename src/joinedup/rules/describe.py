"""A ruleset's own OpenAPI description: the calculate and explain operations, with a JSON
Schema of the situation in which every variable of the ruleset is typed."""

from __future__ import annotations

from typing import Any

from joinedup.rules.model import ValueType, Variable
from joinedup.rules.periods import Unit
from joinedup.rules.ruleset import Ruleset

PREFIX = "/api/v1/rules/rulesets"
_PERIOD_PATTERNS = {
    Unit.MONTH: r"^\d{4}-\d{2}$",
    Unit.YEAR: r"^\d{4}$",
    Unit.DAY: r"^\d{4}-\d{2}-\d{2}$",
    Unit.ETERNITY: r"^(?i:eternity)$|^\d{4}(-\d{2}){0,2}$",
}


def value_schema(variable: Variable) -> dict[str, Any]:
    kind = variable.value_type
    schema: dict[str, Any]
    if kind is ValueType.MONEY:
        schema = {"type": "number", "description": "An amount in euros, to the cent."}
    elif kind is ValueType.INT:
        schema = {"type": "integer"}
    elif kind is ValueType.FLOAT:
        schema = {"type": "number"}
    elif kind is ValueType.BOOL:
        schema = {"type": "boolean"}
    elif kind is ValueType.DATE:
        schema = {"type": "string", "format": "date"}
    else:
        assert variable.enum is not None
        schema = {"type": "string", "enum": list(variable.enum.keys)}
    return {"anyOf": [schema, {"type": "null"}]}


def variable_schema(variable: Variable) -> dict[str, Any]:
    description = variable.label + (
        f" ({variable.reference.citation})" if variable.reference else ""
    )
    return {
        "type": "object",
        "description": f"{description}. Values by {variable.period.value}; null asks for it.",
        "propertyNames": {"pattern": _PERIOD_PATTERNS[variable.period]},
        "additionalProperties": value_schema(variable),
    }


def openapi_document(ruleset: Ruleset) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for key, entity in ruleset.entities.items():
        properties: dict[str, Any] = {
            v.name: {"$ref": f"#/components/schemas/{v.name}"}
            for v in ruleset.variables.values()
            if v.entity == key
        }
        for role in entity.roles:
            properties[role.plural] = {
                "type": "array",
                "items": {"type": "string"},
                "description": f"Ids of the persons who are {role.plural} ({role.label}).",
            }
        schemas[entity.label.replace(" ", "")] = {
            "type": "object",
            "description": entity.label,
            "properties": properties,
            "additionalProperties": False,
        }
    for variable in ruleset.variables.values():
        schemas[variable.name] = variable_schema(variable)
    schemas["Situation"] = {
        "type": "object",
        "required": [ruleset.person.plural],
        "properties": {
            e.plural: {
                "type": "object",
                "additionalProperties": {
                    "$ref": f"#/components/schemas/{e.label.replace(' ', '')}"
                },
            }
            for e in ruleset.entities.values()
        },
        "additionalProperties": False,
    }
    situation = {"application/json": {"schema": {"$ref": "#/components/schemas/Situation"}}}
    base = f"{PREFIX}/{ruleset.name}"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{ruleset.label} — rules as code",
            "version": ruleset.version,
            "description": ruleset.description,
        },
        "paths": {
            f"{base}/calculate": {
                "post": {
                    "summary": "Compute every value set to null in the situation",
                    "operationId": f"{ruleset.name}_calculate",
                    "requestBody": {"required": True, "content": situation},
                    "responses": {
                        "200": {"description": "The situation, filled in.", "content": situation}
                    },
                }
            },
            f"{base}/explain": {
                "post": {
                    "summary": "Explain values for one person or group: why and why not",
                    "operationId": f"{ruleset.name}_explain",
                    "responses": {"200": {"description": "The explanation tree and sentences."}},
                }
            },
        },
        "components": {"schemas": schemas},
    }
