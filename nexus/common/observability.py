"""Operations: request ids, JSON logs, Prometheus metrics and security headers, for the app and the workers."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from flask import Flask, current_app, g, has_request_context, request
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.multiprocess import MultiProcessCollector

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

# The request id of the Celery task running in this thread (in a request, flask.g holds it instead).
_task_request_id: ContextVar[str | None] = ContextVar("nexus_task_request_id", default=None)

# Created once per process (create_app may run several times): each app's registry collects them.
CELERY_TASKS = Counter("nexus_celery_tasks", "Celery task outcomes by task name", ["task", "outcome"], registry=None)
STOCK_ALERTS = Counter("nexus_stock_alerts", "Low-stock alerts sent to the staff", registry=None)
OUTBOX_BACKLOG = Gauge(
    "nexus_outbox_backlog",
    "Background tasks waiting in the outbox for the broker",
    registry=None,
    multiprocess_mode="livemostrecent",
)
_SHARED_METRICS = (CELERY_TASKS, STOCK_ALERTS, OUTBOX_BACKLOG)

# Pages (Swagger UI, ReDoc) run their own scripts and styles from this server, and nothing from elsewhere; JSON
# and files need no active content at all.
_JSON_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_PAGE_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


def current_request_id() -> str | None:
    """The id of the HTTP request, or of the request that started the running Celery task."""
    if has_request_context():
        return g.get("request_id")
    return _task_request_id.get()


# -- logging ---------------------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, and the exception text if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": current_request_id(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def configure_logging(log_format: str = "json", level: str = "INFO") -> None:
    """Send every log record of the process to stderr, as JSON lines (or plain text); once per process."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    if any(getattr(handler, "_nexus", False) for handler in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._nexus = True  # type: ignore[attr-defined]
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
        handler.addFilter(_add_request_id)
    root.addHandler(handler)


def _add_request_id(record: logging.LogRecord) -> bool:
    record.request_id = current_request_id() or "-"
    return True


# -- metrics ---------------------------------------------------------------------------------------------


class _SharedCollector:
    """Exposes the process-wide metrics above in a registry of one app (or of the worker)."""

    def collect(self):
        for metric in _SHARED_METRICS:
            yield from metric.collect()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def metrics_registry() -> CollectorRegistry:
    """A registry of its own: per app, or for the worker's metrics server. With PROMETHEUS_MULTIPROC_DIR (gunicorn
    workers, prefork Celery) it reads every process's values from that directory."""
    registry = CollectorRegistry()
    if multiprocess_dir():
        MultiProcessCollector(registry)
    else:
        registry.register(_SharedCollector())
    return registry


def _init_metrics(app: Flask) -> None:
    from prometheus_flask_exporter import PrometheusMetrics
    from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

    def refresh_backlog(view):
        def metrics_view(*args, **kwargs):
            _refresh_outbox_backlog()
            return view(*args, **kwargs)

        return metrics_view

    options = {"group_by": "endpoint", "metrics_decorator": refresh_backlog}
    if multiprocess_dir():
        metrics = GunicornInternalPrometheusMetrics(app, registry=metrics_registry(), **options)
    else:
        metrics = PrometheusMetrics(app, registry=metrics_registry(), **options)
    app.extensions["nexus_metrics"] = metrics


def _refresh_outbox_backlog() -> None:
    from sqlalchemy import func, select

    from nexus.common.outbox import OutboxMessage
    from nexus.extensions import db

    try:
        OUTBOX_BACKLOG.set(db.session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)
    except Exception:  # a scrape must answer even when the database does not
        db.session.rollback()
        logging.getLogger(__name__).warning("could not count the outbox backlog: the database did not answer")


# -- request id and headers ------------------------------------------------------------------------------


def _assign_request_id() -> None:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = given if _VALID_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _finish_response(response):
    app_config = current_app.config
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Content-Security-Policy", _PAGE_CSP if response.mimetype == "text/html" else _JSON_CSP)
    if app_config.get("PRODUCTION"):
        headers.setdefault("Strict-Transport-Security", f"max-age={app_config['HSTS_SECONDS']}; includeSubDomains")
    return response


def task_headers() -> dict:
    """Headers given to every task a request asks for: the worker logs under the same request id."""
    request_id = current_request_id()
    return {"request_id": request_id} if request_id else {}


def init_app(app: Flask) -> None:
    """Request ids, logs, metrics and security headers for this app."""
    if not app.testing:
        configure_logging(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    app.before_request(_assign_request_id)
    app.after_request(_finish_response)
    app.extensions["nexus_task_headers"] = task_headers
    if app.config["METRICS_ENABLED"]:
        _init_metrics(app)


# -- Celery ----------------------------------------------------------------------------------------------


def task_started(task=None, **_kwargs) -> None:
    """task_prerun: log the task's lines under the id of the request that asked for it."""
    request_id = task.request.get("request_id") if task is not None else None
    if not request_id and task is not None:
        request_id = (getattr(task.request, "headers", None) or {}).get("request_id")
    _task_request_id.set(request_id if request_id and _VALID_REQUEST_ID.fullmatch(str(request_id)) else None)


def task_finished(**_kwargs) -> None:
    _task_request_id.set(None)


def count_task(outcome: str):
    def handler(sender=None, **_kwargs) -> None:
        name = getattr(sender, "name", None) or str(sender)
        CELERY_TASKS.labels(task=name, outcome=outcome).inc()

    return handler


def start_worker_metrics_server(port: int) -> None:
    """The worker's own /metrics (Celery task outcomes, stock alerts) on `port`."""
    from prometheus_client import start_http_server

    start_http_server(port, registry=metrics_registry())
    logging.getLogger(__name__).info("worker metrics on port %s", port)
