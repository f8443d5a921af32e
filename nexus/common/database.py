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

Statements marked `PREPARED` (the hot paths': signing in a request, adding to the cart, checkout, a product's
page and the default product list) run on PostgreSQL as server-side prepared statements: each connection
PREPAREs one the first time it runs it, then only EXECUTEs it, so PostgreSQL parses and plans it once per
connection rather than on every run (about half of its CPU for these short statements; bench/README.md, "Eighth
pass"). psycopg2 has no prepared statements of its own: the statement's text is swapped for EXECUTE just before
it is sent, after SQLAlchemy has done everything else, so its parameters and results are handled as for any
statement. Mark only statements whose best plan does not depend on the values (a prepared statement may settle on
a generic plan: searches and filtered lists are not marked, and a search measured slower so), and whose text takes
few forms: an expanding IN has one per number of values, so mark it only where that number is bounded (a page's
products: at most MAX_PAGE_SIZE). A marked INSERT given several rows at once is sent as it is (its text varies
with the number of rows).
"""

from __future__ import annotations

import hashlib
import re
import time

from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine.interfaces import ExecuteStyle
from sqlalchemy.exc import DisconnectionError

from nexus.extensions import db

_RETURNED = "nexus_returned_at"
_READS = "nexus_read_engine"
_READ_CONNECTION = "_nexus_read_connection"
_PREPARED_NAMES = "nexus_prepared"  # in a connection's info: the names it has PREPAREd

# The execution option that asks for a server-side prepared statement: `stmt.execution_options(**PREPARED)`.
PREPARED = {"nexus_prepared": True}


def init_app(app: Flask) -> None:
    """Check the connections of every engine on checkout when idle long enough; make the read engine; run
    PREPARED statements prepared on PostgreSQL."""
    with app.app_context():
        engines = list(db.engines.values())
        if db.engine.dialect.name == "postgresql":
            reads = create_engine(
                db.engine.url, isolation_level="AUTOCOMMIT", **app.config["SQLALCHEMY_ENGINE_OPTIONS"]
            )
            app.extensions[_READS] = reads
            engines.append(reads)
            for engine in (db.engine, reads):
                event.listen(engine, "do_execute", _execute_prepared)
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


def _execute_prepared(cursor, statement, parameters, context) -> bool | None:
    """Run a statement marked PREPARED as EXECUTE of its prepared form, PREPAREd first on a new connection; True
    when done (else SQLAlchemy runs the statement as usual). Listeners of `before_cursor_execute` (the
    statement counts of the tests, say) still see the statement itself."""
    if (
        not context.execution_options.get("nexus_prepared")
        # Several rows in one INSERT: its text varies with their number, prepare none of them.
        or context.execute_style is not ExecuteStyle.EXECUTE
    ):
        return None
    name, prepare, execute = _prepared_forms(statement)
    names = context.root_connection.info.setdefault(_PREPARED_NAMES, set())
    if name not in names:
        cursor.execute(prepare)  # a prepared statement outlives the transaction, even one rolled back
        names.add(name)
    cursor.execute(execute, parameters)
    return True


_PARAMETER = re.compile(r"%\((\w+)\)s")
_FORMS: dict[str, tuple[str, str, str]] = {}


def _prepared_forms(statement: str) -> tuple[str, str, str]:
    """(name, PREPARE, EXECUTE) for a statement in psycopg2's form: its named parameters become $1, $2, … in
    order of first appearance, and EXECUTE passes them by name as before."""
    forms = _FORMS.get(statement)
    if forms is None:
        order: dict[str, int] = {}

        def positional(match: re.Match) -> str:
            return f"${order.setdefault(match.group(1), len(order) + 1)}"

        body = _PARAMETER.sub(positional, statement).replace("%%", "%")
        name = "nx_" + hashlib.blake2b(statement.encode(), digest_size=10).hexdigest()
        arguments = ", ".join(f"%({parameter})s" for parameter in order)
        execute = f"EXECUTE {name}({arguments})" if order else f"EXECUTE {name}"
        forms = _FORMS[statement] = (name, f"PREPARE {name} AS {body}", execute)
    return forms
