"""Signed cursors: the one way taskapp hands a client a position to continue from.

Every listing's page cursor and the change feed's sync token are made here. A cursor holds a
position (plain JSON values) and the scope it was made for, signed with the server's cursor
key (TASKAPP_SECRET_KEY, else JWT_SECRET_KEY) under a salt of its own kind, so that it is
valid for that kind of listing, that caller and those filters alone. The scope is always
made by `scope_of`.
"""

import hashlib
import json

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

SCOPE = "f"


class BadCursor(ValueError):
    """The cursor was not made by this server (forged or damaged), or not for this listing (`foreign`)."""

    def __init__(self, foreign: bool):
        super().__init__("made for another listing" if foreign else "not made by this server")
        self.foreign = foreign


def scope_of(**parts) -> str:
    """What a cursor is bound to (the caller, and whatever else selects the listing), as a short digest."""
    encoded = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()[:24]


class SignedCursors:
    """Cursors of one kind: `salt` separates them from every other kind's."""

    def __init__(self, salt: str):
        self.salt = salt

    def _serializer(self) -> URLSafeSerializer:
        extensions = current_app.extensions
        serializer = extensions.get(self.salt)
        if serializer is None:
            serializer = URLSafeSerializer(extensions["taskapp.config"].cursor_key, salt=self.salt)
            extensions[self.salt] = serializer
        return serializer

    def make(self, scope: str, **position) -> str:
        """A cursor for this position in the listing `scope` names."""
        return self._serializer().dumps({SCOPE: scope, **position})

    def read(self, cursor: str, scope: str) -> dict:
        """The position a cursor holds; BadCursor unless this server made it for `scope`."""
        try:
            data = self._serializer().loads(cursor)
        except (BadSignature, UnicodeError, ValueError):
            raise BadCursor(foreign=False) from None
        if not isinstance(data, dict):
            raise BadCursor(foreign=False)
        if data.pop(SCOPE, None) != scope:
            raise BadCursor(foreign=True)
        return data
