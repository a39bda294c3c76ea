"""Finding tasks: every filter, sort order and page rule of GET /api/{user_id}/tasks."""

from urllib.parse import parse_qs, urlsplit

import pytest
from itsdangerous import URLSafeSerializer

from taskapp.tasks.listing import page_scope
from tests.support.pages import next_link


def walk(client, user, url):
    """Follow rel="next" from `url` to the last page; return every page's titles."""
    pages = []
    while url is not None:
        response = client.get(url, headers=user.headers)
        assert response.status_code == 200, response.json
        pages.append([task["title"] for task in response.json])
        url = next_link(response)
    return pages


def titles(client, user, query=""):
    response = client.get(f"/api/me/tasks?{query}", headers=user.headers)
    assert response.status_code == 200, response.json
    return [task["title"] for task in response.json]


@pytest.fixture()
def chores(create_task, alice):
    create_task(alice, title="Pay invoice 42", description="for ACME, by Friday", priority="high",
                tags=["work", "money"], due_at="2030-01-10T09:00:00Z")
    create_task(alice, title="Buy milk", priority="low", tags=["home"], due_at="2030-01-05T09:00:00Z")
    create_task(alice, title="Write report", description="quarterly numbers", tags=["work"], completed=True)
    create_task(alice, title="Call mum", tags=["home", "family"], due_at="2030-01-20T09:00:00Z")
    return alice


def test_default_is_newest_first(client, chores):
    assert titles(client, chores) == ["Call mum", "Write report", "Buy milk", "Pay invoice 42"]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("completed=true", ["Write report"]),
        ("completed=false", ["Call mum", "Buy milk", "Pay invoice 42"]),
        ("priority=high", ["Pay invoice 42"]),
        ("priority=medium", ["Call mum", "Write report"]),
        ("tag=work", ["Write report", "Pay invoice 42"]),
        ("tag=WORK&tag=Money", ["Pay invoice 42"]),
        ("tag=home&tag=work", []),
        ("q=invoice", ["Pay invoice 42"]),
        ("q=INVOICE acme", ["Pay invoice 42"]),
        ("q=invoice milk", []),
        ("q=quarterly", ["Write report"]),
        ("due_before=2030-01-10T09:00:00Z", ["Buy milk"]),
        ("due_after=2030-01-10T09:00:00Z", ["Call mum"]),
        ("due_after=2030-01-01T00:00:00%2B00:00&due_before=2030-01-15T00:00:00-05:00",
         ["Buy milk", "Pay invoice 42"]),
        ("completed=false&tag=home&sort=title", ["Buy milk", "Call mum"]),
        ("unknown_parameter=ignored", ["Call mum", "Write report", "Buy milk", "Pay invoice 42"]),
    ],
)
def test_filters(client, chores, query, expected):
    assert titles(client, chores, query) == expected


@pytest.mark.parametrize(
    "sort, expected",
    [
        ("created_at", ["Pay invoice 42", "Buy milk", "Write report", "Call mum"]),
        ("-created_at", ["Call mum", "Write report", "Buy milk", "Pay invoice 42"]),
        ("due_at", ["Buy milk", "Pay invoice 42", "Call mum", "Write report"]),
        ("-due_at", ["Call mum", "Pay invoice 42", "Buy milk", "Write report"]),
        ("title", ["Buy milk", "Call mum", "Pay invoice 42", "Write report"]),
        ("-title", ["Write report", "Pay invoice 42", "Call mum", "Buy milk"]),
    ],
)
def test_sort_orders(client, chores, sort, expected):
    assert titles(client, chores, f"sort={sort}") == expected


def test_priority_sorts_by_rank_with_ties_broken_by_id(client, create_task, alice):
    made = [create_task(alice, title=p, priority=p) for p in ("high", "low", "medium", "low", "high")]
    ranked = sorted(made, key=lambda t: (["low", "medium", "high"].index(t["priority"]), t["id"]))
    ascending = client.get("/api/me/tasks?sort=priority", headers=alice.headers).json
    assert [t["id"] for t in ascending] == [t["id"] for t in ranked]
    descending = client.get("/api/me/tasks?sort=-priority", headers=alice.headers).json
    assert [t["id"] for t in descending] == [t["id"] for t in reversed(ranked)]


def test_updated_at_sort_follows_the_latest_write(client, chores):
    first = client.get("/api/me/tasks?sort=created_at&limit=1", headers=chores.headers).json[0]
    client.patch(f"/api/me/tasks/{first['id']}", json={"description": "touched"}, headers=chores.headers)
    assert titles(client, chores, "sort=-updated_at")[0] == first["title"]
    assert titles(client, chores, "sort=updated_at")[-1] == first["title"]


@pytest.mark.parametrize(
    "q",
    ["'", '"', "%", "_", "&", "|", "!", "\\", "a & b | !c", "(", ":*", "'; drop table tasks; --",
     "счёт-фактура", "日本語", "emoji 🎉", "   ", "<->", "a:b", "x" * 500],
)
def test_search_text_is_just_text(client, chores, q):
    response = client.get("/api/me/tasks", query_string={"q": q}, headers=chores.headers)
    assert response.status_code == 200
    assert isinstance(response.json, list)


@pytest.mark.parametrize("q", ["", "   ", "!!!", "& | !"])
def test_a_search_without_words_filters_nothing(client, chores, q):
    response = client.get("/api/me/tasks", query_string={"q": q}, headers=chores.headers)
    assert [t["title"] for t in response.json] == titles(client, chores)


