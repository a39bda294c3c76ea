"""The DBA page's tables under row-level security are the ones sql/audit.sql checks and
sql/02_policies.sql protects, with policies for the same commands."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AUDIT = (ROOT / "sql" / "audit.sql").read_text()
POLICIES = (ROOT / "sql" / "02_policies.sql").read_text()


def quoted(text: str) -> list[str]:
    return re.findall(r"'(\w+)'", text)


def documented() -> dict[str, set[str]]:
    """Table → the commands it has policies for, from docs/dbas.md."""
    page = (ROOT / "docs" / "dbas.md").read_text()
    section = page.split("\n## The tables under row-level security\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| [^|]* \| ([A-Z, ]+) \|$", section, flags=re.MULTILINE)
    return {table: set(commands.split(", ")) for table, commands in rows}


def audit_required_policies() -> dict[str, set[str]]:
    """The audit's `required_policies`: table → the commands it must have a policy for."""
    rows = re.findall(r"SELECT '(\w+)', unnest\(ARRAY\[([^\]]*)\]\)", AUDIT)
    return {table: set(quoted(commands)) for table, commands in rows}


def audit_table_lists() -> list[list[str]]:
    """Every list of tables the audit names: the ones that must exist, the ones whose grants it prints."""
    must_exist = re.search(r"unnest\(ARRAY\[([^\]]*)\]\) AS required\(name\)", AUDIT).group(1)
    grants = re.search(r"table_name IN \(([^)]*)\)", AUDIT).group(1)
    return [quoted(must_exist), quoted(grants)]


def declared_policies() -> dict[str, set[str]]:
    """sql/02_policies.sql: table → the commands of its policies."""
    found: dict[str, set[str]] = {}
    for table, command in re.findall(r'CREATE POLICY "[^"]+" ON (\w+)\s+FOR (\w+)', POLICIES):
        found.setdefault(table, set()).add(command)
    return found


def test_the_dbas_page_lists_the_tables_the_audit_checks():
    tables = set(documented())
    assert "tasks" in tables
    assert tables == set(audit_required_policies())
    for listed in audit_table_lists():
        assert sorted(listed) == sorted(tables)


def test_the_dbas_page_lists_the_tables_whose_row_level_security_is_enabled_and_forced():
    enabled = re.findall(r"ALTER TABLE (\w+) ENABLE ROW LEVEL SECURITY;", POLICIES)
    forced = re.findall(r"ALTER TABLE (\w+) FORCE ROW LEVEL SECURITY;", POLICIES)
    assert sorted(enabled) == sorted(forced) == sorted(documented())


def test_each_table_has_policies_for_the_commands_the_page_and_the_audit_name():
    assert documented() == declared_policies() == audit_required_policies()
