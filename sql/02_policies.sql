-- taskapp: row-level security
--
-- Identity is the transaction-local setting app.user_id, set by the application with
--   select set_config('app.user_id', <token sub>, true),
--          set_config('app.identity_proof', <its proof>, true)
-- as the first statement of every transaction, and believed only through verified_user_id()
-- (01_schema.sql), which returns it when the proof verifies and NULL otherwise. The function
-- is called through a scalar subquery so PostgreSQL evaluates it once per statement (an
-- InitPlan), not once per row. NULL matches no owner: a transaction without a verified
-- identity (none, a forged one, an expired proof) sees and writes nothing. Tables of lists
-- ask which lists the identity belongs to through lists_where_i_am(), also once per
-- statement; the result is an array, cast so that `= ANY` takes it whole.

-- ---------------------------------------------------------------------------
-- lists, list_members, list_invitations and list_departures
-- ---------------------------------------------------------------------------
-- Membership decides: lists_where_i_am(role) (01_schema.sql) returns the lists on which the
-- verified identity has at least that role, read once per statement (an InitPlan) from a copy
-- of list_members that no runtime role can reach. No policy reads a table whose policy reads
-- back: the policies below read only that function, list_invitations (for joining) and
-- lists (an Inbox is never shared), whose own policies read only the function.
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

-- ---------------------------------------------------------------------------
-- tasks
-- ---------------------------------------------------------------------------
-- Members see a list's tasks; editors and above write them.
-- FORCE makes the policies apply to the table owner too; only superusers and BYPASSRLS
-- roles are outside them.
ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE tasks FORCE ROW LEVEL SECURITY;

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

-- ---------------------------------------------------------------------------
-- task_completions
-- ---------------------------------------------------------------------------
-- Rows are recorded and forgotten, never changed: no UPDATE policy, no UPDATE grant.
ALTER TABLE task_completions ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_completions FORCE ROW LEVEL SECURITY;

CREATE POLICY "Completions are visible to the members of the task's list" ON task_completions
    FOR SELECT
    USING (list_id = ANY ((SELECT lists_where_i_am('viewer'))::uuid[]));

CREATE POLICY "Completions are recorded by editors of the list, as themselves" ON task_completions
    FOR INSERT
    WITH CHECK (list_id = ANY ((SELECT lists_where_i_am('editor'))::uuid[]) AND completed_by = (SELECT verified_user_id()));

CREATE POLICY "Completions are forgotten by editors of the list" ON task_completions
    FOR DELETE
    USING (list_id = ANY ((SELECT lists_where_i_am('editor'))::uuid[]));

-- ---------------------------------------------------------------------------
-- task_deletions (the change feed)
-- ---------------------------------------------------------------------------
-- Written by the triggers on tasks, as the writing user.
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

-- Written only by the triggers (no runtime role may insert), for the subscriptions of the
-- members of a list the writer belongs to.
CREATE POLICY "Webhook events are produced by a member's writes" ON webhook_deliveries
    FOR INSERT
    WITH CHECK (user_id = (SELECT verified_user_id()) OR list_id = ANY ((SELECT lists_where_i_am('viewer'))::uuid[]));

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
