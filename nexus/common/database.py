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

`run(statement, params)` is how the hot paths run their statements (adding to the cart, checkout, signing in a
request, the unfiltered list and a product's page): on PostgreSQL, a statement marked PREPARED runs straight on
the driver, in the session's transaction (or on the connection given, the read connection's say). SQLAlchemy's
execution machinery (its execution context and result objects, and the session's ORM layer) costs about as much
CPU per statement as the driver's own work, and a checkout runs 15 statements. `run` makes what it needs of a
statement once (its SQL, the bind and result processors of its types, the Python-side column defaults it must
fill, a named tuple of its columns), then only processes the values, executes and makes the rows: tuples whose
values can also be read by column name, as SQLAlchemy's rows. Everything else stays SQLAlchemy's: the statement
itself, its types, the connection and transaction, driver errors (its own handling: the same exception classes,
and a dropped connection invalidates the pool), and the engine's `before_cursor_execute` and
`after_cursor_execute` listeners (called with no execution context). On SQLite, for a statement not marked, or one
whose text varies (an expanding IN), `run` is SQLAlchemy's `execute`. `run_together` sends several statements,
whose rows but the last's nobody reads, in one round trip on PostgreSQL (one string of EXECUTEs): with two sync
workers, a round trip costs checkout more than its Python now.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from flask import Flask, current_app, g
from sqlalchemy import Connection, CursorResult, Engine, Executable, create_engine, event
from sqlalchemy.engine.interfaces import ExecuteStyle
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.sql.compiler import SQLCompiler

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
    cursor.execute(_prepared_once(cursor, context.root_connection, statement), parameters)
    return True


def _prepared_once(cursor, connection: Connection, statement: str) -> str:
    """The EXECUTE form of `statement`, PREPAREd first when this connection has not yet (the names a connection
    has prepared are kept in its pool record's `info`, which goes with it)."""
    name, prepare, execute = _prepared_forms(statement)
    names = connection.info.setdefault(_PREPARED_NAMES, set())
    if name not in names:
        cursor.execute(prepare)  # a prepared statement outlives the transaction, even one rolled back
        names.add(name)
    return execute


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


def run(statement: Executable, params: Mapping | None = None, *, connection: Connection | None = None) -> list:
    """The rows of a built-once statement run in the session's transaction, or on `connection` (see above): tuples
    whose values can also be read by column name, as SQLAlchemy's rows."""
    return run_together((statement, params or {}), connection=connection)


def run_together(*calls: tuple[Executable, Mapping], connection: Connection | None = None) -> list:
    """`run` of several (statement, params) in order, in one round trip on PostgreSQL when each can be planned: the
    rows of the last. For statements whose rows, but the last's, nobody reads (the first error stops the rest)."""
    on_session = connection is None
    if on_session:
        connection = db.session.connection()  # the session's transaction, begun if need be
    plans = [_plan_for(statement, params, connection) for statement, params in calls]
    if not all(plans):  # SQLite, a statement not marked, or a text that varies (an expanding IN)
        executor = db.session if on_session else connection
        rows = []
        for statement, params in calls:
            rows = _rows(executor.execute(statement, params))
        return rows
    values = [plan.values(params) for plan, (_, params) in zip(plans, calls, strict=True)]
    cursor = connection.connection.dbapi_connection.cursor()
    dispatch = connection.dispatch
    try:
        sent = []
        for plan, value in zip(plans, values, strict=True):
            for listener in dispatch.before_cursor_execute:
                listener(connection, cursor, plan.sql, value, None, False)
            sent.append(cursor.mogrify(_prepared_once(cursor, connection, plan.sql), value))
        cursor.execute(b"; ".join(sent))  # PostgreSQL runs them in turn; the driver keeps the last one's rows
        description = cursor.description
        rows = cursor.fetchall() if description is not None else []
        for plan, value in zip(plans, values, strict=True):
            for listener in dispatch.after_cursor_execute:
                listener(connection, cursor, plan.sql, value, None, False)
    except connection.dialect.loaded_dbapi.Error as exc:
        # SQLAlchemy's own handling of a driver error: its exception classes, a disconnect invalidates the pool.
        sql = "; ".join(plan.sql for plan in plans)
        connection._handle_dbapi_exception(exc, sql, values[0] if len(values) == 1 else values, cursor, None)
    finally:
        cursor.close()
    return plans[-1].rows(rows, description)


def _plan_for(statement: Executable, params: Mapping, connection: Connection) -> _Plan | None:
    """The statement's plan on PostgreSQL, made on its first run; None where SQLAlchemy runs it."""
    if connection.dialect.name != "postgresql" or not statement.get_execution_options().get("nexus_prepared"):
        return None
    # An INSERT's or UPDATE's columns are those given: a plan is per statement and set of parameter names.
    key = (id(statement), *params)
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        plan = _PLANS[key] = _make_plan(statement, params, connection.dialect)
    return plan if plan.compiled is not None else None


def run_rows(statement: Executable, rows: list[Mapping]) -> list:
    """`run` for several rows of parameters: one row runs as `run`, several go through SQLAlchemy as one
    multi-row INSERT (its text varies with their number, so it is not prepared)."""
    if len(rows) == 1:
        return run(statement, rows[0])
    return _rows(db.session.execute(statement, rows))


def _rows(result) -> list:
    if isinstance(result, CursorResult) and not result.returns_rows:
        return []
    return result.all()


@dataclass
class _Plan:
    """What `run` needs of a statement, made once per statement and set of parameter names."""

    statement: Executable  # held, so that the id keying this plan is never reused
    compiled: SQLCompiler | None  # None: SQLAlchemy runs it (an expanding IN: one text per number of values)
    sql: str = ""
    defaults: list[tuple[str, Callable]] = field(default_factory=list)  # Python-side defaults to fill
    binds: list[tuple[str, Callable]] = field(default_factory=list)  # bind processors of parameters that have one
    columns: list = field(default_factory=list)  # what its rows hold
    row: type = tuple  # a named tuple of those columns
    results: list[Callable | None] | None = None  # the result processors, from the first run's description

    def values(self, params: Mapping) -> dict:
        if self.defaults:
            params = {**{key: default() for key, default in self.defaults}, **params}
        values = self.compiled.construct_params(params)
        for key, process in self.binds:
            values[key] = process(values[key])
        return values

    def rows(self, rows: list[tuple], description) -> list:
        if self.results is None:
            dialect = self.compiled.dialect
            self.results = [
                column.type.dialect_impl(dialect).result_processor(dialect, described[1])
                for column, described in zip(self.columns, description or (), strict=True)
            ]
        make = self.row._make
        if not any(self.results):
            return [make(row) for row in rows]
        return [make(p(v) if p else v for p, v in zip(self.results, row, strict=True)) for row in rows]


_PLANS: dict[tuple, _Plan] = {}
_MAX_PLANS = 1000  # statements are built once: more than this means some are not, so start again


def _make_plan(statement: Executable, params: Mapping, dialect) -> _Plan:
    compiled = statement.compile(dialect=dialect, column_keys=list(params))
    if compiled.post_compile_params or compiled.literal_execute_params:
        return _Plan(statement, None)
    defaults = [
        (column.key, _filler(column, column.default if column in compiled.insert_prefetch else column.onupdate))
        for column in compiled.insert_prefetch + compiled.update_prefetch
    ]
    binds = []
    for bind, key in compiled.bind_names.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            binds.append((key, process))
    # The columns of its rows: an INSERT's or UPDATE's RETURNING (SQLAlchemy returns the new row's key implicitly).
    if compiled.isinsert or compiled.isupdate or compiled.isdelete:
        columns = list(compiled.returning or ())
    else:
        columns = list(statement.exported_columns)
    names = [getattr(column, "key", None) or f"column_{i}" for i, column in enumerate(columns)]
    row = namedtuple("Row", names, rename=True)  # an unnamed or repeated column is read by position
    return _Plan(statement, compiled, compiled.string, defaults, binds, columns, row)


def _filler(column, default) -> Callable[[], object]:
    """What SQLAlchemy fills a column left out of an INSERT (its default) or UPDATE (its onupdate) with."""
    if default.is_scalar:
        return lambda: default.arg
    if default.is_callable:
        return lambda: default.arg(None)  # a function of no argument, wrapped by SQLAlchemy to take the context
    raise TypeError(f"run() cannot fill {column}: give it a value")
