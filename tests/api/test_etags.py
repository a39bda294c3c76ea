"""Optional If-Match on writes (412 when stale), If-None-Match on reads (304)."""

import pytest

WRITES = [
    ("PUT", "", {"title": "replaced"}),
    ("PATCH", "", {"title": "patched"}),
    ("PATCH", "/complete", None),
    ("DELETE", "", None),
]


@pytest.fixture()
def task_and_etag(client, alice):
    response = client.post("/api/me/tasks", json={"title": "versioned"}, headers=alice.headers)
    return response.json, response.headers["ETag"]


@pytest.mark.parametrize("method, suffix, body", WRITES, ids=[f"{m}{s}" for m, s, _ in WRITES])
def test_a_stale_if_match_is_412_and_changes_nothing(client, alice, task_and_etag, method, suffix, body):
    task, etag = task_and_etag
    url = f"/api/me/tasks/{task['id']}"
    client.patch(url, json={"description": "someone else wrote"}, headers=alice.headers)
    before = client.get(url, headers=alice.headers).json
    response = client.open(url + suffix, method=method, json=body, headers={**alice.headers, "If-Match": etag})
    assert response.status_code == 412
    assert response.json["code"] == 412
    assert client.get(url, headers=alice.headers).json == before


@pytest.mark.parametrize("method, suffix, body", WRITES, ids=[f"{m}{s}" for m, s, _ in WRITES])
def test_a_current_if_match_lets_the_write_through(client, alice, task_and_etag, method, suffix, body):
    task, etag = task_and_etag
    url = f"/api/me/tasks/{task['id']}"
    response = client.open(url + suffix, method=method, json=body, headers={**alice.headers, "If-Match": etag})
    assert response.status_code in (200, 204)
    if response.status_code == 200:
        assert response.headers["ETag"] != etag


@pytest.mark.parametrize("method, suffix, body", WRITES, ids=[f"{m}{s}" for m, s, _ in WRITES])
def test_writes_without_if_match_are_accepted(client, alice, task_and_etag, method, suffix, body):
    task, _ = task_and_etag
    response = client.open(f"/api/me/tasks/{task['id']}{suffix}", method=method, json=body, headers=alice.headers)
    assert response.status_code in (200, 204)


def test_if_match_star_matches_any_existing_version(client, alice, task_and_etag):
    task, _ = task_and_etag
    response = client.patch(
        f"/api/me/tasks/{task['id']}", json={"title": "any"}, headers={**alice.headers, "If-Match": "*"}
    )
    assert response.status_code == 200


def test_if_none_match_with_the_current_etag_is_304(client, alice, task_and_etag):
    task, etag = task_and_etag
    url = f"/api/me/tasks/{task['id']}"
    response = client.get(url, headers={**alice.headers, "If-None-Match": etag})
    assert response.status_code == 304
    assert response.headers["ETag"] == etag
    client.patch(url, json={"title": "changed"}, headers=alice.headers)
    assert client.get(url, headers={**alice.headers, "If-None-Match": etag}).status_code == 200


def test_the_etag_of_a_write_is_the_etag_a_read_then_gives(client, alice, task_and_etag):
    task, _ = task_and_etag
    url = f"/api/me/tasks/{task['id']}"
    written = client.patch(url, json={"title": "v2"}, headers=alice.headers)
    assert client.get(url, headers=alice.headers).headers["ETag"] == written.headers["ETag"]


@pytest.mark.parametrize("method, suffix, body", WRITES, ids=[f"{m}{s}" for m, s, _ in WRITES])
@pytest.mark.parametrize("malformed", [",,,", " ", "abc", '"a",', "Ã©", "W/", '"unterminated'])
def test_an_if_match_that_names_no_entity_tag_is_400_and_changes_nothing(
        client, alice, task_and_etag, method, suffix, body, malformed):
    """Ignored, it would let the write through without the check the client asked for."""
    task, _ = task_and_etag
    url = f"/api/me/tasks/{task['id']}"
    before = client.get(url, headers=alice.headers).json
    response = client.open(url + suffix, method=method, json=body, headers={**alice.headers, "If-Match": malformed})
    assert response.status_code == 400, response.json
    assert "If-Match" in response.json["message"]
    assert client.get(url, headers=alice.headers).json == before


def test_a_list_of_entity_tags_matches_when_one_of_them_does(client, alice, task_and_etag):
    task, etag = task_and_etag
    response = client.patch(f"/api/me/tasks/{task['id']}", json={"title": "x"},
                            headers={**alice.headers, "If-Match": f'"other", {etag}'})
    assert response.status_code == 200, response.json
