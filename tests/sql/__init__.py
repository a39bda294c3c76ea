"""The database as a DBA sees it: roles, policies, triggers and migrations, in SQL as the runtime roles."""
