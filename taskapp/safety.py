"""Refuse to serve from a connection that row-level security would not bind.

Checked at start-up, as the runtime role: a superuser or BYPASSRLS role, the owner of `tasks`,
or a `tasks` table whose RLS is not enabled and forced would make the isolation guarantee void.
"""

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from taskapp.config import ConfigError

ROLE_AND_TABLE = text(
    """
    select r.rolname, r.rolsuper, r.rolbypassrls,
           c.oid is not null as has_tasks,
           coalesce(c.relowner = r.oid, false) as owns_tasks,
           coalesce(c.relrowsecurity and c.relforcerowsecurity, false) as tasks_forced
    from pg_roles r
    left join pg_class c on c.oid = to_regclass('public.tasks')
    where r.rolname = current_user
    """
)


class UnsafeDatabase(ConfigError):
    """The runtime connection could see or change every user's tasks."""


def problems(engine: Engine) -> list[str]:
    """What is wrong with the runtime connection; empty when it is safe to serve."""
    with engine.connect() as connection:
        role = connection.execute(ROLE_AND_TABLE).mappings().one()
    found = []
    if role["rolsuper"]:
        found.append(f"role {role['rolname']} is a superuser")
    if role["rolbypassrls"]:
        found.append(f"role {role['rolname']} has BYPASSRLS")
    if role["owns_tasks"]:
        found.append(f"role {role['rolname']} owns tasks")
    if role["has_tasks"] and not role["tasks_forced"]:
        found.append("tasks does not have row-level security enabled and forced")
    return found


def refuse_unsafe(engine: Engine) -> None:
    """Raise UnsafeDatabase when the connection is unsafe; an unreachable database is left to /readyz."""
    try:
        found = problems(engine)
    except OperationalError:
        return
    if found:
        raise UnsafeDatabase("refusing to serve: " + "; ".join(found))
