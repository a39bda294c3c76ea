"""SQL for the change feed. Row-level security decides the owner; nothing here names one.

The feed is one statement, so that it reads one snapshot: the tasks written after a position
(each in its latest state, at its latest version) and the deletions after it, in version
order, beside the owner's counter: how far deletions have been forgotten, and the latest
version handed out.
"""

from sqlalchemy import text

from taskapp.database.tables import TASK_FIELDS

COLUMNS = ", ".join(TASK_FIELDS)
NO_TASK = ", ".join(f"NULL AS {name}" for name in TASK_FIELDS if name != "id")

# The owner's counter as one row, even before their first write.
STATE = """
SELECT coalesce(max(forgotten_through), 0) AS forgotten, coalesce(max(last_version), 0) AS latest
FROM task_versions
"""

# A first sync: every live task, in version order (ties, as among tasks from before the feed,
# by id). Deletions do not concern a client that has nothing yet.
SNAPSHOT = text(f"""
SELECT state.forgotten, state.latest, page.*
FROM ({STATE}) AS state
LEFT JOIN (
    SELECT 'upsert' AS op, version, {COLUMNS} FROM tasks
    ORDER BY version, id
    LIMIT :limit
) AS page ON true
ORDER BY page.version, page.id
""")

# Everything after (:version, :id): tasks written since, and deletions since of tasks that
# do not exist now (an id a DBA brought back is an upsert, not a deletion). Deletions at or
# below :floor, the version a full sync was taken at, are of tasks that client never had.
SINCE = text(f"""
SELECT state.forgotten, state.latest, page.*
FROM ({STATE}) AS state
LEFT JOIN (
    SELECT 'upsert' AS op, version, {COLUMNS} FROM tasks
    WHERE (version, id) > (:version, :id)
    UNION ALL
    SELECT 'delete', d.version, d.task_id, {NO_TASK} FROM task_deletions d
    WHERE (d.version, d.task_id) > (:version, :id) AND d.version > :floor
      AND NOT EXISTS (SELECT FROM tasks t WHERE t.id = d.task_id)
    ORDER BY version, id
    LIMIT :limit
) AS page ON true
ORDER BY page.version, page.id
""")

# Deletions older than the retention are forgotten, a few per deleted task (the oldest, which
# are the lowest versions), and the counter remembers how far: older tokens are then refused.
FORGET_DELETIONS = text("""
WITH oldest AS (
    SELECT task_id FROM task_deletions ORDER BY version LIMIT 10
), forgotten AS (
    DELETE FROM task_deletions d USING oldest
    WHERE d.task_id = oldest.task_id AND d.deleted_at < now() - make_interval(days => :days)
    RETURNING d.version
)
UPDATE task_versions SET forgotten_through = (SELECT max(version) FROM forgotten)
WHERE forgotten_through < (SELECT max(version) FROM forgotten)
RETURNING forgotten_through
""")


def snapshot(limit: int):
    return SNAPSHOT, {"limit": limit}


def since(version: int, task_id, floor: int, limit: int):
    return SINCE, {"version": version, "id": task_id, "floor": floor, "limit": limit}


def forget_deletions(days: int):
    return FORGET_DELETIONS, {"days": days}
