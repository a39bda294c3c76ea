"""Schemathesis against `taskapp serve`, driven by the project's own OpenAPI document.

The document is specs/openapi.json (tests/api/test_openapi.py holds it equal to what the app
serves). Every operation is fuzzed with a real token and `user_id` pinned to `me`, then the
stateful phase follows the document's links. The checks: no 5xx, every status code and
content type documented for its operation, every body as documented, every header the
document calls required sent (and as documented).
"""

import itertools
import uuid
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from taskapp.batch.schemas import OPERATIONS as OPERATIONS_BY_OP
from tests.support.served import Served
from tests.support.users import new_user

DOCUMENT = Path(__file__).resolve().parents[2] / "specs" / "openapi.json"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
# Valid data must also be accepted. (Not the converse: unknown query parameters are ignored by
# design, which no OpenAPI 3.0 document can say, so negative_data_rejection would always object.)
POSITIVE_CHECKS = [*CHECKS, positive_data_acceptance]
SCHEMA = schemathesis.openapi.from_path(
    str(DOCUMENT),
    config=SchemathesisConfig.from_dict({}),
)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
CASES = [(operation.label, mode) for operation in OPERATIONS for mode in GenerationMode
         # an operation without parameters or body has no invalid input to make
         if mode is GenerationMode.POSITIVE or operation.path_parameters or operation.query or operation.body]


# What the document cannot say about a task's schedule: a zone is an IANA name, and a
# recurrence is a rule (documented in prose) that needs a due_at it reaches. Positive cases
# get a valid combination, chosen from the generated values so every one is exercised.
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
RULES = ["FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO,WE", "FREQ=MONTHLY;BYMONTHDAY=-1", "FREQ=DAILY;INTERVAL=3;COUNT=10",
         "FREQ=YEARLY;UNTIL=20991231T235959Z", "FREQ=MONTHLY;BYDAY=-1FR;BYSETPOS=1"]


def make_schedule_valid(body) -> None:
    if not isinstance(body, dict):
        return
    if isinstance(body.get("time_zone"), str):
        body["time_zone"] = ZONES[len(body["time_zone"]) % len(ZONES)]
    if isinstance(body.get("recurrence"), str):
        body["recurrence"] = RULES[len(body["recurrence"]) % len(RULES)]
        body["due_at"] = "2030-01-15T09:00:00Z"  # one every rule above reaches, in every zone
    # A reminder is one of `at` and `before_due` (said in prose), and a relative one needs a due_at.
    if isinstance(body.get("reminders"), list):
        for reminder in body["reminders"]:
            if isinstance(reminder, dict) and "at" in reminder and "before_due" in reminder:
                del reminder["before_due"]
            elif isinstance(reminder, dict) and "at" not in reminder and "before_due" not in reminder:
                reminder["before_due"] = 10
        if any(isinstance(r, dict) and "before_due" in r for r in body["reminders"]) and body.get("due_at") is None:
            body["due_at"] = "2030-01-15T09:00:00Z"


# A webhook's URL must also resolve to an address the server may call (checked, not documented):
# the served API allows private addresses, and this one refuses connections at once.
FUZZ_RECEIVER = "http://127.0.0.1:9/fuzz"


def make_url_callable(body) -> None:
    if isinstance(body, dict) and isinstance(body.get("url"), str):
        body["url"] = FUZZ_RECEIVER


def make_list_valid(body, caller_sub: str) -> None:
    """A task's list must be one the caller edits, its assignee a member of that list (checked by
    the database, not documented as values): positive cases use the caller's Inbox and the caller."""
    if isinstance(body, dict):
        body.pop("list_id", None)
        if isinstance(body.get("assignee_id"), str):
            body["assignee_id"] = caller_sub


