-- taskapp: a DBA's audit of the isolation guarantee
--
--   psql "$DATABASE_ADMIN_URL" -X -f sql/audit.sql
--
-- Read-only. Ends with a verdict line: "VERDICT: PASS" or "VERDICT: FAIL: <reasons>".

\pset footer off

-- ---------------------------------------------------------------------------
\echo '== Server (row-level security needs 14.19, 15.14, 16.10, 17.6, or 18 and later)'
-- ---------------------------------------------------------------------------
SELECT current_setting('server_version') AS server_version, version() AS build;

-- ---------------------------------------------------------------------------
\echo '== Tables and their row-level security (every table should be enabled and forced)'
-- ---------------------------------------------------------------------------
SELECT n.nspname AS schema, c.relname AS table, pg_get_userbyid(c.relowner) AS owner,
       c.relrowsecurity AS rls_enabled, c.relforcerowsecurity AS rls_forced
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%'
ORDER BY 1, 2;

-- ---------------------------------------------------------------------------
\echo '== Policies'
-- ---------------------------------------------------------------------------
SELECT tablename AS table, policyname AS policy, cmd AS command, permissive, roles,
       qual AS using, with_check
FROM pg_policies WHERE schemaname = 'public'
ORDER BY tablename, cmd, policyname;

-- ---------------------------------------------------------------------------
\echo '== Roles that bypass row-level security (superusers and BYPASSRLS)'
-- ---------------------------------------------------------------------------
SELECT rolname AS role, rolsuper AS superuser, rolbypassrls AS bypassrls, rolcanlogin AS login
FROM pg_roles WHERE (rolsuper OR rolbypassrls) AND rolname NOT LIKE 'pg\_%'
ORDER BY 1;

-- ---------------------------------------------------------------------------
\echo '== The runtime roles taskapp_app (requests) and taskapp_worker (the background worker)'
-- ---------------------------------------------------------------------------
SELECT rolname AS role, rolsuper AS superuser, rolbypassrls AS bypassrls, rolreplication AS replication,
       rolcreaterole AS createrole, rolcreatedb AS createdb, rolconfig AS settings,
       (SELECT count(*) FROM pg_shdepend d WHERE d.refobjid = r.oid AND d.deptype = 'o') AS objects_owned,
       ARRAY(SELECT m.rolname FROM pg_roles m
             WHERE m.oid <> r.oid AND pg_has_role(r.oid, m.oid, 'MEMBER') ORDER BY 1) AS member_of
FROM pg_roles r WHERE rolname IN ('taskapp_app', 'taskapp_worker') ORDER BY 1;

-- ---------------------------------------------------------------------------
\echo '== The identity the policies believe (verified_user_id, and the keys only the owner reads)'
-- ---------------------------------------------------------------------------
SELECT p.oid::regprocedure AS function, pg_get_userbyid(p.proowner) AS owner, p.prosecdef AS security_definer,
       p.provolatile = 's' AS stable, p.proconfig AS settings,
       has_function_privilege('taskapp_app', p.oid, 'EXECUTE') AS taskapp_app_may_call,
       has_function_privilege('taskapp_worker', p.oid, 'EXECUTE') AS taskapp_worker_may_call
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname IN ('public', 'taskapp_private', 'taskapp_queue') ORDER BY 1::text;

-- ---------------------------------------------------------------------------
\echo '== Identity keys the database accepts (their ids; the keys themselves stay unread)'
-- ---------------------------------------------------------------------------
SELECT key_id, added_at FROM taskapp_private.identity_keys ORDER BY added_at;

-- ---------------------------------------------------------------------------
\echo '== Grants on the tables'
-- ---------------------------------------------------------------------------
SELECT table_name, grantee, string_agg(privilege_type, ', ' ORDER BY privilege_type) AS privileges
FROM information_schema.role_table_grants
WHERE table_schema = 'public'
  AND table_name IN ('lists', 'list_members', 'list_invitations', 'list_departures', 'tasks', 'task_completions',
                     'task_deletions', 'idempotency_keys', 'webhooks', 'webhook_deliveries', 'webhook_attempts')
GROUP BY table_name, grantee ORDER BY table_name, grantee;

