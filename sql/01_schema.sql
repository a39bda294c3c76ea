-- taskapp: schema
--
-- The same objects the alembic revisions create; tests/sql/test_schema_drift.py keeps the two equal.
-- Load order: 00_roles.sql, 01_schema.sql, 02_policies.sql, 03_privileges.sql (ON_ERROR_STOP).

-- ---------------------------------------------------------------------------
-- Types
-- ---------------------------------------------------------------------------
-- Declared in rank order, so ORDER BY priority sorts low < medium < high.
CREATE TYPE task_priority AS ENUM ('low', 'medium', 'high');
-- Roles in a list, in rank order: each may do what the ones before it may.
CREATE TYPE list_role AS ENUM ('viewer', 'editor', 'admin', 'owner');

-- ---------------------------------------------------------------------------
-- Lists, their members, invitations, and what a member who left had
-- ---------------------------------------------------------------------------
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
-- tasks
-- ---------------------------------------------------------------------------
CREATE TABLE tasks (
    id           uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Who created the task. Defaults from the transaction's identity: without one it is NULL
    -- or '' and the row is refused (fail closed).
    user_id      text          NOT NULL DEFAULT current_setting('app.user_id', true),
    -- The list it is in, which decides who sees it (the creator's Inbox unless given; the
    -- default is set below, once personal_list_id exists); optionally the member it is for.
    list_id      uuid          NOT NULL,
    assignee_id  text,
    title        text          NOT NULL,
    description  text,
    completed    boolean       NOT NULL DEFAULT false,
    completed_at timestamptz,
    priority     task_priority NOT NULL DEFAULT 'medium',
    due_at       timestamptz,
    tags         text[]        NOT NULL DEFAULT '{}',
    created_at   timestamptz   NOT NULL DEFAULT now(),
    updated_at   timestamptz   NOT NULL DEFAULT now(),
    -- Recurrence (taskapp/tasks/recurrence.py does the arithmetic): an RFC 5545 RRULE value,
    -- normalised; the IANA zone whose wall-clock time it follows; and whether the next
    -- occurrence follows the schedule ('due') or restarts from the completion.
    recurrence   text,
    time_zone    text          NOT NULL DEFAULT 'UTC',
    repeat_from  text          NOT NULL DEFAULT 'due',
    -- The series' bookkeeping, never returned: its first occurrence (DTSTART: the wall-clock
    -- time every occurrence keeps), the last occurrence a COUNT allows, and the completions
    -- since the series was anchored (COUNT of a series repeating from completion).
    recurrence_start   timestamptz,
    recurrence_last    timestamptz,
    series_completions integer NOT NULL DEFAULT 0,
    -- The transaction of the task's latest write: the change feed's position ('0' for tasks
    -- written before the feed followed transactions).
    written_xid  xid8          NOT NULL DEFAULT '0',
    -- Reminders, at most 5: each {"at": <time>} or {"before_due": <minutes>}, beside which the
    -- database keeps when it fires (fires_at), whether it fired for the current occurrence, and
    -- whether its time had passed when it was set (missed: nothing fires retroactively); see
    -- tasks_arm_reminders. next_reminder_at is the earliest reminder of an open task yet to
    -- fire, which the worker's queue follows.
    reminders        jsonb       NOT NULL DEFAULT '[]',
    next_reminder_at timestamptz,
    CONSTRAINT tasks_user_id_not_empty CHECK (user_id <> '' AND char_length(user_id) <= 255),
    CONSTRAINT tasks_title_length CHECK (char_length(title) BETWEEN 1 AND 255),
    CONSTRAINT tasks_description_length CHECK (char_length(description) <= 1000),
    CONSTRAINT tasks_tags_count CHECK (cardinality(tags) <= 20),
    CONSTRAINT tasks_completed_at_matches CHECK (completed = (completed_at IS NOT NULL)),
    CONSTRAINT tasks_recurrence_length CHECK (char_length(recurrence) BETWEEN 1 AND 500),
    CONSTRAINT tasks_recurrence_needs_due_at CHECK (recurrence IS NULL OR due_at IS NOT NULL),
    CONSTRAINT tasks_time_zone_length CHECK (char_length(time_zone) BETWEEN 1 AND 64),
    CONSTRAINT tasks_repeat_from_known CHECK (repeat_from IN ('due', 'completion')),
    CONSTRAINT tasks_series_completions_count CHECK (series_completions >= 0),
    CONSTRAINT tasks_reminders_count CHECK (jsonb_typeof(reminders) = 'array' AND jsonb_array_length(reminders) <= 5),
    -- A due date every member can load (no infinity, years 1 to 9999 in UTC), whatever SQL wrote it.
    CONSTRAINT tasks_due_at_in_range CHECK (due_at IS NULL OR due_at BETWEEN '0001-01-01 00:00:00+00' AND '9999-12-31 23:59:59.999999+00'),
    CONSTRAINT tasks_list_fkey FOREIGN KEY (list_id) REFERENCES lists (id) ON DELETE CASCADE,
    -- What the completion history references: a task together with its list, so that a
    -- history row naming a task of another list fails the same whether or not it exists.
    CONSTRAINT tasks_list_id_id_key UNIQUE (list_id, id),
    -- An assignee is a member of the task's list; when they stop being one, the task is nobody's.
    CONSTRAINT tasks_assignee_fkey FOREIGN KEY (list_id, assignee_id)
        REFERENCES list_members (list_id, user_id) ON DELETE SET NULL (assignee_id),
    -- Full-text search over title and description (`q`). The 'simple' configuration does
    -- not stem and keeps words of any script, lower-cased.
    search       tsvector      NOT NULL GENERATED ALWAYS AS (
        to_tsvector('simple'::regconfig, title || ' ' || coalesce(description, ''))
    ) STORED
);

