"""Transactional outbox: background tasks are asked for inside a transaction and published after it commits.

Services call `enqueue(task, *ids)` while they work and `commit()` once at the end. With no broker the
tasks then run in-process; with a broker each request is first stored as an `outbox_messages` row in the
same transaction, published a moment after the transaction has committed (by a timer thread, with the other
requests of the moment: one task carries every call of a `batched` task), and deleted when the broker took it.
A row whose publishing failed (broker down) stays and `relay_outbox()` publishes it later, so a broker outage
loses no work and fails no request.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy import JSON, Integer, String, Text, delete, insert, select, text
from sqlalchemy.orm import Mapped, mapped_column

from nexus.common.database import PREPARED, run_together
from nexus.common.models import UTCDateTime, utcnow
from nexus.extensions import db

log = logging.getLogger(__name__)

_PENDING = "nexus_outbox_pending"
_AFTER_COMMIT = "nexus_after_commit"


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_name: Mapped[str] = mapped_column(String(200), nullable=False)
    args: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    kwargs: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    headers: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)


def _task(name: str):
    # The task as bound to this Flask app's Celery (not Celery's process-wide default app, which is whichever
    # app was created last): it then runs in this app's context, against this app's database.
    return current_app.extensions["celery"].tasks[name]


def _eager() -> bool:
    return not current_app.config.get("CELERY_BROKER_URL")


def task_headers() -> dict:
    """Headers carried by every task (the request id, when observability adds one)."""
    hook = current_app.extensions.get("nexus_task_headers")
    return hook() if hook else {}


@functools.cache
def _insert():
    """An outbox row, its id returned; built once (every order writes one)."""
    table = OutboxMessage.__table__
    return insert(table).returning(table.c.id).execution_options(**PREPARED)


def enqueue(task, *args, first: Sequence[tuple] = (), **kwargs) -> None:
    """Ask for `task(*args, **kwargs)` once the current transaction commits (ids only, never ORM objects).

    With a broker the row is written at once, with one statement (the columns' defaults fill the rest): the session
    tracks no object for it. `first`: (statement, params) whose rows nobody reads, run before it in the same round
    trip (`run_together`), with or without a broker."""
    values = {"task_name": task.name, "args": list(args), "kwargs": kwargs, "headers": task_headers()}
    message = OutboxMessage(**values)
    if not _eager():
        [(message.id,)] = run_together(*first, (_insert(), values))
    elif first:
        run_together(*first)
    db.session.info.setdefault(_PENDING, []).append(message)


def after_commit(callback) -> None:
    """Run `callback()` once the current transaction has committed (cache invalidation, for one)."""
    callbacks = db.session.info.setdefault(_AFTER_COMMIT, [])
    if callback not in callbacks:
        callbacks.append(callback)


def discard_pending() -> None:
    db.session.info.pop(_PENDING, None)
    db.session.info.pop(_AFTER_COMMIT, None)


def commit() -> None:
    """Commit the current transaction, then hand its background tasks over. The one commit of a use case."""
    try:
        db.session.commit()
    except Exception:
        discard_pending()
        raise
    pending = db.session.info.pop(_PENDING, [])
    for callback in db.session.info.pop(_AFTER_COMMIT, []):
        callback()
    if pending:
        dispatch(pending)


def rollback() -> None:
    discard_pending()
    db.session.rollback()


def dispatch(messages: list[OutboxMessage]) -> None:
    if _eager():
        for message in messages:
            _run_eagerly(message)
        return
    _publisher.add(current_app._get_current_object(), messages)


# The relay takes no row younger than this, whatever it is asked: such a row may be waiting in the process that
# committed it, to be published and deleted within PUBLISH_AFTER (below).
RELAY_FLOOR_SECONDS = 2


class _Publisher:
    """What this process committed, published a moment later (PUBLISH_AFTER, by a timer thread) rather than with
    a broker round trip inside each use case: every pending call of a `batched` task goes out as one task, so a busy
    process sends the worker one task for many order e-mails. The rows published are then deleted together, in one
    short transaction.

    Until then the relay leaves the rows alone (RELAY_FLOOR_SECONDS, longer than PUBLISH_AFTER). A process killed in
    between leaves its rows to the relay, which publishes them: at least once, as after any crash between
    publishing and deleting (every task is safe to run twice). A process exiting normally publishes them first."""

    PUBLISH_AFTER = 0.1

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a forked worker starts with nothing pending
        atexit.register(self.flush)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[Flask, list[OutboxMessage]] = {}  # by app (tests run several apps in one process)
        self._timer: threading.Timer | None = None

    def add(self, app: Flask, messages: list[OutboxMessage]) -> None:
        with self._lock:
            self._pending.setdefault(app, []).extend(messages)
            if self._timer is None:
                self._timer = threading.Timer(self.PUBLISH_AFTER, self.flush)
                self._timer.daemon = True
                self._timer.start()

    def flush(self) -> None:
        """Publish what is pending now, and delete the rows published (the timer calls it; tests and the exit do
        too)."""
        with self._lock:
            pending, timer = self._pending, self._timer
            self._pending, self._timer = {}, None
        if timer is not None:
            timer.cancel()
        for app, messages in pending.items():
            with app.app_context():
                try:
                    _delete_published(send(messages))
                except Exception:  # the rows stay: the relay publishes them
                    log.exception("could not publish %d outbox messages (the relay publishes them)", len(messages))


def _delete_published(ids: list[int]) -> None:
    if not ids:
        return
    try:
        with db.engine.begin() as connection:
            if db.engine.dialect.name == "postgresql":
                # Bookkeeping only: were this commit lost in a database crash, the relay would publish the rows
                # again (at least once, as above), so no need to wait for the disk.
                connection.execute(text("SET LOCAL synchronous_commit TO OFF"))
            table = OutboxMessage.__table__
            connection.execute(delete(table).where(table.c.id.in_(sorted(ids))))
    except Exception as exc:
        log.warning("could not delete %d published outbox rows (the relay publishes them again): %s", len(ids), exc)


_publisher = _Publisher()
flush = _publisher.flush

# The most calls one task carries (a batch's arguments travel in one broker message).
MAX_BATCH = 200


def send(messages: list[OutboxMessage]) -> list[int]:
    """Publish the messages, each pending call of a `batched` task (one taking any number of ids, no keyword
    arguments) together with the others of that task; the ids of the messages published. Stops at the first
    failure (the broker is down: the rest would fail too)."""
    published = []
    for group in _groups(messages):
        if not _publish(group):
            break
        published += [message.id for message in group]
    return published


def _groups(messages: list[OutboxMessage]) -> list[list[OutboxMessage]]:
    groups: dict[object, list[OutboxMessage]] = {}
    for position, message in enumerate(messages):
        task = current_app.extensions["celery"].tasks.get(message.task_name)
        batched = getattr(task, "batched", False) and not message.kwargs
        groups.setdefault(message.task_name if batched else position, []).append(message)
    return [group[start : start + MAX_BATCH] for group in groups.values() for start in range(0, len(group), MAX_BATCH)]


def _run_eagerly(message: OutboxMessage) -> None:
    task = _task(message.task_name)
    try:
        task.apply(args=message.args, kwargs=message.kwargs, headers=message.headers, throw=True)
    except Exception:
        # The use case has committed; a failing background task must not turn its answer into a 500.
        log.exception("background task %s failed", message.task_name)


def _publish(group: list[OutboxMessage]) -> bool:
    """One task for the group: its messages' arguments one after another; their headers (the request id) when
    they all have the same."""
    if current_app.extensions.get("nexus_broker_down_until", datetime.min.replace(tzinfo=utcnow().tzinfo)) > utcnow():
        return False
    first = group[0]
    headers = first.headers if all(message.headers == first.headers for message in group) else {}
    try:
        _task(first.task_name).apply_async(
            args=[arg for message in group for arg in message.args], kwargs=first.kwargs, headers=headers, retry=False
        )
        return True
    except Exception as exc:  # kombu raises many kinds when the broker is away
        log.warning("could not publish %s (kept in the outbox): %s", first.task_name, exc)
        # Skip publishing for a few seconds so a broker outage costs one timeout, not one per message.
        current_app.extensions["nexus_broker_down_until"] = utcnow() + timedelta(seconds=5)
        return False


def relay_outbox(*, older_than_seconds: int | None = None, limit: int = 500) -> int:
    """Publish outbox rows whose first publishing failed; returns how many went out."""
    if older_than_seconds is None:
        older_than_seconds = current_app.config["OUTBOX_RELAY_AFTER_SECONDS"]
    older_than_seconds = max(older_than_seconds, RELAY_FLOOR_SECONDS)
    current_app.extensions.pop("nexus_broker_down_until", None)
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    stmt = select(OutboxMessage).where(OutboxMessage.created_at <= cutoff).order_by(OutboxMessage.id).limit(limit)
    if db.engine.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    messages = db.session.scalars(stmt).all()
    published = set(send(messages))
    for message in messages:
        if message.id in published:
            db.session.delete(message)
        else:
            message.attempts += 1
            message.last_error = "broker unreachable"
    db.session.commit()
    return len(published)