-- ---------------------------------------------------------------------------
\echo '== Availability: the runtime roles, their time limits, and whether they read whole-table statistics'
-- ---------------------------------------------------------------------------
-- SQL as a runtime role cannot read or change another user's rows; what it could still do is
-- hold locks or run long (bounded by these limits, which the role may lower but a session
-- must raise itself) and learn from statistics how many rows everyone has together. WARN: the
-- server did not let `taskapp db upgrade` take the statistics away (a managed service).
SELECT r.rolname AS role,
       (SELECT split_part(c, '=', 2) FROM unnest(r.rolconfig) c WHERE c LIKE 'statement\_timeout=%') AS statement_timeout,
       (SELECT split_part(c, '=', 2) FROM unnest(r.rolconfig) c WHERE c LIKE 'lock\_timeout=%') AS lock_timeout,
       (SELECT split_part(c, '=', 2) FROM unnest(r.rolconfig) c
        WHERE c LIKE 'idle\_in\_transaction\_session\_timeout=%') AS idle_in_transaction_timeout,
       has_table_privilege(r.oid, 'pg_catalog.pg_stat_user_tables', 'SELECT')
           OR has_function_privilege(r.oid, 'pg_catalog.pg_stat_get_live_tuples(oid)', 'EXECUTE')
           AS reads_table_statistics,
       CASE WHEN has_table_privilege(r.oid, 'pg_catalog.pg_stat_user_tables', 'SELECT')
                 OR has_function_privilege(r.oid, 'pg_catalog.pg_stat_get_live_tuples(oid)', 'EXECUTE')
            THEN 'WARN: can count every user''s rows and see when anyone writes (pg_stat_*)'
            ELSE 'ok' END AS status
FROM pg_roles r WHERE r.rolname IN ('taskapp_app', 'taskapp_worker') ORDER BY 1;

