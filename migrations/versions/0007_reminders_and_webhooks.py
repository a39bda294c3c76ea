"""reminders and webhooks: tasks.reminders, webhooks, webhook_deliveries, webhook_attempts, taskapp_queue

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# SQL is written inline, never read from sql/: an edit there must not rewrite history.

UPGRADE = r"""
-- Reminders on tasks; the counter row learns which events the owner's webhooks want.
ALTER TABLE tasks ADD COLUMN reminders jsonb NOT NULL DEFAULT '[]';
ALTER TABLE tasks ADD COLUMN next_reminder_at timestamptz;
ALTER TABLE tasks ADD CONSTRAINT tasks_reminders_count
    CHECK (jsonb_typeof(reminders) = 'array' AND jsonb_array_length(reminders) <= 5);
ALTER TABLE task_versions ADD COLUMN hooked text[] NOT NULL DEFAULT '{}';

DROP FUNCTION next_task_version(text);
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

CREATE FUNCTION utc_text(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
           || CASE WHEN extract(microseconds FROM t)::bigint % 1000000 <> 0
                   THEN to_char(t AT TIME ZONE 'UTC', '.US') ELSE '' END || 'Z'
$$;

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

CREATE FUNCTION tasks_fired_reminders(task jsonb, previous jsonb) RETURNS SETOF jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r FROM jsonb_array_elements(task) r
    WHERE (r ->> 'fired')::boolean
      AND NOT EXISTS (SELECT FROM jsonb_array_elements(previous) p
                      WHERE p - 'fired' = r - 'fired' AND (p ->> 'fired')::boolean)
$$;

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
        cardinality(events) BETWEEN 1 AND 5
        AND events <@ ARRAY['task.created', 'task.updated', 'task.completed', 'task.deleted', 'reminder.due']),
    CONSTRAINT webhooks_secret_shape CHECK (secret ~ '^whsec_[A-Za-z0-9+/=]+$')
);

-- One event for one subscription: the outbox the worker delivers from, written in the
-- transaction of the change that caused it. task is the task as that change left it (as it
-- was, for task.deleted); reminder, the reminder that fired (reminder.due). created_at is
-- the event's timestamp (the clock's, so that a transaction's events keep their order); id,
-- its webhook-id on every attempt.
CREATE TABLE webhook_deliveries (
    id           uuid        NOT NULL DEFAULT gen_random_uuid(),
    user_id      text        NOT NULL DEFAULT current_setting('app.user_id', true),
    webhook_id   uuid        NOT NULL,
    type         text        NOT NULL,
    task         jsonb       NOT NULL,
    reminder     jsonb,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    attempts     integer     NOT NULL DEFAULT 0,
    state        text        NOT NULL DEFAULT 'pending',
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (user_id, id),
    CONSTRAINT webhook_deliveries_webhook_fkey FOREIGN KEY (user_id, webhook_id)
        REFERENCES webhooks (user_id, id) ON DELETE CASCADE,
    CONSTRAINT webhook_deliveries_user_id_not_empty CHECK (user_id <> '' AND char_length(user_id) <= 255),
    CONSTRAINT webhook_deliveries_state_known CHECK (state IN ('pending', 'delivered', 'failed'))
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
    CONSTRAINT webhook_attempts_pkey PRIMARY KEY (user_id, id),
    CONSTRAINT webhook_attempts_delivery_fkey FOREIGN KEY (user_id, delivery_id)
        REFERENCES webhook_deliveries (user_id, id) ON DELETE CASCADE,
    CONSTRAINT webhook_attempts_user_id_not_empty CHECK (user_id <> '' AND char_length(user_id) <= 255),
    CONSTRAINT webhook_attempts_outcome CHECK ((status IS NULL) <> (error IS NULL))
);

-- A subscription's attempts, newest first (GET …/deliveries); an event's (the cascade).
CREATE INDEX webhook_attempts_webhook_idx ON webhook_attempts (user_id, webhook_id, attempted_at DESC, id DESC);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (user_id, delivery_id);

-- The owner's counter row learns which event types their active subscriptions want
-- (tasks_stamp reads them there), whenever a subscription is made, changed or removed.
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

CREATE TRIGGER webhooks_hooked AFTER INSERT OR UPDATE OR DELETE ON webhooks
    FOR EACH ROW EXECUTE FUNCTION webhooks_hooked();

-- An event for every active subscription of the owner that wants it. As the writing user:
-- the policies keep it to their own subscriptions.
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
    CONSTRAINT jobs_one_per_thing UNIQUE (kind, user_id, ref)
);

CREATE INDEX jobs_run_at_idx ON taskapp_queue.jobs (run_at, id);

