"""Webhook subscriptions over HTTP: made, listed, changed, deleted; secrets shown once; isolation; SSRF."""

import pytest

from taskapp.webhooks.targets import RefusedTarget, check

URL = "http://127.0.0.1:9/hook"  # never called here: these tests only subscribe
EVERY_EVENT = ["task.created", "task.updated", "task.completed", "task.deleted", "reminder.due"]


def subscribe(client, user, **body):
    return client.post("/api/me/webhooks", json={"url": URL, "events": ["task.created"], **body},
                       headers=user.headers)


def test_a_subscription_shows_its_secret_once(local_client, alice):
    made = subscribe(local_client, alice, events=["task.deleted", "task.created"])
    assert made.status_code == 201
    webhook = made.get_json()
    assert webhook["secret"].startswith("whsec_") and len(webhook["secret"]) > 40
    assert webhook["events"] == ["task.created", "task.deleted"] and webhook["active"] is True
    listed = local_client.get("/api/me/webhooks", headers=alice.headers).get_json()
    assert [item["id"] for item in listed] == [webhook["id"]]
    assert "secret" not in listed[0]
    one = local_client.get(f"/api/me/webhooks/{webhook['id']}", headers=alice.headers).get_json()
    assert "secret" not in one and one["url"] == URL


def test_a_subscription_is_changed_and_deleted(local_client, alice):
    webhook = subscribe(local_client, alice).get_json()
    path = f"/api/me/webhooks/{webhook['id']}"
    changed = local_client.patch(path, json={"events": EVERY_EVENT, "active": False, "url": URL + "/2"},
                                 headers=alice.headers)
    assert changed.status_code == 200
    assert (changed.get_json()["events"], changed.get_json()["active"]) == (EVERY_EVENT, False)
    assert changed.get_json()["url"] == URL + "/2"
    assert local_client.delete(path, headers=alice.headers).status_code == 204
    assert local_client.get(path, headers=alice.headers).status_code == 404
    assert local_client.delete(path, headers=alice.headers).status_code == 404


def test_at_most_ten_subscriptions(local_client, alice):
    for _ in range(10):
        assert subscribe(local_client, alice).status_code == 201
    refused = subscribe(local_client, alice)
    assert refused.status_code == 409 and "10" in refused.get_json()["message"]
    assert len(local_client.get("/api/me/webhooks", headers=alice.headers).get_json()) == 10


def test_bob_cannot_read_change_list_or_delete_alices_subscriptions(local_client, alice, bob):
    webhook = subscribe(local_client, alice).get_json()
    path = f"/api/me/webhooks/{webhook['id']}"
    assert local_client.get("/api/me/webhooks", headers=bob.headers).get_json() == []
    assert local_client.get(path, headers=bob.headers).status_code == 404
    assert local_client.patch(path, json={"active": False}, headers=bob.headers).status_code == 404
    assert local_client.delete(path, headers=bob.headers).status_code == 404
    assert local_client.get(path + "/deliveries", headers=bob.headers).status_code == 404
    assert local_client.get(f"/api/{alice.sub}/webhooks", headers=bob.headers).status_code == 403
    assert local_client.get(path, headers=alice.headers).get_json()["active"] is True


@pytest.mark.parametrize("body, field", [
    ({"url": URL, "events": []}, "events"),
    ({"url": URL, "events": ["task.exploded"]}, "events"),
    ({"url": URL, "events": ["task.created", "task.created"]}, "events"),
    ({"url": URL, "events": "task.created"}, "events"),
    ({"url": "", "events": ["task.created"]}, "url"),
    ({"url": 12, "events": ["task.created"]}, "url"),
    ({"url": "http://127.0.0.1/" + "x" * 2000, "events": ["task.created"]}, "url"),
    ({"url": "ftp://127.0.0.1/", "events": ["task.created"]}, "url"),
    ({"url": "http://user:pw@127.0.0.1/", "events": ["task.created"]}, "url"),
    ({"events": ["task.created"]}, "url"),
    ({"url": URL}, "events"),
    ({"url": URL, "events": ["task.created"], "secret": "whsec_mine"}, "secret"),
])
def test_bad_subscriptions_are_422_and_make_nothing(local_client, alice, body, field):
    answer = local_client.post("/api/me/webhooks", json=body, headers=alice.headers)
    assert answer.status_code == 422
    assert field in answer.get_json()["errors"]["json"]
    assert local_client.get("/api/me/webhooks", headers=alice.headers).get_json() == []


@pytest.mark.parametrize("url, reason", [
    ("http://example.com/hook", "Only https://"),
    ("https://127.0.0.1/hook", "loopback"),
    ("https://localhost:8443/hook", "loopback"),
    ("https://[::1]/hook", "loopback"),
    ("https://10.1.2.3/hook", "private"),
    ("https://192.168.0.10/hook", "private"),
    ("https://172.16.5.4/hook", "private"),
    ("https://169.254.169.254/latest/meta-data", "link-local"),
    ("https://[fe80::1]/hook", "link-local"),
    ("https://[::ffff:10.0.0.1]/hook", "private"),
    ("https://0.0.0.0/hook", "unspecified"),
    ("https://100.64.0.1/hook", "not public"),
    ("https://no-such-host.invalid/hook", "does not resolve"),
])
def test_unsafe_urls_are_refused_with_the_reason(client, alice, url, reason):
    """With WEBHOOK_ALLOW_PRIVATE off (the default)."""
    answer = client.post("/api/me/webhooks", json={"url": url, "events": ["task.created"]}, headers=alice.headers)
    assert answer.status_code == 422
    assert reason in answer.get_json()["errors"]["json"]["url"][0]
    patched = client.patch("/api/me/webhooks/00000000-0000-0000-0000-000000000000", json={"url": url},
                           headers=alice.headers)
    assert patched.status_code == 422
    with pytest.raises(RefusedTarget, match=reason):
        check(url, allow_private=False)


def test_a_public_https_address_passes_the_check():
    target = check("https://8.8.8.8:8443/hook?x=1", allow_private=False)
    assert (target.scheme, target.address, target.port, target.path) == ("https", "8.8.8.8", 8443, "/hook?x=1")


def test_allowing_private_addresses_allows_http_and_loopback():
    assert check("http://localhost:9/hook", allow_private=True).address in ("127.0.0.1", "::1")
    with pytest.raises(RefusedTarget, match="Only http:// and https://"):
        check("ftp://localhost/", allow_private=True)


def test_deliveries_of_a_new_subscription_are_an_empty_page(local_client, alice):
    webhook = subscribe(local_client, alice).get_json()
    answer = local_client.get(f"/api/me/webhooks/{webhook['id']}/deliveries", headers=alice.headers)
    assert answer.status_code == 200 and answer.get_json() == []
    bad = local_client.get(f"/api/me/webhooks/{webhook['id']}/deliveries?cursor=nope", headers=alice.headers)
    assert bad.status_code == 400