-- ---------------------------------------------------------------------------
\echo '== Verdict'
-- ---------------------------------------------------------------------------
WITH server AS (
    SELECT current_setting('server_version_num')::int AS num, current_setting('server_version') AS version
),
-- Row-level security bugs, and the first release of each supported major that fixes them.
rls_fixes (cve, what, fixed_in) AS (VALUES
    ('CVE-2024-10976', 'policies under cached plans with subqueries or CTEs', ARRAY[140014, 150009, 160005, 170001]),
    ('CVE-2025-8713', 'optimizer statistics leak rows that policies hide', ARRAY[140019, 150014, 160010, 170006])
),
-- The runtime roles: what each may reach is checked alike.
app AS (SELECT oid, rolname FROM pg_roles WHERE rolname IN ('taskapp_app', 'taskapp_worker')),
-- The SECURITY DEFINER functions a runtime role may call: the identity check and the lists
-- it may see (both answer for the verified identity only), and for the worker the queue's,
-- which return ids and times.
definers_allowed (rolname, fn) AS (
    SELECT r, to_regprocedure(f) FROM unnest(ARRAY['taskapp_app', 'taskapp_worker']) r,
           unnest(ARRAY['public.verified_user_id()', 'public.lists_where_i_am(list_role)']) f
    UNION ALL
    SELECT 'taskapp_app', to_regprocedure(f) FROM unnest(ARRAY['public.my_memberships()', 'public.my_role(uuid)']) f
    UNION ALL
    SELECT 'taskapp_worker', to_regprocedure(f)
    FROM unnest(ARRAY['taskapp_queue.claim(integer, integer, integer, text[])', 'taskapp_queue.finish(bigint, uuid)',
                      'taskapp_queue.retry(bigint, uuid, double precision)', 'taskapp_queue.next_run_at()',
                      'taskapp_queue.backlog()']) f
),
-- Every relation and function outside the system schemas, with what each runtime role may do to it.
relations AS (
    SELECT app.rolname AS role, c.oid, c.oid::regclass AS name, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
           c.reloptions, has_table_privilege(app.oid, c.oid, 'SELECT') AS can_select,
           has_table_privilege(app.oid, c.oid, 'INSERT, UPDATE, DELETE') AS can_write,
           has_table_privilege(app.oid, c.oid, 'TRUNCATE') AS can_truncate,
           has_table_privilege(app.oid, c.oid, 'REFERENCES') AS can_reference,
           has_table_privilege(app.oid, c.oid, 'TRIGGER') AS can_trigger
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, app
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
),
functions AS (
    SELECT app.rolname AS role, p.oid, p.oid::regprocedure AS name, p.prosecdef, p.proconfig,
           has_function_privilege(app.oid, p.oid, 'EXECUTE') AS can_execute
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, app
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                                AND d.deptype = 'e')
),
-- On a Citus cluster (the extension installed: `taskapp db upgrade` then distributes the
-- schema) the policies are citus_policies.sql's, without subqueries, which Citus refuses.
cluster AS (SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') AS on_citus),
-- The policies exactly as sql/02_policies.sql declares them, in PostgreSQL's own rendering.
canonical_single_node (tablename, cmd, qual, with_check) AS (VALUES
    ('lists', 'SELECT',
        '(id = ANY (( SELECT lists_where_i_am(''viewer''::list_role) AS lists_where_i_am)::uuid[]))',
        NULL),
    ('lists', 'INSERT',
        NULL,
        '((created_by = ( SELECT verified_user_id() AS verified_user_id)) AND ((personal_of IS NULL) OR (personal_of = ( SELECT verified_user_id() AS verified_user_id))))'),
    ('lists', 'UPDATE',
        '(id = ANY (( SELECT lists_where_i_am(''admin''::list_role) AS lists_where_i_am)::uuid[]))',
        '(id = ANY (( SELECT lists_where_i_am(''admin''::list_role) AS lists_where_i_am)::uuid[]))'),
    ('lists', 'DELETE',
        '((id = ANY (( SELECT lists_where_i_am(''owner''::list_role) AS lists_where_i_am)::uuid[])) AND (personal_of IS NULL))',
        NULL),
    ('list_members', 'SELECT',
        '(list_id = ANY (( SELECT lists_where_i_am(''viewer''::list_role) AS lists_where_i_am)::uuid[]))',
        NULL),
    ('list_members', 'INSERT',
        NULL,
        '((user_id = ( SELECT verified_user_id() AS verified_user_id)) AND (((role = ''owner''::list_role) AND (list_id = ANY (( SELECT lists_where_i_am(''owner''::list_role) AS lists_where_i_am)::uuid[]))) OR (EXISTS ( SELECT
   FROM list_invitations i
  WHERE ((i.list_id = list_members.list_id) AND (i.invitee_id = list_members.user_id) AND (i.role = list_members.role) AND (i.expires_at > now()))))))'),
    ('list_members', 'UPDATE',
        '((list_id = ANY (( SELECT lists_where_i_am(''owner''::list_role) AS lists_where_i_am)::uuid[])) OR ((role < ''admin''::list_role) AND (list_id = ANY (( SELECT lists_where_i_am(''admin''::list_role) AS lists_where_i_am)::uuid[]))))',
        '((list_id = ANY (( SELECT lists_where_i_am(''owner''::list_role) AS lists_where_i_am)::uuid[])) OR ((role < ''admin''::list_role) AND (list_id = ANY (( SELECT lists_where_i_am(''admin''::list_role) AS lists_where_i_am)::uuid[]))))'),
    ('list_members', 'DELETE',
        '((role <> ''owner''::list_role) AND ((user_id = ( SELECT verified_user_id() AS verified_user_id)) OR (list_id = ANY (( SELECT lists_where_i_am(''owner''::list_role) AS lists_where_i_am)::uuid[])) OR ((role < ''admin''::list_role) AND (list_id = ANY (( SELECT lists_where_i_am(''admin''::list_role) AS lists_where_i_am)::uuid[])))))',
        NULL),
    ('list_invitations', 'SELECT',
        '((invitee_id = ( SELECT verified_user_id() AS verified_user_id)) OR (list_id = ANY (( SELECT lists_where_i_am(''admin''::list_role) AS lists_where_i_am)::uuid[])))',
        NULL),
    ('list_invitations', 'INSERT',
        NULL,
        '((invited_by = ( SELECT verified_user_id() AS verified_user_id)) AND ((list_id = ANY (( SELECT lists_where_i_am(''owner''::list_role) AS lists_where_i_am)::uuid[])) OR ((role < ''admin''::list_role) AND (list_id = ANY (( SELECT lists_where_i_am(''admin''::list_role) AS lists_where_i_am)::uuid[])))) AND (NOT (EXISTS ( SELECT
   FROM lists l
  WHERE ((l.id = list_invitations.list_id) AND (l.personal_of IS NOT NULL))))))'),
    ('list_invitations', 'DELETE',
        '((invitee_id = ( SELECT verified_user_id() AS verified_user_id)) OR (list_id = ANY (( SELECT lists_where_i_am(''admin''::list_role) AS lists_where_i_am)::uuid[])))',
        NULL),
    ('list_departures', 'SELECT',
        '(user_id = ( SELECT verified_user_id() AS verified_user_id))',
        NULL),
    ('list_departures', 'INSERT',
        NULL,
        '(list_id = ANY (( SELECT lists_where_i_am(''viewer''::list_role) AS lists_where_i_am)::uuid[]))'),
    ('list_departures', 'UPDATE',
        '(list_id = ANY (( SELECT lists_where_i_am(''viewer''::list_role) AS lists_where_i_am)::uuid[]))',
        '(list_id = ANY (( SELECT lists_where_i_am(''viewer''::list_role) AS lists_where_i_am)::uuid[]))'),
    ('list_departures', 'DELETE',
        '(user_id = ( SELECT verified_user_id() AS verified_user_id))',
        NULL),
    ('tasks', 'SELECT',
        '(list_id = ANY (( SELECT lists_where_i_am(''viewer''::list_role) AS lists_where_i_am)::uuid[]))',
        NULL),
    ('tasks', 'INSERT',
        NULL,
        '((list_id = ANY (( SELECT lists_where_i_am(''editor''::list_role) AS lists_where_i_am)::uuid[])) AND (user_id = ( SELECT verified_user_id() AS verified_user_id)))'),
    ('tasks', 'UPDATE',
        '(list_id = ANY (( SELECT lists_where_i_am(''editor''::list_role) AS lists_where_i_am)::uuid[]))',
        '(list_id = ANY (( SELECT lists_where_i_am(''editor''::list_role) AS lists_where_i_am)::uuid[]))'),
    ('tasks', 'DELETE',
        '(list_id = ANY (( SELECT lists_where_i_am(''editor''::list_role) AS lists_where_i_am)::uuid[]))',
        NULL),
    ('task_completions', 'SELECT',
        '(list_id = ANY (( SELECT lists_where_i_am(''viewer''::list_role) AS lists_where_i_am)::uuid[]))',
        NULL),
    ('task_completions', 'INSERT',
        NULL,
        '((list_id = ANY (( SELECT lists_where_i_am(''editor''::list_role) AS lists_where_i_am)::uuid[])) AND (completed_by = ( SELECT verified_user_id() AS verified_user_id)))'),
    ('task_completions', 'DELETE',
        '(list_id = ANY (( SELECT lists_where_i_am(''editor''::list_role) AS lists_where_i_am)::uuid[]))',
        NULL),
    ('task_deletions', 'SELECT',
        '(list_id = ANY (( SELECT lists_where_i_am(''viewer''::list_role) AS lists_where_i_am)::uuid[]))',
        NULL),
    ('task_deletions', 'INSERT',
        NULL,
        '(list_id = ANY (( SELECT lists_where_i_am(''editor''::list_role) AS lists_where_i_am)::uuid[]))'),
    ('task_deletions', 'UPDATE',
        '(list_id = ANY (( SELECT lists_where_i_am(''editor''::list_role) AS lists_where_i_am)::uuid[]))',
        '(list_id = ANY (( SELECT lists_where_i_am(''editor''::list_role) AS lists_where_i_am)::uuid[]))'),
    ('task_deletions', 'DELETE',
        '(list_id = ANY (( SELECT lists_where_i_am(''editor''::list_role) AS lists_where_i_am)::uuid[]))',
        NULL),
    ('idempotency_keys', 'SELECT',
        '(user_id = ( SELECT verified_user_id() AS verified_user_id))',
        NULL),
    ('idempotency_keys', 'INSERT',
        NULL,
        '(user_id = ( SELECT verified_user_id() AS verified_user_id))'),
    ('idempotency_keys', 'DELETE',
        '(user_id = ( SELECT verified_user_id() AS verified_user_id))',
        NULL),
    ('webhooks', 'SELECT',
        '(user_id = ( SELECT verified_user_id() AS verified_user_id))',
        NULL),
    ('webhooks', 'INSERT',
        NULL,
        '(user_id = ( SELECT verified_user_id() AS verified_user_id))'),
    ('webhooks', 'UPDATE',
        '(user_id = ( SELECT verified_user_id() AS verified_user_id))',
        '(user_id = ( SELECT verified_user_id() AS verified_user_id))'),
    ('webhooks', 'DELETE',
        '(user_id = ( SELECT verified_user_id() AS verified_user_id))',
        NULL),
    ('webhook_deliveries', 'SELECT',
        '(user_id = ( SELECT verified_user_id() AS verified_user_id))',
        NULL),
    ('webhook_deliveries', 'INSERT',
        NULL,
        '((user_id = ( SELECT verified_user_id() AS verified_user_id)) OR (list_id = ANY (( SELECT lists_where_i_am(''viewer''::list_role) AS lists_where_i_am)::uuid[])))'),
    ('webhook_deliveries', 'UPDATE',
        '(user_id = ( SELECT verified_user_id() AS verified_user_id))',
        '(user_id = ( SELECT verified_user_id() AS verified_user_id))'),
    ('webhook_deliveries', 'DELETE',
        '(user_id = ( SELECT verified_user_id() AS verified_user_id))',
        NULL),
    ('webhook_attempts', 'SELECT',
        '(user_id = ( SELECT verified_user_id() AS verified_user_id))',
        NULL),
    ('webhook_attempts', 'INSERT',
        NULL,
        '(user_id = ( SELECT verified_user_id() AS verified_user_id))'),
    ('webhook_attempts', 'DELETE',
        '(user_id = ( SELECT verified_user_id() AS verified_user_id))',
        NULL)
),
-- The same policies in the form sql/citus_policies.sql declares them, on a Citus cluster.
canonical_on_citus (tablename, cmd, qual, with_check) AS (VALUES
    ('idempotency_keys', 'DELETE',
        '(user_id = verified_user_id())',
        NULL),
    ('idempotency_keys', 'INSERT',
        NULL,
        '(user_id = verified_user_id())'),
    ('idempotency_keys', 'SELECT',
        '(user_id = verified_user_id())',
        NULL),
    ('list_departures', 'DELETE',
        '(user_id = verified_user_id())',
        NULL),
    ('list_departures', 'INSERT',
        NULL,
        '(list_id = ANY (lists_where_i_am(''viewer''::list_role)))'),
    ('list_departures', 'SELECT',
        '(user_id = verified_user_id())',
        NULL),
    ('list_departures', 'UPDATE',
        '(list_id = ANY (lists_where_i_am(''viewer''::list_role)))',
        '(list_id = ANY (lists_where_i_am(''viewer''::list_role)))'),
    ('list_invitations', 'DELETE',
        '((invitee_id = verified_user_id()) OR (list_id = ANY (lists_where_i_am(''admin''::list_role))))',
        NULL),
    ('list_invitations', 'INSERT',
        NULL,
        '((invited_by = verified_user_id()) AND ((list_id = ANY (lists_where_i_am(''owner''::list_role))) OR ((role < ''admin''::list_role) AND (list_id = ANY (lists_where_i_am(''admin''::list_role))))))'),
    ('list_invitations', 'SELECT',
        '((invitee_id = verified_user_id()) OR (list_id = ANY (lists_where_i_am(''admin''::list_role))))',
        NULL),
    ('list_members', 'DELETE',
        '((role <> ''owner''::list_role) AND ((user_id = verified_user_id()) OR (list_id = ANY (lists_where_i_am(''owner''::list_role))) OR ((role < ''admin''::list_role) AND (list_id = ANY (lists_where_i_am(''admin''::list_role))))))',
        NULL),
    ('list_members', 'INSERT',
        NULL,
        '((user_id = verified_user_id()) AND (((role = ''owner''::list_role) AND (list_id = ANY (lists_where_i_am(''owner''::list_role)))) OR (role <> ''owner''::list_role)))'),
    ('list_members', 'SELECT',
        '(list_id = ANY (lists_where_i_am(''viewer''::list_role)))',
        NULL),
    ('list_members', 'UPDATE',
        '((list_id = ANY (lists_where_i_am(''owner''::list_role))) OR ((role < ''admin''::list_role) AND (list_id = ANY (lists_where_i_am(''admin''::list_role)))))',
        '((list_id = ANY (lists_where_i_am(''owner''::list_role))) OR ((role < ''admin''::list_role) AND (list_id = ANY (lists_where_i_am(''admin''::list_role)))))'),
    ('lists', 'DELETE',
        '((id = ANY (lists_where_i_am(''owner''::list_role))) AND (personal_of IS NULL))',
        NULL),
    ('lists', 'INSERT',
        NULL,
        '((created_by = verified_user_id()) AND ((personal_of IS NULL) OR (personal_of = verified_user_id())))'),
    ('lists', 'SELECT',
        '(id = ANY (lists_where_i_am(''viewer''::list_role)))',
        NULL),
    ('lists', 'UPDATE',
        '(id = ANY (lists_where_i_am(''admin''::list_role)))',
        '(id = ANY (lists_where_i_am(''admin''::list_role)))'),
    ('task_completions', 'DELETE',
        '(list_id = ANY (lists_where_i_am(''editor''::list_role)))',
        NULL),
    ('task_completions', 'INSERT',
        NULL,
        '((list_id = ANY (lists_where_i_am(''editor''::list_role))) AND (completed_by = verified_user_id()))'),
    ('task_completions', 'SELECT',
        '(list_id = ANY (lists_where_i_am(''viewer''::list_role)))',
        NULL),
    ('task_deletions', 'DELETE',
        '(list_id = ANY (lists_where_i_am(''editor''::list_role)))',
        NULL),
    ('task_deletions', 'INSERT',
        NULL,
        '(list_id = ANY (lists_where_i_am(''editor''::list_role)))'),
    ('task_deletions', 'SELECT',
        '(list_id = ANY (lists_where_i_am(''viewer''::list_role)))',
        NULL),
    ('task_deletions', 'UPDATE',
        '(list_id = ANY (lists_where_i_am(''editor''::list_role)))',
        '(list_id = ANY (lists_where_i_am(''editor''::list_role)))'),
    ('tasks', 'DELETE',
        '(list_id = ANY (lists_where_i_am(''editor''::list_role)))',
        NULL),
    ('tasks', 'INSERT',
        NULL,
        '((list_id = ANY (lists_where_i_am(''editor''::list_role))) AND (user_id = verified_user_id()))'),
    ('tasks', 'SELECT',
        '(list_id = ANY (lists_where_i_am(''viewer''::list_role)))',
        NULL),
    ('tasks', 'UPDATE',
        '(list_id = ANY (lists_where_i_am(''editor''::list_role)))',
        '(list_id = ANY (lists_where_i_am(''editor''::list_role)))'),
    ('webhook_attempts', 'DELETE',
        '(user_id = verified_user_id())',
        NULL),
    ('webhook_attempts', 'INSERT',
        NULL,
        '(user_id = verified_user_id())'),
    ('webhook_attempts', 'SELECT',
        '(user_id = verified_user_id())',
        NULL),
    ('webhook_deliveries', 'DELETE',
        '(user_id = verified_user_id())',
        NULL),
    ('webhook_deliveries', 'INSERT',
        NULL,
        '((user_id = verified_user_id()) OR (list_id = ANY (lists_where_i_am(''viewer''::list_role))))'),
    ('webhook_deliveries', 'SELECT',
        '(user_id = verified_user_id())',
        NULL),
    ('webhook_deliveries', 'UPDATE',
        '(user_id = verified_user_id())',
        '(user_id = verified_user_id())'),
    ('webhooks', 'DELETE',
        '(user_id = verified_user_id())',
        NULL),
    ('webhooks', 'INSERT',
        NULL,
        '(user_id = verified_user_id())'),
    ('webhooks', 'SELECT',
        '(user_id = verified_user_id())',
        NULL),
    ('webhooks', 'UPDATE',
        '(user_id = verified_user_id())',
        '(user_id = verified_user_id())')
),
canonical AS (
    SELECT * FROM canonical_single_node WHERE NOT (SELECT on_citus FROM cluster)
    UNION ALL
    SELECT * FROM canonical_on_citus WHERE (SELECT on_citus FROM cluster)
),
-- The commands each table must have a policy for (completions, invitations and idempotency
-- keys are never updated).
required_policies (tablename, command) AS (
    SELECT 'lists', unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'])
    UNION ALL
    SELECT 'list_members', unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'])
    UNION ALL
    SELECT 'list_invitations', unnest(ARRAY['SELECT', 'INSERT', 'DELETE'])
    UNION ALL
    SELECT 'list_departures', unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'])
    UNION ALL
    SELECT 'tasks', unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'])
    UNION ALL
    SELECT 'task_completions', unnest(ARRAY['SELECT', 'INSERT', 'DELETE'])
    UNION ALL
    SELECT 'task_deletions', unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'])
    UNION ALL
    SELECT 'idempotency_keys', unnest(ARRAY['SELECT', 'INSERT', 'DELETE'])
    UNION ALL
    SELECT 'webhooks', unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'])
    UNION ALL
    SELECT 'webhook_deliveries', unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'])
    UNION ALL
    SELECT 'webhook_attempts', unnest(ARRAY['SELECT', 'INSERT', 'DELETE'])
),
problems AS (
    SELECT format('PostgreSQL %s is older than 14, which this project does not support', version) AS problem
    FROM server WHERE num < 140000
    UNION ALL
    SELECT format('PostgreSQL %s lacks the fix for %s (%s): update to %s.%s or later',
                  server.version, fix.cve, fix.what, release / 10000, release % 10000)
    FROM server, rls_fixes fix, unnest(fix.fixed_in) AS release
    WHERE release / 10000 = server.num / 10000 AND server.num < release
    UNION ALL
    SELECT format('%s is missing', required.name)
    FROM unnest(ARRAY['lists', 'list_members', 'list_invitations', 'list_departures', 'tasks', 'task_completions',
                      'task_deletions', 'idempotency_keys', 'webhooks', 'webhook_deliveries', 'webhook_attempts']) AS required(name)
    WHERE to_regclass('public.' || required.name) IS NULL
    UNION ALL
    SELECT 'verified_user_id() is missing'
    WHERE to_regprocedure('public.verified_user_id()') IS NULL
    UNION ALL
    SELECT format('%s is missing', r)
    FROM unnest(ARRAY['taskapp_app', 'taskapp_worker']) r WHERE NOT EXISTS (SELECT FROM app WHERE rolname = r)
    -- The runtime role itself.
    UNION ALL
    SELECT format('%s can bypass row-level security', rolname)
    FROM pg_roles WHERE rolname IN ('taskapp_app', 'taskapp_worker') AND (rolsuper OR rolbypassrls)
    UNION ALL
    SELECT format('%s has REPLICATION (it could stream every row)', rolname)
    FROM pg_roles WHERE rolname IN ('taskapp_app', 'taskapp_worker') AND rolreplication
    UNION ALL
    SELECT format('%s is a member of %s (it could SET ROLE to it)', app.rolname, m.rolname)
    FROM app, pg_roles m WHERE m.oid <> app.oid AND pg_has_role(app.oid, m.oid, 'MEMBER')
    UNION ALL
    SELECT format('%s owns %s', app.rolname, pg_describe_object(d.classid, d.objid, d.objsubid))
    FROM app JOIN pg_shdepend d ON d.refobjid = app.oid AND d.deptype = 'o'
    WHERE d.dbid IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
    UNION ALL
    SELECT format('%s owns the database %s', app.rolname, d.datname)
    FROM pg_database d, app WHERE d.datdba = app.oid
    UNION ALL
    SELECT format('%s owns the schema %s', app.rolname, n.nspname)
    FROM pg_namespace n, app WHERE n.nspowner = app.oid
    -- No runtime role may run, wait for a lock or sit in a transaction without limit.
    UNION ALL
    SELECT format('%s has no %s', app.rolname, limit_name)
    FROM app JOIN pg_roles r ON r.oid = app.oid,
         unnest(ARRAY['statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout']) AS limit_name
    WHERE NOT EXISTS (SELECT FROM unnest(r.rolconfig) c
                      WHERE c LIKE limit_name || '=%' AND c !~ ('^' || limit_name || '=0+(ms|s|min|h|d)?$'))
    -- An identity preset outside the transaction fails open.
    UNION ALL
    SELECT format('an identity is preset for %s: %s',
                  CASE WHEN s.setrole = 0 AND s.setdatabase = 0 THEN 'every role in every database'
                       WHEN s.setrole = 0 THEN 'every role in this database'
                       WHEN s.setdatabase = 0 THEN app.rolname || ' in every database'
                       ELSE app.rolname || ' in this database' END, setting)
    FROM pg_db_role_setting s, unnest(s.setconfig) AS setting, app
    WHERE s.setrole IN (0, app.oid)
      AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
      AND setting LIKE 'app.%'
    -- What the runtime role may create, and the privileges that ignore the policies.
    UNION ALL
    SELECT format('%s may CREATE in schema %s', app.rolname, n.nspname)
    FROM pg_namespace n, app
    WHERE has_schema_privilege(app.oid, n.oid, 'CREATE') AND n.nspname NOT LIKE 'pg\_temp%'
      AND n.nspname NOT LIKE 'pg\_toast%'
    UNION ALL
    SELECT format('%s may CREATE in the database', app.rolname)
    FROM app WHERE has_database_privilege(app.oid, current_database(), 'CREATE')
    UNION ALL
    SELECT format('%s may create temporary tables (one named tasks would shadow the real one)', app.rolname)
    FROM app WHERE has_database_privilege(app.oid, current_database(), 'TEMPORARY')
    UNION ALL
    SELECT format('%s may %s %s', role, privilege, name)
    FROM relations, LATERAL (VALUES ('TRUNCATE', can_truncate), ('REFERENCES', can_reference),
                                    ('TRIGGER', can_trigger)) AS granted (privilege, held)
    WHERE held
    -- Everything the runtime role can reach enforces the policies.
    UNION ALL
    SELECT DISTINCT format('table %s has row-level security %s', name,
                  CASE WHEN NOT relrowsecurity THEN 'disabled' ELSE 'not forced' END)
    FROM relations
    WHERE relkind IN ('r', 'p') AND NOT (relrowsecurity AND relforcerowsecurity)
      AND (can_select OR can_write) AND NOT (relname = 'alembic_version' AND NOT can_write)
    UNION ALL
    SELECT format('%s may read the view %s, which is not security_invoker', role, name)
    FROM relations
    WHERE relkind = 'v' AND (can_select OR can_write)
      AND NOT coalesce('security_invoker=true' = ANY (reloptions) OR 'security_invoker=on' = ANY (reloptions), false)
    UNION ALL
    SELECT format('%s may read the %s %s, which row-level security does not cover', role,
                  CASE relkind WHEN 'm' THEN 'materialized view' ELSE 'foreign table' END, name)
    FROM relations WHERE relkind IN ('m', 'f') AND (can_select OR can_write)
    UNION ALL
    SELECT format('%s may call %s, a SECURITY DEFINER function', role, name)
    FROM functions f WHERE prosecdef AND can_execute
      AND NOT EXISTS (SELECT FROM definers_allowed a WHERE a.rolname = f.role AND a.fn = f.oid)
    UNION ALL
    SELECT DISTINCT format('function %s has no fixed search_path', name)
    FROM functions
    WHERE NOT EXISTS (SELECT FROM unnest(proconfig) AS setting WHERE setting LIKE 'search\_path=%')
    -- On Citus the identity reaches the workers as the text of SET LOCAL: whoever reads the
    -- runtime role's query texts could take a proof (valid for a minute) and act as its user.
    UNION ALL
    SELECT format('%s may read %s, where the identity proofs sent to the workers show', app.rolname, v)
    FROM app, unnest(ARRAY['pg_catalog.pg_stat_activity', 'pg_catalog.citus_stat_activity',
                           'pg_catalog.citus_dist_stat_activity', 'pg_catalog.citus_locks',
                           'public.pg_stat_statements', 'pg_catalog.citus_stat_statements']) v
    WHERE (SELECT on_citus FROM cluster) AND has_table_privilege(app.oid, to_regclass(v), 'SELECT')
    UNION ALL
    SELECT format('%s may call %s, which shows the identity proofs sent to the workers', app.rolname, f)
    FROM app, unnest(ARRAY['pg_catalog.pg_stat_get_activity(integer)', 'pg_catalog.citus_stat_activity()']) f
    WHERE (SELECT on_citus FROM cluster) AND has_function_privilege(app.oid, to_regprocedure(f), 'EXECUTE')
    -- The triggers keep what the policies read (the membership copy, the departures, an
    -- invitation used up on joining, the events): one disabled would let a removed member keep
    -- their list, or a change go untold.
    UNION ALL
    SELECT DISTINCT format('trigger %s on %s is disabled', t.tgname, t.tgrelid::regclass)
    FROM pg_trigger t JOIN relations r ON r.oid = t.tgrelid
    WHERE NOT t.tgisinternal AND t.tgenabled = 'D' AND (r.can_select OR r.can_write)
      AND NOT (SELECT on_citus FROM cluster)
    -- The policies are exactly the canonical ones.
    UNION ALL
    SELECT format('%s has no %s policy', required.tablename, required.command)
    FROM required_policies required
    WHERE to_regclass('public.' || required.tablename) IS NOT NULL
      AND NOT EXISTS (SELECT FROM pg_policies p
                      WHERE p.tablename = required.tablename AND p.cmd IN (required.command, 'ALL'))
    UNION ALL
    SELECT format('%s may UPDATE %s, which has no UPDATE policy', app.rolname, required.tablename)
    FROM (SELECT DISTINCT tablename FROM required_policies) required, app
    WHERE to_regclass('public.' || required.tablename) IS NOT NULL
      AND NOT EXISTS (SELECT FROM required_policies r
                      WHERE r.tablename = required.tablename AND r.command = 'UPDATE')
      AND has_table_privilege(app.oid, to_regclass('public.' || required.tablename), 'UPDATE')
    -- A key checked without the policies is an oracle: a foreign key that does not lead with
    -- the owning column (the user, or the list) tells whether another user's row exists.
    UNION ALL
    SELECT DISTINCT format('foreign key %s on %s does not lead with the owning column (user_id or list_id)',
                           con.conname, con.conrelid::regclass)
    FROM pg_constraint con JOIN relations r ON r.oid = con.conrelid
    WHERE con.contype = 'f' AND (r.can_select OR r.can_write)
      AND NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = con.conrelid
                                                  AND a.attname IN ('user_id', 'list_id') AND a.attnum = con.conkey[1])
    UNION ALL
    SELECT format('policy "%s" on %s is %s', p.policyname, p.tablename,
                  CASE WHEN p.qual = 'true' OR p.with_check = 'true' THEN 'USING (true): it lets everyone in'
                       WHEN concat(p.qual, p.with_check) ~ 'verified_user_id\(\)'
                            AND concat(p.qual, p.with_check) !~ 'SELECT verified_user_id\(\)'
                            AND NOT (SELECT on_citus FROM cluster)
                            THEN 'calling verified_user_id() without (select …), once per row'
                       WHEN concat(p.qual, p.with_check) ~ 'lists_where_i_am\('
                            AND concat(p.qual, p.with_check) !~ 'SELECT lists_where_i_am\('
                            AND NOT (SELECT on_citus FROM cluster)
                            THEN 'calling lists_where_i_am() without (select …), once per row'
                       WHEN concat(p.qual, p.with_check) ~ 'current_setting'
                            THEN 'reading app.user_id unverified'
                       WHEN p.permissive <> 'PERMISSIVE' THEN 'restrictive'
                       WHEN p.roles <> '{public}' THEN format('for the roles %s only', p.roles)
                       ELSE 'not the canonical one' END)
    FROM pg_policies p
    WHERE p.schemaname = 'public'
      AND NOT EXISTS (SELECT FROM canonical c
                      WHERE c.tablename = p.tablename AND c.cmd = p.cmd AND p.permissive = 'PERMISSIVE'
                        AND p.roles = '{public}' AND c.qual IS NOT DISTINCT FROM p.qual
                        AND c.with_check IS NOT DISTINCT FROM p.with_check)
)
SELECT CASE WHEN count(*) = 0 THEN 'VERDICT: PASS'
            ELSE 'VERDICT: FAIL: ' || string_agg(problem, '; ') END AS verdict
FROM problems;
