"""WSGI entry point for a WSGI server of your own (`granian --interface wsgi wsgi:app`); `taskapp serve` is the supported way."""

from taskapp import create_app

app = create_app()
