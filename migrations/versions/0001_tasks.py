"""tasks table, row-level security and privileges

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# SQL is written inline, never read from sql/: an edit there must not rewrite history.
# tests/sql/test_schema_drift.py checks that sql/ declares the same result.

UPGRADE = r"""
CREATE TYPE task_priority AS ENUM ('low', 'medium', 'high');

CREATE TABLE tasks (
    id           uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      text          NOT NULL DEFAULT current_setting('app.user_id', true),
    title        text          NOT NULL,
    description  text,
    completed    boolean       NOT NULL DEFAULT false,
    completed_at timestamptz,
    priority     task_priority NOT NULL DEFAULT 'medium',
    due_at       timestamptz,
    tags         text[]        NOT NULL DEFAULT '{}',
    created_at   timestamptz   NOT NULL DEFAULT now(),
    updated_at   timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT tasks_user_id_not_empty CHECK (user_id <> '' AND char_length(user_id) <= 255),
    CONSTRAINT tasks_title_length CHECK (char_length(title) BETWEEN 1 AND 255),
    CONSTRAINT tasks_description_length CHECK (char_length(description) <= 1000),
    CONSTRAINT tasks_tags_count CHECK (cardinality(tags) <= 20),
    CONSTRAINT tasks_completed_at_matches CHECK (completed = (completed_at IS NOT NULL))
);

CREATE INDEX tasks_user_id_created_at_idx ON tasks (user_id, created_at DESC, id DESC);

CREATE FUNCTION tasks_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
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

CREATE TRIGGER tasks_stamp BEFORE INSERT OR UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_stamp();

ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE tasks FORCE ROW LEVEL SECURITY;

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

REVOKE ALL ON TABLE tasks FROM PUBLIC;
REVOKE ALL ON FUNCTION tasks_stamp() FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO taskapp_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE tasks TO taskapp_app;
GRANT USAGE ON TYPE task_priority TO taskapp_app;
GRANT SELECT ON TABLE alembic_version TO taskapp_app;
"""

DOWNGRADE = r"""
DROP TABLE tasks;
DROP FUNCTION tasks_stamp();
DROP TYPE task_priority;
"""


def upgrade():
    op.execute(UPGRADE)


def downgrade():
    op.execute(DOWNGRADE)
