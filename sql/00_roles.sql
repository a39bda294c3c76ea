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
