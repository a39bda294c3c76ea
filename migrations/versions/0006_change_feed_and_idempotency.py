"""the change feed and idempotent writes: tasks.version, task_versions, task_deletions, idempotency_keys

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# SQL is written inline, never read from sql/: an edit there must not rewrite history.

UPGRADE = r"""
-- Tasks written before the feed keep version 0: a first sync (no token) returns them all.
ALTER TABLE tasks ADD COLUMN version bigint NOT NULL DEFAULT 0;
CREATE INDEX tasks_user_id_version_idx ON tasks (user_id, version, id);

CREATE TABLE task_versions (
    user_id           text   NOT NULL DEFAULT current_setting('app.user_id', true),
    -- The version the owner's latest write took.
    last_version      bigint NOT NULL,
    -- Deletions up to this version are forgotten: a sync token older than it is too old (410).
    forgotten_through bigint NOT NULL DEFAULT 0,
    CONSTRAINT task_versions_pkey PRIMARY KEY (user_id),
    CONSTRAINT task_versions_user_id_not_empty CHECK (user_id <> '' AND char_length(user_id) <= 255)
);

-- A deleted task, remembered (for TASKAPP_CHANGES_RETENTION_DAYS, then forgotten by a bounded
-- delete that taskapp runs when tasks are deleted) so that the feed can tell clients.
CREATE TABLE task_deletions (
    user_id    text        NOT NULL DEFAULT current_setting('app.user_id', true),
    task_id    uuid        NOT NULL,
    version    bigint      NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT task_deletions_pkey PRIMARY KEY (user_id, task_id),
    CONSTRAINT task_deletions_user_id_not_empty CHECK (user_id <> '' AND char_length(user_id) <= 255)
);

CREATE INDEX task_deletions_version_idx ON task_deletions (user_id, version, task_id);

-- The owner's next version; locks their counter row until the transaction ends.
CREATE FUNCTION next_task_version(owner text) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    taken bigint;
BEGIN
    INSERT INTO public.task_versions AS v (user_id, last_version) VALUES (owner, 1)
    ON CONFLICT (user_id) DO UPDATE SET last_version = v.last_version + 1
    RETURNING v.last_version INTO taken;
    RETURN taken;
END
$$;

CREATE OR REPLACE FUNCTION tasks_stamp() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.created_at := now();
        NEW.updated_at := NEW.created_at;
        NEW.completed_at := CASE WHEN NEW.completed THEN NEW.created_at END;
    ELSE
        NEW.id := OLD.id;
        NEW.created_at := OLD.created_at;
        NEW.updated_at := greatest(clock_timestamp(), OLD.updated_at + interval '1 microsecond');
        NEW.completed_at := CASE
            WHEN NOT NEW.completed THEN NULL
            WHEN OLD.completed THEN OLD.completed_at
            ELSE NEW.updated_at
        END;
    END IF;
    NEW.version := public.next_task_version(NEW.user_id);
    RETURN NEW;
END
$$;

CREATE FUNCTION tasks_remember_deletion() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO public.task_deletions AS d (user_id, task_id, version)
    VALUES (OLD.user_id, OLD.id, public.next_task_version(OLD.user_id))
    ON CONFLICT (user_id, task_id) DO UPDATE SET version = excluded.version, deleted_at = excluded.deleted_at;
    RETURN NULL;
END
$$;

CREATE TRIGGER tasks_remember_deletion AFTER DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_remember_deletion();

CREATE TABLE idempotency_keys (
    user_id     text        NOT NULL DEFAULT current_setting('app.user_id', true),
    key         text        NOT NULL,
    -- SHA-256 (hex) of the request's method, path and body: a key reused for another
    -- request is refused (422).
    fingerprint text        NOT NULL,
    status      smallint    NOT NULL,
    -- The answer's body as sent, and the headers replayed with it (Content-Type, Location, ETag).
    body        text        NOT NULL,
    headers     jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, key),
    CONSTRAINT idempotency_keys_user_id_not_empty CHECK (user_id <> '' AND char_length(user_id) <= 255),
    CONSTRAINT idempotency_keys_key_length CHECK (char_length(key) BETWEEN 1 AND 255),
    CONSTRAINT idempotency_keys_status_success CHECK (status BETWEEN 200 AND 299)
);

