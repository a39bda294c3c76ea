"""taskapp: a multi-user task API whose isolation between users is enforced by PostgreSQL.

`create_app` is in taskapp.app; it is named here lazily, so that importing a Flask-free part
of the package (the worker, the identity proof, the configuration) does not import Flask.
"""


def __getattr__(name: str):
    if name == "create_app":
        from taskapp.app import create_app

        return create_app
    raise AttributeError(f"module 'taskapp' has no attribute {name!r}")
