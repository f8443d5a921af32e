"""Pooled database connections are checked before use when they sat idle long enough to have been dropped.

SQLAlchemy's `pool_pre_ping` checks every connection at every checkout: one more round trip to the database
for every request, 8–15 % of a catalog read's time (bench/README.md, "Optimisations"). A connection a request
used a moment ago is as good as its last statement proved it, so it is only checked when it has been idle for
`DATABASE_PING_AFTER_SECONDS` (the pattern of SQLAlchemy's "pessimistic disconnect handling" with a custom
checkout event). A dead connection found this way is replaced before the request uses it (the pool retries the
checkout with a new one). One dropped while in use, or within that time of its last use (the database restarted
under load), fails its request with a 503 (nexus/common/errors.py) and makes the pool replace every connection
it held at the time.
"""

from __future__ import annotations

import time

from flask import Flask
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError

_RETURNED = "nexus_returned_at"


def init_app(app: Flask, db) -> None:
    """Check the connections of every engine of `db` for `app` on checkout, when idle long enough."""
    config = app.config
    with app.app_context():
        engines = list(db.engines.values())
    for engine in engines:
        dialect = engine.dialect

        def returned(_dbapi_connection, record) -> None:
            record.info[_RETURNED] = time.monotonic()

        def checked_out(dbapi_connection, record, _proxy, dialect=dialect) -> None:
            last_use = record.info.get(_RETURNED)
            if last_use is None or time.monotonic() - last_use < config["DATABASE_PING_AFTER_SECONDS"]:
                return  # just connected, or used a moment ago
            try:
                dialect.do_ping(dbapi_connection)
            except dialect.loaded_dbapi.Error as exc:
                raise DisconnectionError("the pooled connection was dropped") from exc  # the pool takes another

        event.listen(engine.pool, "checkin", returned)
        event.listen(engine.pool, "checkout", checked_out)
