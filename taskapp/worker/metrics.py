"""The worker's numbers, for /metrics (with `taskapp serve`) or its own --metrics-port."""

from prometheus_client import Counter, Gauge, Histogram

JOBS_DUE = Gauge("taskapp_worker_jobs_due", "Jobs due now and not yet done (events pending, reminders due)",
                 ["kind"], multiprocess_mode="mostrecent")
OLDEST_DUE = Gauge("taskapp_worker_oldest_due_seconds", "How long the oldest due job has waited",
                   ["kind"], multiprocess_mode="mostrecent")
DELIVERIES = Counter("taskapp_worker_deliveries", "Webhook delivery attempts, by outcome "
                     "(delivered; retry: failed, will be tried again; failed: the last attempt failed)", ["outcome"])
DELIVERY_LATENCY = Histogram(
    "taskapp_worker_delivery_latency_seconds", "From an event's change to its delivery",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400),
)
REMINDER_LAG = Histogram(
    "taskapp_worker_reminder_lag_seconds", "From a reminder's time to its firing",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
