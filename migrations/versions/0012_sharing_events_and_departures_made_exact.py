"""sharing's events and departures, made exact

Three things a member of a shared list could miss, now told:

- A member removed (or leaving) while another member adds a task could see that task in their
  feed before their departure committed, without it being among the tasks their departure
  deletes: their copy kept it. A task entering a list now holds the list's advisory lock
  shared until it commits, and a departure takes it alone before it lists the tasks.
- The members of a deleted list heard nothing of it by webhook; each now hears that they are out
  of it (`member.removed` about themselves: one event per member, however many tasks the list
  held). The member who goes hears `member.removed` too. These parting events are delivered
  although their subscriber is no longer a member: each event remembers the transaction that
  made it (`made_xid`) and whether it is the news of a departure (`parting`); the worker reads
  the subscriber's own departures (a grant) and sends a parting event made in the transaction
  that took them out. Any other event of that transaction (a batch's change just before a
  removal) stays unsent to them, as before.
- A task moved out of a list is a `task.deleted` for the members of that list who are not
  members of the one it went to (they no longer see it).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# SQL is written inline, never read from sql/: an edit there must not rewrite history.

COLUMN = r"""
-- Added, then given its default: the rows there keep NULL (no rewrite of the table).
ALTER TABLE webhook_deliveries ADD COLUMN made_xid xid8;
ALTER TABLE webhook_deliveries ALTER COLUMN made_xid SET DEFAULT pg_current_xact_id();
ALTER TABLE webhook_deliveries ADD COLUMN parting boolean NOT NULL DEFAULT false;
GRANT SELECT ON TABLE list_departures TO taskapp_worker;
"""

UPGRADE = r"""
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
        NEW.user_id := OLD.user_id;
        NEW.created_at := OLD.created_at;
        NEW.updated_at := greatest(clock_timestamp(), OLD.updated_at + interval '1 microsecond');
        NEW.completed_at := CASE
            WHEN NOT NEW.completed THEN NULL
            WHEN OLD.completed THEN OLD.completed_at
            ELSE NEW.updated_at
        END;
    END IF;
    NEW.written_xid := pg_current_xact_id();
    -- A task entering a list holds the list's lock shared until it commits: a member leaving
    -- the list takes it alone, so it waits for this task and then remembers it among the
    -- list's tasks (list_members_remember_departure), and a task entering after waits for
    -- the departure (when the member no longer sees it).
    IF TG_OP = 'INSERT' OR NEW.list_id IS DISTINCT FROM OLD.list_id THEN
        PERFORM pg_advisory_xact_lock_shared(hashtextextended('taskapp.list ' || NEW.list_id::text, 0));
    END IF;
    IF NEW.reminders <> '[]' OR (TG_OP = 'UPDATE' AND OLD.reminders <> '[]') THEN
        NEW.reminders := public.tasks_arm_reminders(
            NEW.reminders, CASE WHEN TG_OP = 'UPDATE' THEN OLD.reminders END, NEW.due_at,
            TG_OP = 'UPDATE' AND (NEW.due_at IS DISTINCT FROM OLD.due_at OR (OLD.completed AND NOT NEW.completed)));
        NEW.next_reminder_at := CASE WHEN NOT NEW.completed THEN
            (SELECT min((r ->> 'fires_at')::timestamptz) FROM jsonb_array_elements(NEW.reminders) r
             WHERE NOT (r ->> 'missed')::boolean AND NOT (r ->> 'fired')::boolean) END;
    ELSE
        NEW.next_reminder_at := NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION taskapp_private.list_members_remember_departure() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- When the list itself is being deleted, lists_remember_departures already did this.
    IF EXISTS (SELECT FROM public.lists l WHERE l.id = OLD.list_id) THEN
        -- Tasks entering the list hold its lock shared (tasks_stamp): wait for those in flight,
        -- which the member may have seen; the statement after this one sees them committed.
        PERFORM pg_advisory_xact_lock(hashtextextended('taskapp.list ' || OLD.list_id::text, 0));
        INSERT INTO public.list_departures (user_id, list_id, task_ids)
        VALUES (OLD.user_id, OLD.list_id, taskapp_private.held_by(OLD.list_id));
        PERFORM taskapp_private.hand_reminders_to_owner(OLD.list_id, OLD.user_id);
        -- A parting event: the member who goes still receives it after they are out.
        INSERT INTO public.webhook_deliveries (user_id, webhook_id, list_id, type, task, reminder, data, parting)
        SELECT s.user_id, s.webhook_id, OLD.list_id, 'member.removed', NULL, NULL,
               taskapp_private.member_event(OLD.list_id, OLD.user_id, OLD.role), true
        FROM taskapp_private.memberships m
        JOIN taskapp_private.subscriptions s ON s.user_id = m.user_id AND 'member.removed' = ANY (s.events)
        WHERE m.list_id = OLD.list_id;
    END IF;
    RETURN OLD;