def test_search_finds_non_latin_words(client, create_task, alice):
    create_task(alice, title="Оплатить счёт", description="до пятницы")
    create_task(alice, title="请 支付 发票")
    assert titles(client, alice, "q=СЧЁТ") == ["Оплатить счёт"]
    assert titles(client, alice, "q=发票") == ["请 支付 发票"]


@pytest.mark.parametrize(
    "query",
    [
        "sort=owner", "sort=id", "sort=--title", "sort=", "limit=0", "limit=501", "limit=-1", "limit=abc",
        "limit=1.5", "completed=yes", "completed=1", "completed=TRUE", "priority=urgent",
        "due_before=tomorrow", "due_before=2030-01-01T00:00:00", "due_after=2030-01-01",
        "due_after=9999-12-31T20:00:00-05:00",  # the year 10000 in UTC
        "tag=", "tag=" + "x" * 41, "q=a%00b", "q=" + "x" * 501,
    ],
)
def test_bad_parameters_are_422(client, chores, query):
    response = client.get(f"/api/me/tasks?{query}", headers=chores.headers)
    assert response.status_code == 422, response.json
    assert response.json["errors"]["query"]


def test_limit_pages_with_a_link_header_until_the_last_page(client, chores):
    first = client.get("/api/me/tasks?limit=3", headers=chores.headers)
    assert len(first.json) == 3
    url = next_link(first)
    assert url.startswith("/api/me/tasks?") and "cursor=" in url and "limit=3" in url
    last = client.get(url, headers=chores.headers)
    assert [t["title"] for t in last.json] == ["Pay invoice 42"]
    assert "Link" not in last.headers


def test_an_exact_last_page_has_no_link(client, chores):
    assert "Link" not in client.get("/api/me/tasks?limit=4", headers=chores.headers).headers


def test_the_next_link_keeps_filters_and_sort(client, chores):
    url = next_link(client.get("/api/me/tasks?tag=home&sort=title&limit=1", headers=chores.headers))
    query = parse_qs(urlsplit(url).query)
    assert query["tag"] == ["home"] and query["sort"] == ["title"]
    assert walk(client, chores, "/api/me/tasks?tag=home&sort=title&limit=1") == [["Buy milk"], ["Call mum"]]


def cursor_of(client, user, query):
    url = next_link(client.get(f"/api/me/tasks?{query}", headers=user.headers))
    return parse_qs(urlsplit(url).query)["cursor"][0]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: "garbage",
        # The signature's last base64 character carries unused bits ("A" and "B" can decode
        # alike): a character before it is edited.
        lambda c: c[:-2] + ("A" if c[-2] != "A" else "Q") + c[-1],
        lambda c: c.replace(".", "x", 1),
        lambda c: "",
        lambda c: c + "%00",
    ],
    ids=["garbage", "signature edited", "payload edited", "empty", "NUL appended"],
)
def test_a_tampered_cursor_is_4xx_never_a_page(client, chores, tamper):
    cursor = cursor_of(client, chores, "limit=1")
    response = client.get(f"/api/me/tasks?limit=1&cursor={tamper(cursor)}", headers=chores.headers)
    assert response.status_code in (400, 422)
    assert response.json["code"] == response.status_code


@pytest.mark.parametrize("other", ["sort=title", "sort=created_at", "tag=work", "completed=false", "q=milk"])
def test_a_cursor_for_another_sort_or_filter_is_400(client, chores, other):
    cursor = cursor_of(client, chores, "limit=1")
    response = client.get(f"/api/me/tasks?limit=1&{other}&cursor={cursor}", headers=chores.headers)
    assert response.status_code == 400


def test_another_users_cursor_is_400(client, chores, bob):
    cursor = cursor_of(client, chores, "limit=1")
    response = client.get(f"/api/me/tasks?limit=1&cursor={cursor}", headers=bob.headers)
    assert response.status_code == 400


def test_a_cursor_signed_with_another_key_is_400(client, chores):
    forged = URLSafeSerializer("not-the-server-secret-" + "x" * 20, salt="taskapp.tasks.cursor").dumps(
        {"s": "-created_at", "f": page_scope({}, chores.sub), "k": None, "i": "00000000-0000-0000-0000-000000000000"}
    )
    response = client.get(f"/api/me/tasks?cursor={forged}", headers=chores.headers)
    assert response.status_code == 400


@pytest.mark.parametrize("sort", ["-created_at", "created_at", "-updated_at", "due_at", "-due_at", "title"])
def test_inserts_while_paging_neither_shift_nor_repeat_pages(client, create_task, alice, sort):
    for n in range(6):
        create_task(alice, title=f"task {n}", due_at=None if n % 2 else f"2030-01-0{n + 1}T00:00:00Z")
    before = [t["id"] for t in client.get(f"/api/me/tasks?sort={sort}&limit=500", headers=alice.headers).json]
    first = client.get(f"/api/me/tasks?sort={sort}&limit=2", headers=alice.headers)
    seen = [t["id"] for t in first.json]
    url = next_link(first)
    # Another client adds tasks that sort before, among and after the pages served.
    create_task(alice, title="AAA new", due_at="2029-01-01T00:00:00Z")
    create_task(alice, title="zzz new")
    while url:
        response = client.get(url, headers=alice.headers)
        seen.extend(t["id"] for t in response.json)
        url = next_link(response)
    new_ids = {t["id"] for t in client.get("/api/me/tasks?limit=500", headers=alice.headers).json} - set(before)
    assert len(seen) == len(set(seen)), "a task was served twice"
    assert [i for i in seen if i not in new_ids] == before, "a task was skipped or moved"
