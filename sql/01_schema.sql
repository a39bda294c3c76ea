-- taskapp: schema
--
-- The same objects the alembic revisions create; tests/test_schema_drift.py keeps the two equal.
-- Load order: 00_roles.sql, 01_schema.sql, 02_policies.sql, 03_privileges.sql (ON_ERROR_STOP).

-- ---------------------------------------------------------------------------
-- Types
-- ---------------------------------------------------------------------------
-- Declared in rank order, so ORDER BY priority sorts low < medium < high.
CREATE TYPE task_priority AS ENUM ('low', 'medium', 'high');

-- ---------------------------------------------------------------------------
-- tasks
-- ---------------------------------------------------------------------------
CREATE TABLE tasks (
    id           uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    -- The owner. Defaults from the transaction's identity: without one it is NULL or ''
    -- and the row is refused (fail closed).
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
    -- Recurrence (taskapp/recurrence.py does the arithmetic): an RFC 5545 RRULE value,
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
    -- The change feed's position of the task's latest write: the owner's counter
    -- (task_versions) at that write. 0 for tasks written before the feed existed.
    version      bigint        NOT NULL DEFAULT 0,
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
    -- What the completion history references: a task together with its owner, so that a
    -- history row naming another user's task fails the same whether or not that task exists.
    CONSTRAINT tasks_user_id_id_key UNIQUE (user_id, id),
    -- Full-text search over title and description (`q`). The 'simple' configuration does
    -- not stem and keeps words of any script, lower-cased.
    search       tsvector      NOT NULL GENERATED ALWAYS AS (
        to_tsvector('simple'::regconfig, title || ' ' || coalesce(description, ''))
    ) STORED
);

-- ---------------------------------------------------------------------------
-- Indexes
-- ---------------------------------------------------------------------------
-- One per sort order, each leading with the owner column: row-level security adds
-- `user_id = <identity>`, and the index then yields that user's tasks already in order,
-- forwards or backwards. Ties are broken by id so the order is total (keyset pagination).
CREATE INDEX tasks_user_id_created_at_idx ON tasks (user_id, created_at DESC, id DESC);
CREATE INDEX tasks_user_id_updated_at_idx ON tasks (user_id, updated_at DESC, id DESC);
-- Tasks without due_at come last in both directions, so each direction has its index.
CREATE INDEX tasks_user_id_due_at_asc_idx ON tasks (user_id, due_at ASC NULLS LAST, id ASC);
CREATE INDEX tasks_user_id_due_at_desc_idx ON tasks (user_id, due_at DESC NULLS LAST, id DESC);
CREATE INDEX tasks_user_id_priority_idx ON tasks (user_id, priority DESC, id DESC);
-- Titles sort by code point (collation "C"): the same order for every server locale.
CREATE INDEX tasks_user_id_title_idx ON tasks (user_id, (title COLLATE "C") DESC, id DESC);

-- The change feed: a user's tasks in the order they were last written.
CREATE INDEX tasks_user_id_version_idx ON tasks (user_id, version, id);

CREATE INDEX tasks_search_idx ON tasks USING gin (search);
CREATE INDEX tasks_tags_idx ON tasks USING gin (tags);

-- ---------------------------------------------------------------------------
-- The change feed: a counter per user, and the deletions it remembers
-- ---------------------------------------------------------------------------
-- Every write of a task takes its owner's next version, from a counter row that stays locked
-- until the writing transaction ends. A user's versions are therefore handed out in the order
-- their transactions commit: a reader who sees version n has seen every version below it
-- that will ever commit, so "everything after the last version I saw" never skips a change.
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

-- ---------------------------------------------------------------------------
-- Timestamps and versions kept by the database
-- ---------------------------------------------------------------------------
-- completed_at follows completed; updated_at moves forward on every write, even when two
-- writes fall in the same microsecond or a transaction started before the previous write;
-- version is the owner's next (whatever wrote: the API, or a DBA's SQL as the user).
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

CREATE TRIGGER tasks_stamp BEFORE INSERT OR UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_stamp();

-- A deleted task is remembered with the owner's next version.
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

-- ---------------------------------------------------------------------------
-- task_completions: every completion of a task
-- ---------------------------------------------------------------------------
-- One row each time a task is completed: a plain task when it is marked completed (and the
-- row goes again when it is reopened), a recurring one for each occurrence done before it
-- moved on. due_at is the occurrence completed. Keyed and referenced by owner first.
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
-- The identity the database verifies
-- ---------------------------------------------------------------------------
-- The application sets, in every transaction, app.user_id and beside it app.identity_proof:
--   v1.<key id>.<expires, Unix time>.<hex HMAC-SHA256(identity key, '<expires>.<user id>')>
-- The identity key (TASKAPP_IDENTITY_KEY) is stored here, where only the owner reads it, as
-- HMAC's two padded keys (the key XOR 0x36 and XOR 0x5c, zero-padded to 64 bytes), so that
-- the built-in sha256() computes HMAC-SHA256 without any extension. More than one key is
-- accepted while a new key is rolled out (README, "Rotating the identity key").
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
