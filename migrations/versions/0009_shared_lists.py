"""shared lists: lists, members, invitations and departures; every task in a list; the change feed by transaction

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# SQL is written inline, never read from sql/: an edit there must not rewrite history.

UPGRADE = r"""
-- ---------------------------------------------------------------------------
-- Lists, their members, invitations, and what a member who left had
-- ---------------------------------------------------------------------------
-- Roles in rank order: each may do what the ones before it may.
CREATE TYPE list_role AS ENUM ('viewer', 'editor', 'admin', 'owner');

-- A list of tasks. personal_of names the user whose Inbox it is (made when first needed,
-- never shared, never deleted); NULL for a list made to share. The creator becomes its
-- owner (lists_add_owner).
CREATE TABLE lists (
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    name        text        NOT NULL,
    personal_of text,
    created_by  text        NOT NULL DEFAULT current_setting('app.user_id', true),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT lists_pkey PRIMARY KEY (id),
    CONSTRAINT lists_name_length CHECK (char_length(name) BETWEEN 1 AND 255),
    CONSTRAINT lists_created_by_not_empty CHECK (created_by <> '' AND char_length(created_by) <= 255),
    CONSTRAINT lists_personal_of_creator CHECK (personal_of IS NULL OR personal_of = created_by),
    -- Times any reader can load (no infinity, years 1 to 9999 in UTC), whatever SQL wrote them.
    CONSTRAINT lists_times_in_range CHECK (created_at BETWEEN '0001-01-01 00:00:00+00' AND '9999-12-31 23:59:59.999999+00' AND updated_at BETWEEN '0001-01-01 00:00:00+00' AND '9999-12-31 23:59:59.999999+00')
);

-- One Inbox per user.
CREATE UNIQUE INDEX lists_personal_of_key ON lists (personal_of) WHERE personal_of IS NOT NULL;

-- Who belongs to a list, and as what; exactly one owner (checked at the end of each
-- statement, so that one statement can hand ownership over). joined_xid is the transaction
-- that made them a member: the change feed gives them every task of the list after it.
CREATE TABLE list_members (
    list_id    uuid        NOT NULL,
    user_id    text        NOT NULL,
    role       list_role   NOT NULL,
    added_at   timestamptz NOT NULL DEFAULT now(),
    joined_xid xid8        NOT NULL DEFAULT pg_current_xact_id(),
    CONSTRAINT list_members_pkey PRIMARY KEY (list_id, user_id),
    CONSTRAINT list_members_list_fkey FOREIGN KEY (list_id) REFERENCES lists (id) ON DELETE CASCADE,
    CONSTRAINT list_members_user_id_not_empty CHECK (user_id <> '' AND char_length(user_id) <= 255),
    CONSTRAINT list_members_added_at_in_range CHECK (added_at BETWEEN '0001-01-01 00:00:00+00' AND '9999-12-31 23:59:59.999999+00'),
    CONSTRAINT list_members_one_owner EXCLUDE USING btree (list_id WITH =) WHERE (role = 'owner')
        DEFERRABLE INITIALLY IMMEDIATE
);

-- An invitation to a list, addressed to a user id, pending until they accept or decline it,
-- it is revoked, or it expires (7 days). One per invitee and list.
CREATE TABLE list_invitations (
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    list_id    uuid        NOT NULL,
    -- The list's name when the invitation was sent: what the invitee, who cannot see the list
    -- yet, is told they are invited to.
    list_name  text        NOT NULL,
    invitee_id text        NOT NULL,
    role       list_role   NOT NULL,
    invited_by text        NOT NULL DEFAULT current_setting('app.user_id', true),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL DEFAULT now() + interval '7 days',
    CONSTRAINT list_invitations_pkey PRIMARY KEY (list_id, id),
    CONSTRAINT list_invitations_list_id_invitee_id_key UNIQUE (list_id, invitee_id),
    CONSTRAINT list_invitations_list_fkey FOREIGN KEY (list_id) REFERENCES lists (id) ON DELETE CASCADE,
    CONSTRAINT list_invitations_invitee_id_not_empty CHECK (invitee_id <> '' AND char_length(invitee_id) <= 255),
    CONSTRAINT list_invitations_list_name_length CHECK (char_length(list_name) BETWEEN 1 AND 255),
    CONSTRAINT list_invitations_role_below_owner CHECK (role <> 'owner'),
    CONSTRAINT list_invitations_times_in_range CHECK (created_at BETWEEN '0001-01-01 00:00:00+00' AND '9999-12-31 23:59:59.999999+00' AND expires_at BETWEEN '0001-01-01 00:00:00+00' AND '9999-12-31 23:59:59.999999+00')
);

-- An invitee's invitations, newest first.
CREATE INDEX list_invitations_invitee_idx ON list_invitations (invitee_id, created_at DESC, id DESC);

-- A user who stopped being a member of a list (removed, left, or the list deleted), with the
-- tasks the list held then: the change feed tells their clients to delete those. Only the
-- database writes these (the triggers below, no grant to write), and only the user reads them.
CREATE TABLE list_departures (
    id       uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id  text        NOT NULL,
    list_id  uuid        NOT NULL,
    task_ids uuid[]      NOT NULL,
    left_xid xid8        NOT NULL DEFAULT pg_current_xact_id(),
    left_at  timestamptz NOT NULL DEFAULT now(),
    -- One row per departure, never upserted: an upsert would ask the SELECT policy (the user's
    -- own rows) about a row the remover writes for someone else.
    CONSTRAINT list_departures_pkey PRIMARY KEY (user_id, id)
);

-- Departures past the change feed's retention are forgotten by their user, oldest first.
CREATE INDEX list_departures_left_at_idx ON list_departures (user_id, left_at);

-- ---------------------------------------------------------------------------
-- Who may see which list: one lookup per statement
-- ---------------------------------------------------------------------------
-- The policies ask "which lists may the verified identity see (edit, administer, own)?" once
-- per statement, through lists_where_i_am() called as a scalar subquery (an InitPlan). It
-- reads this copy of list_members, which only the owner of the schema reads and writes: the
-- policies of list_members itself can then ask the same question without reading back into
-- list_members (no recursion), and no runtime role can touch it.
CREATE TABLE taskapp_private.memberships (
    user_id    text      NOT NULL,
    list_id    uuid      NOT NULL,
    role       list_role NOT NULL,
    joined_xid xid8      NOT NULL,
    CONSTRAINT memberships_pkey PRIMARY KEY (user_id, list_id)
);

CREATE INDEX memberships_list_id_idx ON taskapp_private.memberships (list_id);

