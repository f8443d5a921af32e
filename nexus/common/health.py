"""Liveness and readiness probes, and the offline assets behind /swagger/ and /redoc/."""

from __future__ import annotations

from flask import current_app, send_from_directory
from flask.views import MethodView
from kombu import Connection
from marshmallow import Schema, fields
from sqlalchemy import text
from swagger_ui_bundle import swagger_ui_path

from nexus.common.api import Blueprint
from nexus.extensions import cache, db

blp = Blueprint("health", __name__, description="Liveness and readiness probes")


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})


class ReadinessSchema(Schema):
    status = fields.String(required=True, metadata={"description": "ok, degraded or down"})
    database = fields.String(required=True, metadata={"example": "ok"})
    cache = fields.String(required=True, metadata={"example": "ok"})
    broker = fields.String(required=True, metadata={"example": "ok"})


def _check(probe) -> str:
    try:
        probe()
        return "ok"
    except Exception:
        return "down"


def _database() -> None:
    db.session.execute(text("SELECT 1"))


def _cache() -> None:
    cache.set("readyz", "1", timeout=10)
    if cache.get("readyz") != "1" and current_app.config["CACHE_TYPE"] not in ("NullCache", "null"):
        raise RuntimeError("cache did not keep a value")


def _broker() -> None:
    url = current_app.config["CELERY_BROKER_URL"]
    if url:
        with Connection(url, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1, timeout=2)


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self):
        """Liveness: the process answers."""
        return {"status": "ok"}


@blp.route("/readyz")
class Readiness(MethodView):
    @blp.response(200, ReadinessSchema)
    @blp.alt_response(503, schema=ReadinessSchema, description="The database is down")
    def get(self):
        """Readiness: database, cache and broker, each ok or down; 503 when the database is down."""
        report = {"database": _check(_database), "cache": _check(_cache), "broker": _check(_broker)}
        if report["database"] == "down":
            db.session.rollback()
            return {"status": "down", **report}, 503
        report["status"] = "ok" if all(value == "ok" for value in report.values()) else "degraded"
        return report


def swagger_ui_asset(filename: str):
    return send_from_directory(swagger_ui_path, filename, max_age=86400)
