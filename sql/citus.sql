-- taskapp on a Citus cluster: the schema distributed
--
-- `taskapp db upgrade` runs this once, after the migrations, on a database where the citus
-- extension is installed and the tables are not distributed yet (then citus_policies.sql,
-- after every upgrade). The migrations made the single-node schema on the coordinator; this
-- reshapes what Citus refuses and distributes it. specs/citus.md explains the design.
--
-- The tenant is the list. Every table whose rows belong to a list is distributed by its list
-- id and co-located with lists, so that a list's tasks, members, invitations, completions,
-- deletions, departures, webhook events and jobs live on one node: a statement about one list
-- touches one shard, and the triggers (which Citus lets touch co-located shards only) find
-- every row they write on the node they run on. The per-user tables go by user id
-- (idempotency keys); webhooks, which every node's triggers must know, are a reference table
-- (a copy on every node). taskapp_private's tables are plain tables that every node keeps for
-- itself: the identity keys (copied to every node by `taskapp db upgrade`), and the
-- memberships and subscriptions its own shards' triggers write.

-- Triggers on distributed tables: every one of taskapp's touches only the shards of the row's
-- own list (or the node's own private tables), which is what Citus runs them safely for.
SET LOCAL citus.enable_unsafe_triggers = on;

-- ---------------------------------------------------------------------------
-- Inboxes: one per user, by their id
-- ---------------------------------------------------------------------------
-- A unique index on personal_of would not include the distribution column (Citus refuses
-- it): an Inbox's id is made from its user's id instead, so that the primary key keeps one
-- per user, and finding it is a lookup by the distribution column.
CREATE FUNCTION public.inbox_id(owner text) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT md5('taskapp inbox:' || owner)::uuid
$$;

DROP INDEX lists_personal_of_key;
ALTER TABLE lists ADD CONSTRAINT lists_inbox_id CHECK (personal_of IS NULL OR id = public.inbox_id(personal_of));

CREATE OR REPLACE FUNCTION public.personal_list_id() RETURNS uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me    text := public.verified_user_id();
    inbox uuid := public.inbox_id(me);
BEGIN
    IF me IS NULL THEN
        -- No list (Citus refuses a NULL distribution column before any policy could): the
        -- policies then refuse the row, as on a single node.
        RETURN '00000000-0000-0000-0000-000000000000';
    END IF;
    IF NOT EXISTS (SELECT FROM public.lists l WHERE l.id = inbox) THEN
        BEGIN
            INSERT INTO public.lists (id, name, personal_of) VALUES (inbox, 'Inbox', me);
        EXCEPTION WHEN unique_violation THEN
            NULL;  -- two first writes at once: the other made it
        END;
    END IF;
    RETURN inbox;
END
$$;

-- ---------------------------------------------------------------------------
-- Keys that include the list
-- ---------------------------------------------------------------------------
-- Citus keeps a unique key only when it includes the distribution column, and refuses
-- ON UPDATE CASCADE and SET NULL on a foreign key that includes it: a task's key is its list
-- and its id (a task moves between lists by being written anew in the other list, the same
-- id, with its history: taskapp/tasks/queries.py), and a member who leaves is unassigned by a
-- trigger (unassign_departing_member, below).
ALTER TABLE task_completions DROP CONSTRAINT task_completions_task_fkey;
ALTER TABLE tasks DROP CONSTRAINT tasks_assignee_fkey;
ALTER TABLE tasks DROP CONSTRAINT tasks_list_id_id_key;
ALTER TABLE tasks DROP CONSTRAINT tasks_pkey;
ALTER TABLE tasks ADD CONSTRAINT tasks_pkey PRIMARY KEY (list_id, id);
ALTER TABLE task_completions ADD CONSTRAINT task_completions_task_fkey FOREIGN KEY (list_id, task_id)
    REFERENCES tasks (list_id, id) ON DELETE CASCADE;
ALTER TABLE tasks ADD CONSTRAINT tasks_assignee_fkey FOREIGN KEY (list_id, assignee_id)
    REFERENCES list_members (list_id, user_id);

ALTER TABLE list_departures DROP CONSTRAINT list_departures_pkey;
ALTER TABLE list_departures ADD CONSTRAINT list_departures_pkey PRIMARY KEY (list_id, user_id, id);

-- Every event is about a list (the ones from before lists had none: on a database that
-- still holds such events, they are to be delivered or forgotten before it is distributed).
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_delivery_fkey;
ALTER TABLE webhook_deliveries ALTER COLUMN list_id SET NOT NULL;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_pkey;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (list_id, user_id, id);
ALTER TABLE webhook_attempts ALTER COLUMN list_id SET NOT NULL;
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_pkey;
ALTER TABLE webhook_attempts ADD CONSTRAINT webhook_attempts_pkey PRIMARY KEY (list_id, user_id, id);
ALTER TABLE webhook_attempts ADD CONSTRAINT webhook_attempts_delivery_fkey FOREIGN KEY (list_id, user_id, delivery_id)
    REFERENCES webhook_deliveries (list_id, user_id, id) ON DELETE CASCADE;

ALTER TABLE taskapp_queue.jobs ALTER COLUMN list_id SET NOT NULL;
ALTER TABLE taskapp_queue.jobs DROP CONSTRAINT jobs_pkey;
ALTER TABLE taskapp_queue.jobs ADD CONSTRAINT jobs_pkey PRIMARY KEY (list_id, id);
ALTER TABLE taskapp_queue.jobs DROP CONSTRAINT jobs_one_per_thing;
ALTER TABLE taskapp_queue.jobs ADD CONSTRAINT jobs_one_per_thing UNIQUE (list_id, kind, user_id, ref);

-- ---------------------------------------------------------------------------
-- Rules kept by triggers on the row's own list
-- ---------------------------------------------------------------------------
-- A member who goes is unassigned from the list's tasks, as the foreign key's SET NULL does
-- on a single node: as the list's owner (who may edit every task of it), since the member
-- leaving may be a viewer, and back to the transaction's own identity after.
CREATE FUNCTION taskapp_private.unassign_departing_member() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    claimed text := current_setting('app.user_id', true);
    proof   text := current_setting('app.identity_proof', true);
    owner   text;
BEGIN
    IF NOT EXISTS (SELECT FROM public.lists l WHERE l.id = OLD.list_id)
       OR NOT EXISTS (SELECT FROM public.tasks t WHERE t.list_id = OLD.list_id AND t.assignee_id = OLD.user_id) THEN
        RETURN OLD;
    END IF;
    SELECT m.user_id INTO owner FROM taskapp_private.memberships m WHERE m.list_id = OLD.list_id AND m.role = 'owner';
    PERFORM taskapp_private.act_as(owner);
    UPDATE public.tasks t SET assignee_id = NULL WHERE t.list_id = OLD.list_id AND t.assignee_id = OLD.user_id;
    PERFORM set_config('app.user_id', coalesce(claimed, ''), true), set_config('app.identity_proof', coalesce(proof, ''), true);
    RETURN OLD;
END
$$;

CREATE TRIGGER list_members_unassign BEFORE DELETE ON list_members
    FOR EACH ROW EXECUTE FUNCTION taskapp_private.unassign_departing_member();

-- An Inbox is never shared.
CREATE FUNCTION taskapp_private.list_invitations_not_to_an_inbox() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT FROM public.lists l WHERE l.id = NEW.list_id AND l.personal_of IS NOT NULL) THEN
        RAISE EXCEPTION 'new row violates row-level security policy for table "list_invitations"'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER list_invitations_not_to_an_inbox BEFORE INSERT ON list_invitations
    FOR EACH ROW EXECUTE FUNCTION taskapp_private.list_invitations_not_to_an_inbox();

