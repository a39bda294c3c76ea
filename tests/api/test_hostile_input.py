"""Nothing a client sends gets a 5xx: prefix-confused paths, numbers too long to convert, token
claims of the wrong type, and any recurrence rule RFC 5545's grammar can spell."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.rule_grammar import HUGE, rules
from tests.support.users import make_token, new_user


@pytest.mark.parametrize("path", [
    "/api/docs/tasks", "/api/docs/me/tasks", "/api/docsx", "/api/docs/../me/tasks", "/api/openapi.json/tasks",
    "/api/openapi.jsonx", "/api/docs/assets/../../me/summary", "/api/docs/me/summary",
])
def test_a_path_that_only_begins_like_the_docs_needs_a_token(client, path):
    answer = client.get(path)
    assert answer.status_code == 401, (path, answer.status_code)
    assert answer.get_json()["code"] == 401


@pytest.mark.parametrize("path", ["/api/docs", "/api/docs/", "/api/openapi.json"])
def test_the_docs_themselves_need_no_token(client, path):
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("path, body", [
    ("/api/me/tasks", '{"title": "t", "priority": ' + HUGE + "}"),
    ("/api/me/tasks", '{"title": ' + HUGE + "}"),
    ("/api/me/tasks", '{"title": "t", "reminders": [{"before_due": ' + HUGE + "}]}"),
    ("/api/me/tasks", '[' + HUGE + "]"),
    ("/api/me/webhooks", '{"url": "https://example.com", "events": [' + HUGE + "]}"),
])
def test_an_integer_too_long_to_convert_is_invalid_json(client, alice, path, body):
    answer = client.post(path, data=body, content_type="application/json", headers=alice.headers)
    assert answer.status_code == 400
    assert answer.get_json()["code"] == 400


def test_a_huge_integer_in_a_patch_or_a_query_is_a_4xx(client, alice, create_task):
    task = create_task(alice)
    patched = client.patch(f"/api/me/tasks/{task['id']}", data='{"title": ' + HUGE + "}",
                           content_type="application/json", headers=alice.headers)
    assert patched.status_code == 400
    listed = client.get(f"/api/me/tasks?limit={HUGE}", headers=alice.headers)
    assert listed.status_code == 422


@pytest.mark.parametrize("exp", ["9999999999", str(10**400), True, None, [1], {"at": 1}, 1e308, 10**400])
def test_a_signed_token_whose_expiry_is_not_a_number_is_401(client, exp):
    token = make_token({"sub": "mallory", "exp": exp})  # (None: no exp at all)
    answer = client.get("/api/me/tasks", headers={"Authorization": f"Bearer {token}"})
    if isinstance(exp, float) or (isinstance(exp, int) and not isinstance(exp, bool)):  # far away: valid
        assert answer.status_code == 200
    else:
        assert answer.status_code == 401, exp
        assert answer.get_json()["code"] == 401


def test_a_token_with_infinity_or_nan_as_expiry_is_401(client):
    import base64
    import hashlib
    import hmac
    import json

    from tests.support.users import SECRET

    def sign(payload: str) -> str:
        def encode(raw: bytes) -> str:
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        head = encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + encode(payload.encode())
        return head + "." + encode(hmac.new(SECRET.encode(), head.encode(), hashlib.sha256).digest())

    for value in ("Infinity", "-Infinity", "NaN"):
        token = sign('{"sub": "mallory", "exp": %s}' % value)
        answer = client.get("/api/me/tasks", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, value


ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Kiritimati"])
DUE = st.sampled_from(["2030-02-13T09:00:00Z", "2030-03-31T01:30:00+01:00", "0001-01-01T00:00:00Z",
                       "9999-12-31T23:00:00Z", "2024-02-29T12:00:00Z"])
HOSTILE = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@HOSTILE
@given(rule=rules(), zone=ZONES, due=DUE, completed=st.booleans())
def test_any_rule_is_created_or_refused_with_a_reason(client, rule, zone, due, completed):
    user = new_user("rules")
    answer = client.post("/api/me/tasks", headers=user.headers, json={
        "title": "t", "recurrence": rule, "time_zone": zone, "due_at": due, "completed": completed})
    assert answer.status_code in (201, 422), (rule, zone, due, answer.status_code)
    if answer.status_code == 422:
        assert answer.get_json()["errors"]


@HOSTILE
@given(rule=rules(), zone=ZONES, due=DUE)
def test_any_rule_set_by_a_patch_is_changed_or_refused_with_a_reason(client, rule, zone, due):
    user = new_user("rules")
    task = client.post("/api/me/tasks", headers=user.headers, json={"title": "t", "due_at": due}).get_json()
    answer = client.patch(f"/api/me/tasks/{task['id']}", headers=user.headers,
                          json={"recurrence": rule, "time_zone": zone})
    assert answer.status_code in (200, 422), (rule, zone, due, answer.status_code)
    if answer.status_code == 200:  # and completing it moves it on, or completes it for good
        assert client.patch(f"/api/me/tasks/{task['id']}/complete", headers=user.headers).status_code == 200


@pytest.mark.parametrize("rule", [
    "FREQ=YEARLY;BYDAY=+53TH;BYMONTH=12", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=13;BYDAY=FR;COUNT=1000",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;BYSETPOS=" + ",".join(str(n) for n in range(1, 120)),
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=1000", "FREQ=MONTHLY;BYDAY=5FR;BYMONTHDAY=13;COUNT=1000",
])
def test_a_rule_past_the_budget_or_out_of_range_is_refused_with_why(client, alice, rule):
    """What each costs is measured by the benchmark (bench/README.md, "Rules"), not here."""
    answer = client.post("/api/me/tasks", headers=alice.headers, json={
        "title": "t", "recurrence": rule, "due_at": "2026-02-13T09:00:00Z"})
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["errors"]["json"]["recurrence"]
