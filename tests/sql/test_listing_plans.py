"""At 100,000 tasks across many users, every list query is an index scan under RLS, never a scan of the table."""

import psycopg
import pytest
from sqlalchemy.dialects import postgresql

from taskapp.config import sqlalchemy_url
from taskapp.database.migrations import upgrade
from taskapp.tasks.listing import SORT_NAMES, SORT_ORDERS, page_statement
from tests.support.citus import CITUS_ADMIN_URL
from tests.support.identity import IDENTITY_KEY, act_as

# PostgreSQL's own plans; through a Citus coordinator a plan is Citus's (tests/citus shows it).
pytestmark = pytest.mark.skipif(bool(CITUS_ADMIN_URL), reason="single-node plans; on Citus see tests/citus")

USERS = 200
TASKS = 100_000
PROBED_USER = "user-7"

FILTERS = {
    "no filter": {},
    "open work tasks": {"completed": False, "tag": ["work"]},
    "search": {"q": "invoice"},
    "high priority due soon": {"priority": "high", "due_before": None},
}


@pytest.fixture(scope="module")
def big_database(fresh_database, database):
    """A migrated database holding 100,000 tasks of 200 users (seeded set-based, as the owner)."""
    url = fresh_database()
    upgrade(sqlalchemy_url(url), identity_key=IDENTITY_KEY)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(  # each user's Inbox (the trigger makes them its owner)
            "insert into lists (name, personal_of, created_by)"
            " select 'Inbox', 'user-' || n, 'user-' || n from generate_series(0, %(users)s - 1) as n",
            {"users": USERS},
        )
        conn.execute(
            """
            insert into tasks (user_id, list_id, title, description, completed, priority, due_at, tags)
            select 'user-' || (n %% %(users)s), inbox.id,
                   'task ' || n || ' ' || (array['invoice', 'milk', 'report', 'call'])[1 + m %% 4],
                   case when m %% 3 = 0 then 'about the ' || (array['invoice', 'budget'])[1 + m %% 2] end,
                   m %% 2 = 0,
                   (array['low', 'medium', 'high'])[1 + m %% 3]::task_priority,
                   case when m %% 5 <> 0 then now() + (m %% 100) * interval '1 day' end,
                   array[(array['work', 'home', 'urgent'])[1 + m %% 5 %% 3]]
            from generate_series(1, %(tasks)s) as n, lateral (select n / %(users)s as m) as per_user,
                 lateral (select l.id from lists l where l.personal_of = 'user-' || (n %% %(users)s)) as inbox
            """,
            {"users": USERS, "tasks": TASKS},
        )
        conn.execute("analyze tasks")
        assert conn.execute("select count(*) from tasks").fetchone()[0] >= TASKS
    app_url = database.app_url.replace(
        sqlalchemy_url(database.app_url).database, sqlalchemy_url(url).database
    )
    return app_url


def plan_nodes(plan):
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def explain(conn, statement, parameters):
    compiled = statement.compile(dialect=postgresql.psycopg.dialect())
    with conn.transaction():
        act_as(conn, PROBED_USER)
        bound = compiled.construct_params(parameters)
        (result,) = conn.execute("explain (format json) " + compiled.string, bound).fetchone()
    return list(plan_nodes(result[0]["Plan"]))


def first_and_later_page(conn, args, order):
    """The statements of page one, and of a page after the first page's last row."""
    first, parameters = page_statement(args, order, None, 20)
    with conn.transaction():
        act_as(conn, PROBED_USER)
        compiled = first.compile(dialect=postgresql.psycopg.dialect())
        rows = conn.execute(compiled.string, compiled.construct_params(parameters)).fetchall()
    assert rows, "the probed user has matching tasks"
    last = rows[min(len(rows), 20) - 1]
    columns = [c.name for c in first.selected_columns]
    last = dict(zip(columns, last, strict=True))
    return (first, parameters), page_statement(args, order, (last[order.field], last["id"]), 20)


@pytest.mark.parametrize("filters", FILTERS, ids=FILTERS.keys())
@pytest.mark.parametrize("sort", SORT_NAMES)
def test_every_sort_and_page_is_an_index_scan_under_rls(big_database, sort, filters):
    args = dict(FILTERS[filters])
    if "due_before" in args:
        from datetime import datetime, timedelta, timezone

        args["due_before"] = datetime.now(timezone.utc) + timedelta(days=30)
    with psycopg.connect(big_database) as conn:
        role = conn.execute("select current_user").fetchone()[0]
        assert role == "taskapp_app"
        for statement, parameters in first_and_later_page(conn, args, SORT_ORDERS[sort]):
            nodes = explain(conn, statement, parameters)
            scans = [n for n in nodes if n.get("Relation Name") == "tasks"]
            assert scans, nodes
            assert all(n["Node Type"] != "Seq Scan" for n in scans), [n["Node Type"] for n in scans]
            assert any("Index Name" in n for n in nodes), "an index serves the query"


# The index that holds a list's tasks in each order (both directions read one index).
ORDER_INDEXES = {
    "created_at": {"tasks_list_id_created_at_idx"},
    "updated_at": {"tasks_list_id_updated_at_idx"},
    "due_at": {"tasks_list_id_due_at_asc_idx", "tasks_list_id_due_at_desc_idx"},
    "priority": {"tasks_list_id_priority_idx"},
    "title": {"tasks_list_id_title_idx"},
}


@pytest.mark.parametrize("filters", ["no filter", "open work tasks", "search"])
@pytest.mark.parametrize("sort", SORT_NAMES)
def test_a_page_reads_each_list_in_its_order_and_stops(big_database, sort, filters):
    """Filtered and searched pages too: each list is read from the index of the page's order
    until the page is full, never read whole (a bitmap scan) and sorted. The planner cannot know
    a list's size under the policies, and chose the latter at the default random_page_cost; the
    runtime role's setting (sql/00_roles.sql) is what keeps this plan."""
    order = SORT_ORDERS[sort]
    with psycopg.connect(big_database) as conn:
        for statement, parameters in first_and_later_page(conn, dict(FILTERS[filters]), order):
            nodes = explain(conn, statement, parameters)
            scans = [n for n in nodes if n.get("Relation Name") == "tasks"]
            assert [n["Node Type"] for n in scans] == ["Index Scan"], scans
            assert scans[0]["Index Name"] in ORDER_INDEXES[order.field], scans[0]["Index Name"]
