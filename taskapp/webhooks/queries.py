"""SQL for webhooks, as SQLAlchemy Core statements; row-level security decides the owner."""

from itertools import combinations

from sqlalchemy import (
    DateTime,
    Integer,
    Text,
    Uuid,
    bindparam,
    delete,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from taskapp.database.tables import webhook_attempts, webhook_deliveries, webhooks
from taskapp.database.transaction import distributed

MAX_PER_USER = 10

WEBHOOK = [webhooks.c.id, webhooks.c.url, webhooks.c.events, webhooks.c.active, webhooks.c.created_at,
           webhooks.c.updated_at]
WEBHOOK_ID = bindparam("webhook_id", type_=Uuid)
LIMIT = bindparam("limit", type_=Integer)

# One subscription made at a time per user, so that two at once cannot pass the limit
# together: a lock on the user's name, held until the transaction ends.
LOCK_OWNER = select(func.pg_advisory_xact_lock(func.hashtextextended(
    "taskapp.webhooks:" + bindparam("owner", type_=Text), 0)))
COUNT = select(func.count().label("count")).select_from(webhooks)
CREATE = (
    insert(webhooks)
    .values(url=bindparam("url", type_=Text), events=bindparam("events", type_=ARRAY(Text)),
            secret=bindparam("secret", type_=Text))
    .returning(*WEBHOOK, webhooks.c.secret)
)
LIST = select(*WEBHOOK).order_by(webhooks.c.created_at, webhooks.c.id)
GET = select(*WEBHOOK).where(webhooks.c.id == WEBHOOK_ID)
DELETE = delete(webhooks).where(webhooks.c.id == WEBHOOK_ID).returning(webhooks.c.id)

ATTEMPT = [
    webhook_attempts.c.id,
    webhook_attempts.c.delivery_id.label("event_id"),
    webhook_deliveries.c.type,
    webhook_attempts.c.attempt,
    webhook_attempts.c.status,
    webhook_attempts.c.error,
    webhook_attempts.c.attempted_at,
]
NEWEST_FIRST = (webhook_attempts.c.attempted_at.desc(), webhook_attempts.c.id.desc())
AFTER = tuple_(webhook_attempts.c.attempted_at, webhook_attempts.c.id) < tuple_(
    bindparam("after_at", type_=DateTime(timezone=True)), bindparam("after_id", type_=Uuid)
)


def _attempts(*conditions, by_list: bool = False):
    """by_list: joined on the list too, as a Citus cluster needs (it joins on the column it
    distributes both by; on a single server an event from before lists has none)."""
    joined = (webhook_deliveries.c.user_id == webhook_attempts.c.user_id) & (
        webhook_deliveries.c.id == webhook_attempts.c.delivery_id)
    if by_list:
        joined &= webhook_deliveries.c.list_id == webhook_attempts.c.list_id
    return (
        select(*ATTEMPT)
        .join(webhook_deliveries, joined)
        .where(webhook_attempts.c.webhook_id == WEBHOOK_ID, *conditions)
        .order_by(*NEWEST_FIRST)
        .limit(LIMIT)
    )


ATTEMPTS, ATTEMPTS_AFTER = _attempts(), _attempts(AFTER)
ATTEMPTS_ON_CITUS, ATTEMPTS_AFTER_ON_CITUS = _attempts(by_list=True), _attempts(AFTER, by_list=True)

# One statement per set of fields a PATCH may change (the empty set only touches updated_at).
CHANGEABLE = ("url", "events", "active")
CHANGES = {
    frozenset(names): update(webhooks)
    .where(webhooks.c.id == WEBHOOK_ID)
    .values(updated_at=func.now(), **{name: bindparam(name, type_=webhooks.c[name].type) for name in names})
    .returning(*WEBHOOK)
    for size in range(len(CHANGEABLE) + 1) for names in combinations(CHANGEABLE, size)
}


def lock_owner(user_id: str):
    return LOCK_OWNER, {"owner": user_id}


def count():
    return COUNT, {}


def create(url: str, events: list[str], secret: str):
    return CREATE, {"url": url, "events": events, "secret": secret}


def listing():
    return LIST, {}


def get(webhook_id):
    return GET, {"webhook_id": webhook_id}


def change(webhook_id, changes: dict):
    return CHANGES[frozenset(changes)], {"webhook_id": webhook_id, **changes}


def remove(webhook_id):
    return DELETE, {"webhook_id": webhook_id}


def attempts(webhook_id, limit: int, after=None):
    parameters = {"webhook_id": webhook_id, "limit": limit}
    on_citus = distributed()
    if after is None:
        return (ATTEMPTS_ON_CITUS if on_citus else ATTEMPTS), parameters
    parameters["after_at"], parameters["after_id"] = after
    return (ATTEMPTS_AFTER_ON_CITUS if on_citus else ATTEMPTS_AFTER), parameters
