-- taskapp: privileges
--
-- Every GRANT and REVOKE of the project, under a header per role.

-- ---------------------------------------------------------------------------
-- PUBLIC
-- ---------------------------------------------------------------------------
REVOKE ALL ON TABLE lists FROM PUBLIC;
REVOKE ALL ON TABLE list_members FROM PUBLIC;
REVOKE ALL ON TABLE list_invitations FROM PUBLIC;
REVOKE ALL ON TABLE list_departures FROM PUBLIC;
REVOKE ALL ON TABLE tasks FROM PUBLIC;
REVOKE ALL ON FUNCTION tasks_stamp() FROM PUBLIC;
REVOKE ALL ON TABLE task_completions FROM PUBLIC;
REVOKE ALL ON FUNCTION tasks_record_completion() FROM PUBLIC;
REVOKE ALL ON TABLE task_deletions FROM PUBLIC;
REVOKE ALL ON FUNCTION tasks_remember_deletion() FROM PUBLIC;
REVOKE ALL ON FUNCTION utc_text(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION tasks_arm_reminders(jsonb, jsonb, timestamptz, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION tasks_fired_reminders(jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON TABLE webhooks FROM PUBLIC;
REVOKE ALL ON TABLE webhook_deliveries FROM PUBLIC;
REVOKE ALL ON TABLE webhook_attempts FROM PUBLIC;
REVOKE ALL ON FUNCTION webhooks_hooked() FROM PUBLIC;
REVOKE ALL ON SCHEMA taskapp_queue FROM PUBLIC;
REVOKE ALL ON TABLE taskapp_queue.jobs FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_queue.webhook_deliveries_enqueue() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_queue.tasks_schedule_reminder() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_queue.claim(integer, integer, integer, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_queue.finish(bigint, uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_queue.retry(bigint, uuid, double precision) FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_queue.next_run_at() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_queue.backlog() FROM PUBLIC;
REVOKE ALL ON TABLE idempotency_keys FROM PUBLIC;
REVOKE ALL ON SCHEMA taskapp_private FROM PUBLIC;
REVOKE ALL ON TABLE taskapp_private.identity_keys FROM PUBLIC;
REVOKE ALL ON FUNCTION public.verified_user_id() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.act_as(text) FROM PUBLIC;
REVOKE ALL ON TABLE taskapp_private.memberships FROM PUBLIC;
REVOKE ALL ON FUNCTION public.lists_where_i_am(list_role) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.my_memberships() FROM PUBLIC;
REVOKE ALL ON FUNCTION public.personal_list_id() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.list_members_copy() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.lists_add_owner() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.list_members_remember_departure() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.lists_remember_departures() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.held_by(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION list_members_keep_owner() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.list_members_take_invitation() FROM PUBLIC;
REVOKE ALL ON TABLE taskapp_private.subscriptions FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.webhooks_emit(uuid, text, text, text, jsonb, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.tasks_emit_events() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.member_event(uuid, text, list_role) FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.list_members_emit() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.list_invitations_emit() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.hand_reminders_to_owner(uuid, text) FROM PUBLIC;
-- Nobody but the owners creates objects in public (PostgreSQL 15's default, asserted for 14),
-- and nobody but the owner makes temporary tables here: one named tasks, made by SQL running
-- on a pooled connection, would shadow the real table for every later request on it.
-- (A warning, not an error, where the role running this may not change these.)
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
DO $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
END
$$;

-- ---------------------------------------------------------------------------
-- taskapp_app (runtime role)
-- ---------------------------------------------------------------------------
-- Row access only, and only through the policies. Never TRUNCATE (not subject to RLS),
-- REFERENCES or TRIGGER, and never ownership.
GRANT USAGE ON SCHEMA public TO taskapp_app;
-- Lists are made, renamed and deleted; members join (by invitation), change role and go;
-- invitations are sent, read and revoked or declined. Departures are only read and
-- forgotten: the database records them.
GRANT USAGE ON TYPE list_role TO taskapp_app;
GRANT SELECT, INSERT, DELETE ON TABLE lists TO taskapp_app;
GRANT UPDATE (name, updated_at) ON TABLE lists TO taskapp_app;
GRANT SELECT, INSERT, DELETE ON TABLE list_members TO taskapp_app;
GRANT UPDATE (role) ON TABLE list_members TO taskapp_app;
GRANT SELECT, INSERT, DELETE ON TABLE list_invitations TO taskapp_app;
GRANT SELECT, DELETE ON TABLE list_departures TO taskapp_app;
GRANT EXECUTE ON FUNCTION public.lists_where_i_am(list_role) TO taskapp_app;
GRANT EXECUTE ON FUNCTION public.my_memberships() TO taskapp_app;
GRANT EXECUTE ON FUNCTION public.personal_list_id() TO taskapp_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE tasks TO taskapp_app;
GRANT USAGE ON TYPE task_priority TO taskapp_app;
GRANT SELECT, INSERT, DELETE ON TABLE task_completions TO taskapp_app;
-- The triggers on tasks record deletions as the writing user.
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE task_deletions TO taskapp_app;
GRANT SELECT, INSERT, DELETE ON TABLE idempotency_keys TO taskapp_app;
-- Reminders are armed by the stamp trigger, which the writing role runs.
GRANT EXECUTE ON FUNCTION utc_text(timestamptz) TO taskapp_app;
GRANT EXECUTE ON FUNCTION tasks_arm_reminders(jsonb, jsonb, timestamptz, boolean) TO taskapp_app;
GRANT EXECUTE ON FUNCTION tasks_fired_reminders(jsonb, jsonb) TO taskapp_app;
-- Subscriptions are the user's to manage; their events are produced by the database's own
-- triggers (no INSERT here) and read back for GET …/deliveries, with their attempts.
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE webhooks TO taskapp_app;
GRANT SELECT ON TABLE webhook_deliveries TO taskapp_app;
GRANT SELECT ON TABLE webhook_attempts TO taskapp_app;
-- The policies call it as the querying role. Nothing in taskapp_private: not the keys, not
-- act_as (no USAGE on the schema, no EXECUTE).
GRANT EXECUTE ON FUNCTION public.verified_user_id() TO taskapp_app;

-- The readiness probe compares the migrated revision with the code's head; the
-- migrations grant SELECT on alembic's bookkeeping table, which this file cannot
-- create. Nothing else.

-- ---------------------------------------------------------------------------
-- taskapp_worker (the background worker's role)
-- ---------------------------------------------------------------------------
-- Which work is due, across users: only through taskapp_queue's functions (ids and times),
-- never its table. Everything else as the user the job concerns, under the policies: a task
-- read, its reminders marked fired (that column alone; the triggers produce the reminder.due
-- events and, through their own functions, the next job), a subscription read (its URL and
-- secret) or switched off, an event and its attempts.
GRANT USAGE ON SCHEMA taskapp_queue TO taskapp_worker;
GRANT EXECUTE ON FUNCTION taskapp_queue.claim(integer, integer, integer, text[]) TO taskapp_worker;
GRANT EXECUTE ON FUNCTION taskapp_queue.finish(bigint, uuid) TO taskapp_worker;
GRANT EXECUTE ON FUNCTION taskapp_queue.retry(bigint, uuid, double precision) TO taskapp_worker;
GRANT EXECUTE ON FUNCTION taskapp_queue.next_run_at() TO taskapp_worker;
GRANT EXECUTE ON FUNCTION taskapp_queue.backlog() TO taskapp_worker;
GRANT USAGE ON SCHEMA public TO taskapp_worker;
GRANT USAGE ON TYPE task_priority TO taskapp_worker;
GRANT SELECT ON TABLE tasks TO taskapp_worker;
GRANT UPDATE (reminders) ON TABLE tasks TO taskapp_worker;
GRANT SELECT, UPDATE (active, updated_at) ON TABLE webhooks TO taskapp_worker;
GRANT SELECT, UPDATE (attempts, state), DELETE ON TABLE webhook_deliveries TO taskapp_worker;
-- Whether the subscriber left a list in the transaction that made an event of it (the worker's
-- check at delivery, as the subscriber: their own departures only).
GRANT SELECT ON TABLE list_departures TO taskapp_worker;
GRANT SELECT, INSERT, DELETE ON TABLE webhook_attempts TO taskapp_worker;
GRANT EXECUTE ON FUNCTION utc_text(timestamptz) TO taskapp_worker;
GRANT EXECUTE ON FUNCTION tasks_arm_reminders(jsonb, jsonb, timestamptz, boolean) TO taskapp_worker;
GRANT EXECUTE ON FUNCTION tasks_fired_reminders(jsonb, jsonb) TO taskapp_worker;
GRANT EXECUTE ON FUNCTION public.verified_user_id() TO taskapp_worker;
GRANT USAGE ON TYPE list_role TO taskapp_worker;
GRANT EXECUTE ON FUNCTION public.lists_where_i_am(list_role) TO taskapp_worker;
-- Whether a subscriber is still a member of an event's list, as the subscriber.
GRANT SELECT ON TABLE lists TO taskapp_worker;
