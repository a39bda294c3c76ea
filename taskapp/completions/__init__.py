"""Completions: the history of every task's completions, and undoing the latest one."""
