"""Liveness and readiness probes; no authentication."""

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy.exc import SQLAlchemyError

from taskapp.database.engine import Database
from taskapp.database.safety import is_ready
from taskapp.web.api import Blueprint
from taskapp.web.errors import RETRY_AFTER_SECONDS, abort


class StatusSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"description": "`ok` (liveness) or `ready` (readiness)."})


blp = Blueprint("health", __name__, description="Probes for orchestrators and load balancers.")


@blp.route("/healthz")
class Liveness(MethodView):
    @blp.doc(operationId="getLiveness", security=[])
    @blp.response(200, StatusSchema)
    def get(self):
        """The process is running"""
        return {"status": "ok"}


@blp.route("/readyz")
class Readiness(MethodView):
    @blp.doc(operationId="getReadiness", security=[])
    @blp.response(200, StatusSchema)
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def get(self):
        """The database answers and its schema is at the code's newest migration"""
        try:
            ready = is_ready(Database.engine(), Database.identity_key())
        except SQLAlchemyError:
            ready = False
        if not ready:
            abort(503, "Not ready: the database is unreachable or not migrated to head.",
                  headers={"Retry-After": RETRY_AFTER_SECONDS})
        return {"status": "ready"}
