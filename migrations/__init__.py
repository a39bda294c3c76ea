"""Alembic revisions, shipped inside the package as `taskapp.migrations`."""
