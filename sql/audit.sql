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
\echo '== The runtime role taskapp_app'
-- ---------------------------------------------------------------------------
SELECT rolname AS role, rolsuper AS superuser, rolbypassrls AS bypassrls,
       rolcreaterole AS createrole, rolcreatedb AS createdb, rolconfig AS settings,
       (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid) AS objects_owned
FROM pg_roles r WHERE rolname = 'taskapp_app';

-- ---------------------------------------------------------------------------
\echo '== Grants on tasks'
-- ---------------------------------------------------------------------------
SELECT grantee, string_agg(privilege_type, ', ' ORDER BY privilege_type) AS privileges
FROM information_schema.role_table_grants
WHERE table_schema = 'public' AND table_name = 'tasks'
GROUP BY grantee ORDER BY grantee;

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
problems AS (
    SELECT format('PostgreSQL %s is older than 14, which this project does not support', version) AS problem
    FROM server WHERE num < 140000
    UNION ALL
    SELECT format('PostgreSQL %s lacks the fix for %s (%s): update to %s.%s or later',
                  server.version, fix.cve, fix.what, release / 10000, release % 10000)
    FROM server, rls_fixes fix, unnest(fix.fixed_in) AS release
    WHERE release / 10000 = server.num / 10000 AND server.num < release
    UNION ALL
    SELECT 'tasks is missing'
    WHERE to_regclass('public.tasks') IS NULL
    UNION ALL
    SELECT format('table %s has row-level security %s', c.oid::regclass,
                  CASE WHEN NOT c.relrowsecurity THEN 'disabled' ELSE 'not forced' END)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public' AND c.relname <> 'alembic_version'
      AND NOT (c.relrowsecurity AND c.relforcerowsecurity)
    UNION ALL
    SELECT 'taskapp_app is missing'
    WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'taskapp_app')
    UNION ALL
    SELECT 'taskapp_app can bypass row-level security'
    FROM pg_roles WHERE rolname = 'taskapp_app' AND (rolsuper OR rolbypassrls)
    UNION ALL
    SELECT format('taskapp_app owns %s', c.oid::regclass)
    FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = 'taskapp_app'
    UNION ALL
    SELECT format('%s may TRUNCATE tasks', grantee)
    FROM information_schema.role_table_grants
    WHERE table_schema = 'public' AND table_name = 'tasks' AND privilege_type = 'TRUNCATE'
      AND grantee <> (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass('public.tasks'))
    UNION ALL
    SELECT format('tasks has no %s policy', required.command)
    FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) AS required(command)
    WHERE to_regclass('public.tasks') IS NOT NULL
      AND NOT EXISTS (SELECT FROM pg_policies p
                      WHERE p.tablename = 'tasks' AND p.cmd IN (required.command, 'ALL'))
)
SELECT CASE WHEN count(*) = 0 THEN 'VERDICT: PASS'
            ELSE 'VERDICT: FAIL: ' || string_agg(problem, '; ') END AS verdict
FROM problems;
