"""Pages of a history, newest first, keyed by (a time, an id), with signed cursors.

Completions and webhook delivery attempts are paged alike: a page is fetched with one row
more than asked, and when that row exists the answer carries `Link: <…>; rel="next"` whose
cursor names the page's last (time, id) and the scope it was made for, signed
(taskapp.web.cursors), so that it is valid for that listing alone.
"""

import uuid
from datetime import datetime
from urllib.parse import urlencode

import marshmallow as ma
from flask import request
from marshmallow import validate

from taskapp.web.api import string_header
from taskapp.web.cursors import BadCursor, SignedCursors
from taskapp.web.errors import abort
from taskapp.web.fields import Text

LINK_HEADER = {"Link": string_header('RFC 8288 `<url>; rel="next"` to the next page; absent on the last page.')}


def next_page_url(cursor: str) -> str:
    """This request's URL with the next page's cursor (RFC 8288 target, path-absolute)."""
    args = request.args.copy()
    args.setlist("cursor", [cursor])
    return f"{request.path}?{urlencode(list(args.items(multi=True)))}"


def link_to_next(cursor: str) -> dict:
    """The headers of a page that another follows."""
    return {"Link": f'<{next_page_url(cursor)}>; rel="next"'}


class PageArgs(ma.Schema):
    """Page of a history, newest first; unknown parameters are ignored."""

    class Meta:
        unknown = ma.EXCLUDE

    limit = ma.fields.Integer(
        load_default=100, validate=validate.Range(min=1, max=500), metadata={"description": "Page size."}
    )
    cursor = Text(metadata={"description": "Opaque token from the previous page's `Link: rel=\"next\"`."})


class NewestFirstPages:
    """Pages of one kind of history: `salt` separates its cursors from every other kind's."""

    def __init__(self, salt: str, time_column: str, refused: str):
        self.cursors, self.time_column, self.refused = SignedCursors(salt), time_column, refused

    def after(self, args: dict, scope: str):
        """The (time, id) the page starts after, from `args["cursor"]`; None on the first page; 400 if forged."""
        if "cursor" not in args:
            return None
        try:
            position = self.cursors.read(args["cursor"], scope)
            return datetime.fromisoformat(position["k"]), uuid.UUID(position["i"])
        except (BadCursor, ValueError, KeyError, TypeError, AttributeError):
            abort(400, self.refused)

    def answer(self, fetched: list[dict], args: dict, scope: str):
        """The page (fetched: up to limit + 1 rows), with a Link to the next one when more follow."""
        if len(fetched) <= args["limit"]:
            return fetched
        page = fetched[: args["limit"]]
        last = page[-1]
        return page, link_to_next(self.cursors.make(scope, k=last[self.time_column].isoformat(), i=str(last["id"])))