-- Expired keys, oldest first (removed a few at a time as their owner writes).
CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (user_id, expires_at);

ALTER TABLE task_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_versions FORCE ROW LEVEL SECURITY;

CREATE POLICY "Version counters are visible to their owner" ON task_versions
    FOR SELECT
    USING (user_id = (SELECT verified_user_id()));

CREATE POLICY "Version counters are started by their owner" ON task_versions
    FOR INSERT
    WITH CHECK (user_id = (SELECT verified_user_id()));

CREATE POLICY "Version counters are moved by their owner and stay theirs" ON task_versions
    FOR UPDATE
    USING (user_id = (SELECT verified_user_id()))
    WITH CHECK (user_id = (SELECT verified_user_id()));

ALTER TABLE task_deletions ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_deletions FORCE ROW LEVEL SECURITY;

CREATE POLICY "Deletions are visible to their owner" ON task_deletions
    FOR SELECT
    USING (user_id = (SELECT verified_user_id()));

CREATE POLICY "Deletions are recorded by their owner" ON task_deletions
    FOR INSERT
    WITH CHECK (user_id = (SELECT verified_user_id()));

CREATE POLICY "Deletions are re-recorded by their owner and stay theirs" ON task_deletions
    FOR UPDATE
    USING (user_id = (SELECT verified_user_id()))
    WITH CHECK (user_id = (SELECT verified_user_id()));

CREATE POLICY "Deletions can be forgotten by their owner" ON task_deletions
    FOR DELETE
    USING (user_id = (SELECT verified_user_id()));

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;

CREATE POLICY "Idempotency keys are visible to their owner" ON idempotency_keys
    FOR SELECT
    USING (user_id = (SELECT verified_user_id()));

CREATE POLICY "Idempotency keys are stored by their owner" ON idempotency_keys
    FOR INSERT
    WITH CHECK (user_id = (SELECT verified_user_id()));

CREATE POLICY "Idempotency keys can be removed by their owner" ON idempotency_keys
    FOR DELETE
    USING (user_id = (SELECT verified_user_id()));

REVOKE ALL ON TABLE task_versions FROM PUBLIC;
REVOKE ALL ON TABLE task_deletions FROM PUBLIC;
REVOKE ALL ON FUNCTION next_task_version(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION tasks_remember_deletion() FROM PUBLIC;
REVOKE ALL ON TABLE idempotency_keys FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON TABLE task_versions TO taskapp_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE task_deletions TO taskapp_app;
GRANT EXECUTE ON FUNCTION next_task_version(text) TO taskapp_app;
GRANT SELECT, INSERT, DELETE ON TABLE idempotency_keys TO taskapp_app;
"""

DOWNGRADE = r"""
DROP TABLE idempotency_keys;
DROP TRIGGER tasks_remember_deletion ON tasks;
DROP FUNCTION tasks_remember_deletion();
CREATE OR REPLACE FUNCTION tasks_stamp() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.created_at := now();
        NEW.updated_at := NEW.created_at;
        NEW.completed_at := CASE WHEN NEW.completed THEN NEW.created_at END;
    ELSE
        NEW.id := OLD.id;
        NEW.created_at := OLD.created_at;
        NEW.updated_at := greatest(clock_timestamp(), OLD.updated_at + interval '1 microsecond');
        NEW.completed_at := CASE
            WHEN NOT NEW.completed THEN NULL
            WHEN OLD.completed THEN OLD.completed_at
            ELSE NEW.updated_at
        END;
    END IF;
    RETURN NEW;
END
$$;
DROP FUNCTION next_task_version(text);
DROP TABLE task_deletions;
DROP TABLE task_versions;
DROP INDEX tasks_user_id_version_idx;
ALTER TABLE tasks DROP COLUMN version;
"""


def upgrade():
    op.execute(UPGRADE)


def downgrade():
    op.execute(DOWNGRADE)
