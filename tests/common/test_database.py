"""Reads that need no transaction (nexus.common.database.read_connection): autocommit on PostgreSQL, the
session's own connection on SQLite, and always given back at the end of the request."""

from __future__ import annotations

import pytest

from nexus.common.database import engines, read_connection
from nexus.extensions import db
from tests.conftest import SERVICES
from tests.factories import product_with_variants


@pytest.mark.skipif(not SERVICES, reason="the read engine exists on PostgreSQL only")
def test_on_postgresql_reads_run_in_autocommit_on_their_own_engine(app):
    with app.test_request_context():
        connection = read_connection()
        assert connection is read_connection()  # one per request
        assert connection.engine is not db.engine and connection.engine in engines()
        assert connection.connection.dbapi_connection.autocommit is True  # no BEGIN, no ROLLBACK
        assert connection.exec_driver_sql("SHOW transaction_isolation").scalar_one() == "read committed"


@pytest.mark.skipif(SERVICES, reason="SQLite, the embedded default")
def test_on_sqlite_reads_use_the_sessions_connection(app):
    with app.test_request_context():
        assert read_connection() is db.session.connection()
        assert engines() == [db.engine]


def test_the_read_connection_is_given_back_after_each_request(app, client):
    product_with_variants(name="Linen Shirt")
    for _ in range(3):
        assert client.get("/api/store/products/?search=never-asked").status_code == 200
    with app.app_context():
        assert all(engine.pool.checkedout() == 0 for engine in engines())
