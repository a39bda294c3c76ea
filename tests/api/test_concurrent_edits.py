"""Two clients editing the same task at the same moment, over and over."""

import threading
from datetime import datetime

import pytest

ROUNDS = 15


@pytest.fixture(scope="module")
def shared_app(make_app):
    return make_app(DATABASE_POOL_SIZE=4)


def at_once(app, *requests):
    """Send the requests from separate threads released together; the responses in order."""
    barrier = threading.Barrier(len(requests))
    responses = [None] * len(requests)

    def send(index, method, url, body, headers):
        client = app.test_client()
        barrier.wait()
        responses[index] = client.open(url, method=method, json=body, headers=headers)

    threads = [threading.Thread(target=send, args=(index, *request)) for index, request in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return responses


def stamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_with_the_same_if_match_exactly_one_of_two_writers_wins(shared_app, alice):
    client = shared_app.test_client()
    for round_ in range(ROUNDS):
        created = client.post("/api/me/tasks", json={"title": "start"}, headers=alice.headers)
        url, etag = created.headers["Location"], created.headers["ETag"]
        headers = {**alice.headers, "If-Match": etag}
        first, second = at_once(
            shared_app, ("PATCH", url, {"title": "first"}, headers), ("PATCH", url, {"priority": "high"}, headers)
        )
        assert sorted([first.status_code, second.status_code]) == [200, 412], round_
        winner = first if first.status_code == 200 else second
        stored = client.get(url, headers=alice.headers).json
        assert stored == winner.json
        assert (stored["title"], stored["priority"]) in {("first", "medium"), ("start", "high")}


def test_without_if_match_no_field_the_other_did_not_touch_is_lost(shared_app, alice):
    client = shared_app.test_client()
    for round_ in range(ROUNDS):
        url = client.post("/api/me/tasks", json={"title": "start"}, headers=alice.headers).headers["Location"]
        first, second = at_once(
            shared_app,
            ("PATCH", url, {"title": "renamed"}, alice.headers),
            ("PATCH", url, {"priority": "low", "tags": ["x"]}, alice.headers),
        )
        assert first.status_code == second.status_code == 200, round_
        stored = client.get(url, headers=alice.headers).json
        assert (stored["title"], stored["priority"], stored["tags"]) == ("renamed", "low", ["x"])
        assert stored["updated_at"] == max(first.json["updated_at"], second.json["updated_at"], key=stamp)


def test_without_if_match_the_last_writer_wins_and_updated_at_shows_it(shared_app, alice):
    client = shared_app.test_client()
    for round_ in range(ROUNDS):
        url = client.post("/api/me/tasks", json={"title": "start"}, headers=alice.headers).headers["Location"]
        responses = at_once(
            shared_app, ("PATCH", url, {"title": "a"}, alice.headers), ("PATCH", url, {"title": "b"}, alice.headers)
        )
        assert [response.status_code for response in responses] == [200, 200], round_
        last = max(responses, key=lambda response: stamp(response.json["updated_at"]))
        assert responses[0].json["updated_at"] != responses[1].json["updated_at"]
        assert client.get(url, headers=alice.headers).json == last.json
