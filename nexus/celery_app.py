"""Celery bound to the Flask app: Flask's own pattern, a Task class that runs in an app context."""

from __future__ import annotations

from celery import Celery, Task, signals
from celery.schedules import crontab
from flask import Flask

# Periodic jobs run by `celery beat`; each domain adds its own entries here.
BEAT_SCHEDULE = {
    "relay-outbox": {"task": "common.relay_outbox", "schedule": 30.0},
    "purge-revoked-tokens": {"task": "auth.purge_revoked_tokens", "schedule": crontab(minute=17)},
    "cancel-expired-orders": {"task": "orders.cancel_expired_orders", "schedule": 60.0},
    "purge-idempotency-keys": {"task": "common.purge_idempotency_keys", "schedule": crontab(minute=41)},
    "purge-list-counts": {"task": "catalog.purge_list_counts", "schedule": crontab(minute="*/10")},
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
    _connect_observability(app.config["WORKER_METRICS_PORT"])
    return celery


def _connect_observability(metrics_port: int) -> None:
    """Request ids in task logs, task outcome counters and the worker's metrics server (signals are process-wide:
    each handler is connected once, whatever the number of apps)."""
    from nexus.common import observability

    signals.task_prerun.connect(observability.task_started, weak=False, dispatch_uid="nexus-request-id")
    signals.task_postrun.connect(observability.task_finished, weak=False, dispatch_uid="nexus-request-id-end")
    outcomes = ((signals.task_success, "success"), (signals.task_failure, "failure"), (signals.task_retry, "retry"))
    for signal, outcome in outcomes:
        signal.connect(observability.count_task(outcome), weak=False, dispatch_uid=f"nexus-task-{outcome}")
    # create_app already sent the worker's logs to stderr as JSON: Celery must not replace that.
    signals.setup_logging.connect(_keep_logging, weak=False, dispatch_uid="nexus-logging")
    if metrics_port:
        signals.worker_ready.connect(
            lambda **_kwargs: observability.start_worker_metrics_server(metrics_port),
            weak=False,
            dispatch_uid="nexus-worker-metrics",
        )


def _keep_logging(**_kwargs) -> None:
    """setup_logging receiver: its presence keeps Celery from reconfiguring the root logger."""
