-- taskapp: privileges
--
-- Every GRANT and REVOKE of the project, under a header per role.

-- ---------------------------------------------------------------------------
-- PUBLIC
-- ---------------------------------------------------------------------------
REVOKE ALL ON TABLE tasks FROM PUBLIC;
REVOKE ALL ON FUNCTION tasks_stamp() FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- taskapp_app (runtime role)
-- ---------------------------------------------------------------------------
-- Row access only, and only through the policies. Never TRUNCATE (not subject to RLS),
-- REFERENCES or TRIGGER, and never ownership.
GRANT USAGE ON SCHEMA public TO taskapp_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE tasks TO taskapp_app;
GRANT USAGE ON TYPE task_priority TO taskapp_app;

-- The readiness probe compares the migrated revision with the code's head; the
-- migrations grant SELECT on alembic's bookkeeping table, which this file cannot
-- create. Nothing else.
