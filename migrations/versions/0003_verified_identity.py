"""verified identity: the policies believe app.user_id only with a proof made with the identity key

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# SQL is written inline, never read from sql/: an edit there must not rewrite history.

UPGRADE = r"""
CREATE SCHEMA taskapp_private;
REVOKE ALL ON SCHEMA taskapp_private FROM PUBLIC;

CREATE TABLE taskapp_private.identity_keys (
    key_id    text        PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
    inner_pad bytea       NOT NULL CHECK (octet_length(inner_pad) = 64),
    outer_pad bytea       NOT NULL CHECK (octet_length(outer_pad) = 64),
    added_at  timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON TABLE taskapp_private.identity_keys FROM PUBLIC;

CREATE FUNCTION public.verified_user_id() RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    claimed text := current_setting('app.user_id', true);
    proof   text := current_setting('app.identity_proof', true);
    part    text[];
BEGIN
    IF claimed IS NULL OR claimed = ''
       OR proof IS NULL OR proof !~ '^v1\.[0-9a-f]{16}\.[0-9]{1,15}\.[0-9a-f]{64}$' THEN
        RETURN NULL;
    END IF;
    part := string_to_array(proof, '.');
    IF part[3]::bigint < extract(epoch FROM now()) THEN
        RETURN NULL;
    END IF;
    PERFORM FROM taskapp_private.identity_keys k
    WHERE k.key_id = part[2]
      AND sha256(k.outer_pad || sha256(k.inner_pad || convert_to(part[3] || '.' || claimed, 'UTF8')))
          = decode(part[4], 'hex');
    IF FOUND THEN
        RETURN claimed;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION taskapp_private.act_as(user_id text) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    newest  taskapp_private.identity_keys;
    expires text := (floor(extract(epoch FROM now()))::bigint + 3600)::text;
BEGIN
    SELECT * INTO newest FROM taskapp_private.identity_keys ORDER BY added_at DESC, key_id LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no identity key is stored: run taskapp db upgrade with TASKAPP_IDENTITY_KEY';
    END IF;
    PERFORM set_config('app.user_id', user_id, true);
    PERFORM set_config('app.identity_proof', format('v1.%s.%s.%s', newest.key_id, expires, encode(
        sha256(newest.outer_pad || sha256(newest.inner_pad || convert_to(expires || '.' || user_id, 'UTF8'))),
        'hex')), true);
    RETURN user_id;
END
$$;

ALTER FUNCTION tasks_stamp() SET search_path = pg_catalog, pg_temp;

DROP POLICY "Tasks are visible to their owner" ON tasks;
DROP POLICY "Tasks can be created by their owner" ON tasks;
DROP POLICY "Tasks can be changed by their owner and stay theirs" ON tasks;
DROP POLICY "Tasks can be deleted by their owner" ON tasks;

CREATE POLICY "Tasks are visible to their owner" ON tasks
    FOR SELECT
    USING (user_id = (SELECT verified_user_id()));

CREATE POLICY "Tasks can be created by their owner" ON tasks
    FOR INSERT
    WITH CHECK (user_id = (SELECT verified_user_id()));

CREATE POLICY "Tasks can be changed by their owner and stay theirs" ON tasks
    FOR UPDATE
    USING (user_id = (SELECT verified_user_id()))
    WITH CHECK (user_id = (SELECT verified_user_id()));

CREATE POLICY "Tasks can be deleted by their owner" ON tasks
    FOR DELETE
    USING (user_id = (SELECT verified_user_id()));

REVOKE ALL ON FUNCTION public.verified_user_id() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.act_as(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.verified_user_id() TO taskapp_app;

-- Nobody but the owners creates objects in public (PostgreSQL 15's default, asserted for 14),
-- and taskapp_app makes no temporary tables, which would shadow tasks on a pooled connection.
-- (A warning, not an error, where the migrating role may not change these.)
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
END
$$;
"""

DOWNGRADE = r"""
DO $$
BEGIN
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database());
END
$$;

DROP POLICY "Tasks are visible to their owner" ON tasks;
DROP POLICY "Tasks can be created by their owner" ON tasks;
DROP POLICY "Tasks can be changed by their owner and stay theirs" ON tasks;
DROP POLICY "Tasks can be deleted by their owner" ON tasks;

CREATE POLICY "Tasks are visible to their owner" ON tasks
    FOR SELECT
    USING (user_id = (SELECT current_setting('app.user_id', true)));

CREATE POLICY "Tasks can be created by their owner" ON tasks
    FOR INSERT
    WITH CHECK (user_id = (SELECT current_setting('app.user_id', true)));

CREATE POLICY "Tasks can be changed by their owner and stay theirs" ON tasks
    FOR UPDATE
    USING (user_id = (SELECT current_setting('app.user_id', true)))
    WITH CHECK (user_id = (SELECT current_setting('app.user_id', true)));

CREATE POLICY "Tasks can be deleted by their owner" ON tasks
    FOR DELETE
    USING (user_id = (SELECT current_setting('app.user_id', true)));

ALTER FUNCTION tasks_stamp() RESET search_path;
DROP FUNCTION taskapp_private.act_as(text);
DROP FUNCTION public.verified_user_id();
DROP TABLE taskapp_private.identity_keys;
DROP SCHEMA taskapp_private;
"""


def upgrade():
    op.execute(UPGRADE)


def downgrade():
    op.execute(DOWNGRADE)
