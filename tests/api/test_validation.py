"""Bad input gets a clear 4xx JSON error and changes nothing; never a 500."""

import json

import pytest

BAD_BODIES = {
    "unknown field": {"title": "t", "colour": "red"},
    "read-only id": {"title": "t", "id": "00000000-0000-0000-0000-000000000000"},
    "read-only user_id": {"title": "t", "user_id": "someone-else"},
    "owner_id": {"title": "t", "owner_id": "someone-else"},
    "read-only completed_at": {"title": "t", "completed_at": "2030-01-01T00:00:00Z"},
    "read-only created_at": {"title": "t", "created_at": "2030-01-01T00:00:00Z"},
    "read-only updated_at": {"title": "t", "updated_at": "2030-01-01T00:00:00Z"},
    "title not a string": {"title": 12},
    "title empty": {"title": ""},
    "title only spaces": {"title": "   "},
    "title too long": {"title": "x" * 256},
    "title with NUL": {"title": "a\x00b"},
    "title lone surrogate": {"title": "\ud800"},
    "description too long": {"title": "t", "description": "x" * 1001},
    "description not a string": {"title": "t", "description": ["x"]},
    "description with NUL": {"title": "t", "description": "\x00"},
    "completed as string yes": {"title": "t", "completed": "yes"},
    "completed as string true": {"title": "t", "completed": "true"},
    "completed as 1": {"title": "t", "completed": 1},
    "completed as 0": {"title": "t", "completed": 0},
    "priority unknown": {"title": "t", "priority": "urgent"},
    "priority upper-case": {"title": "t", "priority": "HIGH"},
    "priority number": {"title": "t", "priority": 3},
    "due_at without offset": {"title": "t", "due_at": "2030-01-01T10:00:00"},
    "due_at date only": {"title": "t", "due_at": "2030-01-01"},
    "due_at garbage": {"title": "t", "due_at": "tomorrow"},
    "due_at number": {"title": "t", "due_at": 1700000000},
    "due_at with NUL": {"title": "t", "due_at": "2030-01-01T10:00:00Z\x00"},
    "due_at beyond year 9999 in UTC": {"title": "t", "due_at": "9999-12-31T23:00:00-05:00"},
    "due_at before year 1 in UTC": {"title": "t", "due_at": "0001-01-01T00:00:00+05:00"},
    "tags not a list": {"title": "t", "tags": "work"},
    "tags with a number": {"title": "t", "tags": [1]},
    "tags with null": {"title": "t", "tags": [None]},
    "tag empty after trimming": {"title": "t", "tags": ["  "]},
    "tag too long": {"title": "t", "tags": ["x" * 41]},
    "tag with NUL": {"title": "t", "tags": ["a\x00"]},
    "more than 20 tags": {"title": "t", "tags": [f"t{n}" for n in range(21)]},
    "body is a list": [{"title": "t"}],
    "body is a string": "title",
    "body is null": None,
}


def send_json(client, method, url, body, user):
    """Send `body` as JSON, even when it is JSON null."""
    return client.open(
        url, method=method, data=json.dumps(body), content_type="application/json", headers=user.headers
    )


def count_tasks(client, user):
    return len(client.get("/api/me/tasks", headers=user.headers).json)


def assert_json_error(response, code):
    assert response.status_code == code, response.data
    assert response.is_json
    assert response.json["code"] == code
    assert response.json["status"]
    assert response.json["message"]


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_a_bad_new_task_is_422_and_nothing_is_created(client, alice, body):
    response = send_json(client, "POST", "/api/me/tasks", body, alice)
    assert_json_error(response, 422)
    assert "errors" in response.json
    assert count_tasks(client, alice) == 0


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_a_bad_change_is_422_and_the_task_is_unchanged(client, alice, create_task, method, body):
    task = create_task(alice, title="original", tags=["keep"])
    url = f"/api/me/tasks/{task['id']}"
    response = send_json(client, method, url, body, alice)
    assert_json_error(response, 422)
    assert client.get(url, headers=alice.headers).json == task


