"""The HTTP API through Flask's test client, against the real database."""
