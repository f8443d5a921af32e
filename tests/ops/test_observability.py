"""Request ids, JSON logs, Prometheus metrics, security headers, allowed hosts and CORS."""

from __future__ import annotations

import io
import json
import logging

import pytest

from nexus.common.observability import JsonFormatter
from nexus.common.outbox import OutboxMessage
from nexus.extensions import cache, db
from tests.auth.conftest import STRONG_PASSWORD as PASSWORD
from tests.conftest import SERVICES, TMP
from tests.factories import VariantFactory
from tests.helpers import sent_emails, wait_for


@pytest.fixture
def json_log():
    """Every log record of the test, formatted as the app's JSON lines when emitted; returns the parsed lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    levels = {name: logging.getLogger(name).level for name in ("celery.app.trace", "nexus")}
    for name in levels:
        logging.getLogger(name).setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


# -- request ids -----------------------------------------------------------------------------------------


def test_a_valid_request_id_is_echoed(client):
    response = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.9_Z-1"})
    assert response.headers["X-Request-ID"] == "lb-7f3a.9_Z-1"


@pytest.mark.parametrize("given", ["", "has space", "semi;colon", "x" * 129, "<script>"])
def test_a_missing_or_invalid_request_id_is_replaced_by_a_new_one(client, given):
    first = client.get("/healthz", headers={"X-Request-ID": given}).headers["X-Request-ID"]
    second = client.get("/healthz", headers={"X-Request-ID": given}).headers["X-Request-ID"]
    assert first != given and len(first) == 32 and first.isalnum()
    assert second != first


def test_error_answers_carry_the_request_id_too(client):
    response = client.get("/api/store/nothing/", headers={"X-Request-ID": "req-404"})
    assert (response.status_code, response.headers["X-Request-ID"]) == (404, "req-404")


def test_every_log_line_of_a_request_is_json_with_its_request_id(client, json_log, monkeypatch):
    def down(*_args, **_kwargs):
        raise ConnectionError("cache is down")

    for method in ("get", "get_many"):  # whichever a read starts with (see nexus.common.cache.cached)
        monkeypatch.setattr(cache, method, down)
    monkeypatch.setitem(client.application.config, "CACHE_RETRY_AFTER_SECONDS", 0)
    assert client.get("/api/store/products/", headers={"X-Request-ID": "req-logged"}).status_code == 200

    lines = [line for line in json_log() if line["logger"] == "nexus.common.cache"]
    assert lines and all(line["request_id"] == "req-logged" for line in lines)
    warning = next(line for line in lines if line["level"] == "WARNING")
    assert set(warning) == {"time", "level", "logger", "message", "request_id"}
    assert "cache is down" in warning["message"]


def test_the_json_formatter_adds_the_exception_text():
    try:
        raise ValueError("broken")
    except ValueError:
        record = logging.LogRecord("nexus", logging.ERROR, __file__, 1, "failed %s", ("here",), exc_info=True)
        record.exc_info = __import__("sys").exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed here" and line["request_id"] is None
    assert "ValueError: broken" in line["exception"]


def test_tasks_log_under_the_request_id_of_the_request_that_asked_for_them(client, json_log):
    response = client.post(
        "/api/auth/registration/",
        json={"email": "traced@example.com", "password": PASSWORD, "password2": PASSWORD},
        headers={"X-Request-ID": "req-task-1"},
    )
    assert response.status_code == 201
    assert sent_emails(to="traced@example.com")
    if SERVICES:  # the worker process logged it, as JSON lines
        lines = wait_for(
            lambda: [line for line in (TMP / "worker.log").read_text().splitlines() if "req-task-1" in line]
        )
        task_lines = [json.loads(line) for line in lines if line.startswith("{")]
    else:
        task_lines = [line for line in json_log() if line["request_id"] == "req-task-1"]
    assert any(line["logger"] == "celery.app.trace" and "succeeded" in line["message"] for line in task_lines)


# -- metrics ---------------------------------------------------------------------------------------------


def _sample(client, series: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_by_endpoint_and_status(client):
    series = 'flask_http_request_duration_seconds_count{endpoint="health.Health",method="GET",status="200"}'
    before = _sample(client, series)
    client.get("/healthz")
    client.get("/healthz")
    assert _sample(client, series) == before + 2
    client.get("/api/store/nothing/")
    assert 'flask_http_request_total{method="GET",status="404"}' in client.get("/metrics").text
    assert client.get("/metrics").headers["Content-Type"].startswith("text/plain")


def test_metrics_count_stock_alerts_once_per_crossing(client, admin):
    from nexus.orders.services.notifications import alert_low_stock

    variant = VariantFactory(stock=2)
    before = _sample(client, "nexus_stock_alerts_total")
    assert alert_low_stock(variant_id=variant.id, order_id=4242) == 1
    assert alert_low_stock(variant_id=variant.id, order_id=4242) == 0
    assert _sample(client, "nexus_stock_alerts_total") == before + 1


def test_metrics_report_the_outbox_backlog(client):
    assert _sample(client, "nexus_outbox_backlog") == 0
    for _ in range(2):
        db.session.add(OutboxMessage(task_name="common.relay_outbox", args=[], kwargs={}, headers={}))
    db.session.commit()
    assert _sample(client, "nexus_outbox_backlog") == 2


@pytest.mark.skipif(SERVICES, reason="tasks run in the worker process in the services run (tests/ops/test_faults.py)")
def test_metrics_count_task_outcomes_by_task_name(client):
    series = 'nexus_celery_tasks_total{outcome="success",task="auth.send_verification_email"}'
    before = _sample(client, series)
    client.post(
        "/api/auth/registration/", json={"email": "counted@example.com", "password": PASSWORD, "password2": PASSWORD}
    )
    assert _sample(client, series) == before + 1


# -- headers, hosts, CORS --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/api/store/products/", "/api/store/nothing/", "/openapi.json"])
def test_json_answers_carry_strict_security_headers(client, path):
    headers = client.get(path).headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "Strict-Transport-Security" not in headers  # development: plain http on a laptop


@pytest.mark.parametrize("path", ["/swagger/", "/redoc/"])
def test_doc_pages_may_run_their_own_scripts_only(client, path):
    csp = client.get(path).headers["Content-Security-Policy"]
    assert "script-src 'self' 'unsafe-inline'" in csp and "frame-ancestors 'none'" in csp
    assert "http" not in csp  # nothing from another site


def test_production_adds_hsts(client, monkeypatch):
    monkeypatch.setitem(client.application.config, "PRODUCTION", True)
    assert client.get("/healthz").headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_only_allowed_host_names_are_served(client, monkeypatch):
    monkeypatch.setitem(client.application.config, "TRUSTED_HOSTS", ["shop.example", ".shop.example"])
    assert client.get("/healthz", headers={"Host": "shop.example"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "api.shop.example"}).status_code == 200
    refused = client.get("/healthz", headers={"Host": "evil.example"})
    assert refused.status_code == 400
    assert refused.json["code"] == 400 and refused.headers["X-Request-ID"]


def test_allowed_hosts_setting_becomes_trusted_hosts(cors_app):
    assert cors_app.config["TRUSTED_HOSTS"] == ["shop.example", "localhost"]


@pytest.fixture(scope="module")
def cors_app(app):
    """A second app whose settings name one allowed origin and its host names (as CORS_ORIGINS/ALLOWED_HOSTS do)."""
    from nexus import create_app

    other = create_app(
        {
            "TESTING": True,
            "CORS_ORIGINS": ["https://shop.example"],
            "ALLOWED_HOSTS": ["shop.example", "localhost"],
            "RATELIMIT_STORAGE_OPTIONS": app.config["RATELIMIT_STORAGE_OPTIONS"],
        }
    )
    yield other
    with other.app_context():
        db.engine.dispose()
    app.extensions["celery"].set_default()  # the session app's Celery is the default again


def test_cors_answers_only_the_configured_origins(cors_app):
    client = cors_app.test_client()
    allowed = client.get("/api/store/products/", headers={"Origin": "https://shop.example", "Host": "shop.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    other = client.get("/api/store/products/", headers={"Origin": "https://evil.example", "Host": "shop.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = client.options(
        "/api/cart/",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST", "Host": "shop.example"},
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example"


def test_development_allows_every_origin(client):
    response = client.get("/api/store/products/", headers={"Origin": "http://localhost:3000"})
    assert response.headers["Access-Control-Allow-Origin"] in ("*", "http://localhost:3000")
