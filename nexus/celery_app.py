"""Celery bound to the Flask app: Flask's own pattern, a Task class that runs in an app context."""

from __future__ import annotations

from celery import Celery, Task
from celery.schedules import crontab  # noqa: F401  (for schedule entries)
from flask import Flask

# Periodic jobs run by `celery beat`; each domain adds its own entries here.
BEAT_SCHEDULE = {
    "relay-outbox": {"task": "common.relay_outbox", "schedule": 30.0},
    "purge-revoked-tokens": {"task": "auth.purge_revoked_tokens", "schedule": crontab(minute=17)},
    "cancel-expired-orders": {"task": "orders.cancel_expired_orders", "schedule": 60.0},
    "purge-idempotency-keys": {"task": "common.purge_idempotency_keys", "schedule": crontab(minute=41)},
}


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    broker = app.config["CELERY_BROKER_URL"]
    celery = Celery(app.name, task_cls=FlaskTask)
    celery.conf.update(
        broker_url=broker or "memory://",
        task_always_eager=not broker,
        task_eager_propagates=True,
        task_ignore_result=True,
        result_backend=None,
        # A task runs to the end before it is acknowledged: a killed worker's task is redelivered.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Publishing must never hang a request: short timeouts, few retries, then the outbox keeps it.
        broker_connection_timeout=2,
        broker_connection_retry_on_startup=True,
        task_publish_retry=True,
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2},
        broker_transport_options={"socket_timeout": 2, "socket_connect_timeout": 2},
        task_default_queue=app.config.get("CELERY_TASK_DEFAULT_QUEUE", "celery"),
        timezone="UTC",
        beat_schedule=BEAT_SCHEDULE,
    )
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
