-- taskapp: privileges
--
-- Every GRANT and REVOKE of the project, under a header per role.

-- ---------------------------------------------------------------------------
-- PUBLIC
-- ---------------------------------------------------------------------------
REVOKE ALL ON TABLE tasks FROM PUBLIC;
REVOKE ALL ON FUNCTION tasks_stamp() FROM PUBLIC;
REVOKE ALL ON TABLE task_completions FROM PUBLIC;
REVOKE ALL ON FUNCTION tasks_record_completion() FROM PUBLIC;
REVOKE ALL ON TABLE task_versions FROM PUBLIC;
REVOKE ALL ON TABLE task_deletions FROM PUBLIC;
REVOKE ALL ON FUNCTION next_task_version(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION tasks_remember_deletion() FROM PUBLIC;
REVOKE ALL ON TABLE idempotency_keys FROM PUBLIC;
REVOKE ALL ON SCHEMA taskapp_private FROM PUBLIC;
REVOKE ALL ON TABLE taskapp_private.identity_keys FROM PUBLIC;
REVOKE ALL ON FUNCTION public.verified_user_id() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.act_as(text) FROM PUBLIC;
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
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE tasks TO taskapp_app;
GRANT USAGE ON TYPE task_priority TO taskapp_app;
GRANT SELECT, INSERT, DELETE ON TABLE task_completions TO taskapp_app;
-- The triggers on tasks move the counter and record deletions as the writing user.
GRANT SELECT, INSERT, UPDATE ON TABLE task_versions TO taskapp_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE task_deletions TO taskapp_app;
GRANT EXECUTE ON FUNCTION next_task_version(text) TO taskapp_app;
GRANT SELECT, INSERT, DELETE ON TABLE idempotency_keys TO taskapp_app;
-- The policies call it as the querying role. Nothing in taskapp_private: not the keys, not
-- act_as (no USAGE on the schema, no EXECUTE).
GRANT EXECUTE ON FUNCTION public.verified_user_id() TO taskapp_app;

-- The readiness probe compares the migrated revision with the code's head; the
-- migrations grant SELECT on alembic's bookkeeping table, which this file cannot
-- create. Nothing else.
