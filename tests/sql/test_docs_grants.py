"""What the DBA page says each runtime role is granted is exactly what a migrated database grants it,
and the tables it lists under row-level security are the database's."""

import re
from pathlib import Path

import pytest

from tests.support.citus import CITUS_ADMIN_URL

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| (schema|type|table|function) `([^`]+)` \| (.+?) \|$", re.MULTILINE)
PRIVILEGE = re.compile(r"([A-Z]+)(?: \(([^)]*)\))?")

# Every privilege held by the role itself (not through PUBLIC), in the catalog's own spelling.
GRANTED = """
select 'schema', n.nspname::text, a.privilege_type::text, null::text
from pg_namespace n, aclexplode(n.nspacl) a where a.grantee = %(role)s::regrole
union all
select 'type', t.oid::regtype::text, a.privilege_type, null
from pg_type t, aclexplode(t.typacl) a where a.grantee = %(role)s::regrole
union all
select 'table', c.oid::regclass::text, a.privilege_type, null
from pg_class c, aclexplode(c.relacl) a where a.grantee = %(role)s::regrole
union all
select 'table', c.oid::regclass::text, a.privilege_type, att.attname::text
from pg_class c join pg_attribute att on att.attrelid = c.oid, aclexplode(att.attacl) a
where a.grantee = %(role)s::regrole
union all
select 'function', p.oid::regprocedure::text, a.privilege_type, null
from pg_proc p, aclexplode(p.proacl) a where a.grantee = %(role)s::regrole
"""
# A name as the page writes it, in the catalog's spelling (which also checks that it exists).
CANONICAL = {
    "schema": "select %(name)s::regnamespace::text",
    "type": "select %(name)s::regtype::text",
    "table": "select %(name)s::regclass::text",
    "function": "select %(name)s::regprocedure::text",
}


def documented_grants(heading: str) -> list[tuple[str, str, str, str | None]]:
    """(kind, name, privilege, column) from the table under `heading` in docs/dbas.md."""
    page = (ROOT / "docs" / "dbas.md").read_text()
    parts = page.split(f"\n{heading}\n", 1)
    section = parts[1].split("\n#", 1)[0] if len(parts) == 2 else ""
    return [(kind, name, privilege, column or None)
            for kind, name, privileges in ROW.findall(section)
            for privilege, columns in PRIVILEGE.findall(privileges)
            for column in (columns.split(", ") if columns else [""])]


@pytest.mark.parametrize("role", ["taskapp_app", "taskapp_worker"])
def test_the_dbas_page_lists_exactly_what_each_runtime_role_is_granted(admin_sql, role):
    documented = documented_grants(f"### `{role}`")
    assert documented, f"no grants found for {role} in docs/dbas.md"
    if CITUS_ADMIN_URL:  # and what the page adds for a cluster
        documented += documented_grants(f"#### `{role}` on a Citus cluster")
    written = {(kind, admin_sql.execute(CANONICAL[kind], {"name": name}).fetchone()[0], privilege, column)
               for kind, name, privilege, column in documented}
    assert len(written) == len(documented), "a grant is listed twice"
    granted = set(admin_sql.execute(GRANTED, {"role": role}).fetchall())
    assert written == granted


def test_the_tables_under_row_level_security_are_those_the_dbas_page_lists(admin_sql):
    page = (ROOT / "docs" / "dbas.md").read_text()
    section = page.split("\n## The tables under row-level security\n", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE))
    protected = {name for (name,) in admin_sql.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'public' and c.relrowsecurity and c.relforcerowsecurity")}
    assert listed == protected
