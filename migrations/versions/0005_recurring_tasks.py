"""recurring tasks and every completion: recurrence columns on tasks, task_completions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# SQL is written inline, never read from sql/: an edit there must not rewrite history.

UPGRADE = r"""
ALTER TABLE tasks
    ADD COLUMN recurrence         text,
    ADD COLUMN time_zone          text    NOT NULL DEFAULT 'UTC',
    ADD COLUMN repeat_from        text    NOT NULL DEFAULT 'due',
    ADD COLUMN recurrence_start   timestamptz,
    ADD COLUMN recurrence_last    timestamptz,
    ADD COLUMN series_completions integer NOT NULL DEFAULT 0,
    ADD CONSTRAINT tasks_recurrence_length CHECK (char_length(recurrence) BETWEEN 1 AND 500),
    ADD CONSTRAINT tasks_recurrence_needs_due_at CHECK (recurrence IS NULL OR due_at IS NOT NULL),
    ADD CONSTRAINT tasks_time_zone_length CHECK (char_length(time_zone) BETWEEN 1 AND 64),
    ADD CONSTRAINT tasks_repeat_from_known CHECK (repeat_from IN ('due', 'completion')),
    ADD CONSTRAINT tasks_series_completions_count CHECK (series_completions >= 0),
    ADD CONSTRAINT tasks_user_id_id_key UNIQUE (user_id, id);

CREATE TABLE task_completions (
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id      text        NOT NULL DEFAULT current_setting('app.user_id', true),
    task_id      uuid        NOT NULL,
    due_at       timestamptz,
    completed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT task_completions_pkey PRIMARY KEY (user_id, id),
    CONSTRAINT task_completions_task_fkey FOREIGN KEY (user_id, task_id)
        REFERENCES tasks (user_id, id) ON DELETE CASCADE,
    CONSTRAINT task_completions_user_id_not_empty CHECK (user_id <> '' AND char_length(user_id) <= 255)
);

-- A task's history, newest first (and the cascade when a task goes); every completion of a
-- user in a time window, newest first.
CREATE INDEX task_completions_task_idx ON task_completions (user_id, task_id, completed_at DESC, id DESC);
CREATE INDEX task_completions_completed_at_idx ON task_completions (user_id, completed_at DESC, id DESC);

-- Completing a task records it, reopening it forgets that record: whatever the path (the
-- API's toggle, PUT or PATCH, a DBA's UPDATE). A recurring task's completion that moves it
-- to its next occurrence leaves completed false; the application records that one itself,
-- in the statement that moves the task (taskapp/tasks/queries.py).
CREATE FUNCTION tasks_record_completion() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.completed THEN
        INSERT INTO public.task_completions (user_id, task_id, due_at, completed_at)
        VALUES (NEW.user_id, NEW.id, NEW.due_at, NEW.completed_at);
    ELSE
        DELETE FROM public.task_completions
        WHERE (user_id, id) = (SELECT c.user_id, c.id FROM public.task_completions c
                               WHERE c.user_id = NEW.user_id AND c.task_id = NEW.id
                               ORDER BY c.completed_at DESC, c.id DESC LIMIT 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tasks_completed_on_insert AFTER INSERT ON tasks
    FOR EACH ROW WHEN (NEW.completed) EXECUTE FUNCTION tasks_record_completion();
CREATE TRIGGER tasks_completed_or_reopened AFTER UPDATE OF completed ON tasks
    FOR EACH ROW WHEN (OLD.completed IS DISTINCT FROM NEW.completed) EXECUTE FUNCTION tasks_record_completion();

-- Tasks completed before this revision have no history to show; they start one now. The
-- owner reads every task only inside this transaction: FORCE is lifted around the copy.
ALTER TABLE tasks NO FORCE ROW LEVEL SECURITY;
INSERT INTO task_completions (user_id, task_id, due_at, completed_at)
SELECT user_id, id, due_at, completed_at FROM tasks WHERE completed;
ALTER TABLE tasks FORCE ROW LEVEL SECURITY;

ALTER TABLE task_completions ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_completions FORCE ROW LEVEL SECURITY;

CREATE POLICY "Completions are visible to their owner" ON task_completions
    FOR SELECT
    USING (user_id = (SELECT verified_user_id()));

CREATE POLICY "Completions are recorded by their owner" ON task_completions
    FOR INSERT
    WITH CHECK (user_id = (SELECT verified_user_id()));

CREATE POLICY "Completions can be forgotten by their owner" ON task_completions
    FOR DELETE
    USING (user_id = (SELECT verified_user_id()));

REVOKE ALL ON TABLE task_completions FROM PUBLIC;
REVOKE ALL ON FUNCTION tasks_record_completion() FROM PUBLIC;
GRANT SELECT, INSERT, DELETE ON TABLE task_completions TO taskapp_app;
"""

DOWNGRADE = r"""
DROP TRIGGER tasks_completed_or_reopened ON tasks;
DROP TRIGGER tasks_completed_on_insert ON tasks;
DROP FUNCTION tasks_record_completion();
DROP TABLE task_completions;
ALTER TABLE tasks
    DROP CONSTRAINT tasks_user_id_id_key,
    DROP COLUMN series_completions,
    DROP COLUMN recurrence_last,
    DROP COLUMN recurrence_start,
    DROP COLUMN repeat_from,
    DROP COLUMN time_zone,
    DROP COLUMN recurrence;
"""


def upgrade():
    op.execute(UPGRADE)


def downgrade():
    op.execute(DOWNGRADE)
