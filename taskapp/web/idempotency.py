"""Idempotent writes: the `Idempotency-Key` request header (draft-ietf-httpapi-idempotency-key-header).

A write sent with a key is processed once. Its answer (status, body, Content-Type, Location,
ETag) is stored with the key and a fingerprint of the request, in the write's own transaction,
which commits only after the answer is made; a retry with the same key and request gets the
stored answer again, marked `Idempotent-Replayed: true`, and writes nothing. While the first
request runs, a transaction-scoped advisory lock on (user, key) makes duplicates answer 409
at once instead of waiting. Keys are rows under row-level security, like tasks: one user's
keys are invisible to another. Only successful answers are stored: a refused write wrote
nothing, and its retry is processed anew.
"""

import hashlib
import json

from flask import Response, current_app, g, request
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from taskapp.database.transaction import commit, execute, first, hold_commit, release_commit
from taskapp.web.api import string_header
from taskapp.web.errors import abort, database_error, database_unavailable

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
MAX_LENGTH = 255
REPLAYED_HEADERS = ("Content-Type", "Location", "ETag")
RETRY_AFTER_SECONDS = "1"
# What the OpenAPI document says a key is: printable ASCII, no space at either end (HTTP would
# strip it), and not an empty quoted string.
KEY_PATTERN = '^(?!""$)[!-~]([ -~]{0,253}[!-~])?$'

# The OpenAPI document's description of the request header and of the answer's.
KEY_PARAMETER = string_header(
    "Optional: 1-255 printable ASCII characters of your choosing. A retry with the same key and the same "
    "request gets the first answer again (`Idempotent-Replayed: true`) and writes nothing; the same key "
    "with another request is 422, while the first is still running 409. Keys are yours alone and "
    "are kept as long as the server's TASKAPP_IDEMPOTENCY_KEY_HOURS says (24 hours unless its operator "
    "changed it).",
    HEADER,
    minLength=1, maxLength=255, pattern=KEY_PATTERN,
)
REPLAYED_HEADER = {REPLAYED: string_header("`true` when this is the stored answer to an earlier "
                                           "request with the same Idempotency-Key.")}

# The lock is the transaction's: it goes with the commit or rollback, on PgBouncer too.
LOCK = text("SELECT pg_try_advisory_xact_lock(CAST(:lock AS bigint)) AS mine")
FIND = text("""
SELECT fingerprint, status, body, headers, expires_at > now() AS live
FROM idempotency_keys WHERE key = :key
""")
FORGET = text("DELETE FROM idempotency_keys WHERE key = :key")
# The answer, stored; and a few of the owner's expired keys removed on the way.
STORE = text("""
WITH expired AS (
    DELETE FROM idempotency_keys
    WHERE key IN (SELECT key FROM idempotency_keys WHERE expires_at <= now() ORDER BY expires_at LIMIT 10)
)
INSERT INTO idempotency_keys (key, fingerprint, status, body, headers, expires_at)
VALUES (:key, :fingerprint, :status, :body, CAST(:headers AS jsonb), now() + make_interval(hours => :hours))
""")


def valid_key(raw: str) -> str:
    """The key: 1-255 printable ASCII characters, sent bare or as a structured-field string ("…")."""
    key = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
    if not key or len(key) > MAX_LENGTH or not all(" " <= ch <= "~" for ch in key):
        abort(400, f"{HEADER} must be 1 to {MAX_LENGTH} printable ASCII characters.")
    return key


def lock_number(key: str) -> int:
    """The advisory lock of (user, key): 64 bits of a hash, so two pairs share one practically never."""
    digest = hashlib.sha256(f"taskapp.idempotency {len(g.user_id)} {g.user_id} {key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def fingerprint() -> str:
    """The request, as far as a retry must repeat it: method, path (for its user) and JSON body."""
    body = request.get_data(cache=True)
    try:
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode() if body else b""
    except (ValueError, RecursionError):
        pass  # not JSON: compared as sent
    path = request.path.replace("/api/me/", f"/api/{g.user_id}/", 1)
    digest = hashlib.sha256()
    for part in (request.method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def begin() -> Response | None:
    """Before a write: replay a stored answer, refuse a key in use or reused, or note the key."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = valid_key(raw)
    mine = first(LOCK, {"lock": lock_number(key)})["mine"]
    if not mine:
        abort(409, f"A request with this {HEADER} is still being processed; retry when it has finished.",
              headers={"Retry-After": RETRY_AFTER_SECONDS})
    sent = fingerprint()
    stored = first(FIND, {"key": key})
    if stored is not None and not stored["live"]:
        execute(FORGET, {"key": key})
        stored = None
    if stored is None:
        g.idempotency = (key, sent)
        hold_commit()  # the write commits with its answer, in finish()
        return None
    if stored["fingerprint"] != sent:
        abort(422, f"This {HEADER} was used for a different request; use a new key for a new request.")
    headers = {**stored["headers"], REPLAYED: "true"}
    return Response(stored["body"], status=stored["status"], headers=headers)


def finish(response: Response) -> Response:
    """After a write sent with a key: store its answer beside it, then commit both."""
    pending = g.pop("idempotency", None)
    if pending is None or not 200 <= response.status_code < 300:
        return response
    key, sent = pending
    release_commit()
    headers = {name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers}
    try:
        execute(STORE, {"key": key, "fingerprint": sent, "status": response.status_code,
                        "body": response.get_data(as_text=True), "headers": json.dumps(headers),
                        "hours": current_app.config["TASKAPP_IDEMPOTENCY_KEY_HOURS"]})
        commit()
    except OperationalError as error:  # neither the write nor its key: the client may retry
        return database_unavailable(error)
    except DBAPIError as error:
        return database_error(error)
    except SQLAlchemyError as error:  # no connection to be had
        return database_unavailable(error)
    return response
