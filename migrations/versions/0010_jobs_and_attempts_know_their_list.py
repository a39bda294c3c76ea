"""jobs and webhook attempts know their list

A job and a webhook attempt carry the list of what they concern (the task's, the event's), so
that on a Citus cluster they live on the node of that list, beside the rows that make them
(sql/citus.sql). The queue's upsert names its constraint rather than its columns, so that the
same trigger works whichever columns the constraint has there.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# SQL is written inline, never read from sql/: an edit there must not rewrite history.

UPGRADE = r"""
ALTER TABLE taskapp_queue.jobs ADD COLUMN list_id uuid;
UPDATE taskapp_queue.jobs j SET list_id = t.list_id FROM public.tasks t WHERE j.kind = 'reminder' AND t.id = j.ref;
UPDATE taskapp_queue.jobs j SET list_id = d.list_id FROM public.webhook_deliveries d
WHERE j.kind = 'delivery' AND d.user_id = j.user_id AND d.id = j.ref;

ALTER TABLE webhook_attempts ADD COLUMN list_id uuid;
UPDATE webhook_attempts a SET list_id = d.list_id FROM webhook_deliveries d
WHERE d.user_id = a.user_id AND d.id = a.delivery_id;

CREATE OR REPLACE FUNCTION taskapp_queue.webhook_deliveries_enqueue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO taskapp_queue.jobs (kind, user_id, ref, run_at, list_id)
    VALUES ('delivery', NEW.user_id, NEW.id, now(), NEW.list_id)
    ON CONFLICT ON CONSTRAINT jobs_one_per_thing DO NOTHING;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION taskapp_queue.tasks_schedule_reminder() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    firing text;
BEGIN
    IF TG_OP = 'DELETE' OR NEW.next_reminder_at IS NULL THEN
        DELETE FROM taskapp_queue.jobs WHERE kind = 'reminder' AND ref = OLD.id AND list_id = OLD.list_id;
        RETURN NULL;
    END IF;
    -- The creator while they may edit the list; else its owner.
    firing := CASE WHEN EXISTS (SELECT FROM taskapp_private.memberships m
                                WHERE m.user_id = NEW.user_id AND m.list_id = NEW.list_id AND m.role >= 'editor')
                   THEN NEW.user_id
                   ELSE (SELECT m.user_id FROM taskapp_private.memberships m
                         WHERE m.list_id = NEW.list_id AND m.role = 'owner') END;
    DELETE FROM taskapp_queue.jobs
    WHERE kind = 'reminder' AND ref = NEW.id AND list_id = coalesce(OLD.list_id, NEW.list_id)
      AND user_id IS DISTINCT FROM firing;
    INSERT INTO taskapp_queue.jobs (kind, user_id, ref, run_at, list_id)
    VALUES ('reminder', coalesce(firing, NEW.user_id), NEW.id, NEW.next_reminder_at, NEW.list_id)
    ON CONFLICT ON CONSTRAINT jobs_one_per_thing
    DO UPDATE SET run_at = excluded.run_at, list_id = excluded.list_id, claim = NULL, leased_until = NULL;
    RETURN NULL;
END
$$;

-- A task that moves takes its reminder's job along.
DROP TRIGGER tasks_schedule_reminder_on_update ON tasks;
CREATE TRIGGER tasks_schedule_reminder_on_update AFTER UPDATE ON tasks
    FOR EACH ROW WHEN (OLD.next_reminder_at IS DISTINCT FROM NEW.next_reminder_at OR OLD.list_id IS DISTINCT FROM NEW.list_id)
    EXECUTE FUNCTION taskapp_queue.tasks_schedule_reminder();
"""

DOWNGRADE = r"""
DROP TRIGGER tasks_schedule_reminder_on_update ON tasks;
CREATE TRIGGER tasks_schedule_reminder_on_update AFTER UPDATE ON tasks
    FOR EACH ROW WHEN (OLD.next_reminder_at IS DISTINCT FROM NEW.next_reminder_at)
    EXECUTE FUNCTION taskapp_queue.tasks_schedule_reminder();
CREATE OR REPLACE FUNCTION taskapp_queue.webhook_deliveries_enqueue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO taskapp_queue.jobs (kind, user_id, ref, run_at) VALUES ('delivery', NEW.user_id, NEW.id, now())
    ON CONFLICT (kind, user_id, ref) DO NOTHING;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION taskapp_queue.tasks_schedule_reminder() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    firing text;
BEGIN
    IF TG_OP = 'DELETE' OR NEW.next_reminder_at IS NULL THEN
        DELETE FROM taskapp_queue.jobs WHERE kind = 'reminder' AND ref = OLD.id;
        RETURN NULL;
    END IF;
    -- The creator while they may edit the list; else its owner.
    firing := CASE WHEN EXISTS (SELECT FROM taskapp_private.memberships m
                                WHERE m.user_id = NEW.user_id AND m.list_id = NEW.list_id AND m.role >= 'editor')
                   THEN NEW.user_id
                   ELSE (SELECT m.user_id FROM taskapp_private.memberships m
                         WHERE m.list_id = NEW.list_id AND m.role = 'owner') END;
    DELETE FROM taskapp_queue.jobs WHERE kind = 'reminder' AND ref = NEW.id AND user_id IS DISTINCT FROM firing;
    INSERT INTO taskapp_queue.jobs (kind, user_id, ref, run_at)
    VALUES ('reminder', coalesce(firing, NEW.user_id), NEW.id, NEW.next_reminder_at)
    ON CONFLICT (kind, user_id, ref) DO UPDATE SET run_at = excluded.run_at, claim = NULL, leased_until = NULL;
    RETURN NULL;
END
$$;

ALTER TABLE webhook_attempts DROP COLUMN list_id;
ALTER TABLE taskapp_queue.jobs DROP COLUMN list_id;
"""


def upgrade():
    op.execute(UPGRADE)


def downgrade():
    op.execute(DOWNGRADE)
