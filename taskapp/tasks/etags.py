"""Entity tags for tasks: optional If-Match on writes (412 when stale), If-None-Match on reads (304).

flask-smorest's own ETag support makes If-Match mandatory (428); the original contract's
clients never send it, so the check here is opt-in per request.
"""

import hashlib

from flask import Response, request
from werkzeug.http import quote_etag

from taskapp.web.api import string_header
from taskapp.web.errors import abort

ETAG_HEADER = {"ETag": string_header("Version tag of the task", required=True)}
IF_MATCH = string_header("Optional: refuse the write with 412 unless the task still has this ETag.", "If-Match")
IF_NONE_MATCH = string_header("Answer 304 when the task still has this ETag.", "If-None-Match")


def etag_of(task) -> str:
    """A strong tag for this version of the task: updated_at moves on every write."""
    version = f"{task['id']}:{task['updated_at'].isoformat()}"
    return hashlib.sha256(version.encode()).hexdigest()[:32]


def etag_header(task) -> dict:
    return {"ETag": quote_etag(etag_of(task))}


def check_if_match(task) -> None:
    """412 when the client sent If-Match and it names another version."""
    if request.if_match and etag_of(task) not in request.if_match:
        abort(412)


def answer_with_etag(task):
    """The task with its ETag, or the 304 answer when If-None-Match already names this version."""
    tag = etag_of(task)
    headers = {"ETag": quote_etag(tag)}
    if request.if_none_match.contains_weak(tag):
        return Response(status=304, headers=headers)
    return task, headers
