"""Where the real services of the second test run live, and how to reach them."""

from __future__ import annotations

import os
import socket

import pytest
from sqlalchemy import create_engine, text

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BROKER_URL = os.environ.get("TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")

ENDPOINTS = {"PostgreSQL": ("127.0.0.1", 5432), "Redis": ("127.0.0.1", 6379), "RabbitMQ": ("127.0.0.1", 5672)}


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_all() -> None:
    down = [name for name, address in ENDPOINTS.items() if not reachable(*address)]
    if down:
        pytest.exit(f"real-services run: {', '.join(down)} not reachable", returncode=3)


def delete_queue(name: str) -> None:
    from kombu import Connection

    with Connection(BROKER_URL, connect_timeout=2) as connection:
        channel = connection.channel()
        channel.queue_delete(name)
        channel.close()


def _admin_engine():
    return create_engine(f"{POSTGRES_URL}/postgres", isolation_level="AUTOCOMMIT")


def create_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    engine = _admin_engine()
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    engine = _admin_engine()
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


if __name__ == "__main__":
    # `python -m tests.services`: exit 0 when every service answers, else name the missing ones.
    import sys

    missing = [f"{name} at {host}:{port}" for name, (host, port) in ENDPOINTS.items() if not reachable(host, port)]
    for item in missing:
        print(f"not reachable: {item}", file=sys.stderr)
    sys.exit(1 if missing else 0)
