"""Helpers for tests: waiting for background work, reading sent mail, counting SQL statements."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event

from tests.conftest import SERVICES, TEST_ENV


def wait_for(predicate, *, timeout: float = 15.0, interval: float = 0.1):
    """Poll `predicate` until it returns a truthy value: background work runs in a real worker in the
    real-services run (and already ran, eagerly, in the embedded one). Each try sees fresh rows."""
    from nexus.extensions import db

    deadline = time.monotonic() + (timeout if SERVICES else 0)
    while True:
        db.session.remove()
        result = predicate()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


def sent_emails(*, to: str | None = None, wait: bool = True) -> list[dict]:
    """Emails sent so far in this test ({to, subject, body}), waiting for the worker when there is one."""

    def read() -> list[dict]:
        path = Path(TEST_ENV["MAIL_OUTBOX_FILE"])
        if not path.exists():
            return []
        mails = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [mail for mail in mails if to is None or mail["to"] == to]

    return wait_for(read) if wait else read()


@contextmanager
def count_queries():
    """Count the SQL statements this thread runs inside the block: `with count_queries() as queries: ...;
    len(queries)`. Other threads' statements (the outbox's deletion of published rows, say) are not counted."""

    statements: list[str] = []
    thread = threading.get_ident()

    def record(_conn, _cursor, statement, *_args):
        if threading.get_ident() != thread:
            return
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    with _listening(record):
        yield statements


@contextmanager
def _listening(record):
    """`record(conn, cursor, statement, ...)` called before every statement of the session's engine and the read
    engine (nexus.common.database) inside the block."""
    from nexus.common.database import engines

    watched = engines()
    for engine in watched:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield
    finally:
        for engine in watched:
            event.remove(engine, "before_cursor_execute", record)


@contextmanager
def count_round_trips():
    """The statements this thread sends, grouped by the round trip that carried them (on PostgreSQL,
    `nexus.common.database.run_together` sends several in one): `with count_round_trips() as trips: ...;
    [len(trip) for trip in trips]`."""
    trips: list[list[str]] = []
    cursors: list = []  # held: a cursor's id is never reused while the block lasts
    thread = threading.get_ident()

    def record(_conn, cursor, statement, *_args):
        if threading.get_ident() != thread:
            return
        if cursors and cursors[-1] is cursor:
            trips[-1].append(statement)
        else:
            cursors.append(cursor)
            trips.append([statement])

    with _listening(record):
        yield trips


def run_concurrently(app, count: int, work) -> list:
    """Run `work(index)` in `count` threads released together, each in its own app context (its own session and
    connection, as separate gunicorn workers would have). Returns each thread's result, or the exception it raised."""
    import threading

    from nexus.extensions import db

    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=10)
                results[index] = work(index)
            except Exception as exc:  # returned to the test, which asserts on it
                results[index] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    return results


def assert_error(response, code: int, *fields: str) -> dict:
    """The contract's error shape ({code, status, message, ...}), with field errors in the body for each of
    `fields`; returns the body for further assertions."""
    assert response.status_code == code, response.json
    body = response.json
    assert body["code"] == code
    assert isinstance(body["status"], str) and body["status"]
    assert isinstance(body["message"], str) and body["message"]
    for field in fields:
        assert body["errors"]["json"][field], body
    return body
