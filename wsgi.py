"""WSGI entry point: `gunicorn wsgi:app`."""

from taskapp import create_app

app = create_app()
