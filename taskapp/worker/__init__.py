"""`taskapp worker`: fires due reminders and delivers webhook events, as taskapp_worker.

It learns which work is due, across users, only from the functions of the `taskapp_queue`
schema (job ids, owners and times); to read a task or a secret it acts as the job's user,
with the same identity proof every request sets (taskapp.identity.proof.act_as), under the
policies. It imports neither Flask nor alembic.
"""
