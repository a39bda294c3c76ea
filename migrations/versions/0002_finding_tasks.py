"""finding tasks: full-text search column, tag index, one index per sort order

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# SQL is written inline, never read from sql/: an edit there must not rewrite history.

UPGRADE = r"""
ALTER TABLE tasks ADD COLUMN search tsvector NOT NULL GENERATED ALWAYS AS (
    to_tsvector('simple'::regconfig, title || ' ' || coalesce(description, ''))
) STORED;

CREATE INDEX tasks_search_idx ON tasks USING gin (search);
CREATE INDEX tasks_tags_idx ON tasks USING gin (tags);

CREATE INDEX tasks_user_id_updated_at_idx ON tasks (user_id, updated_at DESC, id DESC);
CREATE INDEX tasks_user_id_due_at_asc_idx ON tasks (user_id, due_at ASC NULLS LAST, id ASC);
CREATE INDEX tasks_user_id_due_at_desc_idx ON tasks (user_id, due_at DESC NULLS LAST, id DESC);
CREATE INDEX tasks_user_id_priority_idx ON tasks (user_id, priority DESC, id DESC);
CREATE INDEX tasks_user_id_title_idx ON tasks (user_id, (title COLLATE "C") DESC, id DESC);
"""

DOWNGRADE = r"""
DROP INDEX tasks_user_id_title_idx;
DROP INDEX tasks_user_id_priority_idx;
DROP INDEX tasks_user_id_due_at_desc_idx;
DROP INDEX tasks_user_id_due_at_asc_idx;
DROP INDEX tasks_user_id_updated_at_idx;
DROP INDEX tasks_tags_idx;
DROP INDEX tasks_search_idx;
ALTER TABLE tasks DROP COLUMN search;
"""


def upgrade():
    op.execute(UPGRADE)


def downgrade():
    op.execute(DOWNGRADE)
