"""The embedded default, end to end: `taskapp serve` with nothing configured, as an operator runs it."""


from tests.support.commands import Server, request, taskapp
from tests.support.receiver import Receiver


def test_serve_starts_on_embedded_postgres_and_data_survives_a_restart(tmp_path):
    data_dir = tmp_path
    server = Server(data_dir, WEBHOOK_ALLOW_PRIVATE="on")
    receiver = Receiver()
    try:
        assert any("Swagger UI:" in line for line in server.output)
        # The one command also runs a worker: a webhook is delivered.
        status, webhook = request("POST", server.base + "/api/me/webhooks", server.token,
                                  {"url": receiver.url, "events": ["task.created"]})
        assert status == 201, webhook
        status, task = request("POST", server.base + "/api/me/tasks", server.token, {"title": "survive"})
        assert status == 201
        [event] = receiver.events(webhook["secret"], 1, seconds=30)
        assert event["data"]["task"]["id"] == task["id"]
        status, tasks = request("GET", server.base + "/api/me/tasks", server.token)
        assert status == 200 and [t["id"] for t in tasks] == [task["id"]]
    finally:
        server.stop()
        receiver.close()

    # `taskapp token` signs with the secret the server stored in the data folder.
    result = taskapp("token", server.user, TASKAPP_DATA_DIR=str(data_dir))
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()

    restarted = Server(data_dir)
    try:
        status, tasks = request("GET", restarted.base + "/api/me/tasks", token)
        assert status == 200
        assert [(t["id"], t["title"]) for t in tasks] == [(task["id"], "survive")]
    finally:
        restarted.stop()
