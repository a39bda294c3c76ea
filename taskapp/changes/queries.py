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
    return FEED, {"prev": prev, "target": target, "after_xid": str(after_xid), "after_id": after_id,
                  "limit": limit}


def forget(days: int):
    return FORGET, {"days": days}
