-- taskapp: row-level security
--
-- Identity is the transaction-local setting app.user_id, set by the application with
--   select set_config('app.user_id', <token sub>, true)
-- as the first statement of every transaction. The setting is read through a scalar
-- subquery so PostgreSQL evaluates it once per statement (an InitPlan), not once per row.
-- Unset, NULL and '' match no owner: a transaction without identity sees and writes nothing.

-- ---------------------------------------------------------------------------
-- tasks
-- ---------------------------------------------------------------------------
-- FORCE makes the policies apply to the table owner too; only superusers and BYPASSRLS
-- roles are outside them.
ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE tasks FORCE ROW LEVEL SECURITY;

CREATE POLICY "Tasks are visible to their owner" ON tasks
    FOR SELECT
    USING (user_id = (SELECT current_setting('app.user_id', true)));

CREATE POLICY "Tasks can be created by their owner" ON tasks
    FOR INSERT
    WITH CHECK (user_id = (SELECT current_setting('app.user_id', true)));

CREATE POLICY "Tasks can be changed by their owner and stay theirs" ON tasks
    FOR UPDATE
    USING (user_id = (SELECT current_setting('app.user_id', true)))
    WITH CHECK (user_id = (SELECT current_setting('app.user_id', true)));

CREATE POLICY "Tasks can be deleted by their owner" ON tasks
    FOR DELETE
    USING (user_id = (SELECT current_setting('app.user_id', true)));
