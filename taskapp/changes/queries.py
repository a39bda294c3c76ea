"""SQL for the change feed. Row-level security decides which lists' rows exist; nothing here
names a user or a list.

The feed follows transactions. A position is the snapshot of the sync before (`prev`,
pg_current_snapshot()): what changed since is every row written by a transaction that
snapshot did not see. A round of pages is taken up to a second snapshot (`target`, the
first page's): its rows, ordered by (transaction, id), only leave the round while it is paged
(a row written again moves to the next round), so paging never skips one. The next round
starts from `target`.

What a round holds, each task at most once:
- an upsert of every visible task written since `prev`, and of every task of a list the
  caller joined since (they have none of its tasks yet);
- a delete of every task deleted from, or moved out of, a visible list since `prev`, and of
  every task a list held when the caller left it since — unless the task is visible now.
"""

from sqlalchemy import text

from taskapp.database.tables import TASK_FIELDS
from taskapp.database.transaction import distributed

COLUMNS = ", ".join(f"t.{name}" for name in TASK_FIELDS if name != "id")
NO_TASK = ", ".join(f"NULL AS {name}" for name in TASK_FIELDS if name != "id")
PAGE = ", ".join(f"page.{name}" for name in TASK_FIELDS if name != "id")


def _since(column: str) -> str:
    """Written by a transaction `prev` did not see and `target` did."""
    return (f"{column} >= pg_snapshot_xmin(b.prev) AND NOT pg_visible_in_snapshot({column}, b.prev)"
            f" AND pg_visible_in_snapshot({column}, b.target)")


FEED = text(f"""
WITH here AS (
    SELECT pg_current_snapshot() AS snapshot, floor(extract(epoch FROM now()))::bigint AS at
), b AS (
    SELECT CAST(:prev AS pg_snapshot) AS prev,
           coalesce(CAST(:target AS pg_snapshot), (SELECT snapshot FROM here)) AS target
), gained AS (
    SELECT m.list_id FROM my_memberships() m, b
    WHERE b.prev IS NOT NULL AND NOT pg_visible_in_snapshot(m.joined_xid, b.prev)
      AND pg_visible_in_snapshot(m.joined_xid, b.target)
), changed AS (
    SELECT 'upsert' AS op, t.written_xid AS xid, t.id, {COLUMNS} FROM tasks t, b
    WHERE pg_visible_in_snapshot(t.written_xid, b.target)
      AND (b.prev IS NULL OR NOT pg_visible_in_snapshot(t.written_xid, b.prev)
           OR t.list_id IN (SELECT gained.list_id FROM gained))
    UNION ALL
    SELECT 'delete', max(gone.xid), gone.task_id, {NO_TASK} FROM (
        SELECT d.deleted_xid AS xid, d.task_id FROM task_deletions d, b
        WHERE b.prev IS NOT NULL AND {_since("d.deleted_xid")}
        UNION ALL
        SELECT x.left_xid, left_with.task_id FROM list_departures x, unnest(x.task_ids) AS left_with(task_id), b
        WHERE b.prev IS NOT NULL AND {_since("x.left_xid")}
    ) gone
    WHERE NOT EXISTS (SELECT FROM tasks t WHERE t.id = gone.task_id)
    GROUP BY gone.task_id
)
SELECT here.snapshot::text AS snapshot, here.at, page.xid::text AS position, page.op, page.id, {PAGE} FROM here
LEFT JOIN (
    SELECT * FROM changed
    WHERE (changed.xid, changed.id) > (CAST(:after_xid AS xid8), CAST(:after_id AS uuid))
    ORDER BY changed.xid, changed.id
    LIMIT :limit
) AS page ON true
ORDER BY page.xid, page.id
""")

# On a Citus cluster (specs/citus.md) every node numbers its own transactions: a position is
# a snapshot per node, by group id, as JSON ({"1": "<snapshot>", …}), and a row is compared
# with its own node's (node_group(), run beside the row's shard). A node missing from `prev`
# (added since) has all its rows new. The order within a round is by node, then transaction:
# a change's position is the node's group in the top 16 bits and the transaction id below.


