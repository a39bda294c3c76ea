"""The hostile classes, fuzzed against `taskapp serve`: paths that only begin like public ones,
numbers too long to convert anywhere in a body, and rules from RFC 5545's grammar. No 5xx, and
every answer under /api/ is JSON."""

import json
import urllib.error
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.rule_grammar import HUGE, rules
from tests.support.served import Served
from tests.support.users import new_user

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
PUBLIC = {"/api/docs", "/api/docs/", "/api/openapi.json"}


@pytest.fixture(scope="module")
def served(database):
    node = Served(database.app_url, workers=1, WEBHOOK_ALLOW_PRIVATE="on")
    yield node
    node.close()


@pytest.fixture(scope="module")
def user():
    return new_user("fuzz")


SEGMENT = st.one_of(st.sampled_from(["tasks", "me", "summary", "changes", "webhooks", "..", ".", "", "assets",
                                     "docs", "openapi.json", "completions", "x" * 300, "%2e%2e", "%00"]),
                    st.text(alphabet="abc-_.~%0123456789", max_size=12))


@FUZZ
@given(prefix=st.sampled_from(["/api/docs", "/api/docs/", "/api/openapi.json", "/api/docs/assets/", "/api/me/"]),
       rest=st.lists(SEGMENT, max_size=4), method=st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT"]))
def test_a_path_that_begins_like_a_public_one_is_public_only_if_it_is_one(served, prefix, rest, method):
    path = prefix + "/".join(rest)
    status, headers, body = served.request(method, path, body={} if method in ("POST", "PATCH", "PUT") else None)
    assert status < 500, (method, path, status)
    if path not in PUBLIC and not path.startswith("/api/docs/assets/"):
        assert status in (401, 404, 405), (method, path, status)  # no token: nothing else to be had
        assert headers["Content-Type"].startswith("application/json")


def post_raw(served, user, path: str, text: str):
    """POST a body exactly as written (the JSON encoder would not write a 5,000-digit number)."""
    request = urllib.request.Request(served.url + path, data=text.encode(), method="POST",
                                     headers={**user.headers, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


TASK_FIELDS = ["title", "description", "priority", "due_at", "tags", "completed", "recurrence", "time_zone",
               "repeat_from", "reminders"]


@FUZZ
@given(field=st.sampled_from(TASK_FIELDS), nested=st.booleans(), digits=st.integers(4301, 20000))
def test_a_number_too_long_to_convert_anywhere_in_a_body_is_400(served, user, field, nested, digits):
    number = "9" * digits
    value = f'[{{"before_due": {number}}}]' if nested else number
    body = {"title": '"t"', field: value}
    text = "{" + ", ".join(f"{json.dumps(name)}: {raw}" for name, raw in body.items()) + "}"
    status, answer = post_raw(served, user, "/api/me/tasks", text)
    assert status == 400, (field, status, answer)
    assert answer["code"] == 400


@FUZZ
@given(rule=rules(), zone=st.sampled_from(["UTC", "Europe/Berlin", "Pacific/Chatham"]),
       due=st.sampled_from(["2030-02-13T09:00:00Z", "9999-12-31T23:00:00Z", "2024-02-29T12:00:00Z"]))
def test_any_rule_against_the_served_api_is_201_or_422(served, user, rule, zone, due):
    status, _, answer = served.request("POST", "/api/me/tasks", headers=user.headers, body={
        "title": "t", "recurrence": rule, "time_zone": zone, "due_at": due})
    assert status in (201, 422), (rule, zone, due, status, answer)


def test_a_number_too_long_to_convert_in_a_webhook_is_400(served, user):
    status, answer = post_raw(served, user, "/api/me/webhooks",
                              '{"url": "http://127.0.0.1:9/", "events": [' + HUGE + "]}")
    assert status == 400, answer