-- ---------------------------------------------------------------------------
-- Indexes
-- ---------------------------------------------------------------------------
-- One per sort order, each leading with the list, as the policies do: row-level security adds
-- `list_id = ANY (<the caller's lists>)`, and the index yields each list's tasks in order,
-- forwards or backwards. Ties are broken by id so the order is total (keyset pagination).
CREATE INDEX tasks_list_id_created_at_idx ON tasks (list_id, created_at DESC, id DESC);
CREATE INDEX tasks_list_id_updated_at_idx ON tasks (list_id, updated_at DESC, id DESC);
-- Tasks without due_at come last in both directions, so each direction has its index.
CREATE INDEX tasks_list_id_due_at_asc_idx ON tasks (list_id, due_at ASC NULLS LAST, id ASC);
CREATE INDEX tasks_list_id_due_at_desc_idx ON tasks (list_id, due_at DESC NULLS LAST, id DESC);
CREATE INDEX tasks_list_id_priority_idx ON tasks (list_id, priority DESC, id DESC);
-- Titles sort by code point (collation "C"): the same order for every server locale.
CREATE INDEX tasks_list_id_title_idx ON tasks (list_id, (title COLLATE "C") DESC, id DESC);

-- The change feed: a list's tasks by the transaction that last wrote them.
CREATE INDEX tasks_list_id_written_xid_idx ON tasks (list_id, written_xid, id);
-- A member's assigned tasks (and the assignee key's SET NULL when they leave).
CREATE INDEX tasks_list_id_assignee_id_idx ON tasks (list_id, assignee_id) WHERE assignee_id IS NOT NULL;

CREATE INDEX tasks_search_idx ON tasks USING gin (search);
CREATE INDEX tasks_tags_idx ON tasks USING gin (tags);

-- ---------------------------------------------------------------------------
-- The change feed
-- ---------------------------------------------------------------------------
-- A sync token holds the snapshot of the sync before (pg_current_snapshot()): what changed
-- since is every row whose transaction that snapshot did not see. A deletion (or a task
-- moved out of a list) is remembered per list, with its transaction.
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