-- The lists on which the verified identity has at least the role given ('{}' without one).
-- VOLATILE so that it reads with a snapshot of its own, taken when the policy first needs it:
-- an INSERT of a task whose default made the writer's Inbox (personal_list_id) then finds it.
CREATE FUNCTION public.lists_where_i_am(at_least list_role) RETURNS uuid[]
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(m.list_id), '{}') FROM taskapp_private.memberships m
    WHERE m.user_id = public.verified_user_id() AND m.role >= at_least
$$;

-- The verified identity's lists with their role in each, and when they joined.
CREATE FUNCTION public.my_memberships() RETURNS TABLE (list_id uuid, role list_role, joined_xid xid8)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.list_id, m.role, m.joined_xid FROM taskapp_private.memberships m
    WHERE m.user_id = public.verified_user_id()
$$;

-- list_members as the lookup sees it, whatever wrote it.
CREATE FUNCTION taskapp_private.list_members_copy() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM taskapp_private.memberships m WHERE m.user_id = OLD.user_id AND m.list_id = OLD.list_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO taskapp_private.memberships AS m (user_id, list_id, role, joined_xid)
        VALUES (NEW.user_id, NEW.list_id, NEW.role, NEW.joined_xid)
        ON CONFLICT (user_id, list_id) DO UPDATE SET role = excluded.role, joined_xid = excluded.joined_xid;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER list_members_copy AFTER INSERT OR UPDATE OR DELETE ON list_members
    FOR EACH ROW EXECUTE FUNCTION taskapp_private.list_members_copy();

-- The creator of a list is its owner. Written to the lookup first, so that the policies of
-- list_members let this one statement add the owner's row (and nothing else can).
CREATE FUNCTION taskapp_private.lists_add_owner() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO taskapp_private.memberships (user_id, list_id, role, joined_xid)
    VALUES (NEW.created_by, NEW.id, 'owner', pg_current_xact_id());
    INSERT INTO public.list_members (list_id, user_id, role) VALUES (NEW.id, NEW.created_by, 'owner');
    RETURN NULL;
END
$$;

CREATE TRIGGER lists_add_owner AFTER INSERT ON lists
    FOR EACH ROW EXECUTE FUNCTION taskapp_private.lists_add_owner();

-- A member who goes (removed or leaving) is remembered with the list's tasks, as the user
-- removing them sees them (their reminders pass to the owner, and the others hear of it); so
-- is every member when the list is deleted (before its rows go).
CREATE FUNCTION taskapp_private.list_members_remember_departure() RETURNS trigger
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

CREATE TRIGGER list_members_remember_departure BEFORE DELETE ON list_members
    FOR EACH ROW EXECUTE FUNCTION taskapp_private.list_members_remember_departure();

CREATE FUNCTION taskapp_private.lists_remember_departures() RETURNS trigger
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

CREATE TRIGGER lists_remember_departures BEFORE DELETE ON lists
    FOR EACH ROW EXECUTE FUNCTION taskapp_private.lists_remember_departures();

-- A list always has its owner: a statement that leaves it without one (an owner demoting
-- themselves) is refused. Ownership moves only to another member, in one statement.
CREATE FUNCTION list_members_keep_owner() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM public.list_members m WHERE m.list_id = OLD.list_id AND m.role = 'owner') THEN
        RAISE EXCEPTION 'a list keeps its owner' USING ERRCODE = 'check_violation',
            HINT = 'Make another member owner instead.';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER list_members_keep_owner AFTER UPDATE OF role ON list_members
    FOR EACH ROW WHEN (OLD.role = 'owner' AND NEW.role <> 'owner') EXECUTE FUNCTION list_members_keep_owner();