def _on_node(snapshot: str) -> str:
    return f"(b.{snapshot} ->> public.node_group()::text)::pg_snapshot"


def _new_on_node(column: str) -> str:
    """Written by a transaction its node's `prev` did not see and its `target` did."""
    return (f"coalesce(NOT pg_visible_in_snapshot({column}, {_on_node('prev')}), true)"
            f" AND pg_visible_in_snapshot({column}, {_on_node('target')})")


def _position(column: str) -> str:
    return f"((public.node_group()::bigint << 48) + {column}::text::bigint)"


FEED_ON_CITUS = text(f"""
WITH here AS (
    SELECT public.node_snapshots() AS snapshot, floor(extract(epoch FROM now()))::bigint AS at
), b AS (
    SELECT CAST(:prev AS jsonb) AS prev, coalesce(CAST(:target AS jsonb), (SELECT snapshot FROM here)) AS target
), gained AS MATERIALIZED (
    SELECT m.list_id FROM public.my_memberships_by_node() m, b
    WHERE b.prev IS NOT NULL
      AND coalesce(NOT pg_visible_in_snapshot(m.joined_xid, (b.prev ->> m.node::text)::pg_snapshot), true)
      AND pg_visible_in_snapshot(m.joined_xid, (b.target ->> m.node::text)::pg_snapshot)
), upserted AS MATERIALIZED (
    SELECT 'upsert' AS op, {_position("t.written_xid")} AS position, t.id, {COLUMNS} FROM tasks t, b
    WHERE pg_visible_in_snapshot(t.written_xid, {_on_node('target')})
      AND (b.prev IS NULL OR coalesce(NOT pg_visible_in_snapshot(t.written_xid, {_on_node('prev')}), true)
           OR t.list_id IN (SELECT gained.list_id FROM gained))
), gone AS MATERIALIZED (
    SELECT {_position("d.deleted_xid")} AS position, d.task_id FROM task_deletions d, b
    WHERE b.prev IS NOT NULL AND {_new_on_node("d.deleted_xid")}
    UNION ALL
    SELECT {_position("x.left_xid")}, left_with.task_id
    FROM list_departures x, unnest(x.task_ids) AS left_with(task_id), b
    WHERE b.prev IS NOT NULL AND {_new_on_node("x.left_xid")}
), still_here AS MATERIALIZED (
    SELECT t.id FROM tasks t WHERE t.id IN (SELECT gone.task_id FROM gone)
), changed AS (
    SELECT * FROM upserted
    UNION ALL
    SELECT 'delete', max(gone.position), gone.task_id, {NO_TASK} FROM gone
    WHERE gone.task_id NOT IN (SELECT still_here.id FROM still_here)
    GROUP BY gone.task_id
)
SELECT here.snapshot::text AS snapshot, here.at, page.position::text AS position, page.op, page.id, {PAGE}
FROM here
LEFT JOIN (
    SELECT * FROM changed
    WHERE (changed.position, changed.id) > (CAST(:after_xid AS bigint), CAST(:after_id AS uuid))
    ORDER BY changed.position, changed.id
    LIMIT :limit
) AS page ON true
ORDER BY page.position, page.id
""")

# Deletions older than the retention are forgotten a few at a time (by any editor of the
# list), and so are the caller's own departures: a token older than the retention is refused.
FORGET = text("""
WITH deletions AS (
    DELETE FROM task_deletions d
    WHERE (d.list_id, d.task_id) IN (
        SELECT o.list_id, o.task_id FROM task_deletions o
        WHERE o.deleted_at < now() - make_interval(days => :days) LIMIT 10)
), departures AS (
    DELETE FROM list_departures x
    WHERE (x.user_id, x.list_id) IN (
        SELECT o.user_id, o.list_id FROM list_departures o
        WHERE o.left_at < now() - make_interval(days => :days) LIMIT 10)
)
SELECT 1
""")


def feed(prev: str | None, target: str | None, after_xid: int, after_id, limit: int):
    parameters = {"prev": prev, "target": target, "after_xid": str(after_xid), "after_id": after_id, "limit": limit}
    return (FEED_ON_CITUS if distributed() else FEED), parameters


def forget(days: int):
    return FORGET, {"days": days}
