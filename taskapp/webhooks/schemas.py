"""One schema per job: a subscription as given, as changed, as returned, and its attempts."""

import marshmallow as ma
from marshmallow import validate

from taskapp.web.fields import StrictBoolean, Text, UTCDateTime
from taskapp.web.pages import PageArgs
from taskapp.webhooks.events import EVENT_TYPES
from taskapp.webhooks.targets import MAX_URL_LENGTH

URL_DESCRIPTION = (
    "Where events are POSTed: an `https://` URL whose host resolves to public addresses only "
    "(`http://` and private addresses too when the server runs with WEBHOOK_ALLOW_PRIVATE=on)."
)


def url_field(**kwargs):
    return Text(validate=validate.Length(min=1, max=MAX_URL_LENGTH), metadata={"description": URL_DESCRIPTION},
                **kwargs)


def events_field(**kwargs):
    return ma.fields.List(
        ma.fields.String(validate=validate.OneOf(EVENT_TYPES)),
        validate=validate.Length(min=1, max=len(EVENT_TYPES)),
        metadata={"description": "The event types to send (each at most once).", "uniqueItems": True},
        **kwargs,
    )


class WebhookInput(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    @ma.post_load
    def distinct_events(self, data, **kwargs):
        if "events" in data:
            if len(set(data["events"])) != len(data["events"]):
                raise ma.ValidationError("Each event type at most once.", "events")
            data["events"] = sorted(data["events"], key=EVENT_TYPES.index)
        return data


class WebhookCreateSchema(WebhookInput):
    """A new subscription."""

    url = url_field(required=True)
    events = events_field(required=True)


class WebhookPatchSchema(WebhookInput):
    """Change a subscription: its URL, its events, or switch it on or off."""

    url = url_field()
    events = events_field()
    active = StrictBoolean(metadata={"description": "false: send nothing; true: send again."})


class WebhookSchema(ma.Schema):
    """A subscription as returned (its secret only when it is made); every field always sent."""

    id = ma.fields.UUID(dump_only=True, required=True)
    url = ma.fields.String(required=True)
    events = ma.fields.List(ma.fields.String(validate=validate.OneOf(EVENT_TYPES)), required=True)
    active = ma.fields.Boolean(required=True, metadata={
        "description": "false when switched off, or when an event could not be delivered after every attempt."})
    created_at = UTCDateTime(dump_only=True, required=True)
    updated_at = UTCDateTime(dump_only=True, required=True)


class NewWebhookSchema(WebhookSchema):
    """A subscription just made, with the secret its events are signed with: shown this once."""

    secret = ma.fields.String(required=True, metadata={
        "description": "`whsec_…`: verify each event's `webhook-signature` with it (Standard Webhooks)."})


class AttemptSchema(ma.Schema):
    """One attempt to deliver an event: the receiver's status, or why there was none."""

    id = ma.fields.UUID(required=True)
    event_id = ma.fields.String(
        required=True, metadata={"description": "The event's `webhook-id` (the same on every attempt)."}
    )
    type = ma.fields.String(validate=validate.OneOf(EVENT_TYPES), required=True)
    attempt = ma.fields.Integer(
        required=True, metadata={"description": "1 for the first attempt, 2 for the first retry…"}
    )
    status = ma.fields.Integer(allow_none=True, required=True, metadata={"description": "The receiver's HTTP status."})
    error = ma.fields.String(allow_none=True, required=True, metadata={"description": "Why there was no answer."})
    attempted_at = UTCDateTime(required=True)


class AttemptPageArgs(PageArgs):
    """A page of attempts, newest first; unknown parameters are ignored."""