END
$$;

CREATE OR REPLACE FUNCTION taskapp_private.lists_remember_departures() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    held uuid[] := taskapp_private.held_by(OLD.id);
BEGIN
    INSERT INTO public.list_departures (user_id, list_id, task_ids)
    SELECT m.user_id, OLD.id, held FROM public.list_members m WHERE m.list_id = OLD.id;
    INSERT INTO public.webhook_deliveries (user_id, webhook_id, list_id, type, task, reminder, data, parting)
    SELECT s.user_id, s.webhook_id, OLD.id, 'member.removed', NULL, NULL,
           taskapp_private.member_event(OLD.id, m.user_id, m.role), true
    FROM taskapp_private.memberships m
    JOIN taskapp_private.subscriptions s ON s.user_id = m.user_id AND 'member.removed' = ANY (s.events)
    WHERE m.list_id = OLD.id;
    RETURN OLD;
END
$$;

CREATE OR REPLACE FUNCTION taskapp_private.tasks_emit_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    task   public.tasks := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    hooked text[];
    event  text;
    fired  jsonb;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.list_id IS DISTINCT FROM OLD.list_id THEN
        INSERT INTO public.webhook_deliveries (user_id, webhook_id, list_id, type, task, reminder, data)
        SELECT s.user_id, s.webhook_id, OLD.list_id, 'task.deleted', to_jsonb(OLD) - 'search', NULL, NULL
        FROM taskapp_private.memberships m
        JOIN taskapp_private.subscriptions s ON s.user_id = m.user_id AND 'task.deleted' = ANY (s.events)
        WHERE m.list_id = OLD.list_id
          AND NOT EXISTS (SELECT FROM taskapp_private.memberships n
                          WHERE n.list_id = NEW.list_id AND n.user_id = m.user_id);
    END IF;
    SELECT coalesce(array_agg(DISTINCT e), '{}') INTO hooked
    FROM taskapp_private.memberships m JOIN taskapp_private.subscriptions s ON s.user_id = m.user_id,
         unnest(s.events) AS e
    WHERE m.list_id = task.list_id;
    IF hooked = '{}' OR NOT EXISTS (SELECT FROM public.lists l WHERE l.id = task.list_id) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        event := 'task.created';
    ELSIF TG_OP = 'DELETE' THEN
        event := 'task.deleted';
    ELSIF (NEW.completed AND NOT OLD.completed) OR NEW.series_completions > OLD.series_completions THEN
        event := 'task.completed';
    ELSE
        event := 'task.updated';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.reminders <> OLD.reminders THEN
        FOR fired IN SELECT public.tasks_fired_reminders(NEW.reminders, OLD.reminders) LOOP
            event := NULL;
            IF 'reminder.due' = ANY (hooked) THEN
                PERFORM taskapp_private.webhooks_emit(task.list_id, NULL, NULL, 'reminder.due', to_jsonb(task), fired, NULL);
            END IF;
        END LOOP;
    END IF;
    IF event = ANY (hooked) THEN
        PERFORM taskapp_private.webhooks_emit(task.list_id, NULL, NULL, event, to_jsonb(task), NULL, NULL);
    END IF;
    RETURN NULL;
