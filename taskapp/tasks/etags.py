"""Entity tags for tasks: optional If-Match on writes (412 when stale), If-None-Match on reads (304).

flask-smorest's own ETag support makes If-Match mandatory (428); the original contract's
clients never send it, so the check here is opt-in per request.
"""

import hashlib
import re

from flask import Response, request
from werkzeug.http import quote_etag

from taskapp.web.api import string_header
from taskapp.web.errors import abort

ETAG_HEADER = {"ETag": string_header("Version tag of the task", required=True)}
# `*` or a list of entity tags (RFC 9110: printable ASCII but the quote, inside quotes).
IF_MATCH_PATTERN = r'^[ \t]*(\*|(W/)?"[!#-~]*"([ \t]*,[ \t]*(W/)?"[!#-~]*")*)[ \t]*$'
IF_MATCH = string_header("Optional: refuse the write with 412 unless the task still has this ETag (one of these "
                         "ETags; `*`: any). A value that is no list of entity tags is 400.", "If-Match",
                         pattern=IF_MATCH_PATTERN)
MALFORMED_IF_MATCH = 'If-Match must be * or a list of entity tags, such as "…" (the ETag a read answered).'


def check_if_match_is_well_formed() -> None:
    """400 for an If-Match that names no entity tag (`,,,`, a bare word): ignoring it would write
    without the check the client asked for."""
    given = request.headers.get("If-Match")
    if given is not None and not re.fullmatch(IF_MATCH_PATTERN, given):
        abort(400, MALFORMED_IF_MATCH)
IF_NONE_MATCH = string_header("Answer 304 when the task still has this ETag.", "If-None-Match")


def etag_of(task) -> str:
    """A strong tag for this version of the task: updated_at moves on every write."""
    version = f"{task['id']}:{task['updated_at'].isoformat()}"
    return hashlib.sha256(version.encode()).hexdigest()[:32]


def etag_header(task) -> dict:
    return {"ETag": quote_etag(etag_of(task))}


def check_if_match(task) -> None:
    """412 when the client sent If-Match and it names another version (a malformed one was 400
    before: check_if_match_is_well_formed, at the start of every write that takes it)."""
    if request.if_match and etag_of(task) not in request.if_match:
        abort(412)


def answer_with_etag(task):
    """The task with its ETag, or the 304 answer when If-None-Match already names this version."""
    tag = etag_of(task)
    headers = {"ETag": quote_etag(tag)}
    if request.if_none_match.contains_weak(tag):
        return Response(status=304, headers=headers)
    return task, headers
