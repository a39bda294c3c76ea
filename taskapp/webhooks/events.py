"""A webhook event as sent: its JSON body, and its Standard Webhooks headers.

Signed with the `standardwebhooks` library (the specification's own), so that receivers
verify with it in any language:

    webhook-id:        the event's id, the same on every attempt
    webhook-timestamp: when this attempt was signed (Unix seconds)
    webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">

The secret is `whsec_` and 32 random bytes in base64, made when the subscription is.
"""

import base64
import json
import secrets
import uuid
from datetime import datetime, timezone

from standardwebhooks import Webhook

EVENT_TYPES = ("task.created", "task.updated", "task.completed", "task.deleted", "reminder.due",
               "member.added", "member.removed", "member.role_changed", "invitation.received")
SECRET_PREFIX = "whsec_"
USER_AGENT = "taskapp-webhooks/1"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def body(event_type: str, created_at: datetime, task: dict | None, reminder: dict | None,
         data: dict | None = None) -> str:
    """`{"type", "timestamp", "data"}`: for a task's event `{"task"[, "reminder"]}`, the task as the
    API returns it; for a member's or an invitation's, the data the database recorded
    (`{"list", "member"}` or `{"invitation"}`).

    Written by the standard library's encoder (ASCII, `", "` between items), as events have
    always been sent; UUIDs as text and times in UTC with a `Z`, as the API writes them.
    """
    if task is not None:
        data = {"task": task}
        if reminder is not None:
            data["reminder"] = reminder
    return json.dumps({"type": event_type, "timestamp": utc_text(created_at), "data": data}, default=plain)


def utc_text(value: datetime) -> str:
    """A time as the API writes it (taskapp.web.fields.utc_text): RFC 3339 in UTC with a `Z`."""
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def plain(value):
    """What JSON has no type for, written as the API writes it."""
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


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
