"""Fixtures for both test runs: the embedded default, and real PostgreSQL, Redis and RabbitMQ with a worker.

`NEXUS_TEST_SERVICES=1` selects the real-services run: a fresh PostgreSQL database is created for the session
and dropped after it, Redis database 15 holds the cache, revocations and rate limits, and a real Celery worker
process consumes a queue of its own on RabbitMQ. The settings reach the worker through the environment.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from tests import services

ROOT = Path(__file__).resolve().parent.parent
SERVICES = os.environ.get("NEXUS_TEST_SERVICES") == "1"
RUN_ID = secrets.token_hex(4)
TMP = Path(tempfile.mkdtemp(prefix=f"nexus-test-{RUN_ID}-"))


def _test_environment() -> dict[str, str]:
    env = {
        "NEXUS_ENV": "development",
        "SECRET_KEY": "test-secret",
        "JWT_SECRET_KEY": "test-jwt-secret-of-at-least-32-bytes!",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST": "1024",
        "MAIL_BACKEND": "file",
        "MAIL_OUTBOX_FILE": str(TMP / "mail.jsonl"),
        "MEDIA_ROOT": str(TMP / "media"),
        "OUTBOX_RELAY_AFTER_SECONDS": "0",
    }
    if SERVICES:
        env.update(
            DATABASE_URL=f"{services.POSTGRES_URL}/nexus_test_{RUN_ID}",
            REDIS_URL=services.REDIS_URL,
            CACHE_KEY_PREFIX=f"nexus-test-{RUN_ID}:",
            CELERY_BROKER_URL=services.BROKER_URL,
            CELERY_TASK_DEFAULT_QUEUE=f"nexus-test-{RUN_ID}",
        )
    else:
        for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "POSTGRES_HOST", "POSTGRES_DB"):
            os.environ.pop(name, None)
        env.update(DATABASE_URL=f"sqlite:///{TMP / 'nexus.db'}", CACHE_TYPE="SimpleCache")
    return env


TEST_ENV = _test_environment()
os.environ.update(TEST_ENV)


def pytest_report_header(config):
    mode = "real services (PostgreSQL, Redis, RabbitMQ, Celery worker)" if SERVICES else "embedded default (SQLite)"
    return f"nexus test run: {mode}; database {TEST_ENV['DATABASE_URL']}"


@pytest.fixture(scope="session")
def app():
    """The app under test, built once per run by create_app with the test settings."""
    if SERVICES:
        services.require_all()
        services.create_database(TEST_ENV["DATABASE_URL"])
    from nexus import create_app
    from nexus.extensions import db

    # Rate-limit counters of their own: parallel runs share Redis, and each test's limiter.reset() clears them.
    app = create_app({"TESTING": True, "RATELIMIT_STORAGE_OPTIONS": {"key_prefix": f"nexus-test-{RUN_ID}-limits"}})
    with app.app_context():
        db.drop_all()
        db.create_all()
    worker = _start_worker() if SERVICES else None
    yield app
    if worker is not None:
        worker.kill()  # the run is over: its queue is deleted next, so nothing is lost by not waiting
        worker.wait()
        services.delete_queue(TEST_ENV["CELERY_TASK_DEFAULT_QUEUE"])
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if SERVICES:
        services.drop_database(TEST_ENV["DATABASE_URL"])


def _start_worker() -> subprocess.Popen:
    with open(TMP / "worker.log", "w") as log:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "wsgi:celery_app",
                "worker",
                "--loglevel=INFO",
                "--pool=threads",
                "--concurrency=4",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                # A node name of its own: parallel runs' workers would otherwise fight over one exclusive pidbox queue.
                f"--hostname=nexus-test-{RUN_ID}@%h",
            ],
            cwd=ROOT,
            env={**os.environ, **TEST_ENV},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "ready." in (TMP / "worker.log").read_text():
            return worker
        if worker.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"the Celery worker did not start:\n{(TMP / 'worker.log').read_text()}")


@pytest.fixture(autouse=True)
def _clean_state(app):
    """Every test starts with empty tables, cache, rate limits and mailbox."""
    yield
    from nexus.extensions import cache, db, limiter

    db.session.remove()
    _truncate_all(db)
    cache.clear()
    limiter.reset()
    mail = Path(TEST_ENV["MAIL_OUTBOX_FILE"])
    if mail.exists():
        mail.unlink()


def _truncate_all(db) -> None:
    # A task still running in the worker can deadlock with TRUNCATE; PostgreSQL aborts one side: try again.
    from sqlalchemy.exc import OperationalError

    for attempt in range(5):
        try:
            return _truncate_once(db)
        except OperationalError as exc:
            if attempt == 4 or "deadlock" not in str(exc):
                raise


def _truncate_once(db) -> None:
    tables = [table.name for table in db.metadata.sorted_tables]
    with db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # self-referencing categories: RESTRICT would refuse a parent deleted before its child
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        # DELETE, child tables first: for a test's handful of rows it is far cheaper than TRUNCATE.
        # Ids are not reset; tests never rely on them.
        for table in reversed(tables):
            connection.execute(text(f"DELETE FROM {table}"))
        connection.commit()
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


# -- users and tokens --------------------------------------------------------------------------------


@pytest.fixture
def customer(app):
    """An active, verified customer whose password is tests.factories.PASSWORD."""
    from tests.factories import UserFactory

    return UserFactory(email="customer@example.com", first_name="Cora", is_verified=True)


@pytest.fixture
def other_customer(app):
    """A second customer, for checks that one user cannot reach another's objects."""
    from tests.factories import UserFactory

    return UserFactory(email="other@example.com", first_name="Otto", is_verified=True)


@pytest.fixture
def admin(app):
    """An active staff user."""
    from tests.factories import UserFactory

    return UserFactory(email="admin@example.com", first_name="Ada", is_staff=True, is_verified=True)


def bearer(user) -> dict[str, str]:
    from nexus.auth.tokens import issue_tokens

    return {"Authorization": f"Bearer {issue_tokens(user)['access']}"}


@pytest.fixture
def customer_headers(customer):
    """Authorization headers of `customer`."""
    return bearer(customer)


@pytest.fixture
def other_headers(other_customer):
    """Authorization headers of `other_customer`."""
    return bearer(other_customer)


@pytest.fixture
def admin_headers(admin):
    """Authorization headers of `admin`."""
    return bearer(admin)
