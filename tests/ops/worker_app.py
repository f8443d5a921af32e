"""A Celery app for the worker-kill test: the shop's app plus one slow, idempotent task of the tests' own."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy.dialects.postgresql import insert

from nexus.common import outbox
from nexus.extensions import db
from nexus.orders.models import SentNotification
from wsgi import app, celery_app

__all__ = ["app", "celery_app"]


@celery_app.task(name="ops.claim_once")
def claim_once_task(key: str, marker_dir: str) -> bool:
    """Claim `key` once (its effect, committed), then wait for the test's go-ahead before finishing: a worker
    killed while waiting has done the work but not acknowledged it, so the broker redelivers the task."""
    markers = Path(marker_dir)
    with open(markers / "runs", "a") as runs:
        runs.write(f"{os.getpid()}\n")
    claimed = db.session.execute(
        insert(SentNotification).values(key=key).on_conflict_do_nothing(index_elements=["key"])
    ).rowcount
    outbox.commit()
    if claimed:
        with open(markers / "effects", "a") as effects:
            effects.write(f"{os.getpid()}\n")
    deadline = time.monotonic() + 60
    while not (markers / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return bool(claimed)
