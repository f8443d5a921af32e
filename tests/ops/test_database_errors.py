"""A database connection lost in the middle of a request answers 503 in the error shape, like a refused one."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from nexus.catalog import services

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
