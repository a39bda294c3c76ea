-- taskapp: roles
--
-- Idempotent: `taskapp db upgrade` (and alembic's env.py) run this file before migrating,
-- and a DBA may run it by hand:  psql "$DATABASE_ADMIN_URL" -v ON_ERROR_STOP=1 -f sql/00_roles.sql
--
-- Objects are owned by the role that runs migrations (the admin role). The application
-- connects as taskapp_app, which owns nothing and can never bypass row-level security.

-- ---------------------------------------------------------------------------
-- taskapp_app: the runtime role
-- ---------------------------------------------------------------------------
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'taskapp_app') THEN
        CREATE ROLE taskapp_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
    END IF;
END
$roles$;

-- Re-asserted on every run, so a role created earlier by hand ends up the same; altered only
-- when something differs, because PostgreSQL lets only a superuser name the SUPERUSER
-- attribute at all (even NOSUPERUSER), and a managed service's owner role is no superuser.
DO $roles$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'taskapp_app'
               AND (rolsuper OR rolbypassrls OR rolcreatedb OR rolcreaterole OR rolreplication OR NOT rolcanlogin)) THEN
        ALTER ROLE taskapp_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
    END IF;
END
$roles$;

-- No request may hold a connection, or a lock, forever.
ALTER ROLE taskapp_app SET statement_timeout = '5s';
ALTER ROLE taskapp_app SET idle_in_transaction_session_timeout = '15s';
-- Plan for rows in memory, as a busy service's are. The planner cannot know how many tasks one
-- list holds (the caller's lists reach it as an array at run time), so it guesses a few; at
-- the default cost of a random read (4) it then reads a whole list and sorts it for every
-- filtered or searched page, where reading the list's index in the page's order stops after
-- one page. 1.1 is the usual value for SSDs and cached data.
ALTER ROLE taskapp_app SET random_page_cost = 1.1;

-- ---------------------------------------------------------------------------
-- taskapp_worker: the background worker's role (`taskapp worker`)
-- ---------------------------------------------------------------------------
-- Fires reminders and delivers webhook events. Like taskapp_app it owns nothing and is held
-- by the policies: it learns which work is due, across users, only from the functions in
-- taskapp_queue (ids and times), and reads a task or a secret only as that user.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'taskapp_worker') THEN
        CREATE ROLE taskapp_worker LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
    END IF;
END
$roles$;

DO $roles$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'taskapp_worker'
               AND (rolsuper OR rolbypassrls OR rolcreatedb OR rolcreaterole OR rolreplication OR NOT rolcanlogin)) THEN
        ALTER ROLE taskapp_worker LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
    END IF;
END
$roles$;

ALTER ROLE taskapp_worker SET statement_timeout = '5s';
ALTER ROLE taskapp_worker SET idle_in_transaction_session_timeout = '60s';
ALTER ROLE taskapp_worker SET random_page_cost = 1.1;  -- as taskapp_app's, above

-- ---------------------------------------------------------------------------
-- What the runtime roles may learn or hold across users
-- ---------------------------------------------------------------------------
-- A lock may not be waited for long either (a runtime role could otherwise queue behind,
-- or hold up, everyone else's writes).
ALTER ROLE taskapp_app SET lock_timeout = '4s';
ALTER ROLE taskapp_worker SET lock_timeout = '4s';

-- Whole-table statistics tell how many rows all users have together and when anyone writes;
-- the policies cannot hide them, so PUBLIC's access to them is taken away in this database
-- (monitoring keeps it through pg_read_all_stats, which pg_monitor includes). The objects
-- belong to the bootstrap superuser: where the upgrading role is not one (a managed service's
-- owner), PostgreSQL only warns that nothing could be revoked, and `taskapp audit` reports
-- that the runtime roles can still read them.
DO $statistics$
DECLARE
    statistics record;
BEGIN
    -- (No format() here: this file also runs through a driver that reads percent signs as
    -- placeholders.)
    FOR statistics IN
        SELECT 'TABLE pg_catalog.' || quote_ident(c.relname) AS object, 'SELECT' AS privilege
        FROM pg_catalog.pg_class c
        WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind = 'v'
          AND (c.relname ~ '^pg_stat(io)?_(all|user|sys|xact_all|xact_user|xact_sys)_(tables|indexes|sequences|functions)$'
               OR c.relname IN ('pg_stat_database', 'pg_stat_database_conflicts'))
        UNION ALL
        SELECT 'FUNCTION ' || p.oid::regprocedure::text, 'EXECUTE'
        FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname ~ '^pg_stat_get_'
          AND p.proname !~ '^pg_stat_get_subscription'  -- (views of replication every role reads)
          AND p.pronargs = 1 AND p.proargtypes[0] = 'oid'::regtype
    LOOP
        EXECUTE 'REVOKE ALL ON ' || statistics.object || ' FROM PUBLIC';
        EXECUTE 'GRANT ' || statistics.privilege || ' ON ' || statistics.object || ' TO pg_read_all_stats';
    END LOOP;
END
$statistics$;
