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
        "/api/{user_id}/lists": {"get", "post"},
        "/api/{user_id}/lists/{list_id}": {"get", "patch", "delete"},
        "/api/{user_id}/lists/{list_id}/members": {"get"},
        "/api/{user_id}/lists/{list_id}/members/{member_id}": {"patch", "delete"},
        "/api/{user_id}/lists/{list_id}/invitations": {"get", "post"},
        "/api/{user_id}/lists/{list_id}/invitations/{invitation_id}": {"delete"},
        "/api/{user_id}/invitations": {"get"},
        "/api/{user_id}/invitations/{invitation_id}": {"delete"},
        "/api/{user_id}/invitations/{invitation_id}/accept": {"post"},
        "/api/{user_id}/tasks": {"get", "post"},
        "/api/{user_id}/tasks/{task_id}": {"get", "put", "patch", "delete"},
        "/api/{user_id}/tasks/{task_id}/complete": {"patch"},
        "/api/{user_id}/summary": {"get"},
        "/api/{user_id}/tasks/{task_id}/completions": {"get"},
        "/api/{user_id}/tasks/{task_id}/completions/{completion_id}": {"delete"},
        "/api/{user_id}/completions": {"get"},
        "/api/{user_id}/changes": {"get"},
        "/api/{user_id}/batch": {"post"},
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


@pytest.mark.parametrize("name", ["index.html", "swagger-ui.js.map"])
def test_only_the_listed_swagger_assets_are_served(client, name):
    assert client.get(f"/api/docs/assets/{name}").status_code == 404


def test_a_path_that_is_no_asset_is_not_public(client):
    """It matches no route of the docs, so it is just another /api/ path: a token first."""
    assert client.get("/api/docs/assets/../../../etc/passwd").status_code == 401


