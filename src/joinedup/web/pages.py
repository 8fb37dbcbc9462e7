"""Pages of the platform itself: the landing page and the API documentation page.

The API documentation is rendered on the server from the OpenAPI document (no Swagger UI: it
would need a script from elsewhere and inline code, which the Content Security Policy
forbids), so it works without JavaScript and in every language of the site.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from joinedup.web.templating import render

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

_METHODS = ("get", "post", "put", "patch", "delete", "head", "options", "trace")


@router.get("/")
async def landing(request: Request) -> HTMLResponse:
    return render(request, "landing.html")


def _schema_name(schema: dict[str, Any]) -> str:
    """A short human name for a JSON schema: ``integer``, ``array of Person``, ``a or b``."""
    if ref := schema.get("$ref"):
        return str(ref).rsplit("/", 1)[-1]
    for combinator in ("anyOf", "oneOf"):
        if options := schema.get(combinator):
            names = [_schema_name(option) for option in options]
            return " | ".join(dict.fromkeys(names))
    kind = schema.get("type")
    if kind == "array":
        return "array of " + _schema_name(schema.get("items", {}))
    if isinstance(kind, str):
        fmt = schema.get("format")
        return f"{kind} ({fmt})" if fmt else kind
    if "enum" in schema:
        return " | ".join(str(value) for value in schema["enum"])
    return "any"


def _body_schema(operation: dict[str, Any]) -> str | None:
    content = operation.get("requestBody", {}).get("content", {})
    for media_type, body in content.items():
        return f"{_schema_name(body.get('schema', {}))} ({media_type})"
    return None


def operations_by_tag(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The operations of an OpenAPI document grouped by their first tag, in document order."""
    descriptions = {tag["name"]: tag.get("description") for tag in document.get("tags", [])}
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, path_item in document.get("paths", {}).items():
        for method in _METHODS:
            operation = path_item.get(method)
            if operation is None:
                continue
            tag = (operation.get("tags") or [""])[0]
            groups.setdefault(tag, []).append(
                {
                    "id": operation.get("operationId") or f"{method}-{path}",
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary") or "",
                    "description": operation.get("description") or "",
                    "parameters": [
                        {
                            "name": parameter["name"],
                            "in": parameter["in"],
                            "required": bool(parameter.get("required")),
                            "type": _schema_name(parameter.get("schema", {})),
                            "description": parameter.get("description") or "",
                        }
                        for parameter in operation.get("parameters", [])
                    ],
                    "body": _body_schema(operation),
                    "responses": [
                        {"code": code, "description": response.get("description", "")}
                        for code, response in operation.get("responses", {}).items()
                    ],
                }
            )
    ordered = sorted(groups, key=lambda name: (name == "", name))
    return [
        {"tag": tag, "description": descriptions.get(tag), "operations": groups[tag]}
        for tag in ordered
    ]


@router.get("/api/docs")
async def api_docs(request: Request) -> HTMLResponse:
    document = request.app.openapi()
    return render(
        request,
        "api_docs.html",
        {
            "info": document.get("info", {}),
            "openapi_version": document.get("openapi", ""),
            "groups": operations_by_tag(document),
        },
    )
