"""What the benchmark runs against: a PostgreSQL database per catalog size, its schema and seed, Redis, gunicorn."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import redis

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the project's venv: `make bench` runs us with .venv/bin/python
WORK = ROOT / "bench" / ".work"  # logs, path lists, tokens, media: scratch, not tracked

PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
# BENCH_BROKER_URL= (empty) runs the tasks eagerly inside the requests instead, with no worker (for comparison).
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
# A queue of this run's own on the shared broker: other runs' workers (the test suites') never see its tasks.
QUEUE = f"nexus-bench-{os.getpid()}"
WORKERS = 2

# Settings that could leak in from the caller's shell and change what is measured.
_APP_SETTINGS = (
    "DATABASE_URL",
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_DB",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "REDIS_URL",
    "CACHE_TYPE",
    "CACHE_KEY_PREFIX",
    "RATELIMIT_STORAGE_URI",
    "CELERY_BROKER_URL",
    "CELERY_TASK_DEFAULT_QUEUE",
    "WORKER_METRICS_PORT",
    "FLASK_ENV",
    "MAIL_BACKEND",
    "MAIL_OUTBOX_FILE",
    "SMTP_HOST",
    "ALLOWED_HOSTS",
    "PAGE_SIZE",
)


def database_name(size: int) -> str:
    return f"nexus_bench_{size}"


def database_url(name: str) -> str:
    return f"{PG_SERVER.replace('postgresql://', 'postgresql+psycopg2://', 1)}/{name}"


def connect(name: str):
    """A psycopg2 connection (autocommit) to one of the bench databases, for set-up reads and checks."""
    connection = psycopg2.connect(f"{PG_SERVER}/{name}")
    connection.autocommit = True
    return connection


def query(name: str, sql: str, params: tuple | dict = ()) -> list[tuple]:
    with connect(name) as connection, connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def database_exists(name: str) -> bool:
    return bool(query("postgres", "SELECT 1 FROM pg_database WHERE datname = %s", (name,)))


def recreate_database(name: str) -> None:
    connection = connect("postgres")
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()


def drop_database(name: str) -> None:
    connection = connect("postgres")
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        connection.close()


def vacuum_analyze(name: str) -> None:
    """What a freshly bulk-loaded production database gets before it takes traffic: visibility map and planner
    statistics, then a CHECKPOINT, so that the load's dirty pages are written now rather than by the checkpointer
    while the first server is measured (its spread writes compete with the commits' WAL flushes)."""
    connection = connect(name)
    try:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
            cursor.execute("CHECKPOINT")
    finally:
        connection.close()


def postgres_version() -> str:
    return query("postgres", "SHOW server_version")[0][0]


def flush_redis() -> None:
    redis.Redis.from_url(REDIS_URL).flushdb()


@dataclass(frozen=True)
class Secrets:
    """One pair for the whole run, so tokens made under one server stay valid under the next."""

    secret_key: str
    jwt_secret_key: str

    @classmethod
    def generate(cls) -> Secrets:
        return cls(secrets.token_urlsafe(48), secrets.token_urlsafe(48))


def app_env(*, database: str, keys: Secrets, cache_off: bool = False) -> dict[str, str]:
    """The app's production environment for one database; CACHE_TYPE=NullCache turns the response cache off.

    As in production (docker-compose.yml), background tasks go through RabbitMQ to a Celery worker
    (`celery_worker`), on a queue of this run's own."""
    env = {name: value for name, value in os.environ.items() if name not in _APP_SETTINGS}
    env.update(
        {
            "FLASK_APP": "wsgi:app",
            "NEXUS_ENV": "production",
            "SECRET_KEY": keys.secret_key,
            "JWT_SECRET_KEY": keys.jwt_secret_key,
            "DATABASE_URL": database_url(database),
            "REDIS_URL": REDIS_URL,
            "RATELIMIT_ENABLED": "0",
            "MEDIA_ROOT": str(WORK / "media"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if BROKER_URL:
        env.update({"CELERY_BROKER_URL": BROKER_URL, "CELERY_TASK_DEFAULT_QUEUE": QUEUE})
    if cache_off:
        env["CACHE_TYPE"] = "NullCache"
    return env


def run_cli(args: list[str], *, env: dict[str, str], log: Path) -> None:
    """Run `flask <args>` (or a bench script) in the project, its output appended to `log`; fail loudly."""
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(args)}\n")
        out.flush()
        done = subprocess.run(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode:
        tail = "".join(log.read_text().splitlines(keepends=True)[-25:])
        raise RuntimeError(f"`{' '.join(args)}` failed (exit {done.returncode}); end of {log}:\n{tail}")


def migrations_ready() -> bool:
    return any((ROOT / "migrations" / "versions").glob("*.py"))


def build_schema(*, env: dict[str, str], log: Path) -> str:
    """`flask db upgrade` once the project has a migration; until then the models' create_all."""
    if migrations_ready():
        run_cli([str(BIN / "flask"), "db", "upgrade"], env=env, log=log)
        return "flask db upgrade"
    run_cli([str(BIN / "python"), str(ROOT / "bench" / "create_schema.py")], env=env, log=log)
    return "create_all (no migration yet)"


def seed(size: int, *, env: dict[str, str], log: Path) -> float:
    """`flask seed-demo --products N`; returns its wall time in seconds."""
    started = time.perf_counter()
    run_cli([str(BIN / "flask"), "seed-demo", "--products", str(size), "--seed", "20261126"], env=env, log=log)
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    """A tiny JSON client for set-up calls (registration, sign-in, admin writes)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        payload = error.read()
        try:
            return error.code, json.loads(payload or b"{}")
        except ValueError:
            return error.code, {"raw": payload.decode(errors="replace")}


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name (2nd field) may hold spaces; the parent id is the 2nd field after its ")".
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Server:
    url: str
    process: subprocess.Popen

    def worker_pids(self) -> list[int]:
        return _children(self.process.pid)

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each gunicorn worker (not the master), in MB."""
        return [round(rss_mb(pid), 1) for pid in self.worker_pids()]


@contextmanager
def gunicorn(env: dict[str, str], *, log: Path) -> Iterator[Server]:
    """gunicorn from the project's gunicorn.conf.py: 2 workers, a free local port, no access log, no recycling."""
    port = free_port()
    env = {
        **env,
        "GUNICORN_WORKERS": str(WORKERS),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_ACCESS_LOG": "/dev/null",
        # Workers live through the whole load, so their memory at the end is what the load left.
        "GUNICORN_MAX_REQUESTS": "0",
    }
    out = log.open("a")
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Server(url=f"http://127.0.0.1:{port}", process=process)
    try:
        _wait_until_up(server, log)
        yield server
    finally:
        stop(process)
        out.close()


def stop(process: subprocess.Popen) -> None:
    """SIGTERM (a graceful stop), then SIGKILL after 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(server: Server, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.process.returncode}; see {log}")
        try:
            status, _ = http("GET", f"{server.url}/healthz")
            if status == 200 and len(server.worker_pids()) >= WORKERS:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer /healthz within {timeout:.0f} s; see {log}")


@contextmanager
def celery_worker(env: dict[str, str], *, log: Path) -> Iterator[subprocess.Popen]:
    """The project's worker command (docker-compose.yml's `worker`: threads pool, concurrency 8) on this run's
    queue; stopped with a warm shutdown at the end, and the queue deleted."""
    out = log.open("a")
    process = subprocess.Popen(
        [
            str(BIN / "celery"),
            "-A",
            "wsgi:celery_app",
            "worker",
            "--loglevel=INFO",
            "--pool=threads",
            "--concurrency=8",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            # A node name of its own: workers of other runs on the broker would clash over one pidbox queue.
            f"--hostname={env['CELERY_TASK_DEFAULT_QUEUE']}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while "ready." not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not start; see {log}")
            time.sleep(0.2)
        yield process
    finally:
        stop(process)
        out.close()
        delete_queue(env["CELERY_TASK_DEFAULT_QUEUE"])


def queued_messages(queue: str) -> int:
    """Messages waiting in a queue (not those a worker holds)."""
    from kombu import Connection

    with Connection(BROKER_URL, connect_timeout=2) as connection:
        channel = connection.channel()
        try:
            return channel.queue_declare(queue, passive=True).message_count
        finally:
            channel.close()


def delete_queue(queue: str) -> None:
    from kombu import Connection

    try:
        with Connection(BROKER_URL, connect_timeout=2) as connection:
            channel = connection.channel()
            channel.queue_delete(queue)
            channel.close()
    except Exception as exc:  # the queue is scratch: a failure to delete it must not fail the run
        print(f"could not delete queue {queue}: {exc}", file=sys.stderr)