REVOKE ALL ON FUNCTION public.inbox_id(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.inbox_id(text) TO taskapp_app;  -- the Inbox's check, run as the writer
REVOKE ALL ON FUNCTION taskapp_private.unassign_departing_member() FROM PUBLIC;
REVOKE ALL ON FUNCTION taskapp_private.list_invitations_not_to_an_inbox() FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Functions in the form Citus runs
-- ---------------------------------------------------------------------------
-- The caller's role in a list, for the list's own node to answer beside its shard (a query
-- on the coordinator could not join my_memberships(): the coordinator's copy is empty).
CREATE FUNCTION public.my_role(list uuid) RETURNS list_role
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.role FROM taskapp_private.memberships m WHERE m.user_id = public.verified_user_id() AND m.list_id = list
$$;
REVOKE ALL ON FUNCTION public.my_role(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.my_role(uuid) TO taskapp_app;

-- ---------------------------------------------------------------------------
-- The change feed, node by node
-- ---------------------------------------------------------------------------
-- A feed position is a snapshot of the transactions that wrote the rows; on a cluster every
-- node has transactions of its own, so a position is a snapshot per node (by its group id)
-- and a row is compared with its own node's (taskapp/changes/queries.py). Every transaction
-- id the feed reads is one its own node gave: written by a trigger on the row's shard, or, for
-- a member's joining, set there by list_members_joined_here.
CREATE FUNCTION public.node_group() RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT groupid FROM pg_catalog.pg_dist_local_group
$$;

-- Every worker's current snapshot, by group: where a round of the feed ends. A worker that
-- does not answer fails the call (a feed without it could skip its rows).
CREATE FUNCTION public.node_snapshots() RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    found jsonb;
BEGIN
    IF EXISTS (SELECT FROM run_command_on_workers('SELECT pg_current_snapshot()') r WHERE NOT r.success) THEN
        RAISE EXCEPTION 'a worker did not answer for its snapshot' USING ERRCODE = 'connection_failure';
    END IF;
    SELECT jsonb_object_agg(n.groupid::text, r.result) INTO found
    FROM run_command_on_workers('SELECT pg_current_snapshot()') r
    JOIN pg_catalog.pg_dist_node n ON n.nodename = r.nodename AND n.nodeport = r.nodeport;
    RETURN coalesce(found, '{}');
END
$$;

-- The caller's memberships with the node that gave each its transaction id (as the caller,
-- under the policies of list_members; on the coordinator, which reads them from the workers).
CREATE FUNCTION public.my_memberships_by_node() RETURNS TABLE (list_id uuid, joined_xid xid8, node integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.list_id, m.joined_xid, public.node_group() FROM public.list_members m
    WHERE m.user_id = public.verified_user_id()
$$;

CREATE FUNCTION taskapp_private.list_members_joined_here() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.joined_xid := pg_current_xact_id();
    RETURN NEW;
END
$$;

CREATE TRIGGER list_members_joined_here BEFORE INSERT ON list_members
    FOR EACH ROW EXECUTE FUNCTION taskapp_private.list_members_joined_here();

REVOKE ALL ON FUNCTION public.node_group(), public.node_snapshots(), public.my_memberships_by_node(),
    taskapp_private.list_members_joined_here() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.node_group(), public.node_snapshots(), public.my_memberships_by_node() TO taskapp_app;

-- Reopening forgets the latest completion, found first (Citus plans no subquery in the
-- DELETE a trigger runs on a shard).
CREATE OR REPLACE FUNCTION public.tasks_record_completion() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    latest uuid;
BEGIN
    IF NEW.completed THEN
        -- By the transaction's user (the creator, for SQL run without one).
        INSERT INTO public.task_completions (list_id, task_id, due_at, completed_at, completed_by)
        VALUES (NEW.list_id, NEW.id, NEW.due_at, NEW.completed_at,
                coalesce(nullif(current_setting('app.user_id', true), ''), NEW.user_id));
    ELSE
        SELECT c.id INTO latest FROM public.task_completions c
        WHERE c.list_id = NEW.list_id AND c.task_id = NEW.id
        ORDER BY c.completed_at DESC, c.id DESC LIMIT 1;
        DELETE FROM public.task_completions c WHERE c.list_id = NEW.list_id AND c.id = latest;
    END IF;
    RETURN NULL;
END
$$;

-- Citus refuses a VOLATILE function in an UPDATE or DELETE of a distributed table, policies
-- included: the lookup is STABLE here. (On a single node it is VOLATILE so that an INSERT
-- whose default just made the writer's Inbox finds it; here the default runs on the
-- coordinator, in a statement of its own, before the row reaches its shard.)
CREATE OR REPLACE FUNCTION public.lists_where_i_am(at_least list_role) RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(m.list_id), '{}') FROM taskapp_private.memberships m
    WHERE m.user_id = public.verified_user_id() AND m.role >= at_least
$$;

-- Reminders handed over are found among the list's own jobs (PL/pgSQL: Citus plans no
-- distributed statement with a SQL function's parameters in it).
CREATE OR REPLACE FUNCTION taskapp_private.hand_reminders_to_owner(list uuid, member text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner text := (SELECT m.user_id FROM taskapp_private.memberships m WHERE m.list_id = list AND m.role = 'owner');
BEGIN
    IF owner IS NOT NULL AND owner <> member THEN
        UPDATE taskapp_queue.jobs j SET user_id = owner
        WHERE j.list_id = list AND j.kind = 'reminder' AND j.user_id = member;
    END IF;
END
$$;


-- ---------------------------------------------------------------------------
-- The queue, claimed across the workers' shards
-- ---------------------------------------------------------------------------
-- Citus refuses FOR UPDATE over several shards and volatile functions in a distributed
-- UPDATE: the due jobs are read first, then taken by one UPDATE that takes only those still
-- free (a job another worker took meanwhile fails the condition when its row is re-read).
-- The claim is made once, before the UPDATE.
CREATE OR REPLACE FUNCTION taskapp_queue.claim(how_many integer, lease_seconds integer, per_user integer DEFAULT 100,
                                               skip_users text[] DEFAULT '{}')
RETURNS TABLE (job bigint, claim uuid, kind text, user_id text, ref uuid, run_at timestamptz, claims integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    held   uuid := gen_random_uuid();
    until  timestamptz := now() + make_interval(secs => least(greatest(lease_seconds, 1), 3600));
    lists  uuid[];
    ids    bigint[];
BEGIN
    SELECT coalesce(array_agg(fair.list_id), '{}'), coalesce(array_agg(fair.id), '{}') INTO lists, ids
    FROM (
        SELECT ranked.list_id, ranked.id FROM (
            SELECT due.list_id, due.id, due.run_at,
                   row_number() OVER (PARTITION BY due.user_id ORDER BY due.run_at, due.id) AS place
            FROM (
                SELECT j.list_id, j.id, j.user_id, j.run_at FROM taskapp_queue.jobs j
                WHERE j.run_at <= now() AND (j.leased_until IS NULL OR j.leased_until < now())
                  AND j.user_id <> ALL (skip_users)
                ORDER BY j.run_at, j.id
                LIMIT 100
            ) due
        ) ranked
        WHERE ranked.place <= greatest(per_user, 1)
        ORDER BY ranked.run_at, ranked.id
        LIMIT least(how_many, 100)
    ) fair;
    RETURN QUERY
    UPDATE taskapp_queue.jobs j
    SET claim = held, claims = j.claims + 1, leased_until = until
    WHERE j.list_id = ANY (lists) AND j.id = ANY (ids)
      AND j.run_at <= now() AND (j.leased_until IS NULL OR j.leased_until < now())
    RETURNING j.id, j.claim, j.kind, j.user_id, j.ref, j.run_at, j.claims;
END
$$;

CREATE OR REPLACE FUNCTION taskapp_queue.finish(job bigint, held uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM taskapp_queue.jobs j WHERE j.id = job AND j.claim = held;
    RETURN FOUND;
END
$$;

CREATE OR REPLACE FUNCTION taskapp_queue.retry(job bigint, held uuid, delay_seconds double precision) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    later timestamptz := now() + make_interval(secs => greatest(delay_seconds, 0));
BEGIN
    UPDATE taskapp_queue.jobs j SET run_at = later, claim = NULL, leased_until = NULL
    WHERE j.id = job AND j.claim = held;
    RETURN FOUND;
END
$$;

-- ---------------------------------------------------------------------------
-- Distribution
-- ---------------------------------------------------------------------------
-- The foreign keys between the tables are set aside while they are distributed (Citus
-- refuses a key from a table not yet distributed to one that is) and made again after.
CREATE TEMPORARY TABLE set_aside ON COMMIT DROP AS
SELECT c.conrelid::regclass AS on_table, c.conname, pg_get_constraintdef(c.oid) AS definition
FROM pg_constraint c
WHERE c.contype = 'f' AND c.connamespace IN ('public'::regnamespace, 'taskapp_queue'::regnamespace);

DO $drop$
DECLARE
    key record;
BEGIN
    FOR key IN SELECT * FROM set_aside LOOP
        EXECUTE 'ALTER TABLE ' || key.on_table || ' DROP CONSTRAINT ' || quote_ident(key.conname);
    END LOOP;
END
$drop$;

SET LOCAL citus.multi_shard_modify_mode = 'sequential';
SELECT create_reference_table('webhooks');
SELECT create_distributed_table('lists', 'id');
SELECT create_distributed_table('list_members', 'list_id', colocate_with => 'lists');
SELECT create_distributed_table('list_invitations', 'list_id', colocate_with => 'lists');
SELECT create_distributed_table('list_departures', 'list_id', colocate_with => 'lists');
SELECT create_distributed_table('tasks', 'list_id', colocate_with => 'lists');
SELECT create_distributed_table('task_completions', 'list_id', colocate_with => 'lists');
SELECT create_distributed_table('task_deletions', 'list_id', colocate_with => 'lists');
SELECT create_distributed_table('webhook_deliveries', 'list_id', colocate_with => 'lists');
SELECT create_distributed_table('webhook_attempts', 'list_id', colocate_with => 'lists');
SELECT create_distributed_table('taskapp_queue.jobs', 'list_id', colocate_with => 'lists');
SELECT create_distributed_table('idempotency_keys', 'user_id');
-- The feed's function that runs beside the shards, on every worker.
SELECT create_distributed_function('public.node_group()');

DO $add$
DECLARE
    key record;
BEGIN
    FOR key IN SELECT * FROM set_aside LOOP
        EXECUTE 'ALTER TABLE ' || key.on_table || ' ADD CONSTRAINT ' || quote_ident(key.conname) || ' ' || key.definition;
    END LOOP;
END
$add$;
