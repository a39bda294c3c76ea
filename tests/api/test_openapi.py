"""The OpenAPI document in specs/ is what the app serves; Swagger UI is served by the app itself."""

import json
import re
from pathlib import Path

import pytest

EXPORTED = Path(__file__).resolve().parents[2] / "specs" / "openapi.json"
REGENERATE = "taskapp openapi write --format json specs/openapi.json"


def test_the_exported_document_matches_what_the_app_serves(client):
    served = client.get("/api/openapi.json").json
    assert json.loads(EXPORTED.read_text()) == served, f"specs/openapi.json is stale: run `{REGENERATE}`"


def test_the_document_declares_bearer_jwt_for_the_api(client):
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/healthz"]["get"]["security"] == []


def test_every_contract_operation_is_documented(client):
    paths = client.get("/api/openapi.json").json["paths"]
    expected = {
        "/api/{user_id}/tasks": {"get", "post"},
        "/api/{user_id}/tasks/{task_id}": {"get", "put", "patch", "delete"},
        "/api/{user_id}/tasks/{task_id}/complete": {"patch"},
        "/api/{user_id}/summary": {"get"},
        "/api/{user_id}/tasks/{task_id}/completions": {"get"},
        "/api/{user_id}/tasks/{task_id}/completions/{completion_id}": {"delete"},
        "/api/{user_id}/completions": {"get"},
        "/api/{user_id}/changes": {"get"},
        "/api/{user_id}/webhooks": {"get", "post"},
        "/api/{user_id}/webhooks/{webhook_id}": {"get", "patch", "delete"},
        "/api/{user_id}/webhooks/{webhook_id}/deliveries": {"get"},
        "/healthz": {"get"},
        "/readyz": {"get"},
    }
    documented = {path: set(ops) - {"parameters"} for path, ops in paths.items()}
    assert sorted(documented) == sorted(expected)
    for path, methods in expected.items():
        assert documented[path] == methods, path


def test_if_match_is_optional_everywhere(client):
    paths = client.get("/api/openapi.json").json["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            assert "428" not in operation["responses"], f"{method} {path}"
            for parameter in operation.get("parameters", []):
                if isinstance(parameter, dict) and parameter["name"] == "If-Match":
                    assert parameter["required"] is False


def test_swagger_ui_loads_only_assets_the_app_serves(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    html = page.get_data(as_text=True)
    assert "<script>" not in html, "no inline script: the CSP forbids it"
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(url.startswith("/") for url in urls), urls
    for url in urls:
        with client.get(url) as response:
            assert response.status_code == 200, url
            assert len(response.data) > 100


@pytest.mark.parametrize("name", ["../../../etc/passwd", "index.html", "swagger-ui.js.map"])
def test_only_the_listed_swagger_assets_are_served(client, name):
    assert client.get(f"/api/docs/assets/{name}").status_code == 404


def test_the_list_operation_documents_every_parameter_and_the_link_header(client):
    operation = client.get("/api/openapi.json").json["paths"]["/api/{user_id}/tasks"]["get"]
    names = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert names == {"completed", "recurring", "priority", "tag", "q", "due_before", "due_after", "sort", "limit",
                     "cursor"}
    assert "Link" in operation["responses"]["200"]["headers"]
    sort = next(p for p in operation["parameters"] if p["name"] == "sort")
    assert set(sort["schema"]["enum"]) >= {"created_at", "-due_at", "priority", "-title"}
    limit = next(p for p in operation["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 500)
