"""Nexus: a Flask REST API for an online clothing store."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from nexus.common.jsonprovider import OrjsonProvider
from nexus.config import apply_redis_timeouts, load_config


def create_app(config: dict | None = None) -> Flask:
    """Build the app: settings from the environment, then `config` overrides (tests pass theirs)."""
    app = Flask(__name__, instance_relative_config=False)
    app.json = OrjsonProvider(app)
    app.config.update(load_config())
    if config:
        app.config.update(config)
    if app.config.get("ALLOWED_HOSTS"):
        app.config["TRUSTED_HOSTS"] = app.config["ALLOWED_HOSTS"]
    apply_redis_timeouts(app.config)
    if app.testing:
        logging.basicConfig(level=logging.INFO)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    _init_extensions(app)
    _register_blueprints(app)
    from nexus.admin import init_admin  # the staff admin site at /admin/

    init_admin(app)
    _register_cli(app)
    return app


def _init_extensions(app: Flask) -> None:
    from nexus.celery_app import celery_init_app
    from nexus.common import database, observability
    from nexus.common.errors import register_error_handlers
    from nexus.extensions import api, cache, cors, db, jwt, limiter, migrate

    # First: its request id and headers then reach every response, errors included.
    observability.init_app(app)
    db.init_app(app)
    database.init_app(app)
    migrate.init_app(
        app, db, directory=str(Path(app.root_path).parent / "migrations"), render_as_batch=True, compare_type=True
    )
    jwt.init_app(app)
    cache.init_app(app)
    cors.init_app(app, resources={r"/api/*": {"origins": app.config["CORS_ORIGINS"]}})
    limiter.init_app(app)
    api.init_app(app, spec_kwargs={"info": {"description": _API_DESCRIPTION}})
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    celery_init_app(app)
    register_error_handlers(app)

    @app.teardown_request
    def _end_session(_exc):
        # One session per request, even when a test keeps one app context across many requests.
        db.session.remove()


def _register_blueprints(app: Flask) -> None:
    from nexus.auth import blp as auth_blp
    from nexus.auth import users_blp
    from nexus.auth.tokens import init_jwt
    from nexus.cart import blp as cart_blp
    from nexus.catalog import blp as catalog_blp
    from nexus.common import health, media
    from nexus.extensions import api
    from nexus.orders import blp as orders_blp
    from nexus.orders import register_hooks

    init_jwt(app)
    register_hooks(app)
    for blueprint in (health.blp, auth_blp, users_blp, catalog_blp, cart_blp, orders_blp):
        api.register_blueprint(blueprint)
    app.add_url_rule("/static/swagger-ui/<path:filename>", "swagger_ui_asset", health.swagger_ui_asset)
    app.add_url_rule("/media/<path:filename>", "media", media.serve_media)


def _register_cli(app: Flask) -> None:
    import importlib

    for module in ("common", "auth", "catalog", "cart", "orders"):
        importlib.import_module(f"nexus.{module}.cli").register(app)
        # Importing the tasks registers them with Celery, for the worker and for eager runs alike.
        importlib.import_module(f"nexus.{module}.tasks")


_API_DESCRIPTION = """The Nexus Store API: accounts, catalog, cart, orders and payments of an online clothing store.

Authenticate with `POST /api/auth/jwt/create/`, then press **Authorize** and paste the `access` token.
Errors always have the shape `{code, status, message, errors?}`; lists are paginated as
`{count, next, previous, results}` with `page` and `page_size` (at most 100).
"""