END
$$;
"""

DOWNGRADE = r"""
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
        NEW.user_id := OLD.user_id;
        NEW.created_at := OLD.created_at;
        NEW.updated_at := greatest(clock_timestamp(), OLD.updated_at + interval '1 microsecond');
        NEW.completed_at := CASE
            WHEN NOT NEW.completed THEN NULL
            WHEN OLD.completed THEN OLD.completed_at
            ELSE NEW.updated_at
        END;
    END IF;
    NEW.written_xid := pg_current_xact_id();
    IF NEW.reminders <> '[]' OR (TG_OP = 'UPDATE' AND OLD.reminders <> '[]') THEN
        NEW.reminders := public.tasks_arm_reminders(
            NEW.reminders, CASE WHEN TG_OP = 'UPDATE' THEN OLD.reminders END, NEW.due_at,
            TG_OP = 'UPDATE' AND (NEW.due_at IS DISTINCT FROM OLD.due_at OR (OLD.completed AND NOT NEW.completed)));
        NEW.next_reminder_at := CASE WHEN NOT NEW.completed THEN
            (SELECT min((r ->> 'fires_at')::timestamptz) FROM jsonb_array_elements(NEW.reminders) r
             WHERE NOT (r ->> 'missed')::boolean AND NOT (r ->> 'fired')::boolean) END;
    ELSE
        NEW.next_reminder_at := NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION taskapp_private.list_members_remember_departure() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- When the list itself is being deleted, lists_remember_departures already did this.
    IF EXISTS (SELECT FROM public.lists l WHERE l.id = OLD.list_id) THEN
        INSERT INTO public.list_departures (user_id, list_id, task_ids)
        VALUES (OLD.user_id, OLD.list_id, taskapp_private.held_by(OLD.list_id));
        PERFORM taskapp_private.hand_reminders_to_owner(OLD.list_id, OLD.user_id);
        PERFORM taskapp_private.webhooks_emit(OLD.list_id, NULL, OLD.user_id, 'member.removed', NULL, NULL,
                                              taskapp_private.member_event(OLD.list_id, OLD.user_id, OLD.role));
    END IF;
    RETURN OLD;
END
$$;

CREATE OR REPLACE FUNCTION taskapp_private.lists_remember_departures() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    held uuid[] := taskapp_private.held_by(OLD.id);
BEGIN
    INSERT INTO public.list_departures (user_id, list_id, task_ids)
    SELECT m.user_id, OLD.id, held FROM public.list_members m WHERE m.list_id = OLD.id;
    RETURN OLD;
END
$$;

CREATE OR REPLACE FUNCTION taskapp_private.tasks_emit_events() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    task   public.tasks := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    hooked text[];
    event  text;
    fired  jsonb;
BEGIN
    SELECT coalesce(array_agg(DISTINCT e), '{}') INTO hooked
    FROM taskapp_private.memberships m JOIN taskapp_private.subscriptions s ON s.user_id = m.user_id,
         unnest(s.events) AS e
    WHERE m.list_id = task.list_id;
    IF hooked = '{}' OR NOT EXISTS (SELECT FROM public.lists l WHERE l.id = task.list_id) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        event := 'task.created';
    ELSIF TG_OP = 'DELETE' THEN
        event := 'task.deleted';
    ELSIF (NEW.completed AND NOT OLD.completed) OR NEW.series_completions > OLD.series_completions THEN
        event := 'task.completed';
    ELSE
        event := 'task.updated';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.reminders <> OLD.reminders THEN
        FOR fired IN SELECT public.tasks_fired_reminders(NEW.reminders, OLD.reminders) LOOP
            event := NULL;
            IF 'reminder.due' = ANY (hooked) THEN
                PERFORM taskapp_private.webhooks_emit(task.list_id, NULL, NULL, 'reminder.due', to_jsonb(task), fired, NULL);
            END IF;
        END LOOP;
    END IF;
    IF event = ANY (hooked) THEN
        PERFORM taskapp_private.webhooks_emit(task.list_id, NULL, NULL, event, to_jsonb(task), NULL, NULL);
    END IF;
    RETURN NULL;
END
$$;

REVOKE SELECT ON TABLE list_departures FROM taskapp_worker;
ALTER TABLE webhook_deliveries DROP COLUMN parting;
ALTER TABLE webhook_deliveries DROP COLUMN made_xid;
"""


def upgrade():
    op.execute(COLUMN)
    op.execute(UPGRADE)


def downgrade():
    op.execute(DOWNGRADE)
