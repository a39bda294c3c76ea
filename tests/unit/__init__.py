"""Pure code: no database, no server."""
