"""The database: the tables as statements see them, executing statements, the engine and the
request's transaction, migrations and roles, the start-up safety check, the audit and the
embedded server."""
