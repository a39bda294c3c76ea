"""`taskapp audit`: the report of sql/audit.sql, run through psycopg instead of psql.

The SQL is read from sql/audit.sql itself, so the command and the DBA's script cannot drift.
"""

import psycopg

from taskapp.database.migrations import SQL_DIR

AUDIT_SQL = SQL_DIR / "audit.sql"


def sections(script: str) -> list[tuple[str, str]]:
    """(title, SQL) pairs: each `\\echo '…'` starts a section; other psql commands are skipped."""
    found, title, lines = [], None, []
    for line in script.splitlines():
        if line.startswith("\\echo"):
            if title is not None:
                found.append((title, "\n".join(lines)))
            title, lines = line.split(" ", 1)[1].strip().strip("'"), []
        elif not line.startswith("\\") and title is not None:
            lines.append(line)
    if title is not None:
        found.append((title, "\n".join(lines)))
    return found


def table(columns: list[str], rows: list[tuple]) -> str:
    cells = [columns] + [["" if value is None else str(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def report(url: str) -> tuple[str, bool]:
    """The printed report and whether its verdict is PASS."""
    report, verdict = [], ""
    with psycopg.connect(url, autocommit=True) as conn:
        for title, sql in sections(AUDIT_SQL.read_text()):
            cursor = conn.execute(sql)
            rows = cursor.fetchall()
            report.append(title)
            report.append(table([c.name for c in cursor.description], rows))
            report.append("")
            if rows and rows[-1] and isinstance(rows[-1][0], str) and rows[-1][0].startswith("VERDICT"):
                verdict = rows[-1][0]
    report.append(verdict)
    return "\n".join(report), verdict == "VERDICT: PASS"
