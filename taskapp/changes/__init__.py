"""The change feed: what changed in your tasks since a sync token."""
