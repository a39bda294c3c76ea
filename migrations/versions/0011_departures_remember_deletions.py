"""a departure remembers the list's deletions too

A member who leaves a list is remembered with its tasks, so that their feed deletes them. A
task deleted from the list shortly before they left, whose deletion their feed had not yet
given, was then no longer theirs to see and not among those tasks: their client kept it. The
departure now holds the ids of the deletions the list remembers as well (the feed's own
retention bounds them).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# SQL is written inline, never read from sql/: an edit there must not rewrite history.

UPGRADE = r"""
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
"""

HELD_BY = r"""
-- What a member who leaves a list may hold of it: its tasks, and the tasks deleted from it (or
-- moved out) that it still remembers, whose deletion their feed may not have given yet.
CREATE FUNCTION taskapp_private.held_by(list uuid) RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    held uuid[];
BEGIN
    SELECT coalesce(array_agg(DISTINCT gone.id), '{}') INTO held FROM (
        SELECT t.id FROM public.tasks t WHERE t.list_id = list
        UNION ALL
        SELECT d.task_id FROM public.task_deletions d WHERE d.list_id = list
    ) gone;
    RETURN held;
END
$$;
REVOKE ALL ON FUNCTION taskapp_private.held_by(uuid) FROM PUBLIC;
"""

DOWNGRADE = r"""
CREATE OR REPLACE FUNCTION taskapp_private.list_members_remember_departure() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- When the list itself is being deleted, lists_remember_departures already did this.
    IF EXISTS (SELECT FROM public.lists l WHERE l.id = OLD.list_id) THEN
        INSERT INTO public.list_departures (user_id, list_id, task_ids)
        VALUES (OLD.user_id, OLD.list_id, ARRAY(SELECT t.id FROM public.tasks t WHERE t.list_id = OLD.list_id));
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
BEGIN
    INSERT INTO public.list_departures (user_id, list_id, task_ids)
    SELECT m.user_id, OLD.id, ARRAY(SELECT t.id FROM public.tasks t WHERE t.list_id = OLD.id)
    FROM public.list_members m WHERE m.list_id = OLD.id;
    RETURN OLD;
END
$$;

DROP FUNCTION taskapp_private.held_by(uuid);
"""


def upgrade():
    op.execute(HELD_BY)
    op.execute(UPGRADE)


def downgrade():
    op.execute(DOWNGRADE)
