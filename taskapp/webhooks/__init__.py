"""Webhooks: where a user's task events are sent, and what was sent."""
