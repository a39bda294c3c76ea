"""Where a request's time goes, in-process: `.venv/bin/python -m bench.profile [scenario] [requests]`.

Seeds a small database, builds the app exactly as served (minus the HTTP server), and runs one
scenario's requests through Flask's test client under cProfile. Prints milliseconds per
request and the functions that took the most time. Scenarios: list20, list100, get, toggle.
"""

import cProfile
import io
import os
import pstats
import random
import sys
import time

from bench.__main__ import IDENTITY_KEY_SECRET, SECRET, database
from bench.seed import sample_ids, seed
from taskapp.identity.issuing import issue_token

SCENARIOS = {
    "list20": lambda client, task_id, headers: client.get("/api/me/tasks?limit=20", headers=headers),
    "list100": lambda client, task_id, headers: client.get("/api/me/tasks?limit=100", headers=headers),
    "get": lambda client, task_id, headers: client.get(f"/api/me/tasks/{task_id}", headers=headers),
    "toggle": lambda client, task_id, headers: client.patch(f"/api/me/tasks/{task_id}/complete", headers=headers),
}


def main() -> int:
    scenario = sys.argv[1] if len(sys.argv) > 1 else "list20"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    send = SCENARIOS[scenario]
    with database() as (admin_url, app_url):
        seed(admin_url, users=50)
        ids = sample_ids(admin_url, users=50)
        os.environ.pop("DATABASE_ADMIN_URL", None)
        from taskapp import create_app

        app = create_app({"DATABASE_URL": app_url, "JWT_SECRET_KEY": SECRET,
                          "TASKAPP_IDENTITY_KEY": IDENTITY_KEY_SECRET})
        client = app.test_client()
        headers = {user: {"Authorization": f"Bearer {issue_token(user, SECRET)}"} for user in ids}

        def run(times):
            for _ in range(times):
                user = random.choice(list(ids))
                response = send(client, random.choice(ids[user]), headers[user])
                assert response.status_code == 200, response.status_code

        run(200)  # warm up
        started = time.perf_counter()
        run(count)
        plain = (time.perf_counter() - started) / count * 1000
        profiler = cProfile.Profile()
        profiler.runcall(run, count)
        report = io.StringIO()
        pstats.Stats(profiler, stream=report).sort_stats("cumulative").print_stats(40)
        print(f"{scenario}: {plain:.3f} ms per request (without the profiler)")
        print(report.getvalue())
        app.extensions["taskapp.db"]["engine"].dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
