-- taskapp on a Citus cluster: what every node keeps for itself
--
-- `taskapp db upgrade` runs this after citus.sql, after every upgrade (it is idempotent):
-- a worker added to the cluster since gets what the others have.

-- A command on every worker, or on every placement of a table's shards (%s: the shard), each
-- in a transaction of its own; any that fails fails the upgrade.
CREATE FUNCTION pg_temp.on_every_worker(command text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    failed text;
BEGIN
    SELECT string_agg(r.nodename || ':' || r.nodeport || ': ' || r.result, '; ') INTO failed
    FROM run_command_on_workers(command) r WHERE NOT r.success;
    IF failed IS NOT NULL THEN
        RAISE EXCEPTION 'on a worker: %', failed;
    END IF;
END
$$;

CREATE FUNCTION pg_temp.on_every_placement(shards regclass, command text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    failed text;
BEGIN
    SELECT string_agg(r.nodename || ':' || r.nodeport || ': ' || r.result, '; ') INTO failed
    FROM run_command_on_placements(shards, command) r WHERE NOT r.success;
    IF failed IS NOT NULL THEN
        RAISE EXCEPTION 'on a shard: %', failed;
    END IF;
END
$$;

-- ---------------------------------------------------------------------------
-- taskapp_private on every node
-- ---------------------------------------------------------------------------
-- A worker runs the policies of its shards: verified_user_id() and lists_where_i_am() read
-- these there. Citus would refuse them as distributed tables ("cannot execute a distributed
-- query from a query on a shard"); as plain tables of each node they are read locally.
SELECT pg_temp.on_every_worker($worker$
CREATE TABLE IF NOT EXISTS taskapp_private.identity_keys (
    key_id    text        PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
    inner_pad bytea       NOT NULL CHECK (octet_length(inner_pad) = 64),
    outer_pad bytea       NOT NULL CHECK (octet_length(outer_pad) = 64),
    added_at  timestamptz NOT NULL DEFAULT now()
)
$worker$);
SELECT pg_temp.on_every_worker($worker$
CREATE TABLE IF NOT EXISTS taskapp_private.memberships (
    user_id    text      NOT NULL,
    list_id    uuid      NOT NULL,
    role       list_role NOT NULL,
    joined_xid xid8      NOT NULL,
    CONSTRAINT memberships_pkey PRIMARY KEY (user_id, list_id)
)
$worker$);
SELECT pg_temp.on_every_worker($worker$
CREATE INDEX IF NOT EXISTS memberships_list_id_idx ON taskapp_private.memberships (list_id)
$worker$);
SELECT pg_temp.on_every_worker($worker$
CREATE TABLE IF NOT EXISTS taskapp_private.subscriptions (
    user_id    text   NOT NULL,
    webhook_id uuid   NOT NULL,
    events     text[] NOT NULL,
    CONSTRAINT subscriptions_pkey PRIMARY KEY (user_id, webhook_id)
)
$worker$);
SELECT pg_temp.on_every_worker($worker$
REVOKE ALL ON TABLE taskapp_private.identity_keys, taskapp_private.memberships, taskapp_private.subscriptions FROM PUBLIC
$worker$);
-- A database distributed with rows in it: each node's copies start from its own shards.
SELECT pg_temp.on_every_placement('list_members', $copy$
    INSERT INTO taskapp_private.memberships (user_id, list_id, role, joined_xid)
    SELECT m.user_id, m.list_id, m.role, m.joined_xid FROM %s m ON CONFLICT DO NOTHING $copy$);
SELECT pg_temp.on_every_worker($copy$
    INSERT INTO taskapp_private.subscriptions (user_id, webhook_id, events)
    SELECT w.user_id, w.id, w.events FROM public.webhooks w WHERE w.active ON CONFLICT DO NOTHING $copy$);

-- What 00_roles.sql revokes on the coordinator, on every worker too: Citus propagates grants
-- on the database and its schemas, not on the catalog's statistics.
SELECT pg_temp.on_every_worker(format('REVOKE ALL ON TABLE pg_catalog.%I FROM PUBLIC', c.relname))
FROM pg_catalog.pg_class c
WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind = 'v'
  AND (c.relname ~ '^pg_stat(io)?_(all|user|sys|xact_all|xact_user|xact_sys)_(tables|indexes|sequences|functions)$'
       OR c.relname IN ('pg_stat_database', 'pg_stat_database_conflicts'));
SELECT pg_temp.on_every_worker(format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', p.oid::regprocedure))
FROM pg_catalog.pg_proc p
WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname ~ '^pg_stat_get_'
  AND p.proname !~ '^pg_stat_get_subscription' AND p.pronargs = 1 AND p.proargtypes[0] = 'oid'::regtype;


-- ---------------------------------------------------------------------------
-- What the runtime roles may not read on a cluster
-- ---------------------------------------------------------------------------
-- The identity reaches the workers as the text of SET LOCAL (taskapp/identity/proof.py): the
-- query texts of the runtime role's sessions are taken from it (and from the functions the
-- activity views read, on every node), or SQL as the role could take a proof, valid for a
-- minute, and act as its user. Citus's own tables of sizes are whole-table statistics, which
-- 00_roles.sql keeps from the runtime roles too. Monitoring reads them as pg_read_all_stats.
REVOKE ALL ON TABLE pg_catalog.pg_stat_activity, pg_catalog.citus_stat_activity, pg_catalog.citus_dist_stat_activity,
    pg_catalog.citus_locks, pg_catalog.citus_stat_statements, public.citus_tables, public.citus_schemas FROM PUBLIC;
GRANT SELECT ON TABLE pg_catalog.pg_stat_activity, pg_catalog.citus_stat_activity, pg_catalog.citus_dist_stat_activity,
    pg_catalog.citus_locks, pg_catalog.citus_stat_statements, public.citus_tables, public.citus_schemas
    TO pg_read_all_stats;
REVOKE ALL ON FUNCTION pg_catalog.pg_stat_get_activity(integer), pg_catalog.citus_stat_activity() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg_catalog.pg_stat_get_activity(integer), pg_catalog.citus_stat_activity() TO pg_read_all_stats;
SELECT pg_temp.on_every_worker($worker$
REVOKE ALL ON TABLE pg_catalog.pg_stat_activity FROM PUBLIC
$worker$);
SELECT pg_temp.on_every_worker($worker$
REVOKE ALL ON FUNCTION pg_catalog.pg_stat_get_activity(integer) FROM PUBLIC
$worker$);

-- ---------------------------------------------------------------------------
-- How the coordinator reaches the workers for the runtime roles
-- ---------------------------------------------------------------------------
-- One connection per worker for each statement, kept between statements: a request's
-- statement that reads every shard (a listing across lists) then runs them one after another
-- on warm connections, rather than opening new ones to run them in parallel. With many small
-- concurrent requests that is several times faster (bench/README.md, "Citus"); an operator
-- running large analytical queries as another role keeps Citus's default for that role.
DO $settings$
BEGIN
    EXECUTE format('ALTER ROLE taskapp_app IN DATABASE %I SET citus.max_adaptive_executor_pool_size = 1',
                   current_database());
    EXECUTE format('ALTER ROLE taskapp_worker IN DATABASE %I SET citus.max_adaptive_executor_pool_size = 1',
                   current_database());
END
$settings$;
