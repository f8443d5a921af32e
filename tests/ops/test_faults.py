"""Faults of the real services, each on private instances or behind a proxy this test cuts, so the shared
PostgreSQL, Redis and RabbitMQ of other runs never notice. A RabbitMQ outage (orders and payments accepted,
the work delivered later through the outbox) is proven in tests/orders/test_concurrency.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import redis
import requests
from sqlalchemy import func, select

from nexus.extensions import db
from nexus.orders.models import SentNotification
from tests import services
from tests.conftest import ROOT, RUN_ID, TEST_ENV, TMP
from tests.factories import PASSWORD, UserFactory, product_with_variants
from tests.ops.conftest import auth, free_port, login, needs_services, wait_until

pytestmark = needs_services

PRODUCT = "/api/store/products/linen-shirt/"


def _timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_a_redis_outage_fails_no_request_and_ends_cleanly(app_server, proxy, private_redis):
    redis_proxy = proxy(private_redis)
    server = app_server(
        "redis-outage", REDIS_URL=f"redis://127.0.0.1:{redis_proxy.port}/0", CACHE_RETRY_AFTER_SECONDS="0.2"
    )
    product = product_with_variants(name="Linen Shirt", slug="linen-shirt")
    UserFactory(email="staff@example.com", is_staff=True, is_verified=True)
    UserFactory(email="shopper@example.com", is_verified=True)
    staff = login(server, "staff@example.com", PASSWORD)
    revoked = login(server, "shopper@example.com", PASSWORD)
    assert server.post("/api/auth/logout/", json={}, headers=auth(revoked["access"])).status_code == 204
    assert server.get(PRODUCT).json()["price"] == "25.00"
    # The read is cached: one entry (its body and the version it was built under) for the URL.
    (entry,) = redis.Redis(port=private_redis).keys(f"{TEST_ENV['CACHE_KEY_PREFIX']}products:*")
    before = redis.Redis(port=private_redis).get(entry)

    redis_proxy.cut()
    read, seconds = _timed(lambda: server.get(PRODUCT))
    assert (read.status_code, read.json()["price"]) == (200, "25.00")
    assert seconds < 2
    variant = f"{PRODUCT}variants/{product.variants[0].id}/"
    assert server.patch(variant, json={"price": "19.00"}, headers=auth(staff["access"])).status_code == 200
    assert server.get(PRODUCT).json()["price"] == "19.00"
    assert login(server, "shopper@example.com", PASSWORD)["access"]  # rate limits counted in memory meanwhile
    assert server.get("/api/auth/user/", headers=auth(revoked["access"])).status_code == 401  # still revoked
    assert server.get("/api/auth/user/", headers=auth(staff["access"])).status_code == 200
    ready = server.get("/readyz")
    assert (ready.status_code, ready.json()["cache"], ready.json()["status"]) == (200, "down", "degraded")

    redis_proxy.restore()
    wait_until(lambda: server.get("/readyz").json()["cache"] == "ok", what="the cache to be back")
    # The entry cached before the outage is still in Redis. The invalidation owed since the price change is
    # applied before any cached read: the new price is served, then cached under a new version.
    assert redis.Redis(port=private_redis).get(entry) == before
    prices: list[str] = []

    def cached_again() -> bool:
        prices.append(server.get(PRODUCT).json()["price"])
        return redis.Redis(port=private_redis).get(entry) not in (before, None)

    wait_until(cached_again, timeout=10, what="the product to be cached again under a new version")
    assert set(prices) == {"19.00"}
    assert server.get(PRODUCT).json()["price"] == "19.00"
    assert server.get("/api/auth/user/", headers=auth(revoked["access"])).status_code == 401


def test_a_postgresql_outage_answers_503_quickly_and_the_app_recovers_without_restart(app_server, proxy):
    database = TEST_ENV["DATABASE_URL"].rsplit("/", 1)[1]
    db_proxy = proxy(5432)
    server = app_server(
        "db-outage", DATABASE_URL=f"postgresql+psycopg2://postgres@127.0.0.1:{db_proxy.port}/{database}"
    )
    UserFactory(email="shopper@example.com", is_verified=True)
    tokens = login(server, "shopper@example.com", PASSWORD)
    assert server.get("/api/auth/user/", headers=auth(tokens["access"])).status_code == 200

    db_proxy.cut()  # every pooled connection is closed under the app, and new ones are refused
    for _ in range(2):
        response, seconds = _timed(lambda: server.get("/api/auth/user/", headers=auth(tokens["access"])))
        assert response.status_code == 503
        assert response.json()["code"] == 503 and response.json()["message"]
        assert "Traceback" not in response.text
        assert seconds < 5
    assert server.get("/readyz").json()["database"] == "down"

    db_proxy.restore()
    response = server.get("/api/auth/user/", headers=auth(tokens["access"]))
    assert (response.status_code, response.json()["email"]) == (200, "shopper@example.com")
    assert server.get("/readyz").status_code == 200


def _start_worker(name: str, queue: str, **env: str) -> subprocess.Popen:
    with open(TMP / f"{name}.log", "w") as log:  # the worker keeps its own copy of the file
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.ops.worker_app:celery_app",
                "worker",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
                f"--hostname={name}-{RUN_ID}@%h",
            ],  # fmt: skip
            cwd=ROOT,
            env={**os.environ, **TEST_ENV, "CELERY_TASK_DEFAULT_QUEUE": queue, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
def queue(app):
    """A queue of this test only, deleted at the end."""
    name = f"nexus-test-{RUN_ID}-kill"
    yield name
    services.delete_queue(name)


def test_a_worker_killed_mid_task_has_it_redelivered_and_applied_once(app, queue, tmp_path):
    first = _start_worker("killed-worker", queue)
    second = None
    try:
        app.extensions["celery"].send_task("ops.claim_once", args=["ops:kill-test", str(tmp_path)], queue=queue)
        wait_until(lambda: (tmp_path / "effects").exists(), what="the first worker to run the task")
        first.send_signal(signal.SIGKILL)
        first.wait()

        (tmp_path / "release").touch()
        port = free_port()
        second = _start_worker("second-worker", queue, WORKER_METRICS_PORT=str(port))
        wait_until(lambda: len((tmp_path / "runs").read_text().split()) == 2, what="the task to be redelivered")

        def succeeded() -> str | None:
            try:
                text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
            except requests.ConnectionError:
                return None
            return text if 'nexus_celery_tasks_total{outcome="success",task="ops.claim_once"} 1.0' in text else None

        wait_until(succeeded, what="the second worker to finish the task")
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.kill()
                worker.wait()
    assert len((tmp_path / "effects").read_text().split()) == 1
    with app.app_context():
        key = SentNotification.key == "ops:kill-test"
        assert db.session.scalar(select(func.count()).select_from(SentNotification).where(key)) == 1