-- A new event is a job at once (workers look for due jobs every half second).
CREATE FUNCTION taskapp_queue.webhook_deliveries_enqueue() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO taskapp_queue.jobs (kind, user_id, ref, run_at) VALUES ('delivery', NEW.user_id, NEW.id, now())
    ON CONFLICT (kind, user_id, ref) DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER webhook_deliveries_enqueue AFTER INSERT ON webhook_deliveries
    FOR EACH ROW EXECUTE FUNCTION taskapp_queue.webhook_deliveries_enqueue();

-- A task's next reminder is a job due at its time; none, when it has none.
CREATE FUNCTION taskapp_queue.tasks_schedule_reminder() RETURNS trigger
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

CREATE TRIGGER tasks_schedule_reminder_on_insert AFTER INSERT ON tasks
    FOR EACH ROW WHEN (NEW.next_reminder_at IS NOT NULL)
    EXECUTE FUNCTION taskapp_queue.tasks_schedule_reminder();
CREATE TRIGGER tasks_schedule_reminder_on_update AFTER UPDATE ON tasks
    FOR EACH ROW WHEN (OLD.next_reminder_at IS DISTINCT FROM NEW.next_reminder_at)
    EXECUTE FUNCTION taskapp_queue.tasks_schedule_reminder();
CREATE TRIGGER tasks_schedule_reminder_on_delete AFTER DELETE ON tasks
    FOR EACH ROW WHEN (OLD.next_reminder_at IS NOT NULL)
    EXECUTE FUNCTION taskapp_queue.tasks_schedule_reminder();

-- Up to how_many due jobs no other worker holds, each held for lease_seconds: a worker that
-- dies holding one leaves it to another once the lease ends.
CREATE FUNCTION taskapp_queue.claim(how_many integer, lease_seconds integer)
RETURNS TABLE (job bigint, claim uuid, kind text, user_id text, ref uuid, run_at timestamptz, claims integer)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH due AS (
        SELECT j.id FROM taskapp_queue.jobs j
        WHERE j.run_at <= now() AND (j.leased_until IS NULL OR j.leased_until < now())
        ORDER BY j.run_at, j.id
        LIMIT least(how_many, 100)
        FOR UPDATE SKIP LOCKED
    )
    UPDATE taskapp_queue.jobs j
    SET claim = gen_random_uuid(), claims = j.claims + 1,
        leased_until = now() + make_interval(secs => least(greatest(lease_seconds, 1), 3600))
    FROM due WHERE j.id = due.id
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

ALTER TABLE webhooks ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhooks FORCE ROW LEVEL SECURITY;

CREATE POLICY "Webhooks are visible to their owner" ON webhooks
    FOR SELECT
    USING (user_id = (SELECT verified_user_id()));

CREATE POLICY "Webhooks are made by their owner" ON webhooks
    FOR INSERT
    WITH CHECK (user_id = (SELECT verified_user_id()));

CREATE POLICY "Webhooks are changed by their owner and stay theirs" ON webhooks
    FOR UPDATE
    USING (user_id = (SELECT verified_user_id()))
    WITH CHECK (user_id = (SELECT verified_user_id()));

CREATE POLICY "Webhooks can be removed by their owner" ON webhooks
    FOR DELETE
    USING (user_id = (SELECT verified_user_id()));

ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;

CREATE POLICY "Webhook events are visible to their owner" ON webhook_deliveries
    FOR SELECT
    USING (user_id = (SELECT verified_user_id()));

CREATE POLICY "Webhook events are produced by their owner's writes" ON webhook_deliveries
    FOR INSERT
    WITH CHECK (user_id = (SELECT verified_user_id()));

CREATE POLICY "Webhook events are marked for their owner and stay theirs" ON webhook_deliveries
    FOR UPDATE
    USING (user_id = (SELECT verified_user_id()))
    WITH CHECK (user_id = (SELECT verified_user_id()));

CREATE POLICY "Webhook events can be forgotten for their owner" ON webhook_deliveries
    FOR DELETE
    USING (user_id = (SELECT verified_user_id()));

-- Attempts are recorded and forgotten, never changed: no UPDATE policy, no UPDATE grant.
ALTER TABLE webhook_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_attempts FORCE ROW LEVEL SECURITY;

CREATE POLICY "Webhook attempts are visible to their owner" ON webhook_attempts
    FOR SELECT
    USING (user_id = (SELECT verified_user_id()));

CREATE POLICY "Webhook attempts are recorded for their owner" ON webhook_attempts
    FOR INSERT
    WITH CHECK (user_id = (SELECT verified_user_id()));

CREATE POLICY "Webhook attempts can be forgotten for their owner" ON webhook_attempts
    FOR DELETE
    USING (user_id = (SELECT verified_user_id()));

