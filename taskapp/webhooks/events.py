"""A webhook event as sent: its JSON body, and its Standard Webhooks headers.

Signed with the `standardwebhooks` library (the specification's own), so that receivers
verify with it in any language:

    webhook-id:        the event's id, the same on every attempt
    webhook-timestamp: when this attempt was signed (Unix seconds)
    webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">

The secret is `whsec_` and 32 random bytes in base64, made when the subscription is.
"""

import base64
import secrets
from datetime import datetime, timezone

import orjson
from standardwebhooks import Webhook

EVENT_TYPES = ("task.created", "task.updated", "task.completed", "task.deleted", "reminder.due")
SECRET_PREFIX = "whsec_"
USER_AGENT = "taskapp-webhooks/1"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def body(event_type: str, created_at: datetime, task: dict, reminder: dict | None) -> str:
    """`{"type", "timestamp", "data": {"task"[, "reminder"]}}`: the task as the API returns it.

    Written by orjson as the API writes it (taskapp.web.jsonio): UUIDs as text, UTC times with
    a `Z`. What the database returns holds nothing orjson refuses (PostgreSQL text holds no
    lone surrogate).
    """
    data = {"task": task}
    if reminder is not None:
        data["reminder"] = reminder
    document = {"type": event_type, "timestamp": created_at.astimezone(timezone.utc), "data": data}
    return orjson.dumps(document, option=orjson.OPT_UTC_Z).decode()


def headers(secret: str, event_id: str, text: str, now: datetime | None = None) -> dict:
    """The request headers of one attempt: the signature is made anew, with this attempt's time."""
    now = now or datetime.now(timezone.utc)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, now, text),
    }
