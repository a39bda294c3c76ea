"""Signed cursors: the one way taskapp hands a client a position to continue from.

Every listing's page cursor and the change feed's sync token are made here. A cursor holds a
position (plain JSON values) and the scope it was made for, signed with the server's cursor
key (TASKAPP_SECRET_KEY, else JWT_SECRET_KEY) under a salt of its own kind, so that it is
valid for that kind of listing, that caller and those filters alone. The scope is always
made by `scope_of`.

A cursor whose position says something about the server beyond the caller's own rows is also
sealed (encrypted): the change feed's token holds a database snapshot, whose transaction ids
would otherwise tell a client how busy everyone else is.
"""

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken
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
    """Cursors of one kind: `salt` separates them from every other kind's; `sealed` ones are
    encrypted too (Fernet, with a key derived from the cursor key and the salt)."""

    def __init__(self, salt: str, *, sealed: bool = False):
        self.salt = salt
        self.sealed = sealed

    def _fernet(self) -> Fernet:
        extensions = current_app.extensions
        name = self.salt + ".sealed"
        fernet = extensions.get(name)
        if fernet is None:
            secret = hashlib.sha256(f"{self.salt}\0{extensions['taskapp.config'].cursor_key}".encode()).digest()
            fernet = Fernet(base64.urlsafe_b64encode(secret))
            extensions[name] = fernet
        return fernet

    def _serializer(self) -> URLSafeSerializer:
        extensions = current_app.extensions
        serializer = extensions.get(self.salt)
        if serializer is None:
            serializer = URLSafeSerializer(extensions["taskapp.config"].cursor_key, salt=self.salt)
            extensions[self.salt] = serializer
        return serializer

    def make(self, scope: str, **position) -> str:
        """A cursor for this position in the listing `scope` names."""
        signed = self._serializer().dumps({SCOPE: scope, **position})
        return self._fernet().encrypt(signed.encode()).decode() if self.sealed else signed

    def read(self, cursor: str, scope: str) -> dict:
        """The position a cursor holds; BadCursor unless this server made it for `scope`."""
        try:
            if self.sealed:
                cursor = self._fernet().decrypt(cursor.encode()).decode()
            data = self._serializer().loads(cursor)
        except (BadSignature, InvalidToken, UnicodeError, ValueError):
            raise BadCursor(foreign=False) from None
        if not isinstance(data, dict):
            raise BadCursor(foreign=False)
        if data.pop(SCOPE, None) != scope:
            raise BadCursor(foreign=True)
        return data
