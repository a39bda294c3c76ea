"""Real processes: taskapp serve and worker, the wheel, PgBouncer, HAProxy, browsers, faults (marker `system`)."""