REVOKE ALL ON FUNCTION utc_text(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION tasks_arm_reminders(jsonb, jsonb, timestamptz, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION tasks_fired_reminders(jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON TABLE webhooks FROM PUBLIC;
REVOKE ALL ON TABLE webhook_deliveries FROM PUBLIC;
REVOKE ALL ON TABLE webhook_attempts FROM PUBLIC;
REVOKE ALL ON FUNCTION webhooks_hooked() FROM PUBLIC;
REVOKE ALL ON FUNCTION webhooks_emit(text, text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON SCHEMA taskapp_queue FROM PUBLIC;
REVOKE ALL ON TABLE taskapp_queue.jobs FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_queue.webhook_deliveries_enqueue() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_queue.tasks_schedule_reminder() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_queue.claim(integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_queue.finish(bigint, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_queue.retry(bigint, uuid, double precision) FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_queue.next_run_at() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_queue.backlog() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION utc_text(timestamptz) TO taskapp_app;
GRANT EXECUTE ON FUNCTION tasks_arm_reminders(jsonb, jsonb, timestamptz, boolean) TO taskapp_app;
GRANT EXECUTE ON FUNCTION tasks_fired_reminders(jsonb, jsonb) TO taskapp_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE webhooks TO taskapp_app;
GRANT SELECT, INSERT ON TABLE webhook_deliveries TO taskapp_app;
GRANT SELECT ON TABLE webhook_attempts TO taskapp_app;
GRANT EXECUTE ON FUNCTION webhooks_emit(text, text, jsonb, jsonb) TO taskapp_app;
GRANT USAGE ON SCHEMA taskapp_queue TO taskapp_worker;
GRANT EXECUTE ON FUNCTION taskapp_queue.claim(integer, integer) TO taskapp_worker;
GRANT EXECUTE ON FUNCTION taskapp_queue.finish(bigint, uuid) TO taskapp_worker;
GRANT EXECUTE ON FUNCTION taskapp_queue.retry(bigint, uuid, double precision) TO taskapp_worker;
GRANT EXECUTE ON FUNCTION taskapp_queue.next_run_at() TO taskapp_worker;
GRANT EXECUTE ON FUNCTION taskapp_queue.backlog() TO taskapp_worker;
GRANT USAGE ON SCHEMA public TO taskapp_worker;
GRANT USAGE ON TYPE task_priority TO taskapp_worker;
GRANT SELECT ON TABLE tasks TO taskapp_worker;
GRANT UPDATE (reminders) ON TABLE tasks TO taskapp_worker;
GRANT SELECT, INSERT, UPDATE ON TABLE task_versions TO taskapp_worker;
GRANT SELECT, UPDATE (active, updated_at) ON TABLE webhooks TO taskapp_worker;
GRANT SELECT, INSERT, UPDATE (attempts, state), DELETE ON TABLE webhook_deliveries TO taskapp_worker;
GRANT SELECT, INSERT, DELETE ON TABLE webhook_attempts TO taskapp_worker;
GRANT EXECUTE ON FUNCTION next_task_version(text) TO taskapp_worker;
GRANT EXECUTE ON FUNCTION utc_text(timestamptz) TO taskapp_worker;
GRANT EXECUTE ON FUNCTION tasks_arm_reminders(jsonb, jsonb, timestamptz, boolean) TO taskapp_worker;
GRANT EXECUTE ON FUNCTION tasks_fired_reminders(jsonb, jsonb) TO taskapp_worker;
GRANT EXECUTE ON FUNCTION webhooks_emit(text, text, jsonb, jsonb) TO taskapp_worker;
GRANT EXECUTE ON FUNCTION public.verified_user_id() TO taskapp_worker;
"""

DOWNGRADE = r"""
DROP TRIGGER tasks_schedule_reminder_on_insert ON tasks;
DROP TRIGGER tasks_schedule_reminder_on_update ON tasks;
DROP TRIGGER tasks_schedule_reminder_on_delete ON tasks;
DROP SCHEMA taskapp_queue CASCADE;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP FUNCTION webhooks_emit(text, text, jsonb, jsonb);
DROP FUNCTION webhooks_hooked();
DROP FUNCTION next_task_version(text);
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

CREATE OR REPLACE FUNCTION tasks_remember_deletion() RETURNS trigger
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

DROP FUNCTION tasks_fired_reminders(jsonb, jsonb);
DROP FUNCTION tasks_arm_reminders(jsonb, jsonb, timestamptz, boolean);
DROP FUNCTION utc_text(timestamptz);
REVOKE ALL ON FUNCTION next_task_version(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION next_task_version(text) TO taskapp_app;
ALTER TABLE task_versions DROP COLUMN hooked;
ALTER TABLE tasks DROP CONSTRAINT tasks_reminders_count;
ALTER TABLE tasks DROP COLUMN next_reminder_at;
ALTER TABLE tasks DROP COLUMN reminders;
"""


def upgrade():
    op.execute(UPGRADE)


def downgrade():
    op.execute(DOWNGRADE)