-- Joining takes the invitation (a member's row is only ever added with one, besides the
-- owner's): the invitation is used up, so it cannot be used again after a removal.
CREATE FUNCTION taskapp_private.list_members_take_invitation() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- The owner's row comes with its list; without an identity only a role outside the
    -- policies could be inserting (a DBA's bulk load).
    IF NEW.role = 'owner' OR public.verified_user_id() IS NULL THEN
        RETURN NEW;
    END IF;
    DELETE FROM public.list_invitations i
    WHERE i.list_id = NEW.list_id AND i.invitee_id = NEW.user_id AND i.role = NEW.role AND i.expires_at > now();
    IF NOT FOUND THEN
        RAISE EXCEPTION 'joining a list takes an invitation' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER list_members_take_invitation BEFORE INSERT ON list_members
    FOR EACH ROW EXECUTE FUNCTION taskapp_private.list_members_take_invitation();

-- The verified identity's Inbox, made the first time it is needed.
CREATE FUNCTION public.personal_list_id() RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found uuid;
BEGIN
    SELECT l.id INTO found FROM public.lists l WHERE l.personal_of = public.verified_user_id();
    IF found IS NULL AND public.verified_user_id() IS NOT NULL THEN
        -- Not ON CONFLICT: that would also ask the SELECT policy, which a list passes only
        -- once its owner's row exists. Two first writes at once: the second finds the first's.
        BEGIN
            INSERT INTO public.lists (name, personal_of) VALUES ('Inbox', public.verified_user_id());
        EXCEPTION WHEN unique_violation THEN
            NULL;
        END;
        SELECT l.id INTO found FROM public.lists l WHERE l.personal_of = public.verified_user_id();
    END IF;
    RETURN found;
END
$$;

-- ---------------------------------------------------------------------------
-- Every task in a list; every existing task in its owner's Inbox
-- ---------------------------------------------------------------------------
-- user_id stays: who created the task. list_id says where it is, and so who sees it;
-- assignee_id, optionally, which member it is for (cleared when they leave the list).
-- written_xid is the transaction of the task's latest write: the change feed's position.
ALTER TABLE tasks ADD COLUMN list_id uuid, ADD COLUMN assignee_id text,
    ADD COLUMN written_xid xid8 NOT NULL DEFAULT '0';

-- The owner policies go (they name user_id); the membership ones follow below.
DROP POLICY "Tasks are visible to their owner" ON tasks;
DROP POLICY "Tasks can be created by their owner" ON tasks;
DROP POLICY "Tasks can be changed by their owner and stay theirs" ON tasks;
DROP POLICY "Tasks can be deleted by their owner" ON tasks;
DROP POLICY "Completions are visible to their owner" ON task_completions;
DROP POLICY "Completions are recorded by their owner" ON task_completions;
DROP POLICY "Completions can be forgotten by their owner" ON task_completions;

-- Moving rows as the owner of the tables, whatever the policies and triggers would say.
ALTER TABLE tasks NO FORCE ROW LEVEL SECURITY;
ALTER TABLE task_completions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE tasks DISABLE TRIGGER USER;
ALTER TABLE task_completions DISABLE TRIGGER USER;

-- Each creator's Inbox (lists_add_owner makes them its owner).
INSERT INTO lists (name, personal_of, created_by)
SELECT 'Inbox', t.user_id, t.user_id FROM tasks t GROUP BY t.user_id;
UPDATE tasks t SET list_id = l.id FROM lists l WHERE l.personal_of = t.user_id;

ALTER TABLE tasks ALTER COLUMN list_id SET DEFAULT public.personal_list_id(), ALTER COLUMN list_id SET NOT NULL;
ALTER TABLE tasks ADD CONSTRAINT tasks_list_fkey FOREIGN KEY (list_id) REFERENCES lists (id) ON DELETE CASCADE;
ALTER TABLE tasks ADD CONSTRAINT tasks_list_id_id_key UNIQUE (list_id, id);
-- An assignee is a member of the task's list; when they stop being one, the task is nobody's.
ALTER TABLE tasks ADD CONSTRAINT tasks_assignee_fkey FOREIGN KEY (list_id, assignee_id)
    REFERENCES list_members (list_id, user_id) ON DELETE SET NULL (assignee_id);

-- Completions: recorded per list (they follow their task when it moves), with who completed.
ALTER TABLE task_completions ADD COLUMN list_id uuid, ADD COLUMN completed_by text;
UPDATE task_completions c SET list_id = t.list_id, completed_by = c.user_id FROM tasks t WHERE t.id = c.task_id;
ALTER TABLE task_completions DROP CONSTRAINT task_completions_task_fkey;
ALTER TABLE task_completions DROP CONSTRAINT task_completions_pkey;
DROP INDEX task_completions_task_idx;
DROP INDEX task_completions_completed_at_idx;
ALTER TABLE task_completions DROP COLUMN user_id;
ALTER TABLE task_completions ALTER COLUMN list_id SET NOT NULL,
    ALTER COLUMN completed_by SET NOT NULL,
    ALTER COLUMN completed_by SET DEFAULT current_setting('app.user_id', true);
ALTER TABLE task_completions ADD CONSTRAINT task_completions_pkey PRIMARY KEY (list_id, id);
ALTER TABLE task_completions ADD CONSTRAINT task_completions_task_fkey FOREIGN KEY (list_id, task_id)
    REFERENCES tasks (list_id, id) ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE task_completions ADD CONSTRAINT task_completions_completed_by_not_empty
    CHECK (completed_by <> '' AND char_length(completed_by) <= 255);
-- Times every member can load (no infinity, years 1 to 9999 in UTC), whatever SQL wrote them:
-- with lists shared, one member's odd value would break the others' pages.
ALTER TABLE task_completions ADD CONSTRAINT task_completions_times_in_range
    CHECK ((due_at IS NULL OR due_at BETWEEN '0001-01-01 00:00:00+00' AND '9999-12-31 23:59:59.999999+00') AND completed_at BETWEEN '0001-01-01 00:00:00+00' AND '9999-12-31 23:59:59.999999+00');
ALTER TABLE tasks ADD CONSTRAINT tasks_due_at_in_range CHECK (due_at IS NULL OR due_at BETWEEN '0001-01-01 00:00:00+00' AND '9999-12-31 23:59:59.999999+00');
CREATE INDEX task_completions_task_idx ON task_completions (list_id, task_id, completed_at DESC, id DESC);
CREATE INDEX task_completions_completed_at_idx ON task_completions (list_id, completed_at DESC, id DESC);

ALTER TABLE tasks ENABLE TRIGGER USER;
ALTER TABLE task_completions ENABLE TRIGGER USER;
ALTER TABLE tasks FORCE ROW LEVEL SECURITY;
ALTER TABLE task_completions FORCE ROW LEVEL SECURITY;

-- The indexes lead with the list, as the policies do: a list's tasks in each sort order.
ALTER TABLE tasks DROP CONSTRAINT tasks_user_id_id_key;
DROP INDEX tasks_user_id_created_at_idx;
DROP INDEX tasks_user_id_updated_at_idx;
DROP INDEX tasks_user_id_due_at_asc_idx;
DROP INDEX tasks_user_id_due_at_desc_idx;
DROP INDEX tasks_user_id_priority_idx;
DROP INDEX tasks_user_id_title_idx;
DROP INDEX tasks_user_id_version_idx;
CREATE INDEX tasks_list_id_created_at_idx ON tasks (list_id, created_at DESC, id DESC);
CREATE INDEX tasks_list_id_updated_at_idx ON tasks (list_id, updated_at DESC, id DESC);
CREATE INDEX tasks_list_id_due_at_asc_idx ON tasks (list_id, due_at ASC NULLS LAST, id ASC);
CREATE INDEX tasks_list_id_due_at_desc_idx ON tasks (list_id, due_at DESC NULLS LAST, id DESC);
CREATE INDEX tasks_list_id_priority_idx ON tasks (list_id, priority DESC, id DESC);
CREATE INDEX tasks_list_id_title_idx ON tasks (list_id, (title COLLATE "C") DESC, id DESC);
CREATE INDEX tasks_list_id_written_xid_idx ON tasks (list_id, written_xid, id);
-- A member's assigned tasks (and the assignee key's SET NULL when they leave).
CREATE INDEX tasks_list_id_assignee_id_idx ON tasks (list_id, assignee_id) WHERE assignee_id IS NOT NULL;

-- ---------------------------------------------------------------------------
-- The change feed follows transactions, not a counter per user
-- ---------------------------------------------------------------------------
-- A sync token holds the snapshot of the sync before (pg_current_snapshot()): what changed
-- since is every row whose transaction that snapshot did not see. A deletion (or a task
-- moved out of a list) is remembered per list, with its transaction.
DROP TABLE task_deletions;
CREATE TABLE task_deletions (
    list_id     uuid        NOT NULL,
    task_id     uuid        NOT NULL,
    deleted_xid xid8        NOT NULL DEFAULT pg_current_xact_id(),
    deleted_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT task_deletions_pkey PRIMARY KEY (list_id, task_id),
    CONSTRAINT task_deletions_list_fkey FOREIGN KEY (list_id) REFERENCES lists (id) ON DELETE CASCADE
);

CREATE INDEX task_deletions_deleted_xid_idx ON task_deletions (list_id, deleted_xid, task_id);
CREATE INDEX task_deletions_deleted_at_idx ON task_deletions (list_id, deleted_at);

-- The stamp no longer counts versions nor produces events (tasks_emit_events does, below).
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

-- A task deleted, or moved out of its list, is remembered in that list (unless the list
-- itself is going: then its members' departures say it).
CREATE OR REPLACE FUNCTION tasks_remember_deletion() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT FROM public.lists l WHERE l.id = OLD.list_id) THEN
        INSERT INTO public.task_deletions AS d (list_id, task_id) VALUES (OLD.list_id, OLD.id)
        ON CONFLICT (list_id, task_id) DO UPDATE
        SET deleted_xid = excluded.deleted_xid, deleted_at = excluded.deleted_at;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tasks_remember_move AFTER UPDATE OF list_id ON tasks
    FOR EACH ROW WHEN (OLD.list_id IS DISTINCT FROM NEW.list_id) EXECUTE FUNCTION tasks_remember_deletion();

CREATE OR REPLACE FUNCTION tasks_record_completion() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.completed THEN
        -- By the transaction's user (the creator, for SQL run without one).
        INSERT INTO public.task_completions (list_id, task_id, due_at, completed_at, completed_by)
        VALUES (NEW.list_id, NEW.id, NEW.due_at, NEW.completed_at,
                coalesce(nullif(current_setting('app.user_id', true), ''), NEW.user_id));
    ELSE
        DELETE FROM public.task_completions
        WHERE (list_id, id) = (SELECT c.list_id, c.id FROM public.task_completions c
                               WHERE c.list_id = NEW.list_id AND c.task_id = NEW.id
                               ORDER BY c.completed_at DESC, c.id DESC LIMIT 1);
    END IF;
    RETURN NULL;
END
$$;

-- ---------------------------------------------------------------------------
-- Row-level security: membership decides
-- ---------------------------------------------------------------------------
ALTER TABLE lists ENABLE ROW LEVEL SECURITY;
ALTER TABLE lists FORCE ROW LEVEL SECURITY;

CREATE POLICY "Lists are visible to their members" ON lists
    FOR SELECT
    USING (id = ANY ((SELECT lists_where_i_am('viewer'))::uuid[]));

CREATE POLICY "Lists are made by their creator, an Inbox only for themselves" ON lists
    FOR INSERT
    WITH CHECK (created_by = (SELECT verified_user_id())
                AND (personal_of IS NULL OR personal_of = (SELECT verified_user_id())));

CREATE POLICY "Lists are renamed by their admins" ON lists
    FOR UPDATE
    USING (id = ANY ((SELECT lists_where_i_am('admin'))::uuid[]))
    WITH CHECK (id = ANY ((SELECT lists_where_i_am('admin'))::uuid[]));

CREATE POLICY "Lists are deleted by their owner, never an Inbox" ON lists
    FOR DELETE
    USING (id = ANY ((SELECT lists_where_i_am('owner'))::uuid[]) AND personal_of IS NULL);

ALTER TABLE list_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE list_members FORCE ROW LEVEL SECURITY;

CREATE POLICY "Members are visible to the list's members" ON list_members
    FOR SELECT
    USING (list_id = ANY ((SELECT lists_where_i_am('viewer'))::uuid[]));

-- The owner's row is added with the list (lists_add_owner); anyone else joins by accepting an
-- invitation that names them, with the role it names, before it expires.
CREATE POLICY "Members join by invitation, the owner with the list" ON list_members
    FOR INSERT
    WITH CHECK (user_id = (SELECT verified_user_id()) AND (
        (role = 'owner' AND list_id = ANY ((SELECT lists_where_i_am('owner'))::uuid[]))
        OR EXISTS (SELECT FROM list_invitations i
                   WHERE i.list_id = list_members.list_id AND i.invitee_id = list_members.user_id
                     AND i.role = list_members.role AND i.expires_at > now())));

-- Admins change roles below admin; the owner any role, and hands ownership over (one
-- statement that makes another member owner and themselves admin).
CREATE POLICY "Roles are changed by admins, at any level by the owner" ON list_members
    FOR UPDATE
    USING (list_id = ANY ((SELECT lists_where_i_am('owner'))::uuid[])
           OR (role < 'admin' AND list_id = ANY ((SELECT lists_where_i_am('admin'))::uuid[])))
    WITH CHECK (list_id = ANY ((SELECT lists_where_i_am('owner'))::uuid[])
                OR (role < 'admin' AND list_id = ANY ((SELECT lists_where_i_am('admin'))::uuid[])));

-- A member leaves (the owner only after handing ownership over); admins remove members
-- below admin; the owner removes anyone else.
CREATE POLICY "Members leave, or are removed by those above them" ON list_members
    FOR DELETE
    USING (role <> 'owner' AND (
        user_id = (SELECT verified_user_id())
        OR list_id = ANY ((SELECT lists_where_i_am('owner'))::uuid[])
        OR (role < 'admin' AND list_id = ANY ((SELECT lists_where_i_am('admin'))::uuid[]))));

ALTER TABLE list_invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE list_invitations FORCE ROW LEVEL SECURITY;

CREATE POLICY "Invitations are visible to the list's admins and to the invitee" ON list_invitations
    FOR SELECT
    USING (invitee_id = (SELECT verified_user_id()) OR list_id = ANY ((SELECT lists_where_i_am('admin'))::uuid[]));

CREATE POLICY "Invitations are sent by admins, never to an Inbox" ON list_invitations
    FOR INSERT
    WITH CHECK (invited_by = (SELECT verified_user_id())
                AND (list_id = ANY ((SELECT lists_where_i_am('owner'))::uuid[])
                     OR (role < 'admin' AND list_id = ANY ((SELECT lists_where_i_am('admin'))::uuid[])))
                AND NOT EXISTS (SELECT FROM lists l WHERE l.id = list_invitations.list_id AND l.personal_of IS NOT NULL));

CREATE POLICY "Invitations are revoked by admins, declined by the invitee" ON list_invitations
    FOR DELETE
    USING (invitee_id = (SELECT verified_user_id()) OR list_id = ANY ((SELECT lists_where_i_am('admin'))::uuid[]));

ALTER TABLE list_departures ENABLE ROW LEVEL SECURITY;
ALTER TABLE list_departures FORCE ROW LEVEL SECURITY;

CREATE POLICY "Departures are visible to the user who left" ON list_departures
    FOR SELECT
    USING (user_id = (SELECT verified_user_id()));

-- Written only by the triggers above (no runtime role may insert), as a member of the list.
CREATE POLICY "Departures are recorded by a member of the list" ON list_departures
    FOR INSERT
    WITH CHECK (list_id = ANY ((SELECT lists_where_i_am('viewer'))::uuid[]));

CREATE POLICY "Departures are re-recorded by a member of the list" ON list_departures
    FOR UPDATE
    USING (list_id = ANY ((SELECT lists_where_i_am('viewer'))::uuid[]))
    WITH CHECK (list_id = ANY ((SELECT lists_where_i_am('viewer'))::uuid[]));

CREATE POLICY "Departures are forgotten by the user who left" ON list_departures
    FOR DELETE
    USING (user_id = (SELECT verified_user_id()));

-- tasks: members see a list's tasks; editors and above write them.

CREATE POLICY "Tasks are visible to the members of their list" ON tasks
    FOR SELECT
    USING (list_id = ANY ((SELECT lists_where_i_am('viewer'))::uuid[]));

CREATE POLICY "Tasks are created by editors of their list, as themselves" ON tasks
    FOR INSERT
    WITH CHECK (list_id = ANY ((SELECT lists_where_i_am('editor'))::uuid[]) AND user_id = (SELECT verified_user_id()));

CREATE POLICY "Tasks are changed by editors and stay in a list they edit" ON tasks
    FOR UPDATE
    USING (list_id = ANY ((SELECT lists_where_i_am('editor'))::uuid[]))
    WITH CHECK (list_id = ANY ((SELECT lists_where_i_am('editor'))::uuid[]));

CREATE POLICY "Tasks are deleted by editors of their list" ON tasks
    FOR DELETE
    USING (list_id = ANY ((SELECT lists_where_i_am('editor'))::uuid[]));


CREATE POLICY "Completions are visible to the members of the task's list" ON task_completions
    FOR SELECT
    USING (list_id = ANY ((SELECT lists_where_i_am('viewer'))::uuid[]));

CREATE POLICY "Completions are recorded by editors of the list, as themselves" ON task_completions
    FOR INSERT
    WITH CHECK (list_id = ANY ((SELECT lists_where_i_am('editor'))::uuid[]) AND completed_by = (SELECT verified_user_id()));

CREATE POLICY "Completions are forgotten by editors of the list" ON task_completions
    FOR DELETE
    USING (list_id = ANY ((SELECT lists_where_i_am('editor'))::uuid[]));

ALTER TABLE task_deletions ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_deletions FORCE ROW LEVEL SECURITY;

CREATE POLICY "Deletions are visible to the members of the list" ON task_deletions
    FOR SELECT
    USING (list_id = ANY ((SELECT lists_where_i_am('viewer'))::uuid[]));

CREATE POLICY "Deletions are recorded by editors of the list" ON task_deletions
    FOR INSERT
    WITH CHECK (list_id = ANY ((SELECT lists_where_i_am('editor'))::uuid[]));

CREATE POLICY "Deletions are re-recorded by editors of the list" ON task_deletions
    FOR UPDATE
    USING (list_id = ANY ((SELECT lists_where_i_am('editor'))::uuid[]))
    WITH CHECK (list_id = ANY ((SELECT lists_where_i_am('editor'))::uuid[]));

CREATE POLICY "Deletions are forgotten by editors of the list" ON task_deletions
    FOR DELETE
    USING (list_id = ANY ((SELECT lists_where_i_am('editor'))::uuid[]));

-- Deliveries of list events (and an invitation) carry the list; those that are not about a
-- task carry their data instead. Only the triggers write them.
ALTER TABLE webhook_deliveries ADD COLUMN list_id uuid, ADD COLUMN data jsonb, ALTER COLUMN task DROP NOT NULL;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_task_or_data CHECK ((task IS NULL) <> (data IS NULL));
ALTER TABLE webhooks DROP CONSTRAINT webhooks_events_known;
ALTER TABLE webhooks ADD CONSTRAINT webhooks_events_known CHECK (
    cardinality(events) BETWEEN 1 AND 9
    AND events <@ ARRAY['task.created', 'task.updated', 'task.completed', 'task.deleted', 'reminder.due',
                        'member.added', 'member.removed', 'member.role_changed', 'invitation.received']);

DROP TRIGGER webhooks_hooked ON webhooks;
DROP FUNCTION webhooks_hooked();
DROP FUNCTION webhooks_emit(text, text, jsonb, jsonb);
-- ---------------------------------------------------------------------------
-- Webhooks: the events of a list reach every member's subscriptions
-- ---------------------------------------------------------------------------
-- Which events each user's active subscriptions want: a copy of webhooks that only the
-- schema's owner reads, so that a write by one member can produce the events of every other
-- member (whose subscriptions the writer may not see). Kept by webhooks_hooked.
CREATE TABLE taskapp_private.subscriptions (
    user_id    text   NOT NULL,
    webhook_id uuid   NOT NULL,
    events     text[] NOT NULL,
    CONSTRAINT subscriptions_pkey PRIMARY KEY (user_id, webhook_id)
);

CREATE FUNCTION webhooks_hooked() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM taskapp_private.subscriptions s WHERE s.user_id = OLD.user_id AND s.webhook_id = OLD.id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.active THEN
        INSERT INTO taskapp_private.subscriptions (user_id, webhook_id, events) VALUES (NEW.user_id, NEW.id, NEW.events);
    END IF;
    RETURN NULL;
END
$$;

-- An event for the subscriptions that want it: of `recipient` alone when given, else of every
-- member of the list but `skip`. Only the triggers below call it (no runtime role may, and none
-- may insert deliveries), so every event is one the database saw happen.
CREATE FUNCTION taskapp_private.webhooks_emit(list uuid, recipient text, skip text, event text, task jsonb,
                                              reminder jsonb, data jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF recipient IS NOT NULL THEN
        INSERT INTO public.webhook_deliveries (user_id, webhook_id, list_id, type, task, reminder, data)
        SELECT s.user_id, s.webhook_id, list, event, task - 'search', reminder, data
        FROM taskapp_private.subscriptions s
        WHERE s.user_id = recipient AND event = ANY (s.events);
    ELSE
        INSERT INTO public.webhook_deliveries (user_id, webhook_id, list_id, type, task, reminder, data)
        SELECT s.user_id, s.webhook_id, list, event, task - 'search', reminder, data
        FROM taskapp_private.memberships m JOIN taskapp_private.subscriptions s ON s.user_id = m.user_id
        WHERE m.list_id = list AND m.user_id IS DISTINCT FROM skip AND event = ANY (s.events);
    END IF;
END
$$;

-- A task's write is told to the subscriptions of its list's members (of the list it is in
-- after the write): created, updated, completed, deleted, or a reminder that fired (its own
-- event, not an update). Nothing for a list being deleted.
CREATE FUNCTION taskapp_private.tasks_emit_events() RETURNS trigger
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

CREATE TRIGGER tasks_emit_events AFTER INSERT OR UPDATE OR DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION taskapp_private.tasks_emit_events();

-- A list's member as events tell it.
CREATE FUNCTION taskapp_private.member_event(list uuid, member text, role list_role) RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'list', jsonb_build_object('id', l.id, 'name', l.name),
        'member', jsonb_build_object('user_id', member, 'role', role))
    FROM public.lists l WHERE l.id = list
$$;

-- A member joined (by invitation) or changed role: told to the list's members. A member who
-- is now only a viewer can no longer fire reminders: theirs pass to the owner.
CREATE FUNCTION taskapp_private.list_members_emit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.role <> 'owner' THEN
        PERFORM taskapp_private.webhooks_emit(NEW.list_id, NULL, NULL, 'member.added', NULL, NULL,
                                              taskapp_private.member_event(NEW.list_id, NEW.user_id, NEW.role));
    ELSIF TG_OP = 'UPDATE' AND NEW.role <> OLD.role THEN
        PERFORM taskapp_private.webhooks_emit(NEW.list_id, NULL, NULL, 'member.role_changed', NULL, NULL,
                                              taskapp_private.member_event(NEW.list_id, NEW.user_id, NEW.role));
        IF NEW.role = 'viewer' THEN
            PERFORM taskapp_private.hand_reminders_to_owner(NEW.list_id, NEW.user_id);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER list_members_emit AFTER INSERT OR UPDATE OF role ON list_members
    FOR EACH ROW EXECUTE FUNCTION taskapp_private.list_members_emit();

-- An invitation is told to the invitee's subscriptions (they are no member yet).
CREATE FUNCTION taskapp_private.list_invitations_emit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM taskapp_private.webhooks_emit(NEW.list_id, NEW.invitee_id, NULL, 'invitation.received', NULL, NULL,
        jsonb_build_object('invitation', jsonb_build_object(
            'id', NEW.id, 'list_id', NEW.list_id, 'list_name', NEW.list_name, 'role', NEW.role,
            'invited_by', NEW.invited_by, 'expires_at', public.utc_text(NEW.expires_at))));
    RETURN NULL;
END
$$;

CREATE TRIGGER list_invitations_emit AFTER INSERT ON list_invitations
    FOR EACH ROW EXECUTE FUNCTION taskapp_private.list_invitations_emit();

-- Reminders fire as the task's creator while they may edit its list; a creator who leaves or
-- becomes a viewer hands them to the list's owner, so that they still fire.
CREATE FUNCTION taskapp_private.hand_reminders_to_owner(list uuid, member text) RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE taskapp_queue.jobs j
    SET user_id = (SELECT m.user_id FROM taskapp_private.memberships m WHERE m.list_id = list AND m.role = 'owner')
    WHERE j.kind = 'reminder' AND j.user_id = member
      AND j.ref IN (SELECT t.id FROM public.tasks t WHERE t.list_id = list)
      AND EXISTS (SELECT FROM taskapp_private.memberships m WHERE m.list_id = list AND m.role = 'owner'
                                                               AND m.user_id <> member)
$$;

INSERT INTO taskapp_private.subscriptions (user_id, webhook_id, events)
SELECT w.user_id, w.id, w.events FROM webhooks w WHERE w.active;

CREATE TRIGGER webhooks_hooked AFTER INSERT OR UPDATE OR DELETE ON webhooks
    FOR EACH ROW EXECUTE FUNCTION webhooks_hooked();

-- Reminder jobs are found by their task when the user firing them changes.
CREATE INDEX jobs_ref_idx ON taskapp_queue.jobs (ref);

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

-- The feed no longer reads a counter per writer, and events no longer need one: gone.
ALTER TABLE tasks DROP COLUMN version;
DROP TABLE task_versions;
DROP FUNCTION next_task_version(text);

DROP POLICY "Webhook events are produced by their owner's writes" ON webhook_deliveries;
CREATE POLICY "Webhook events are produced by a member's writes" ON webhook_deliveries
    FOR INSERT
    WITH CHECK (user_id = (SELECT verified_user_id()) OR list_id = ANY ((SELECT lists_where_i_am('viewer'))::uuid[]));

-- ---------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------
REVOKE ALL ON TABLE lists FROM PUBLIC;
REVOKE ALL ON TABLE list_members FROM PUBLIC;
REVOKE ALL ON TABLE list_invitations FROM PUBLIC;
REVOKE ALL ON TABLE list_departures FROM PUBLIC;
REVOKE ALL ON TABLE task_deletions FROM PUBLIC;
REVOKE ALL ON TABLE taskapp_private.memberships FROM PUBLIC;
REVOKE ALL ON FUNCTION public.lists_where_i_am(list_role) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.my_memberships() FROM PUBLIC;
REVOKE ALL ON FUNCTION public.personal_list_id() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.list_members_copy() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.lists_add_owner() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.list_members_remember_departure() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.lists_remember_departures() FROM PUBLIC;
REVOKE ALL ON FUNCTION list_members_keep_owner() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.list_members_take_invitation() FROM PUBLIC;
REVOKE ALL ON TABLE taskapp_private.subscriptions FROM PUBLIC;
REVOKE ALL ON FUNCTION webhooks_hooked() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.webhooks_emit(uuid, text, text, text, jsonb, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.tasks_emit_events() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.member_event(uuid, text, list_role) FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.list_members_emit() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.list_invitations_emit() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.hand_reminders_to_owner(uuid, text) FROM PUBLIC;
-- Deliveries are written by the triggers alone.
REVOKE INSERT ON TABLE webhook_deliveries FROM taskapp_app, taskapp_worker;

GRANT USAGE ON TYPE list_role TO taskapp_app;
GRANT SELECT, INSERT, DELETE ON TABLE lists TO taskapp_app;
GRANT UPDATE (name, updated_at) ON TABLE lists TO taskapp_app;
GRANT SELECT, INSERT, DELETE ON TABLE list_members TO taskapp_app;
GRANT UPDATE (role) ON TABLE list_members TO taskapp_app;
GRANT SELECT, INSERT, DELETE ON TABLE list_invitations TO taskapp_app;
GRANT SELECT, DELETE ON TABLE list_departures TO taskapp_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE task_deletions TO taskapp_app;
GRANT EXECUTE ON FUNCTION public.lists_where_i_am(list_role) TO taskapp_app;
GRANT EXECUTE ON FUNCTION public.my_memberships() TO taskapp_app;
GRANT EXECUTE ON FUNCTION public.personal_list_id() TO taskapp_app;

GRANT USAGE ON TYPE list_role TO taskapp_worker;
GRANT EXECUTE ON FUNCTION public.lists_where_i_am(list_role) TO taskapp_worker;
-- Whether a subscriber is still a member of an event's list, as the subscriber.
GRANT SELECT ON TABLE lists TO taskapp_worker;
"""

DOWNGRADE = r"""
-- Webhooks back to their owner's writes, with the counter per user.
DROP TRIGGER tasks_emit_events ON tasks;
DROP TRIGGER list_members_emit ON list_members;
DROP TRIGGER list_invitations_emit ON list_invitations;
DROP TRIGGER webhooks_hooked ON webhooks;
DROP FUNCTION taskapp_private.tasks_emit_events();
DROP FUNCTION taskapp_private.list_members_emit();
DROP FUNCTION taskapp_private.list_invitations_emit();
DROP FUNCTION webhooks_hooked();
DROP POLICY "Webhook events are produced by a member's writes" ON webhook_deliveries;
CREATE POLICY "Webhook events are produced by their owner's writes" ON webhook_deliveries
    FOR INSERT
    WITH CHECK (user_id = (SELECT verified_user_id()));
DELETE FROM webhook_deliveries WHERE task IS NULL;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_task_or_data;
ALTER TABLE webhook_deliveries DROP COLUMN list_id, DROP COLUMN data, ALTER COLUMN task SET NOT NULL;
UPDATE webhooks SET events = ARRAY(SELECT e FROM unnest(events) e
    WHERE e IN ('task.created', 'task.updated', 'task.completed', 'task.deleted', 'reminder.due'));
DELETE FROM webhooks WHERE events = '{}';
ALTER TABLE webhooks DROP CONSTRAINT webhooks_events_known;
ALTER TABLE webhooks ADD CONSTRAINT webhooks_events_known CHECK (
        cardinality(events) BETWEEN 1 AND 5
        AND events <@ ARRAY['task.created', 'task.updated', 'task.completed', 'task.deleted', 'reminder.due']);
DROP INDEX taskapp_queue.jobs_ref_idx;
CREATE OR REPLACE FUNCTION taskapp_queue.tasks_schedule_reminder() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.next_reminder_at IS NULL THEN
        DELETE FROM taskapp_queue.jobs WHERE kind = 'reminder' AND user_id = OLD.user_id AND ref = OLD.id;
    ELSE
        INSERT INTO taskapp_queue.jobs (kind, user_id, ref, run_at)
        VALUES ('reminder', NEW.user_id, NEW.id, NEW.next_reminder_at)
        ON CONFLICT (kind, user_id, ref) DO UPDATE SET run_at = excluded.run_at, claim = NULL, leased_until = NULL;
    END IF;
    RETURN NULL;
END
$$;

CREATE TABLE task_versions (
    user_id           text   NOT NULL DEFAULT current_setting('app.user_id', true),
    -- The version the owner's latest write took.
    last_version      bigint NOT NULL,
    -- Deletions up to this version are forgotten: a sync token older than it is too old (410).
    forgotten_through bigint NOT NULL DEFAULT 0,
    -- The event types the owner's active webhooks want (kept by webhooks_hooked): every write
    -- takes its version from this row anyway, so it learns here, for free, whether anyone
    -- listens.
    hooked            text[] NOT NULL DEFAULT '{}',
    CONSTRAINT task_versions_pkey PRIMARY KEY (user_id),
    CONSTRAINT task_versions_user_id_not_empty CHECK (user_id <> '' AND char_length(user_id) <= 255)
);
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
REVOKE ALL ON TABLE task_versions FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON TABLE task_versions TO taskapp_app;
GRANT SELECT, INSERT, UPDATE ON TABLE task_versions TO taskapp_worker;
ALTER TABLE tasks ADD COLUMN version bigint NOT NULL DEFAULT 0;

CREATE FUNCTION next_task_version(owner text, OUT version bigint, OUT hooked text[])
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO public.task_versions AS v (user_id, last_version) VALUES (owner, 1)
    ON CONFLICT (user_id) DO UPDATE SET last_version = v.last_version + 1
    RETURNING v.last_version, v.hooked INTO version, hooked;
END
$$;
REVOKE ALL ON FUNCTION next_task_version(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION next_task_version(text) TO taskapp_app;
GRANT EXECUTE ON FUNCTION next_task_version(text) TO taskapp_worker;

CREATE FUNCTION webhooks_emit(owner text, event text, task jsonb, reminder jsonb) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL, not SQL: its statement is planned once per session, not at every call.
    INSERT INTO public.webhook_deliveries (user_id, webhook_id, type, task, reminder)
    SELECT w.user_id, w.id, event, task - 'search', reminder FROM public.webhooks w
    WHERE w.user_id = owner AND w.active AND event = ANY (w.events);
END
$$;
REVOKE ALL ON FUNCTION webhooks_emit(text, text, jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION webhooks_emit(text, text, jsonb, jsonb) TO taskapp_app;
GRANT EXECUTE ON FUNCTION webhooks_emit(text, text, jsonb, jsonb) TO taskapp_worker;
GRANT INSERT ON TABLE webhook_deliveries TO taskapp_app, taskapp_worker;

CREATE FUNCTION webhooks_hooked() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner text := coalesce(NEW.user_id, OLD.user_id);
BEGIN
    INSERT INTO public.task_versions AS v (user_id, last_version, hooked)
    VALUES (owner, 0, ARRAY(SELECT DISTINCT e FROM public.webhooks w, unnest(w.events) AS e
                            WHERE w.user_id = owner AND w.active ORDER BY e))
    ON CONFLICT (user_id) DO UPDATE SET hooked = excluded.hooked;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION webhooks_hooked() FROM PUBLIC;
CREATE TRIGGER webhooks_hooked AFTER INSERT OR UPDATE OR DELETE ON webhooks
    FOR EACH ROW EXECUTE FUNCTION webhooks_hooked();
INSERT INTO task_versions (user_id, last_version, hooked)
SELECT w.user_id, 0, ARRAY(SELECT DISTINCT e FROM webhooks o, unnest(o.events) e WHERE o.user_id = w.user_id AND o.active ORDER BY e)
FROM webhooks w GROUP BY w.user_id;
DROP FUNCTION taskapp_private.webhooks_emit(uuid, text, text, text, jsonb, jsonb, jsonb);
DROP FUNCTION taskapp_private.member_event(uuid, text, list_role);
DROP TABLE taskapp_private.subscriptions;

DROP TRIGGER tasks_remember_move ON tasks;
DROP POLICY "Tasks are visible to the members of their list" ON tasks;
DROP POLICY "Tasks are created by editors of their list, as themselves" ON tasks;
DROP POLICY "Tasks are changed by editors and stay in a list they edit" ON tasks;
DROP POLICY "Tasks are deleted by editors of their list" ON tasks;
DROP POLICY "Completions are visible to the members of the task's list" ON task_completions;
DROP POLICY "Completions are recorded by editors of the list, as themselves" ON task_completions;
DROP POLICY "Completions are forgotten by editors of the list" ON task_completions;

-- Tasks and completions go back to their creators; the feed starts again from version 0.
ALTER TABLE tasks NO FORCE ROW LEVEL SECURITY;
ALTER TABLE task_completions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE task_completions DISABLE TRIGGER USER;
ALTER TABLE task_completions ADD COLUMN user_id text;
UPDATE task_completions c SET user_id = t.user_id FROM tasks t WHERE t.id = c.task_id;
ALTER TABLE task_completions DROP CONSTRAINT task_completions_task_fkey;
ALTER TABLE task_completions DROP CONSTRAINT task_completions_pkey;
ALTER TABLE task_completions DROP CONSTRAINT task_completions_completed_by_not_empty;
ALTER TABLE task_completions DROP CONSTRAINT task_completions_times_in_range;
DROP INDEX task_completions_task_idx;
DROP INDEX task_completions_completed_at_idx;
ALTER TABLE task_completions DROP COLUMN list_id, DROP COLUMN completed_by;
ALTER TABLE task_completions ALTER COLUMN user_id SET NOT NULL,
    ALTER COLUMN user_id SET DEFAULT current_setting('app.user_id', true);
ALTER TABLE task_completions ADD CONSTRAINT task_completions_pkey PRIMARY KEY (user_id, id);
ALTER TABLE task_completions ENABLE TRIGGER USER;

ALTER TABLE tasks DROP CONSTRAINT tasks_assignee_fkey;
ALTER TABLE tasks DROP CONSTRAINT tasks_due_at_in_range;
ALTER TABLE tasks DROP CONSTRAINT tasks_list_id_id_key;
ALTER TABLE tasks DROP CONSTRAINT tasks_list_fkey;
DROP INDEX tasks_list_id_created_at_idx;
DROP INDEX tasks_list_id_updated_at_idx;
DROP INDEX tasks_list_id_due_at_asc_idx;
DROP INDEX tasks_list_id_due_at_desc_idx;
DROP INDEX tasks_list_id_priority_idx;
DROP INDEX tasks_list_id_title_idx;
DROP INDEX tasks_list_id_written_xid_idx;
DROP INDEX tasks_list_id_assignee_id_idx;
ALTER TABLE tasks DROP COLUMN list_id, DROP COLUMN assignee_id, DROP COLUMN written_xid;
ALTER TABLE tasks ADD CONSTRAINT tasks_user_id_id_key UNIQUE (user_id, id);
CREATE INDEX tasks_user_id_created_at_idx ON tasks (user_id, created_at DESC, id DESC);
CREATE INDEX tasks_user_id_updated_at_idx ON tasks (user_id, updated_at DESC, id DESC);
CREATE INDEX tasks_user_id_due_at_asc_idx ON tasks (user_id, due_at ASC NULLS LAST, id ASC);
CREATE INDEX tasks_user_id_due_at_desc_idx ON tasks (user_id, due_at DESC NULLS LAST, id DESC);
CREATE INDEX tasks_user_id_priority_idx ON tasks (user_id, priority DESC, id DESC);
CREATE INDEX tasks_user_id_title_idx ON tasks (user_id, (title COLLATE "C") DESC, id DESC);
CREATE INDEX tasks_user_id_version_idx ON tasks (user_id, version, id);
ALTER TABLE task_completions ADD CONSTRAINT task_completions_task_fkey FOREIGN KEY (user_id, task_id)
    REFERENCES tasks (user_id, id) ON DELETE CASCADE;
CREATE INDEX task_completions_task_idx ON task_completions (user_id, task_id, completed_at DESC, id DESC);
CREATE INDEX task_completions_completed_at_idx ON task_completions (user_id, completed_at DESC, id DESC);
ALTER TABLE tasks FORCE ROW LEVEL SECURITY;
ALTER TABLE task_completions FORCE ROW LEVEL SECURITY;

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
CREATE POLICY "Completions are visible to their owner" ON task_completions
    FOR SELECT
    USING (user_id = (SELECT verified_user_id()));
CREATE POLICY "Completions are recorded by their owner" ON task_completions
    FOR INSERT
    WITH CHECK (user_id = (SELECT verified_user_id()));
CREATE POLICY "Completions can be forgotten by their owner" ON task_completions
    FOR DELETE
    USING (user_id = (SELECT verified_user_id()));

CREATE OR REPLACE FUNCTION tasks_stamp() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    hooked text[];
    event  text;
    fired  jsonb;
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
    SELECT v.version, v.hooked INTO NEW.version, hooked FROM public.next_task_version(NEW.user_id) v;
    IF hooked <> '{}' THEN
        IF TG_OP = 'INSERT' THEN
            event := 'task.created';
        ELSIF (NEW.completed AND NOT OLD.completed) OR NEW.series_completions > OLD.series_completions THEN
            event := 'task.completed';
        ELSE
            event := 'task.updated';
        END IF;
        IF TG_OP = 'UPDATE' AND NEW.reminders <> OLD.reminders THEN
            FOR fired IN SELECT public.tasks_fired_reminders(NEW.reminders, OLD.reminders) LOOP
                event := NULL;  -- a reminder firing is its own event, not an update
                IF 'reminder.due' = ANY (hooked) THEN
                    PERFORM public.webhooks_emit(NEW.user_id, 'reminder.due', to_jsonb(NEW), fired);
                END IF;
            END LOOP;
        END IF;
        IF event = ANY (hooked) THEN
            PERFORM public.webhooks_emit(NEW.user_id, event, to_jsonb(NEW), NULL);
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION tasks_remember_deletion() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    taken  bigint;
    hooked text[];
BEGIN
    SELECT v.version, v.hooked INTO taken, hooked FROM public.next_task_version(OLD.user_id) v;
    INSERT INTO public.task_deletions AS d (user_id, task_id, version)
    VALUES (OLD.user_id, OLD.id, taken)
    ON CONFLICT (user_id, task_id) DO UPDATE SET version = excluded.version, deleted_at = excluded.deleted_at;
    IF 'task.deleted' = ANY (hooked) THEN
        PERFORM public.webhooks_emit(OLD.user_id, 'task.deleted', to_jsonb(OLD), NULL);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION tasks_record_completion() RETURNS trigger
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

DROP TABLE task_deletions;
CREATE TABLE task_deletions (
    user_id    text        NOT NULL DEFAULT current_setting('app.user_id', true),
    task_id    uuid        NOT NULL,
    version    bigint      NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT task_deletions_pkey PRIMARY KEY (user_id, task_id),
    CONSTRAINT task_deletions_user_id_not_empty CHECK (user_id <> '' AND char_length(user_id) <= 255)
);

CREATE INDEX task_deletions_version_idx ON task_deletions (user_id, version, task_id);
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
REVOKE ALL ON TABLE task_deletions FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE task_deletions TO taskapp_app;

DROP FUNCTION public.personal_list_id();
DROP FUNCTION taskapp_private.hand_reminders_to_owner(uuid, text);
DROP TRIGGER list_members_keep_owner ON list_members;
DROP FUNCTION list_members_keep_owner();
DROP TABLE list_departures;
DROP TABLE list_members;
DROP TABLE list_invitations;
DROP TABLE lists;
DROP FUNCTION taskapp_private.list_members_take_invitation();
DROP FUNCTION taskapp_private.lists_remember_departures();
DROP FUNCTION taskapp_private.list_members_remember_departure();
DROP FUNCTION taskapp_private.lists_add_owner();
DROP FUNCTION taskapp_private.list_members_copy();
DROP FUNCTION public.my_memberships();
DROP FUNCTION public.lists_where_i_am(list_role);
DROP TABLE taskapp_private.memberships;
DROP TYPE list_role;
"""


def upgrade():
    op.execute(UPGRADE)


def downgrade():
    op.execute(DOWNGRADE)
