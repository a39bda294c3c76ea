"""The SQL a DBA reads, shipped inside the package as `taskapp.sql`."""
