"""A database connection lost in the middle of a request answers 503 in the error shape, like a refused one; an
idle pooled connection the database dropped is replaced before a request uses it."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.pool import NullPool

from nexus.catalog import services
from nexus.extensions import db
from tests.conftest import SERVICES

LOST = [
    OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly")),
    InterfaceError("SELECT 1", {}, Exception("connection already closed")),
    DBAPIError("SELECT 1", {}, Exception("terminating connection"), connection_invalidated=True),
]


@pytest.mark.parametrize("error", LOST, ids=["closed", "already-closed", "invalidated"])
def test_a_lost_connection_is_a_503(client, monkeypatch, error):
    def fail(**_kwargs):
        raise error

    monkeypatch.setattr(services, "read_categories", fail)
    response = client.get("/api/store/categories/")
    assert response.status_code == 503
    assert response.json["code"] == 503 and response.json["message"]
    assert response.headers["Retry-After"] == "5"


def test_other_database_errors_stay_500_without_a_traceback(client, monkeypatch):
    def fail(**_kwargs):
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    monkeypatch.setattr(services, "read_categories", fail)
    response = client.get("/api/store/categories/")
    assert response.status_code == 500
    assert response.json["code"] == 500 and response.json["message"]
    assert "duplicate key" not in response.text and "Traceback" not in response.text


def _uncached(n: int) -> str:
    """A read that goes to the database (a URL not answered before: no cached body)."""
    return f"/api/store/categories/?search=never-asked-{n}"


def _pings(app, monkeypatch) -> list:
    """Record every liveness check of a pooled connection (nexus/common/database.py)."""
    calls: list = []
    with app.app_context():
        dialect = db.engine.dialect
    real = dialect.do_ping

    def ping(dbapi_connection):
        calls.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", ping)
    return calls


def test_a_connection_used_a_moment_ago_is_not_checked_again(app, client, monkeypatch):
    pings = _pings(app, monkeypatch)
    monkeypatch.setitem(app.config, "DATABASE_PING_AFTER_SECONDS", 3600)
    for n in range(3):
        assert client.get(_uncached(n)).status_code == 200
    assert pings == []
    monkeypatch.setitem(app.config, "DATABASE_PING_AFTER_SECONDS", 0)  # every connection counts as idle now
    assert client.get(_uncached(3)).status_code == 200
    assert len(pings) == 1


@pytest.mark.skipif(not SERVICES, reason="drops a real PostgreSQL connection")
def test_an_idle_connection_the_database_dropped_is_replaced_before_use(app, client, monkeypatch):
    with app.app_context():
        db.engine.dispose()  # an empty pool: the next request leaves exactly one connection in it
    assert client.get(_uncached(0)).status_code == 200
    with app.app_context(), db.engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        url = db.engine.url
    # The database drops that connection (a restart, a proxy's idle timeout) while it waits in the pool.
    admin = create_engine(url, poolclass=NullPool)
    with admin.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    admin.dispose()
    pings = _pings(app, monkeypatch)
    monkeypatch.setitem(app.config, "DATABASE_PING_AFTER_SECONDS", 0)
    response = client.get(_uncached(1))
    assert response.status_code == 200, response.json
    assert pings  # found dead by the check, and replaced before the request used it
