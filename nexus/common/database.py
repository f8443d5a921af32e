"""Database connections: pooled ones are checked before use when they sat idle long enough to have been dropped;
public catalog reads on PostgreSQL take theirs from an engine in autocommit.

SQLAlchemy's `pool_pre_ping` checks every connection at every checkout: one more round trip to the database
for every request, 8–15 % of a catalog read's time (bench/README.md, "Optimisations"). A connection a request
used a moment ago is as good as its last statement proved it, so it is only checked when it has been idle for
`DATABASE_PING_AFTER_SECONDS` (the pattern of SQLAlchemy's "pessimistic disconnect handling" with a custom
checkout event). A dead connection found this way is replaced before the request uses it (the pool retries the
checkout with a new one). One dropped while in use, or within that time of its last use (the database restarted
under load), fails its request with a 503 (nexus/common/errors.py) and makes the pool replace every connection
it held at the time.

`read_connection()` serves reads that write nothing and need no transaction (the catalog's product documents and
list counts). On PostgreSQL it comes from a second engine whose connections are in autocommit, so such a read
skips the BEGIN and ROLLBACK round trips a transaction costs (10–15 % of an uncached product read). Under READ
COMMITTED, PostgreSQL's level (and ours), every statement sees its own snapshot inside a transaction or not, so
these reads see exactly what they saw before. On SQLite (the embedded default) it is the session's own connection.
"""

from __future__ import annotations

import time

from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError

from nexus.extensions import db

_RETURNED = "nexus_returned_at"
_READS = "nexus_read_engine"
_READ_CONNECTION = "_nexus_read_connection"


def init_app(app: Flask) -> None:
    """Check the connections of every engine on checkout when idle long enough; make the read engine."""
    with app.app_context():
        engines = list(db.engines.values())
        if db.engine.dialect.name == "postgresql":
            reads = create_engine(
                db.engine.url, isolation_level="AUTOCOMMIT", **app.config["SQLALCHEMY_ENGINE_OPTIONS"]
            )
            app.extensions[_READS] = reads
            engines.append(reads)
    for engine in engines:
        _check_when_idle(engine, app.config)
    app.teardown_request(_release_read_connection)
    app.teardown_appcontext(_release_read_connection)


def engines() -> list[Engine]:
    """Every engine of the app: the session's and, on PostgreSQL, the read engine."""
    reads = current_app.extensions.get(_READS)
    return [db.engine] + ([reads] if reads is not None else [])


def read_connection() -> Connection:
    """The connection of this request's (or task's) reads that need no transaction (see above)."""
    reads = current_app.extensions.get(_READS)
    if reads is None:
        return db.session.connection()
    connection = g.get(_READ_CONNECTION)
    if connection is None:
        connection = reads.connect()
        setattr(g, _READ_CONNECTION, connection)
    return connection


def _release_read_connection(_exc=None) -> None:
    connection = g.pop(_READ_CONNECTION, None)
    if connection is not None:
        connection.close()


def _check_when_idle(engine: Engine, config) -> None:
    dialect = engine.dialect

    def returned(_dbapi_connection, record) -> None:
        record.info[_RETURNED] = time.monotonic()

    def checked_out(dbapi_connection, record, _proxy) -> None:
        last_use = record.info.get(_RETURNED)
        if last_use is None or time.monotonic() - last_use < config["DATABASE_PING_AFTER_SECONDS"]:
            return  # just connected, or used a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("the pooled connection was dropped") from exc  # the pool takes another

    event.listen(engine.pool, "checkin", returned)
    event.listen(engine.pool, "checkout", checked_out)