def make_batch_valid(body, caller_sub: str) -> None:
    """A batch's operations name each target once (an id or a ref, said in prose), refer only to
    refs made earlier, name new ones once, and carry bodies as valid as the single routes need
    (the ids are random: those operations find nothing, 404)."""
    if not isinstance(body, dict) or not isinstance(body.get("operations"), list):
        return
    for index, operation in enumerate(body["operations"]):
        if not isinstance(operation, dict):
            continue
        fields = OPERATIONS_BY_OP[operation["op"]].fields if operation.get("op") in OPERATIONS_BY_OP else {}
        for kind in ("task", "list"):
            operation.pop(f"{kind}_ref", None)
            if f"{kind}_id" in fields and f"{kind}_id" not in operation:
                operation[f"{kind}_id"] = str(uuid.uuid4())
        if isinstance(operation.get("ref"), str):
            operation["ref"] = f"{operation['ref'][:50]}-{index}"
        for name in ("task", "changes"):
            make_schedule_valid(operation.get(name))
            make_list_valid(operation.get(name), caller_sub)


KEYS = itertools.count()


def make_key_fresh(headers) -> None:
    """A generated Idempotency-Key, made unique: reusing one for another request is a 422 by design."""
    if headers and "Idempotency-Key" in headers:
        headers["Idempotency-Key"] = f"{headers['Idempotency-Key'][:200]}-{next(KEYS)}"


@pytest.fixture(scope="module")
def served_api(database):
    server = Served(database.app_url, workers=2, threads=4, WEBHOOK_ALLOW_PRIVATE="on")
    yield server
    server.close()


@pytest.fixture(scope="module")
def caller():
    return new_user("fuzz")


@pytest.mark.parametrize("label, mode", CASES, ids=[f"{label} {mode.value}" for label, mode in CASES])
def test_every_operation_answers_as_documented(served_api, caller, label, mode):
    operation = SCHEMA.find_operation_by_label(label)

    statuses = []

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    def fuzz(case):
        if case.path_parameters and "user_id" in case.path_parameters:
            case.path_parameters["user_id"] = "me"
        checks = CHECKS
        if mode is GenerationMode.POSITIVE:
            checks = POSITIVE_CHECKS
            if case.query:  # cursors and sync tokens are only valid as the server signed them (else 400)
                case.query.pop("cursor", None)
                case.query.pop("since", None)
            make_schedule_valid(case.body)
            make_url_callable(case.body)
            make_list_valid(case.body, caller.sub)
            make_batch_valid(case.body, caller.sub)
            make_key_fresh(case.headers)
        response = case.call_and_validate(base_url=served_api.url, headers=caller.headers, checks=checks)
        statuses.append(response.status_code)

    fuzz()
    # Not vacuous: the token and the pinned user_id let requests through, and bad ones are refused.
    print(label, sorted(set(statuses)))
    if mode is GenerationMode.POSITIVE:
        assert any(status < 300 or status == 404 for status in statuses), statuses
    else:
        assert any(400 <= status < 500 for status in statuses), statuses


def test_the_stateful_phase_follows_links_between_operations_without_a_failure(served_api):
    """Create, then get, replace, patch, complete and delete what was created (tasks, webhook
    subscriptions), in random orders."""
    seen = []

    class Workflow(SCHEMA.as_state_machine()):
        def __init__(self):
            # A user of its own per example: what a step draws depends on earlier answers (a
            # listed task's id), so each example must start from the same, empty, state for
            # hypothesis to replay it.
            super().__init__()
            self.caller = new_user("fuzz-flow")

        def before_call(self, case):
            if case.path_parameters and "user_id" in case.path_parameters:
                case.path_parameters["user_id"] = "me"
            make_schedule_valid(case.body)  # so that tasks and subscriptions are made, and their links followed
            make_url_callable(case.body)
            make_list_valid(case.body, self.caller.sub)

        def get_call_kwargs(self, case):
            return {"base_url": served_api.url, "headers": self.caller.headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            seen.append((case.operation.label, response.status_code))
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    # derandomize: the same examples every run, so that whether links were followed is not luck.
    Workflow.run(settings=settings(max_examples=60, stateful_step_count=10, deadline=None, derandomize=True,
                                   suppress_health_check=list(HealthCheck)))
    # Not vacuous: tasks and subscriptions were created and then reached through their links.
    assert ("POST /api/{user_id}/tasks", 201) in seen
    assert ("POST /api/{user_id}/webhooks", 201) in seen
    assert {label for label, status in seen if status == 200 and ("{task_id}" in label or "{webhook_id}" in label)}
