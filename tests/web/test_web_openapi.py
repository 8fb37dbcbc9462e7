"""The OpenAPI document lists the API (not the pages) and describes errors as problems."""

from __future__ import annotations

from fastapi.testclient import TestClient

from joinedup import platform


def test_openapi_lists_the_api_and_not_the_pages(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["info"]["title"] == "joinedup"
    paths = document["paths"]
    assert {"/healthz", "/readyz"} <= set(paths)
    assert not {"/", "/portal", "/backoffice", "/api/docs"} & set(paths)
    for module in platform.api_modules():
        for route in module.router.routes:
            if getattr(route, "include_in_schema", False):
                assert route.path in paths, f"{module.__name__} route {route.path} is missing"


def test_errors_are_described_as_problem_documents(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert "Problem" in schemas
    assert "FieldError" in schemas
    assert "HTTPValidationError" not in schemas
    readyz = document["paths"]["/readyz"]["get"]["responses"]
    assert set(readyz["503"]["content"]) == {"application/problem+json"}
    assert set(readyz["default"]["content"]) == {"application/problem+json"}
    for path_item in document["paths"].values():
        for operation in path_item.values():
            if "422" in operation["responses"]:
                assert set(operation["responses"]["422"]["content"]) == {"application/problem+json"}


def test_a_validation_error_in_the_document_points_to_the_problem_schema(
    client: TestClient,
) -> None:
    app = client.app

    @app.get("/api/test/things")  # type: ignore[attr-defined]
    def things(limit: int = 10) -> dict[str, int]:
        return {"limit": limit}

    app.openapi_schema = None  # type: ignore[attr-defined]  # regenerate with the new route
    document = client.get("/openapi.json").json()
    response = document["paths"]["/api/test/things"]["get"]["responses"]["422"]
    assert response["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
