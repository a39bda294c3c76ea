"""Pages of a history, newest first, keyed by (a time, an id), with signed cursors.

Completions and webhook delivery attempts are paged alike: a page is fetched with one row
more than asked, and when that row exists the answer carries `Link: <…>; rel="next"` whose
cursor names the page's last (time, id) and the scope it was made for (the caller and what
was listed), signed, so that it is valid for that listing alone.
"""

import uuid
from datetime import datetime

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from taskapp.config import signing_key
from taskapp.errors import abort


class NewestFirstPages:
    """Cursors for one kind of history: `salt` separates its cursors from every other kind's."""

    def __init__(self, salt: str, time_column: str, refused: str):
        self.salt, self.time_column, self.refused = salt, time_column, refused

    def serializer(self) -> URLSafeSerializer:
        extensions = current_app.extensions
        if self.salt not in extensions:
            extensions[self.salt] = URLSafeSerializer(signing_key(current_app.config), salt=self.salt)
        return extensions[self.salt]

    def after(self, args: dict, scope: str):
        """The (time, id) the page starts after, from `args["cursor"]`; None on the first page; 400 if forged."""
        if "cursor" not in args:
            return None
        try:
            data = self.serializer().loads(args["cursor"])
            if not isinstance(data, dict) or data.get("f") != scope:
                raise ValueError
            return datetime.fromisoformat(data["k"]), uuid.UUID(data["i"])
        except (BadSignature, UnicodeError, ValueError, KeyError, TypeError, AttributeError):
            abort(400, self.refused)

    def answer(self, fetched: list[dict], args: dict, scope: str, next_page_url):
        """The page (fetched: up to limit + 1 rows), with a Link to the next one when more follow."""
        if len(fetched) <= args["limit"]:
            return fetched
        page = fetched[: args["limit"]]
        last = page[-1]
        cursor = self.serializer().dumps({"f": scope, "k": last[self.time_column].isoformat(), "i": str(last["id"])})
        return page, {"Link": f'<{next_page_url(cursor)}>; rel="next"'}
