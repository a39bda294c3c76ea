"""fair claims: taskapp_queue.claim takes at most per_user jobs of one user and skips the users given

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# SQL is written inline, never read from sql/: an edit there must not rewrite history.

UPGRADE = r"""
DROP FUNCTION taskapp_queue.claim(integer, integer);

-- Up to how_many due jobs no other worker holds, each held for lease_seconds: a worker that
-- dies holding one leaves it to another once the lease ends. Fair between users: at most
-- per_user jobs of one user in a claim, and none of the users in skip_users (those whose
-- share of the worker is taken), so that one user's slow receiver holds only its share of
-- the worker's threads while everyone else's jobs go on.
CREATE FUNCTION taskapp_queue.claim(how_many integer, lease_seconds integer, per_user integer DEFAULT 100,
                                    skip_users text[] DEFAULT '{}')
RETURNS TABLE (job bigint, claim uuid, kind text, user_id text, ref uuid, run_at timestamptz, claims integer)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH due AS (
        SELECT j.id, j.user_id, j.run_at FROM taskapp_queue.jobs j
        WHERE j.run_at <= now() AND (j.leased_until IS NULL OR j.leased_until < now())
          AND j.user_id <> ALL (skip_users)
        ORDER BY j.run_at, j.id
        LIMIT 100
        FOR UPDATE SKIP LOCKED
    ), fair AS (
        SELECT ranked.id FROM (
            SELECT due.id, due.run_at,
                   row_number() OVER (PARTITION BY due.user_id ORDER BY due.run_at, due.id) AS place
            FROM due
        ) ranked
        WHERE ranked.place <= greatest(per_user, 1)
        ORDER BY ranked.run_at, ranked.id
        LIMIT least(how_many, 100)
    )
    UPDATE taskapp_queue.jobs j
    SET claim = gen_random_uuid(), claims = j.claims + 1,
        leased_until = now() + make_interval(secs => least(greatest(lease_seconds, 1), 3600))
    FROM fair WHERE j.id = fair.id
    RETURNING j.id, j.claim, j.kind, j.user_id, j.ref, j.run_at, j.claims
$$;
REVOKE ALL ON FUNCTION taskapp_queue.claim(integer, integer, integer, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION taskapp_queue.claim(integer, integer, integer, text[]) TO taskapp_worker;
"""

DOWNGRADE = r"""
DROP FUNCTION taskapp_queue.claim(integer, integer, integer, text[]);

-- Up to how_many due jobs no other worker holds, each held for lease_seconds: a worker that
-- dies holding one leaves it to another once the lease ends.
CREATE FUNCTION taskapp_queue.claim(how_many integer, lease_seconds integer)
RETURNS TABLE (job bigint, claim uuid, kind text, user_id text, ref uuid, run_at timestamptz, claims integer)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH due AS (
        SELECT j.id FROM taskapp_queue.jobs j
        WHERE j.run_at <= now() AND (j.leased_until IS NULL OR j.leased_until < now())
        ORDER BY j.run_at, j.id
        LIMIT least(how_many, 100)
        FOR UPDATE SKIP LOCKED
    )
    UPDATE taskapp_queue.jobs j
    SET claim = gen_random_uuid(), claims = j.claims + 1,
        leased_until = now() + make_interval(secs => least(greatest(lease_seconds, 1), 3600))
    FROM due WHERE j.id = due.id
    RETURNING j.id, j.claim, j.kind, j.user_id, j.ref, j.run_at, j.claims
$$;
REVOKE ALL ON FUNCTION taskapp_queue.claim(integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION taskapp_queue.claim(integer, integer) TO taskapp_worker;
"""


def upgrade():
    op.execute(UPGRADE)


def downgrade():
    op.execute(DOWNGRADE)
