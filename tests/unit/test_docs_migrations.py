"""The data model's migration table lists exactly the revisions in migrations/versions/, in order."""

import re
from pathlib import Path

from alembic.script import ScriptDirectory

from taskapp.database.migrations import alembic_config

ROOT = Path(__file__).resolve().parents[2]


def documented_revisions() -> list[str]:
    """The first column of the table under "## Migrations" in specs/data-model.md."""
    model = (ROOT / "specs" / "data-model.md").read_text()
    section = model.split("\n## Migrations\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)


def revisions_oldest_first() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def test_every_revision_file_is_in_the_chain():
    files = sorted(path.name.split("_", 1)[0] for path in (ROOT / "migrations" / "versions").glob("[0-9]*.py"))
    assert files == sorted(revisions_oldest_first())


def test_the_migration_table_lists_every_revision_oldest_first():
    assert documented_revisions() == revisions_oldest_first()
