-- taskapp on a Citus cluster: the policies, in the form Citus accepts
--
-- The same rules as 02_policies.sql, written without subqueries: Citus refuses a policy on a
-- distributed table that has one ("Subqueries are not supported in policies on distributed
-- tables"). The policies are evaluated on the workers, on each shard; verified_user_id() and
-- lists_where_i_am() read the tables of taskapp_private that every node keeps for itself
-- (citus.sql). The two rules that read another table (joining by invitation, never inviting
-- to an Inbox) are kept by triggers on the row's own list instead (citus.sql).
--
-- `taskapp db upgrade` applies this file after every migration on a Citus database (a
-- migration writes the single-node forms); the audit (audit.sql) knows both forms.

-- One connection per node: webhooks is a reference table that the events' foreign key points at.
SET LOCAL citus.multi_shard_modify_mode = 'sequential';

DO $drop$
DECLARE
    policy record;
BEGIN
    FOR policy IN SELECT p.policyname, p.tablename FROM pg_catalog.pg_policies p WHERE p.schemaname = 'public' LOOP
        EXECUTE 'DROP POLICY ' || quote_ident(policy.policyname) || ' ON public.' || quote_ident(policy.tablename);
    END LOOP;
END
$drop$;

-- ---------------------------------------------------------------------------
-- lists, list_members, list_invitations and list_departures
-- ---------------------------------------------------------------------------
-- Membership decides: lists_where_i_am(role) returns the lists on which the verified identity
-- has at least that role, from the node's own copy of the memberships of the lists it holds
-- (taskapp_private.memberships, kept by the trigger on list_members' shards, which live on the
-- same node as the list's other rows). On a worker the policy calls it per row: Citus
-- refuses the scalar subquery that makes it once per statement on a single node.
ALTER TABLE lists ENABLE ROW LEVEL SECURITY;
ALTER TABLE lists FORCE ROW LEVEL SECURITY;

CREATE POLICY "Lists are visible to their members" ON lists
    FOR SELECT
    USING (id = ANY (lists_where_i_am('viewer')));

CREATE POLICY "Lists are made by their creator, an Inbox only for themselves" ON lists
    FOR INSERT
    WITH CHECK (created_by = verified_user_id()
                AND (personal_of IS NULL OR personal_of = verified_user_id()));

CREATE POLICY "Lists are renamed by their admins" ON lists
    FOR UPDATE
    USING (id = ANY (lists_where_i_am('admin')))
    WITH CHECK (id = ANY (lists_where_i_am('admin')));

CREATE POLICY "Lists are deleted by their owner, never an Inbox" ON lists
    FOR DELETE
    USING (id = ANY (lists_where_i_am('owner')) AND personal_of IS NULL);

ALTER TABLE list_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE list_members FORCE ROW LEVEL SECURITY;

CREATE POLICY "Members are visible to the list's members" ON list_members
    FOR SELECT
    USING (list_id = ANY (lists_where_i_am('viewer')));

-- The owner's row is added with the list (lists_add_owner); anyone else joins by accepting an
-- invitation that names them, with the role it names, before it expires: the trigger
-- list_members_take_invitation refuses a row without one.
CREATE POLICY "Members join by invitation, the owner with the list" ON list_members
    FOR INSERT
    WITH CHECK (user_id = verified_user_id() AND (
        (role = 'owner' AND list_id = ANY (lists_where_i_am('owner')))
        OR role <> 'owner'));

-- Admins change roles below admin; the owner any role, and hands ownership over (one
-- statement that makes another member owner and themselves admin).
CREATE POLICY "Roles are changed by admins, at any level by the owner" ON list_members
    FOR UPDATE
    USING (list_id = ANY (lists_where_i_am('owner'))
           OR (role < 'admin' AND list_id = ANY (lists_where_i_am('admin'))))
    WITH CHECK (list_id = ANY (lists_where_i_am('owner'))
                OR (role < 'admin' AND list_id = ANY (lists_where_i_am('admin'))));

-- A member leaves (the owner only after handing ownership over); admins remove members
-- below admin; the owner removes anyone else.
CREATE POLICY "Members leave, or are removed by those above them" ON list_members
    FOR DELETE
    USING (role <> 'owner' AND (
        user_id = verified_user_id()
        OR list_id = ANY (lists_where_i_am('owner'))
        OR (role < 'admin' AND list_id = ANY (lists_where_i_am('admin')))));

ALTER TABLE list_invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE list_invitations FORCE ROW LEVEL SECURITY;

CREATE POLICY "Invitations are visible to the list's admins and to the invitee" ON list_invitations
    FOR SELECT
    USING (invitee_id = verified_user_id() OR list_id = ANY (lists_where_i_am('admin')));

-- An Inbox is never shared: list_invitations_not_to_an_inbox (citus.sql) refuses the row.
CREATE POLICY "Invitations are sent by admins, never to an Inbox" ON list_invitations
    FOR INSERT
    WITH CHECK (invited_by = verified_user_id()
                AND (list_id = ANY (lists_where_i_am('owner'))
                     OR (role < 'admin' AND list_id = ANY (lists_where_i_am('admin')))));

CREATE POLICY "Invitations are revoked by admins, declined by the invitee" ON list_invitations
    FOR DELETE
    USING (invitee_id = verified_user_id() OR list_id = ANY (lists_where_i_am('admin')));

ALTER TABLE list_departures ENABLE ROW LEVEL SECURITY;
ALTER TABLE list_departures FORCE ROW LEVEL SECURITY;

CREATE POLICY "Departures are visible to the user who left" ON list_departures
    FOR SELECT
    USING (user_id = verified_user_id());

-- Written only by the triggers above (no runtime role may insert), as a member of the list.
CREATE POLICY "Departures are recorded by a member of the list" ON list_departures
    FOR INSERT
    WITH CHECK (list_id = ANY (lists_where_i_am('viewer')));

CREATE POLICY "Departures are re-recorded by a member of the list" ON list_departures
    FOR UPDATE
    USING (list_id = ANY (lists_where_i_am('viewer')))
    WITH CHECK (list_id = ANY (lists_where_i_am('viewer')));

CREATE POLICY "Departures are forgotten by the user who left" ON list_departures
    FOR DELETE
    USING (user_id = verified_user_id());

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
    USING (list_id = ANY (lists_where_i_am('viewer')));

CREATE POLICY "Tasks are created by editors of their list, as themselves" ON tasks
    FOR INSERT
    WITH CHECK (list_id = ANY (lists_where_i_am('editor')) AND user_id = verified_user_id());

CREATE POLICY "Tasks are changed by editors and stay in a list they edit" ON tasks
    FOR UPDATE
    USING (list_id = ANY (lists_where_i_am('editor')))
    WITH CHECK (list_id = ANY (lists_where_i_am('editor')));

CREATE POLICY "Tasks are deleted by editors of their list" ON tasks
    FOR DELETE
    USING (list_id = ANY (lists_where_i_am('editor')));

-- ---------------------------------------------------------------------------
-- task_completions
-- ---------------------------------------------------------------------------
-- Rows are recorded and forgotten, never changed: no UPDATE policy, no UPDATE grant.
ALTER TABLE task_completions ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_completions FORCE ROW LEVEL SECURITY;

CREATE POLICY "Completions are visible to the members of the task's list" ON task_completions
    FOR SELECT
    USING (list_id = ANY (lists_where_i_am('viewer')));

CREATE POLICY "Completions are recorded by editors of the list, as themselves" ON task_completions
    FOR INSERT
    WITH CHECK (list_id = ANY (lists_where_i_am('editor')) AND completed_by = verified_user_id());

CREATE POLICY "Completions are forgotten by editors of the list" ON task_completions
    FOR DELETE
    USING (list_id = ANY (lists_where_i_am('editor')));

-- ---------------------------------------------------------------------------
-- task_deletions (the change feed)
-- ---------------------------------------------------------------------------
-- Written by the triggers on tasks, as the writing user.
ALTER TABLE task_deletions ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_deletions FORCE ROW LEVEL SECURITY;

CREATE POLICY "Deletions are visible to the members of the list" ON task_deletions
    FOR SELECT
    USING (list_id = ANY (lists_where_i_am('viewer')));

CREATE POLICY "Deletions are recorded by editors of the list" ON task_deletions
    FOR INSERT
    WITH CHECK (list_id = ANY (lists_where_i_am('editor')));

CREATE POLICY "Deletions are re-recorded by editors of the list" ON task_deletions
    FOR UPDATE
    USING (list_id = ANY (lists_where_i_am('editor')))
    WITH CHECK (list_id = ANY (lists_where_i_am('editor')));

CREATE POLICY "Deletions are forgotten by editors of the list" ON task_deletions
    FOR DELETE
    USING (list_id = ANY (lists_where_i_am('editor')));

-- ---------------------------------------------------------------------------
-- idempotency_keys
-- ---------------------------------------------------------------------------
-- Stored and expired, never changed: no UPDATE policy, no UPDATE grant.
ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;

CREATE POLICY "Idempotency keys are visible to their owner" ON idempotency_keys
    FOR SELECT
    USING (user_id = verified_user_id());

CREATE POLICY "Idempotency keys are stored by their owner" ON idempotency_keys
    FOR INSERT
    WITH CHECK (user_id = verified_user_id());

CREATE POLICY "Idempotency keys can be removed by their owner" ON idempotency_keys
    FOR DELETE
    USING (user_id = verified_user_id());

-- ---------------------------------------------------------------------------
-- webhooks, webhook_deliveries and webhook_attempts
-- ---------------------------------------------------------------------------
-- The same policies for every role: the API (taskapp_app) and the worker (taskapp_worker)
-- each see and write a user's subscriptions, events and attempts only as that user.
ALTER TABLE webhooks ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhooks FORCE ROW LEVEL SECURITY;

CREATE POLICY "Webhooks are visible to their owner" ON webhooks
    FOR SELECT
    USING (user_id = verified_user_id());

CREATE POLICY "Webhooks are made by their owner" ON webhooks
    FOR INSERT
    WITH CHECK (user_id = verified_user_id());

CREATE POLICY "Webhooks are changed by their owner and stay theirs" ON webhooks
    FOR UPDATE
    USING (user_id = verified_user_id())
    WITH CHECK (user_id = verified_user_id());

CREATE POLICY "Webhooks can be removed by their owner" ON webhooks
    FOR DELETE
    USING (user_id = verified_user_id());

ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;

CREATE POLICY "Webhook events are visible to their owner" ON webhook_deliveries
    FOR SELECT
    USING (user_id = verified_user_id());

-- Written only by the triggers (no runtime role may insert), for the subscriptions of the
-- members of a list the writer belongs to.
CREATE POLICY "Webhook events are produced by a member's writes" ON webhook_deliveries
    FOR INSERT
    WITH CHECK (user_id = verified_user_id() OR list_id = ANY (lists_where_i_am('viewer')));

CREATE POLICY "Webhook events are marked for their owner and stay theirs" ON webhook_deliveries
    FOR UPDATE
    USING (user_id = verified_user_id())
    WITH CHECK (user_id = verified_user_id());

CREATE POLICY "Webhook events can be forgotten for their owner" ON webhook_deliveries
    FOR DELETE
    USING (user_id = verified_user_id());

-- Attempts are recorded and forgotten, never changed: no UPDATE policy, no UPDATE grant.
ALTER TABLE webhook_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_attempts FORCE ROW LEVEL SECURITY;

CREATE POLICY "Webhook attempts are visible to their owner" ON webhook_attempts
    FOR SELECT
    USING (user_id = verified_user_id());

CREATE POLICY "Webhook attempts are recorded for their owner" ON webhook_attempts
    FOR INSERT
    WITH CHECK (user_id = verified_user_id());

CREATE POLICY "Webhook attempts can be forgotten for their owner" ON webhook_attempts
    FOR DELETE
    USING (user_id = verified_user_id());
