-- taskapp: schema
--
-- The same objects the alembic revisions create; tests/test_schema_drift.py keeps the two equal.
-- Load order: 00_roles.sql, 01_schema.sql, 02_policies.sql, 03_privileges.sql (ON_ERROR_STOP).

-- ---------------------------------------------------------------------------
-- Types
-- ---------------------------------------------------------------------------
-- Declared in rank order, so ORDER BY priority sorts low < medium < high.
CREATE TYPE task_priority AS ENUM ('low', 'medium', 'high');

-- ---------------------------------------------------------------------------
-- tasks
-- ---------------------------------------------------------------------------
CREATE TABLE tasks (
    id           uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    -- The owner. Defaults from the transaction's identity: without one it is NULL or ''
    -- and the row is refused (fail closed).
    user_id      text          NOT NULL DEFAULT current_setting('app.user_id', true),
    title        text          NOT NULL,
    description  text,
    completed    boolean       NOT NULL DEFAULT false,
    completed_at timestamptz,
    priority     task_priority NOT NULL DEFAULT 'medium',
    due_at       timestamptz,
    tags         text[]        NOT NULL DEFAULT '{}',
    created_at   timestamptz   NOT NULL DEFAULT now(),
    updated_at   timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT tasks_user_id_not_empty CHECK (user_id <> '' AND char_length(user_id) <= 255),
    CONSTRAINT tasks_title_length CHECK (char_length(title) BETWEEN 1 AND 255),
    CONSTRAINT tasks_description_length CHECK (char_length(description) <= 1000),
    CONSTRAINT tasks_tags_count CHECK (cardinality(tags) <= 20),
    CONSTRAINT tasks_completed_at_matches CHECK (completed = (completed_at IS NOT NULL))
);

-- The list query: one user's tasks, newest first.
CREATE INDEX tasks_user_id_created_at_idx ON tasks (user_id, created_at DESC, id DESC);

-- ---------------------------------------------------------------------------
-- Timestamps kept by the database
-- ---------------------------------------------------------------------------
-- completed_at follows completed; updated_at moves forward on every write, even when two
-- writes fall in the same microsecond or a transaction started before the previous write.
CREATE FUNCTION tasks_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.created_at := now();
        NEW.updated_at := NEW.created_at;
        NEW.completed_at := CASE WHEN NEW.completed THEN NEW.created_at END;
    ELSE
        NEW.id := OLD.id;
        NEW.created_at := OLD.created_at;
        NEW.updated_at := greatest(clock_timestamp(), OLD.updated_at + interval '1 microsecond');
        NEW.completed_at := CASE
            WHEN NOT NEW.completed THEN NULL
            WHEN OLD.completed THEN OLD.completed_at
            ELSE NEW.updated_at
        END;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER tasks_stamp BEFORE INSERT OR UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION tasks_stamp();
