"""The application: `create_app()` puts the layers together.

A request walks them in this order: the web layer gives it an id and a clock
(taskapp.web.observability); the bearer token says who is calling (taskapp.identity.bearer);
a resource blueprint checks that `{user_id}` is the caller (taskapp.web.user_scope) and runs
its statements in the request's transaction (taskapp.database.transaction), every one of
which begins by acting as the caller with a proof (taskapp.identity.proof); the policies in
sql/02_policies.sql then decide which rows exist.
"""

import dataclasses

from flask import Flask

from taskapp.batch.resources import blp as batch_blp
from taskapp.changes.resources import blp as changes_blp
from taskapp.completions.resources import blp as completions_blp
from taskapp.config import Config
from taskapp.database import safety, transaction
from taskapp.database.embedded import serving_config
from taskapp.database.engine import db
from taskapp.identity import bearer
from taskapp.lists.resources import blp as lists_blp
from taskapp.tasks.resources import blp as tasks_blp
from taskapp.web import browsers, docs, errors, health, observability, rate_limits, user_scope
from taskapp.web.api import api
from taskapp.web.jsonio import OrjsonProvider
from taskapp.webhooks.resources import blp as webhooks_blp

RESOURCES = (lists_blp, tasks_blp, completions_blp, changes_blp, webhooks_blp, batch_blp)


class TaskFlask(Flask):
    """Flask, remembering which views and hooks are plain functions.

    Flask (and flask-smorest's wrappers) ask `ensure_sync` about every hook and view on every
    request, and each answer inspects the function anew; a function's nature does not change.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._plain_functions: set = set()

    def ensure_sync(self, func):
        plain = getattr(func, "__func__", func)  # a bound method is new on every request; its function is not
        if plain in self._plain_functions:
            return func
        made = super().ensure_sync(func)
        if made is func and len(self._plain_functions) < 4096:  # bounded, whatever is passed in
            self._plain_functions.add(plain)
        return made


def create_app(test_config: dict | None = None) -> Flask:
    """Build the application from the environment; `test_config` replaces the environment (tests).

    Keys of `test_config` that are not settings of taskapp.config.Config (TESTING, say) go to
    Flask's configuration as they are.
    """
    if test_config is None:
        config, flask_only = serving_config(), {}
    else:
        names = {field.name for field in dataclasses.fields(Config)}
        config = Config.from_mapping({k: v for k, v in test_config.items() if k in names}).require_serving()
        flask_only = {k: v for k, v in test_config.items() if k not in names}
    app = TaskFlask("taskapp")
    # A path is what the client sent: a member whose `sub` starts with `/` is `…/members//x`, and
    # merging the slashes would redirect to another member.
    app.url_map.merge_slashes = False
    app.url_map.converters["user_id"] = user_scope.UserIdConverter
    app.json = OrjsonProvider(app)
    app.config.update(config.flask_settings())
    app.config.update(flask_only)
    app.extensions["taskapp.config"] = config

    db.init_app(app)
    transaction.init_app(app)
    observability.init_app(app)  # first, so that even a 401 carries its request id
    bearer.init_app(app)  # who is calling…
    rate_limits.init_app(app)  # …spends their budget (or their address's, without a valid token)…
    app.before_request(bearer.refuse_unidentified)  # …and only then is a bad token refused
    api.init_app(app)
    api.register_converter(user_scope.UserIdConverter, user_scope.user_id_parameter_schema)
    errors.init_app(app)
    browsers.init_app(app)

    api.register_blueprint(health.blp)
    for blueprint in RESOURCES:
        api.register_blueprint(blueprint, parameters=[api.USER_ID_PARAMETER])
    app.register_blueprint(docs.blp)

    if test_config is None:
        safety.refuse_unsafe(db.engine(app), config.identity_key)
    return app