-- ---------------------------------------------------------------------------
-- Reminders
-- ---------------------------------------------------------------------------
-- A time as the API writes it: RFC 3339 in UTC with a Z, microseconds only when there are some.
CREATE FUNCTION utc_text(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
           || CASE WHEN extract(microseconds FROM t)::bigint % 1000000 <> 0
                   THEN to_char(t AT TIME ZONE 'UTC', '.US') ELSE '' END || 'Z'
$$;

-- The reminders as given, each with when it fires (fires_at), whether it fired for the
-- current occurrence (fired) and whether its time had passed when it was set (missed: it
-- never fires, nothing fires retroactively). A reminder keeps the state it had (written with
-- it, or found among the previous ones under the same "at" or "before_due"), unless it is
-- new, its time moved, or it is relative and the due date moved or the task was reopened:
-- then it is set anew.
CREATE FUNCTION tasks_arm_reminders(given jsonb, previous jsonb, due_at timestamptz, rearm_relative boolean)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    reminder jsonb;
    spec     jsonb;
    state    jsonb;
    fires    timestamptz;
    armed    jsonb := '[]';
BEGIN
    FOR reminder IN SELECT value FROM jsonb_array_elements(given) LOOP
        spec := reminder - 'fires_at' - 'fired' - 'missed';
        fires := CASE WHEN spec ? 'at' THEN (spec ->> 'at')::timestamptz
                      ELSE due_at - make_interval(mins => (spec ->> 'before_due')::int) END;
        state := CASE WHEN reminder ? 'fired' THEN reminder
                      ELSE (SELECT p FROM jsonb_array_elements(previous) p
                            WHERE p - 'fires_at' - 'fired' - 'missed' = spec LIMIT 1) END;
        IF state IS NULL OR (rearm_relative AND spec ? 'before_due')
           OR (state ->> 'fires_at')::timestamptz IS DISTINCT FROM fires THEN
            state := jsonb_build_object('fired', false, 'missed', NOT coalesce(fires > now(), false));
        END IF;
        armed := armed || jsonb_build_array(spec || jsonb_build_object(
            'fires_at', public.utc_text(fires), 'fired', state -> 'fired', 'missed', state -> 'missed'));
    END LOOP;
    RETURN armed;
END
$$;

-- The reminders of `task` that fired in this write (fired now, not fired before).
CREATE FUNCTION tasks_fired_reminders(task jsonb, previous jsonb) RETURNS SETOF jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r FROM jsonb_array_elements(task) r
    WHERE (r ->> 'fired')::boolean
      AND NOT EXISTS (SELECT FROM jsonb_array_elements(previous) p
                      WHERE p - 'fired' = r - 'fired' AND (p ->> 'fired')::boolean)
$$;

-- ---------------------------------------------------------------------------
-- Timestamps, versions, reminders and events kept by the database
-- ---------------------------------------------------------------------------
-- completed_at follows completed; updated_at moves forward on every write, even when two
-- writes fall in the same microsecond or a transaction started before the previous write;
-- the creator never changes; written_xid is the writing transaction (whatever wrote: the API,
-- the worker, or a DBA's SQL as the user); reminders are armed for the task as it now is.
-- The write's webhook events are produced after it (tasks_emit_events, at the end).
CREATE FUNCTION tasks_stamp() RETURNS trigger
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

CREATE TRIGGER tasks_stamp BEFORE INSERT OR UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_stamp();

-- A task deleted, or moved out of its list, is remembered in that list (unless the list
-- itself is going: then its members' departures say it).
CREATE FUNCTION tasks_remember_deletion() RETURNS trigger
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

CREATE TRIGGER tasks_remember_deletion AFTER DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_remember_deletion();
CREATE TRIGGER tasks_remember_move AFTER UPDATE OF list_id ON tasks
    FOR EACH ROW WHEN (OLD.list_id IS DISTINCT FROM NEW.list_id) EXECUTE FUNCTION tasks_remember_deletion();

-- ---------------------------------------------------------------------------
-- task_completions: every completion of a task
-- ---------------------------------------------------------------------------
-- One row each time a task is completed: a plain task when it is marked completed (and the
-- row goes again when it is reopened), a recurring one for each occurrence done before it
-- moved on. due_at is the occurrence completed. Keyed and referenced by list first.
CREATE TABLE task_completions (
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    task_id      uuid        NOT NULL,
    due_at       timestamptz,
    completed_at timestamptz NOT NULL DEFAULT now(),
    -- The task's list (the row follows the task when it moves), and who completed it.
    list_id      uuid        NOT NULL,
    completed_by text        NOT NULL DEFAULT current_setting('app.user_id', true),
    CONSTRAINT task_completions_pkey PRIMARY KEY (list_id, id),
    CONSTRAINT task_completions_task_fkey FOREIGN KEY (list_id, task_id)
        REFERENCES tasks (list_id, id) ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT task_completions_completed_by_not_empty CHECK (completed_by <> '' AND char_length(completed_by) <= 255),
    -- Times every member can load (no infinity, years 1 to 9999 in UTC), whatever SQL wrote them.
    CONSTRAINT task_completions_times_in_range
        CHECK ((due_at IS NULL OR due_at BETWEEN '0001-01-01 00:00:00+00' AND '9999-12-31 23:59:59.999999+00') AND completed_at BETWEEN '0001-01-01 00:00:00+00' AND '9999-12-31 23:59:59.999999+00')
);

-- A task's history, newest first (and the cascade when a task goes); every completion in a
-- list in a time window, newest first.
CREATE INDEX task_completions_task_idx ON task_completions (list_id, task_id, completed_at DESC, id DESC);
CREATE INDEX task_completions_completed_at_idx ON task_completions (list_id, completed_at DESC, id DESC);

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

CREATE TRIGGER tasks_completed_on_insert AFTER INSERT ON tasks
    FOR EACH ROW WHEN (NEW.completed) EXECUTE FUNCTION tasks_record_completion();
CREATE TRIGGER tasks_completed_or_reopened AFTER UPDATE OF completed ON tasks
    FOR EACH ROW WHEN (OLD.completed IS DISTINCT FROM NEW.completed) EXECUTE FUNCTION tasks_record_completion();

-- ---------------------------------------------------------------------------
-- idempotency_keys: the answers to writes sent with an Idempotency-Key
-- ---------------------------------------------------------------------------
-- Stored in the transaction of the write they answer, so there is never one without the
-- other; a retry with the same key and the same request gets the stored answer again.
-- Keys are the owner's own: the same key of two users names two rows.
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

-- ---------------------------------------------------------------------------
-- webhooks: where a user's task events are sent, and what was sent
-- ---------------------------------------------------------------------------
-- A subscription: the URL, the event types it wants, and the secret its events are signed
-- with (Standard Webhooks). Switched off (active false) by the worker when an event could not
-- be delivered after every attempt.
CREATE TABLE webhooks (
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id    text        NOT NULL DEFAULT current_setting('app.user_id', true),
    url        text        NOT NULL,
    events     text[]      NOT NULL,
    secret     text        NOT NULL,
    active     boolean     NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhooks_pkey PRIMARY KEY (user_id, id),
    CONSTRAINT webhooks_user_id_not_empty CHECK (user_id <> '' AND char_length(user_id) <= 255),
    CONSTRAINT webhooks_url_length CHECK (char_length(url) BETWEEN 1 AND 2000),
    CONSTRAINT webhooks_events_known CHECK (
        cardinality(events) BETWEEN 1 AND 9
        AND events <@ ARRAY['task.created', 'task.updated', 'task.completed', 'task.deleted', 'reminder.due',
                            'member.added', 'member.removed', 'member.role_changed', 'invitation.received']),
    CONSTRAINT webhooks_secret_shape CHECK (secret ~ '^whsec_[A-Za-z0-9+/=]+$')
);

-- One event for one subscription: the outbox the worker delivers from, written in the
-- transaction of the change that caused it (by the triggers alone). task is the task as that change left it (as it
-- was, for task.deleted); reminder, the reminder that fired (reminder.due). created_at is
-- the event's timestamp (the clock's, so that a transaction's events keep their order); id,
-- its webhook-id on every attempt.
CREATE TABLE webhook_deliveries (
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id      text        NOT NULL DEFAULT current_setting('app.user_id', true),
    webhook_id   uuid        NOT NULL,
    type         text        NOT NULL,
    task         jsonb,
    reminder     jsonb,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    attempts     integer     NOT NULL DEFAULT 0,
    state        text        NOT NULL DEFAULT 'pending',
    -- The list the event is about (NULL for events from before lists); an event that is not
    -- about a task (a member, an invitation) carries its data instead of a task.
    list_id      uuid,
    data         jsonb,
    -- The transaction that made it (NULL for events from before), and whether it is the news of
    -- a departure (a member removed or leaving, a list deleted): such an event is still its
    -- subscriber's to receive after they are out, when that same transaction took them out.
    made_xid     xid8        DEFAULT pg_current_xact_id(),
    parting      boolean     NOT NULL DEFAULT false,
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (user_id, id),
    CONSTRAINT webhook_deliveries_webhook_fkey FOREIGN KEY (user_id, webhook_id)
        REFERENCES webhooks (user_id, id) ON DELETE CASCADE,
    CONSTRAINT webhook_deliveries_user_id_not_empty CHECK (user_id <> '' AND char_length(user_id) <= 255),
    CONSTRAINT webhook_deliveries_state_known CHECK (state IN ('pending', 'delivered', 'failed')),
    CONSTRAINT webhook_deliveries_task_or_data CHECK ((task IS NULL) <> (data IS NULL))
);

-- A subscription's events, oldest first (the cascade when it goes, and the retention).
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (user_id, webhook_id, created_at);

-- Every attempt to deliver an event: what the receiver answered (status) or why there was no
-- answer (error).
CREATE TABLE webhook_attempts (
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id      text        NOT NULL DEFAULT current_setting('app.user_id', true),
    webhook_id   uuid        NOT NULL,
    delivery_id  uuid        NOT NULL,
    attempt      integer     NOT NULL,
    status       integer,
    error        text,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    -- The event's list (NULL for events from before lists), as on the event.
    list_id      uuid,
    CONSTRAINT webhook_attempts_pkey PRIMARY KEY (user_id, id),
    CONSTRAINT webhook_attempts_delivery_fkey FOREIGN KEY (user_id, delivery_id)
        REFERENCES webhook_deliveries (user_id, id) ON DELETE CASCADE,
    CONSTRAINT webhook_attempts_user_id_not_empty CHECK (user_id <> '' AND char_length(user_id) <= 255),
    CONSTRAINT webhook_attempts_outcome CHECK ((status IS NULL) <> (error IS NULL))
);

-- A subscription's attempts, newest first (GET …/deliveries); an event's (the cascade).
CREATE INDEX webhook_attempts_webhook_idx ON webhook_attempts (user_id, webhook_id, attempted_at DESC, id DESC);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (user_id, delivery_id);

-- ---------------------------------------------------------------------------
-- taskapp_queue: which background work is due, across users (ids and times only)
-- ---------------------------------------------------------------------------
-- The worker (taskapp_worker) reads no table here: it claims jobs through the functions
-- below, which return a job's kind, owner, the id it concerns and when it is due, never
-- content. To do a job it acts as that user, under the policies, as a request does. The
-- triggers that fill it run as the owner of this schema (SECURITY DEFINER), for a row
-- the policies already let the writing user write.
CREATE SCHEMA taskapp_queue;

CREATE TABLE taskapp_queue.jobs (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- 'delivery': a webhook_deliveries row to send; 'reminder': a task whose reminder is due.
    kind         text        NOT NULL CHECK (kind IN ('delivery', 'reminder')),
    user_id      text        NOT NULL,
    ref          uuid        NOT NULL,
    run_at       timestamptz NOT NULL,
    -- While a worker holds the job: its claim, and until when (then another may take it).
    claim        uuid,
    leased_until timestamptz,
    claims       integer     NOT NULL DEFAULT 0,
    -- The list of the task or event it concerns (NULL for jobs from before lists): on a Citus
    -- cluster the job lives on that list's node (sql/citus.sql).
    list_id      uuid,
    CONSTRAINT jobs_one_per_thing UNIQUE (kind, user_id, ref)
);

CREATE INDEX jobs_run_at_idx ON taskapp_queue.jobs (run_at, id);
-- Reminder jobs are found by their task when the user firing them changes.
CREATE INDEX jobs_ref_idx ON taskapp_queue.jobs (ref);

-- A new event is a job at once (workers look for due jobs every half second).
CREATE FUNCTION taskapp_queue.webhook_deliveries_enqueue() RETURNS trigger
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

CREATE TRIGGER webhook_deliveries_enqueue AFTER INSERT ON webhook_deliveries
    FOR EACH ROW EXECUTE FUNCTION taskapp_queue.webhook_deliveries_enqueue();

-- A task's next reminder is a job due at its time (none, when it has none), fired as the
-- task's creator while they may edit its list, else as the list's owner.
CREATE FUNCTION taskapp_queue.tasks_schedule_reminder() RETURNS trigger
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

CREATE TRIGGER tasks_schedule_reminder_on_insert AFTER INSERT ON tasks
    FOR EACH ROW WHEN (NEW.next_reminder_at IS NOT NULL)
    EXECUTE FUNCTION taskapp_queue.tasks_schedule_reminder();
-- A task that moves takes its reminder's job along.
CREATE TRIGGER tasks_schedule_reminder_on_update AFTER UPDATE ON tasks
    FOR EACH ROW WHEN (OLD.next_reminder_at IS DISTINCT FROM NEW.next_reminder_at OR OLD.list_id IS DISTINCT FROM NEW.list_id)
    EXECUTE FUNCTION taskapp_queue.tasks_schedule_reminder();
CREATE TRIGGER tasks_schedule_reminder_on_delete AFTER DELETE ON tasks
    FOR EACH ROW WHEN (OLD.next_reminder_at IS NOT NULL)
    EXECUTE FUNCTION taskapp_queue.tasks_schedule_reminder();

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

-- A held job is done (unless it was rescheduled meanwhile: then its claim is gone).
CREATE FUNCTION taskapp_queue.finish(job bigint, held uuid) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH done AS (DELETE FROM taskapp_queue.jobs j WHERE j.id = job AND j.claim = held RETURNING 1)
    SELECT EXISTS (SELECT FROM done)
$$;

-- A held job is to be tried again after delay_seconds.
CREATE FUNCTION taskapp_queue.retry(job bigint, held uuid, delay_seconds double precision) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH moved AS (
        UPDATE taskapp_queue.jobs j
        SET run_at = now() + make_interval(secs => greatest(delay_seconds, 0)), claim = NULL, leased_until = NULL
        WHERE j.id = job AND j.claim = held RETURNING 1
    )
    SELECT EXISTS (SELECT FROM moved)
$$;

-- When the next job can be claimed (NULL: none is waiting): how long a worker may sleep.
CREATE FUNCTION taskapp_queue.next_run_at() RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT min(greatest(j.run_at, coalesce(j.leased_until, j.run_at))) FROM taskapp_queue.jobs j
$$;

-- How much work waits, per kind: jobs due now and the oldest due time (the worker's metrics).
CREATE FUNCTION taskapp_queue.backlog() RETURNS TABLE (kind text, due bigint, oldest timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT j.kind, count(*), min(j.run_at) FROM taskapp_queue.jobs j WHERE j.run_at <= now() GROUP BY j.kind
$$;

-- ---------------------------------------------------------------------------
-- The identity the database verifies
-- ---------------------------------------------------------------------------
-- The application sets, in every transaction, app.user_id and beside it app.identity_proof:
--   v1.<key id>.<expires, Unix time>.<hex HMAC-SHA256(identity key, '<expires>.<user id>')>
-- The identity key (TASKAPP_IDENTITY_KEY) is stored here, where only the owner reads it, as
-- HMAC's two padded keys (the key XOR 0x36 and XOR 0x5c, zero-padded to 64 bytes), so that
-- the built-in sha256() computes HMAC-SHA256 without any extension. More than one key is
-- accepted while a new key is rolled out (docs/operators.md, "Rotating the identity key").
CREATE SCHEMA taskapp_private;

CREATE TABLE taskapp_private.identity_keys (
    key_id    text        PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
    inner_pad bytea       NOT NULL CHECK (octet_length(inner_pad) = 64),
    outer_pad bytea       NOT NULL CHECK (octet_length(outer_pad) = 64),
    added_at  timestamptz NOT NULL DEFAULT now()
);

-- app.user_id when app.identity_proof proves it under a stored key and has not expired
-- (the transaction's start is what counts); NULL otherwise, and NULL matches no owner.
-- SECURITY DEFINER to read the keys; a fixed search_path so nothing can be slipped in.
CREATE FUNCTION public.verified_user_id() RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    claimed text := current_setting('app.user_id', true);
    proof   text := current_setting('app.identity_proof', true);
    part    text[];
BEGIN
    -- The proof's shape, checked with an unbounded pattern and lengths: a pattern with
    -- bounded repeats ({16}, {64}) costs PL/pgSQL about 12 µs per call, this about 1 µs.
    IF claimed IS NULL OR claimed = ''
       OR proof IS NULL OR proof !~ '^v1\.[0-9a-f]+\.[0-9]+\.[0-9a-f]+$' THEN
        RETURN NULL;
    END IF;
    part := string_to_array(proof, '.');
    IF length(part[2]) <> 16 OR length(part[3]) > 15 OR length(part[4]) <> 64
       OR part[3]::bigint < extract(epoch FROM now()) THEN
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

-- For DBAs and auditors (the owner; never taskapp_app): act as a user for the rest of the
-- transaction, with a proof made from the newest key, valid for the transaction.
--   BEGIN; SELECT taskapp_private.act_as('alice'); SELECT * FROM tasks; COMMIT;
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
-- A member who goes (removed or leaving) is remembered with the list's tasks, as the user
-- removing them sees them (their reminders pass to the owner, and every member, the one who
-- goes too, hears of it); so is every member when the list is deleted (before its rows go).
CREATE FUNCTION taskapp_private.list_members_remember_departure() RETURNS trigger
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

CREATE TRIGGER list_members_remember_departure BEFORE DELETE ON list_members
    FOR EACH ROW EXECUTE FUNCTION taskapp_private.list_members_remember_departure();

-- Each member of a list being deleted hears that they are out of it (a parting
-- `member.removed` about themselves, delivered after the list is gone), before its rows go:
-- one event per member, however many tasks it held (their tasks go with it; the feed deletes
-- each).
CREATE FUNCTION taskapp_private.lists_remember_departures() RETURNS trigger
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

ALTER TABLE tasks ALTER COLUMN list_id SET DEFAULT public.personal_list_id();

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
-- event, not an update). A task moved out of a list is deleted for the members of that list
-- who are not members of the one it went to. Nothing here for a list being deleted
-- (lists_remember_departures tells its members).
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

CREATE TRIGGER webhooks_hooked AFTER INSERT OR UPDATE OR DELETE ON webhooks
    FOR EACH ROW EXECUTE FUNCTION webhooks_hooked();

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
