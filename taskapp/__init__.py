"""taskapp: a multi-user task API whose isolation between users is enforced by PostgreSQL."""

from flask import Flask

from taskapp.config import Config, check_keys, check_token_settings, runtime_config, sqlalchemy_url


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
    """Build the application; `test_config` replaces the environment (tests)."""
    app = TaskFlask(__name__)
    from taskapp.jsonio import OrjsonProvider

    app.json = OrjsonProvider(app)
    app.config.from_object(Config)
    if test_config is None:
        app.config.from_object(runtime_config())
    else:
        app.config.from_mapping(test_config)
    if isinstance(app.config["DATABASE_URL"], str):
        app.config["DATABASE_URL"] = sqlalchemy_url(app.config["DATABASE_URL"])
    check_token_settings(app.config)
    check_keys(app.config)

    from taskapp import auth, browsers, errors, observability
    from taskapp.api import api
    from taskapp.db import db

    db.init_app(app)
    observability.init_app(app)
    auth.init_app(app)
    api.init_app(app)
    errors.init_app(app)
    browsers.init_app(app)

    from taskapp import docs, health
    from taskapp.changes.resources import blp as changes_blp
    from taskapp.completions.resources import blp as completions_blp
    from taskapp.tasks.resources import blp as tasks_blp
    from taskapp.webhooks.resources import blp as webhooks_blp

    api.register_blueprint(health.blp)
    api.register_blueprint(tasks_blp, parameters=[api.USER_ID_PARAMETER])
    api.register_blueprint(completions_blp, parameters=[api.USER_ID_PARAMETER])
    api.register_blueprint(changes_blp, parameters=[api.USER_ID_PARAMETER])
    api.register_blueprint(webhooks_blp, parameters=[api.USER_ID_PARAMETER])
    app.register_blueprint(docs.blp)

    if test_config is None:
        from taskapp.safety import refuse_unsafe

        refuse_unsafe(db.engine(app), app.extensions["taskapp.db"]["identity_key"])
    return app
