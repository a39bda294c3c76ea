"""What recurrence rules may cost: `.venv/bin/python -m bench.rules`.

1. In-process, the thread CPU time of writing each of a set of costly rules (normalise and
   anchor, as a POST does; then the next occurrence, as completing does): the accepted ones show
   the worst a rule may cost, the refused ones that the budget stops them.
2. Served (`taskapp serve`, 2 workers × 4 threads), another user's `GET …/summary` latency alone,
   then while 8 clients keep POSTing the costliest accepted rule in parallel.
Writes bench/results/rules.json and prints both.
"""

import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from bench import report
from bench.__main__ import IDENTITY_KEY_SECRET, SECRET, database
from bench.targets import ROOT, VENV_BIN, Server
from taskapp.identity.issuing import issue_token
from taskapp.tasks import recurrence

DUE = datetime(2026, 2, 13, 9, tzinfo=timezone.utc)
CANDIDATES = [
    "FREQ=DAILY;COUNT=1000",
    "FREQ=WEEKLY;COUNT=1000",
    "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;COUNT=1000",
    "FREQ=MONTHLY;COUNT=500",
    "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=500",
    "FREQ=MONTHLY;BYMONTHDAY=31;COUNT=300",
    "FREQ=YEARLY;COUNT=200",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=20",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=13;BYDAY=FR;COUNT=10",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=13;BYDAY=FR;COUNT=1000",
    "FREQ=YEARLY;COUNT=1000",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;BYSETPOS=" + ",".join(str(n) for n in range(1, 120)),
    "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
]


def cost(rule: str, rounds: int = 7) -> tuple[str, float]:
    """(accepted or the reason, median thread CPU milliseconds of writing and completing it)."""
    spent, outcome = [], "accepted"
    for _ in range(rounds):
        started = time.thread_time()
        try:
            normalised = recurrence.normalise(rule)
            last = recurrence.anchor(normalised, "Europe/Berlin", DUE)
            recurrence.next_occurrence(recurrence.Series(normalised, "Europe/Berlin", "due", DUE, last), DUE)
        except recurrence.RecurrenceError as refused:
            outcome = f"422: {str(refused)[:60]}"
        spent.append((time.thread_time() - started) * 1000)
    return outcome, statistics.median(spent)


def get(url: str, token: str) -> float:
    started = time.perf_counter()
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


def post_rule(url: str, token: str, rule: str) -> None:
    body = json.dumps({"title": "costly", "recurrence": rule, "due_at": DUE.isoformat()}).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
    except urllib.error.HTTPError as error:
        error.read()


def latencies(base: str, token: str, seconds: float) -> list[float]:
    found, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        found.append(get(base + "/api/me/summary", token))
        time.sleep(0.02)
    return found


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"median_ms": round(statistics.median(ordered), 1), "p90_ms": round(ordered[int(len(ordered) * 0.9)], 1),
            "requests": len(ordered)}


def main() -> int:
    costs = [{"rule": rule, "outcome": outcome, "cpu_ms": round(ms, 1)}
             for rule in CANDIDATES for outcome, ms in [cost(rule)]]
    for row in costs:
        print(f"{row['cpu_ms']:7.1f} ms  {row['outcome'][:40]:<40}  {row['rule'][:70]}")
    accepted = [row for row in costs if row["outcome"] == "accepted"]
    costliest = max(accepted, key=lambda row: row["cpu_ms"])["rule"]
    with database() as (admin_url, app_url), tempfile.TemporaryDirectory() as folder:
        env = {"DATABASE_URL": app_url, "JWT_SECRET_KEY": SECRET, "TASKAPP_IDENTITY_KEY": IDENTITY_KEY_SECRET}
        token = issue_token("reader", SECRET, 3600)
        served = Server("taskapp", [str(VENV_BIN / "taskapp"), "serve", "--port", "{port}", "--workers", "2",
                                    "--threads", "4"], env, Path(folder) / "serve.log", cwd=ROOT)
        served.start("/api/me/summary", {"Authorization": f"Bearer {token}"})
        try:
            alone = latencies(served.url, token, 10)
            stop = threading.Event()

            def hammer(number: int) -> None:
                writer = issue_token(f"writer-{number}", SECRET, 3600)
                while not stop.is_set():
                    post_rule(served.url + "/api/me/tasks", writer, costliest)

            clients = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
            for client in clients:
                client.start()
            time.sleep(1)
            loaded = latencies(served.url, token, 20)
            stop.set()
            for client in clients:
                client.join()
        finally:
            served.stop()
    document = {"machine": report.machine(), "rules": costs, "costliest_accepted": costliest,
                "summary_alone": summary(alone), "summary_with_8_parallel_costliest": summary(loaded)}
    print(f"costliest accepted: {costliest}")
    print(f"another user's GET …/summary alone: {document['summary_alone']}")
    print(f"… with 8 clients POSTing it in parallel: {document['summary_with_8_parallel_costliest']}")
    out = ROOT / "bench" / "results" / "rules.json"
    out.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
