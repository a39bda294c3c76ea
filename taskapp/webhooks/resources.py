"""Webhooks: `/api/{user_id}/webhooks…`, a user's subscriptions to their task events.

Row-level security decides which subscriptions exist: another user's is simply not found.
The events themselves are produced by the database in the transaction of each change
(sql/01_schema.sql, taskapp_private.webhooks_emit) and delivered by `taskapp worker` (taskapp/worker/).
"""

from flask import current_app, g, url_for
from flask.views import MethodView

from taskapp.database.transaction import commit, first, rows
from taskapp.web.api import string_header
from taskapp.web.cursors import scope_of
from taskapp.web.errors import abort, found, uuid_or_404
from taskapp.web.pages import LINK_HEADER, NewestFirstPages
from taskapp.web.user_scope import user_blueprint
from taskapp.webhooks import queries
from taskapp.webhooks.events import new_secret
from taskapp.webhooks.schemas import (
    AttemptPageArgs,
    AttemptSchema,
    NewWebhookSchema,
    WebhookCreateSchema,
    WebhookPatchSchema,
    WebhookSchema,
)
from taskapp.webhooks.targets import RefusedTarget, check

blp = user_blueprint(
    "webhooks",
    __name__,
    "Where your task events are sent: signed POSTs (Standard Webhooks), retried until delivered.",
)

CREATE, PATCH, PAGE_ARGS = WebhookCreateSchema(), WebhookPatchSchema(), AttemptPageArgs()
PAGES = NewestFirstPages("taskapp.webhooks.attempts.cursor", "attempted_at",
                         "The cursor is not valid for these attempts.")


def safe_url(url: str) -> str:
    """The URL as stored (normalised: IDNA host, percent-encoded path), if the worker may call
    it; 422 with the reason otherwise."""
    try:
        return check(url, current_app.config["WEBHOOK_ALLOW_PRIVATE"]).url
    except RefusedTarget as refused:
        abort(422, errors={"json": {"url": [str(refused)]}})


@blp.route("/webhooks")
class Webhooks(MethodView):
    @blp.doc(operationId="listWebhooks")
    @blp.response(200, WebhookSchema(many=True))
    @blp.documents_errors(401, 403)
    def get(self):
        """List your webhook subscriptions (without their secrets)"""
        return rows(*queries.listing())

    @blp.doc(operationId="createWebhook")
    @blp.arguments(CREATE)
    @blp.response(201, NewWebhookSchema, headers={
        "Location": string_header("URL of the new subscription", required=True),
    })
    @blp.documents_errors(400, 401, 403, 409, 413, 415, 422)
    def post(self, data):
        """Subscribe a URL to your task events; the answer shows its signing secret, once"""
        url = safe_url(data["url"])
        first(*queries.lock_owner(g.user_id))
        if first(*queries.count())["count"] >= queries.MAX_PER_USER:
            abort(409, f"You have {queries.MAX_PER_USER} webhook subscriptions, the most allowed; "
                       "delete one first.")
        webhook = first(*queries.create(url, data["events"], new_secret()))
        commit()
        return webhook, {"Location": url_for("webhooks.Webhook", user_id=g.path_user_id, webhook_id=webhook["id"])}


@blp.route("/webhooks/<webhook_id>")
class Webhook(MethodView):
    @blp.doc(operationId="getWebhook")
    @blp.response(200, WebhookSchema)
    @blp.documents_errors(401, 403, 404)
    def get(self, webhook_id):
        """Get one of your webhook subscriptions"""
        return found(first(*queries.get(uuid_or_404(webhook_id))))

    @blp.doc(operationId="updateWebhook")
    @blp.arguments(PATCH)
    @blp.response(200, WebhookSchema)
    @blp.documents_errors(400, 401, 403, 404, 413, 415, 422)
    def patch(self, data, webhook_id):
        """Change a subscription's URL or events, or switch it on or off"""
        webhook_id = uuid_or_404(webhook_id)
        if "url" in data:
            data = {**data, "url": safe_url(data["url"])}
        webhook = found(first(*queries.change(webhook_id, data)))
        commit()
        return webhook

    @blp.doc(operationId="deleteWebhook")
    @blp.response(204)
    @blp.documents_errors(401, 403, 404)
    def delete(self, webhook_id):
        """Delete a subscription, with the events not yet delivered"""
        found(first(*queries.remove(uuid_or_404(webhook_id))))
        commit()
        return None


@blp.route("/webhooks/<webhook_id>/deliveries")
class WebhookDeliveries(MethodView):
    @blp.doc(operationId="listWebhookDeliveries")
    @blp.arguments(PAGE_ARGS, location="query")
    @blp.response(200, AttemptSchema(many=True), headers=LINK_HEADER)
    @blp.documents_errors(400, 401, 403, 404)
    def get(self, args, webhook_id):
        """List a subscription's delivery attempts, newest first"""
        webhook_id = uuid_or_404(webhook_id)
        found(first(*queries.get(webhook_id)))
        scope = scope_of(user=g.user_id, webhook=str(webhook_id))
        fetched = rows(*queries.attempts(webhook_id, args["limit"] + 1, PAGES.after(args, scope)))
        return PAGES.answer(fetched, args, scope)