def test_the_list_operation_documents_every_parameter_and_the_link_header(client):
    operation = client.get("/api/openapi.json").json["paths"]["/api/{user_id}/tasks"]["get"]
    names = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert names == {"list_id", "assignee_id",
                     "completed", "recurring", "priority", "tag", "q", "due_before", "due_after", "sort", "limit",
                     "cursor"}
    assert "Link" in operation["responses"]["200"]["headers"]
    sort = next(p for p in operation["parameters"] if p["name"] == "sort")
    assert set(sort["schema"]["enum"]) >= {"created_at", "-due_at", "priority", "-title"}
    limit = next(p for p in operation["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 500)


# What generated clients need of the document (docs/generated-clients.md; the clients themselves
# are generated and type-checked in tests/system/test_generated_clients.py).

OPERATION_IDS = {
    ("get", "/api/{user_id}/lists"): "listLists",
    ("post", "/api/{user_id}/lists"): "createList",
    ("get", "/api/{user_id}/lists/{list_id}"): "getList",
    ("patch", "/api/{user_id}/lists/{list_id}"): "renameList",
    ("delete", "/api/{user_id}/lists/{list_id}"): "deleteList",
    ("get", "/api/{user_id}/lists/{list_id}/members"): "listMembers",
    ("patch", "/api/{user_id}/lists/{list_id}/members/{member_id}"): "changeMemberRole",
    ("delete", "/api/{user_id}/lists/{list_id}/members/{member_id}"): "removeMember",
    ("get", "/api/{user_id}/lists/{list_id}/invitations"): "listListInvitations",
    ("post", "/api/{user_id}/lists/{list_id}/invitations"): "inviteToList",
    ("delete", "/api/{user_id}/lists/{list_id}/invitations/{invitation_id}"): "revokeInvitation",
    ("get", "/api/{user_id}/invitations"): "listMyInvitations",
    ("delete", "/api/{user_id}/invitations/{invitation_id}"): "declineInvitation",
    ("post", "/api/{user_id}/invitations/{invitation_id}/accept"): "acceptInvitation",
    ("get", "/api/{user_id}/tasks"): "listTasks",
    ("post", "/api/{user_id}/tasks"): "createTask",
    ("get", "/api/{user_id}/tasks/{task_id}"): "getTask",
    ("put", "/api/{user_id}/tasks/{task_id}"): "replaceTask",
    ("patch", "/api/{user_id}/tasks/{task_id}"): "updateTask",
    ("delete", "/api/{user_id}/tasks/{task_id}"): "deleteTask",
    ("patch", "/api/{user_id}/tasks/{task_id}/complete"): "toggleTaskCompleted",
    ("get", "/api/{user_id}/summary"): "getSummary",
    ("get", "/api/{user_id}/tasks/{task_id}/completions"): "listTaskCompletions",
    ("delete", "/api/{user_id}/tasks/{task_id}/completions/{completion_id}"): "undoTaskCompletion",
    ("get", "/api/{user_id}/completions"): "listCompletions",
    ("get", "/api/{user_id}/changes"): "listChanges",
    ("post", "/api/{user_id}/batch"): "runBatch",
    ("get", "/api/{user_id}/webhooks"): "listWebhooks",
    ("post", "/api/{user_id}/webhooks"): "createWebhook",
    ("get", "/api/{user_id}/webhooks/{webhook_id}"): "getWebhook",
    ("patch", "/api/{user_id}/webhooks/{webhook_id}"): "updateWebhook",
    ("delete", "/api/{user_id}/webhooks/{webhook_id}"): "deleteWebhook",
    ("get", "/api/{user_id}/webhooks/{webhook_id}/deliveries"): "listWebhookDeliveries",
    ("get", "/healthz"): "getLiveness",
    ("get", "/readyz"): "getReadiness",
}
# Properties of an answer that are not always sent: a reminder is `at` or `before_due` as it was
# written; an error lists what is wrong field by field only when a body or parameters were refused.
SOMETIMES_SENT = {"Reminder": {"at", "before_due"}, "Error": {"errors", "operation"}}


@pytest.fixture(scope="module")
def document():
    return json.loads(EXPORTED.read_text())


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield method, path, operation


def resolved(document, thing: dict) -> dict:
    while "$ref" in thing:
        section, name = thing["$ref"].split("/")[-2:]
        thing = document["components"][section][name]
    return thing


def schemas_in(document, schema: dict, seen: set) -> None:
    """The names of the component schemas `schema` refers to, directly or not, added to `seen`."""
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        if name not in seen:
            seen.add(name)
            schemas_in(document, document["components"]["schemas"][name], seen)
        return
    for child in [*schema.get("properties", {}).values(), *schema.get("oneOf", []), *schema.get("allOf", [])]:
        schemas_in(document, child, seen)
    if "items" in schema:
        schemas_in(document, schema["items"], seen)


def test_every_operation_has_its_stable_operation_id(document):
    assert {(method, path): operation.get("operationId") for method, path, operation in operations(document)} \
        == OPERATION_IDS


def test_every_property_always_sent_in_an_answer_is_required(document):
    answered = set()
    for _, _, operation in operations(document):
        for response in operation["responses"].values():
            for media in resolved(document, response).get("content", {}).values():
                schemas_in(document, media["schema"], answered)
    assert {"Task", "Reminder", "ChangePage", "UpsertChange", "DeleteChange", "Summary", "TaskCounts", "Completion",
            "Webhook", "NewWebhook", "Attempt", "Error", "Status", "List", "Member", "Invitation"} <= answered
    for name in answered:
        schema = document["components"]["schemas"][name]
        if "oneOf" in schema:
            continue
        expected = set(schema["properties"]) - SOMETIMES_SENT.get(name, set())
        assert set(schema.get("required", [])) == expected, name
    assert "secret" not in document["components"]["schemas"]["Webhook"]["properties"]


def test_a_batchs_operations_and_results_are_discriminated_unions_by_op(document):
    from taskapp.batch.schemas import OPERATIONS

    schemas = document["components"]["schemas"]
    body = resolved(document, document["paths"]["/api/{user_id}/batch"]["post"]["requestBody"]["content"][
        "application/json"]["schema"])
    assert body["properties"]["operations"]["items"] == {"$ref": "#/components/schemas/Operation"}
    assert body["properties"]["operations"]["maxItems"] == 100
    for union in ("Operation", "OperationResult"):
        mapping = schemas[union]["discriminator"]["mapping"]
        assert schemas[union]["discriminator"]["propertyName"] == "op"
        assert set(mapping) == set(OPERATIONS)
        assert schemas[union]["oneOf"] == [{"$ref": ref} for ref in mapping.values()]
        for op, ref in mapping.items():
            variant = resolved(document, {"$ref": ref})
            assert variant["properties"]["op"]["enum"] == [op] and "op" in variant["required"]
    create = resolved(document, {"$ref": schemas["Operation"]["discriminator"]["mapping"]["create_task"]})
    assert create["properties"]["task"] == {"$ref": "#/components/schemas/TaskWrite"}
    assert create["additionalProperties"] is False


def test_a_change_is_a_discriminated_union_of_an_upsert_and_a_delete(document):
    schemas = document["components"]["schemas"]
    assert schemas["ChangePage"]["properties"]["changes"]["items"] == {"$ref": "#/components/schemas/Change"}
    change = schemas["Change"]
    variants = {"upsert": "#/components/schemas/UpsertChange", "delete": "#/components/schemas/DeleteChange"}
    assert change["oneOf"] == [{"$ref": ref} for ref in variants.values()]
    assert change["discriminator"] == {"propertyName": "op", "mapping": variants}
    for op, carried in (("upsert", "task"), ("delete", "task_id")):
        variant = resolved(document, {"$ref": variants[op]})
        assert variant["properties"]["op"]["enum"] == [op]
        assert set(variant["required"]) == set(variant["properties"]) == {"op", carried}
        assert variant["additionalProperties"] is False


def defaults_in(thing) -> list:
    """Every `default` keyword of a schema within `thing` (a responses map's `default` is no schema)."""
    if isinstance(thing, list):
        return [found for item in thing for found in defaults_in(item)]
    if not isinstance(thing, dict):
        return []
    found = [thing["default"]] if "default" in thing else []
    return found + [found for key, value in thing.items() if key != "responses" for found in defaults_in(value)]


def test_no_request_schema_or_parameter_has_a_default(document):
    """openapi-typescript makes a property with a `default` required; the defaults are said in words."""
    assert defaults_in(document["paths"]) == defaults_in(document["components"]) == []
    assert all("default" in operation["responses"] for _, _, operation in operations(document))
    sort = next(p for p in document["paths"]["/api/{user_id}/tasks"]["get"]["parameters"] if p["name"] == "sort")
    assert "Default: `-created_at`." in sort["description"]
    assert sort["schema"]["x-enum-varnames"][sort["schema"]["enum"].index("-due_at")] == "DUE_AT_DESC"


def test_the_answers_headers_are_declared_where_they_are_sent(document):
    for method, path, operation in operations(document):
        for status in ("414", "431"):  # the HTTP server's: said once, in info.description
            assert status not in operation["responses"], (method, path)
        for status, response in operation["responses"].items():
            headers = resolved(document, response).get("headers", {})
            assert headers.get("X-Request-ID") == {"$ref": "#/components/headers/X-Request-ID"}, (method, path, status)
            expected = {"401": "WWW-Authenticate", "503": "Retry-After", "304": "ETag"}.get(status)
            if expected:
                assert headers[expected]["required"] is True, (method, path, status)
        if any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", [])):
            assert operation["responses"]["409"] == {"$ref": "#/components/responses/IDEMPOTENCY_KEY_IN_USE"}
            conflict = resolved(document, operation["responses"]["409"])
            assert conflict["headers"]["Retry-After"]["required"] is True
    assert "`414 URI Too Long`" in document["info"]["description"]
    assert "`431 Request Header Fields Too Large`" in document["info"]["description"]
    assert document["components"]["headers"]["X-Request-ID"]["required"] is True


def test_the_document_names_its_server_and_holds_no_unused_schema(document):
    assert document["servers"] == [{"url": "/"}]
    referred = set()
    for _, _, operation in operations(document):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            schemas_in(document, media["schema"], referred)
        for response in operation["responses"].values():
            for media in resolved(document, response).get("content", {}).values():
                schemas_in(document, media["schema"], referred)
    for response in document["components"]["responses"].values():
        for media in response.get("content", {}).values():
            schemas_in(document, media["schema"], referred)
    assert set(document["components"]["schemas"]) == referred  # no PaginationMetadata, say