def test_a_title_is_required_for_create_and_replace(client, alice, create_task):
    assert_json_error(client.post("/api/me/tasks", json={}, headers=alice.headers), 422)
    task = create_task(alice)
    assert_json_error(client.put(f"/api/me/tasks/{task['id']}", json={"priority": "low"}, headers=alice.headers), 422)


def test_the_error_names_the_offending_field(client, alice):
    response = client.post("/api/me/tasks", json={"title": "t", "completed": "yes"}, headers=alice.headers)
    assert list(response.json["errors"]["json"]) == ["completed"]


def test_boundary_values_are_accepted(create_task, alice):
    task = create_task(
        alice,
        title="x" * 255,
        description="d" * 1000,
        tags=[f"{n:02d}" + "t" * 38 for n in range(20)],
        due_at="9999-12-31T23:59:59Z",
    )
    assert len(task["title"]) == 255 and len(task["tags"]) == 20
    assert task["due_at"] == "9999-12-31T23:59:59Z"


@pytest.mark.parametrize(
    "raw", ["{", '{"title": }', "not json", "\xff\xfe", "[" * 100_000 + "]" * 100_000],
    ids=["unclosed", "missing value", "not json", "not utf-8", "nested too deeply"],
)
def test_invalid_json_is_a_4xx_json_error(client, alice, raw):
    response = client.post(
        "/api/me/tasks", data=raw.encode("latin-1"), content_type="application/json", headers=alice.headers
    )
    assert response.status_code in (400, 422)
    assert response.is_json and response.json["code"] == response.status_code
    assert count_tasks(client, alice) == 0


def test_an_empty_json_body_is_a_4xx_json_error(client, alice):
    response = client.post("/api/me/tasks", data=b"", content_type="application/json", headers=alice.headers)
    assert response.status_code in (400, 422) and response.is_json


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_a_body_that_is_not_json_is_415(client, alice, create_task, method, content_type):
    task = create_task(alice, title="original")
    url = "/api/me/tasks" if method == "POST" else f"/api/me/tasks/{task['id']}"
    headers = dict(alice.headers)
    kwargs = {"data": json.dumps({"title": "x"})}
    if content_type:
        kwargs["content_type"] = content_type
    response = client.open(url, method=method, headers=headers, **kwargs)
    assert_json_error(response, 415)
    assert client.get(f"/api/me/tasks/{task['id']}", headers=alice.headers).json == task
    assert count_tasks(client, alice) == 1


def test_a_body_over_1_mib_is_413(client, alice):
    body = json.dumps({"title": "t", "description": "x" * (1024 * 1024)})
    response = client.post("/api/me/tasks", data=body, content_type="application/json", headers=alice.headers)
    assert_json_error(response, 413)
    assert count_tasks(client, alice) == 0


@pytest.mark.parametrize(
    "task_id",
    ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "1", "%00", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"],
)
def test_a_task_id_that_is_malformed_or_unknown_is_404(client, alice, task_id):
    response = client.get(f"/api/me/tasks/{task_id}", headers=alice.headers)
    assert_json_error(response, 404)


def test_unknown_routes_are_404_json(client, alice):
    assert_json_error(client.get("/api/me/nothing-here", headers=alice.headers), 404)
    assert_json_error(client.get("/nothing-here"), 404)


def test_a_wrong_method_is_405_json_with_allow(client, alice):
    response = client.delete("/api/me/tasks", headers=alice.headers)
    assert_json_error(response, 405)
    assert "GET" in response.headers["Allow"] and "POST" in response.headers["Allow"]


def test_a_lone_surrogate_echoed_in_an_error_is_still_valid_json(client, alice):
    """The unknown field's name comes back in the 422; a lone surrogate in it must not break the answer."""
    response = client.post("/api/me/tasks", data='{"title": "t", "\\ud800x": 1}',
                           headers={**alice.headers, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json["errors"]["json"] == {"\ud800x": ["Unknown field."]}
