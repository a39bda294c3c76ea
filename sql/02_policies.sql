-- taskapp: row-level security
--
-- Identity is the transaction-local setting app.user_id, set by the application with
--   select set_config('app.user_id', <token sub>, true),
--          set_config('app.identity_proof', <its proof>, true)
-- as the first statement of every transaction, and believed only through verified_user_id()
-- (01_schema.sql), which returns it when the proof verifies and NULL otherwise. The function
-- is called through a scalar subquery so PostgreSQL evaluates it once per statement (an
-- InitPlan), not once per row. NULL matches no owner: a transaction without a verified
-- identity (none, a forged one, an expired proof) sees and writes nothing.

-- ---------------------------------------------------------------------------
-- tasks
-- ---------------------------------------------------------------------------
-- FORCE makes the policies apply to the table owner too; only superusers and BYPASSRLS
-- roles are outside them.
ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE tasks FORCE ROW LEVEL SECURITY;

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

-- ---------------------------------------------------------------------------
-- task_completions
-- ---------------------------------------------------------------------------
-- Rows are recorded and forgotten, never changed: no UPDATE policy, no UPDATE grant.
ALTER TABLE task_completions ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_completions FORCE ROW LEVEL SECURITY;

CREATE POLICY "Completions are visible to their owner" ON task_completions
    FOR SELECT
    USING (user_id = (SELECT verified_user_id()));

CREATE POLICY "Completions are recorded by their owner" ON task_completions
    FOR INSERT
    WITH CHECK (user_id = (SELECT verified_user_id()));

CREATE POLICY "Completions can be forgotten by their owner" ON task_completions
    FOR DELETE
    USING (user_id = (SELECT verified_user_id()));

-- ---------------------------------------------------------------------------
-- task_versions and task_deletions (the change feed)
-- ---------------------------------------------------------------------------
-- Written by the triggers on tasks, as the user whose task is written; read by the feed.
-- Counters are never deleted by the runtime role (no DELETE policy, no DELETE grant).
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

-- ---------------------------------------------------------------------------
-- idempotency_keys
-- ---------------------------------------------------------------------------
-- Stored and expired, never changed: no UPDATE policy, no UPDATE grant.
ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;

CREATE POLICY "Idempotency keys are visible to their owner" ON idempotency_keys
    FOR SELECT
    USING (user_id = (SELECT verified_user_id()));

CREATE POLICY "Idempotency keys are stored by their owner" ON idempotency_keys
    FOR INSERT
    WITH CHECK (user_id = (SELECT verified_user_id()));

CREATE POLICY "Idempotency keys can be removed by their owner" ON idempotency_keys
    FOR DELETE
    USING (user_id = (SELECT verified_user_id()));

-- ---------------------------------------------------------------------------
-- webhooks, webhook_deliveries and webhook_attempts
-- ---------------------------------------------------------------------------
-- The same policies for every role: the API (taskapp_app) and the worker (taskapp_worker)
-- each see and write a user's subscriptions, events and attempts only as that user.
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
