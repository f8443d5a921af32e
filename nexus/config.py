"""Settings read from environment variables, with embedded defaults for a no-setup run."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = BASE_DIR / "instance"

DEV_SECRET = "dev-insecure-secret-change-me"


class ConfigError(RuntimeError):
    """Raised when the settings cannot produce a safe, working app."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _int(name: str, default: int) -> int:
    return int(_env(name, str(default)))


def _bool(name: str, default: bool) -> bool:
    return (_env(name, "1" if default else "0") or "").lower() in ("1", "true", "yes", "on")


def _list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (_env(name, default) or "").split(",") if item.strip()]


def database_url() -> str:
    """DATABASE_URL, else POSTGRES_* as the original shop's operators set them, else SQLite."""
    url = _env("DATABASE_URL")
    if url:
        return url.replace("postgres://", "postgresql://", 1)
    if _env("POSTGRES_HOST") or _env("POSTGRES_DB"):
        user = quote(_env("POSTGRES_USER", "postgres"))
        password = _env("POSTGRES_PASSWORD")
        auth = f"{user}:{quote(password)}" if password else user
        host = _env("POSTGRES_HOST", "localhost")
        port = _env("POSTGRES_PORT", "5432")
        return f"postgresql+psycopg2://{auth}@{host}:{port}/{_env('POSTGRES_DB', 'nexus')}"
    INSTANCE_DIR.mkdir(exist_ok=True)
    return f"sqlite:///{INSTANCE_DIR / 'nexus.db'}"


def is_production() -> bool:
    env = (_env("NEXUS_ENV") or _env("FLASK_ENV") or "development").lower()
    return env == "production"


def _engine_options() -> dict:
    # Connections are checked before use only after sitting idle (nexus/common/database.py), not at every checkout.
    options: dict = {"pool_pre_ping": False}
    if database_url().startswith("postgresql"):
        # A database that does not answer fails a request in seconds (503), not after the OS's TCP timeout.
        options["connect_args"] = {"connect_timeout": _int("DATABASE_CONNECT_TIMEOUT", 3)}
    return options


def apply_redis_timeouts(config: dict) -> None:
    """Give the cache's and the rate limiter's Redis clients short timeouts, whatever options were set."""
    timeout = config["REDIS_SOCKET_TIMEOUT"]
    timeouts = {"socket_connect_timeout": timeout, "socket_timeout": timeout}
    if config.get("CACHE_TYPE") == "RedisCache":
        config["CACHE_OPTIONS"] = {**timeouts, **(config.get("CACHE_OPTIONS") or {})}
    if str(config.get("RATELIMIT_STORAGE_URI", "")).startswith(("redis://", "rediss://")):
        config["RATELIMIT_STORAGE_OPTIONS"] = {**timeouts, **(config.get("RATELIMIT_STORAGE_OPTIONS") or {})}


def load_config() -> dict:
    """Every setting of the app, from the environment (see README, "Configuration")."""
    production = is_production()
    redis_url = _env("REDIS_URL")
    broker_url = _env("CELERY_BROKER_URL")
    secret_key = _env("SECRET_KEY")
    jwt_secret = _env("JWT_SECRET_KEY")
    if production:
        missing = [name for name, value in (("SECRET_KEY", secret_key), ("JWT_SECRET_KEY", jwt_secret)) if not value]
        if missing:
            raise ConfigError(
                f"Production mode needs {' and '.join(missing)} in the environment; "
                "refusing to start with a development secret."
            )
    cache_type = _env("CACHE_TYPE", "RedisCache" if redis_url else "SimpleCache")
    return {
        "ENV_NAME": "production" if production else "development",
        "PRODUCTION": production,
        "SECRET_KEY": secret_key or DEV_SECRET,
        # Database
        "SQLALCHEMY_DATABASE_URI": database_url(),
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(),
        "DATABASE_PING_AFTER_SECONDS": float(_env("DATABASE_PING_AFTER_SECONDS", "1")),
        # JWT
        "JWT_SECRET_KEY": jwt_secret or secret_key or DEV_SECRET,
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(minutes=_int("JWT_ACCESS_MINUTES", 30)),
        "JWT_REFRESH_TOKEN_EXPIRES": timedelta(days=_int("JWT_REFRESH_DAYS", 7)),
        "JWT_TOKEN_LOCATION": ["headers"],
        "JWT_ALGORITHM": "HS256",
        "JWT_DECODE_ALGORITHMS": ["HS256"],
        "PASSWORD_RESET_MAX_AGE": _int("PASSWORD_RESET_MAX_AGE", 3600),
        "EMAIL_VERIFY_MAX_AGE": _int("EMAIL_VERIFY_MAX_AGE", 3 * 24 * 3600),
        "ARGON2_TIME_COST": _int("ARGON2_TIME_COST", 2),
        "ARGON2_MEMORY_COST": _int("ARGON2_MEMORY_COST", 19456),
        # Redis, cache, rate limits
        "REDIS_URL": redis_url,
        "CACHE_TYPE": cache_type,
        "CACHE_REDIS_URL": redis_url,
        "CACHE_DEFAULT_TIMEOUT": _int("CACHE_DEFAULT_TIMEOUT", 300),
        "CACHE_KEY_PREFIX": _env("CACHE_KEY_PREFIX", "nexus:"),
        # A Redis that does not answer costs at most this long per call (then the cache is bypassed for a while).
        "REDIS_SOCKET_TIMEOUT": float(_env("REDIS_SOCKET_TIMEOUT", "0.5")),
        "CACHE_RETRY_AFTER_SECONDS": float(_env("CACHE_RETRY_AFTER_SECONDS", "2")),
        "RATELIMIT_STORAGE_URI": _env("RATELIMIT_STORAGE_URI", redis_url or "memory://"),
        "RATELIMIT_ENABLED": _bool("RATELIMIT_ENABLED", True),
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": _env("LOGIN_RATE_LIMIT", "10 per minute"),
        "EMAIL_RATE_LIMIT": _env("EMAIL_RATE_LIMIT", "5 per minute"),
        # Celery
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_DEFAULT_QUEUE": _env("CELERY_TASK_DEFAULT_QUEUE", "celery"),
        "OUTBOX_RELAY_AFTER_SECONDS": _int("OUTBOX_RELAY_AFTER_SECONDS", 30),
        "WORKER_METRICS_PORT": _int("WORKER_METRICS_PORT", 0),
        # Operations: logs, metrics, HSTS
        "LOG_FORMAT": _env("LOG_FORMAT", "json"),
        "LOG_LEVEL": _env("LOG_LEVEL", "INFO"),
        "METRICS_ENABLED": _bool("METRICS_ENABLED", True),
        "HSTS_SECONDS": _int("HSTS_SECONDS", 31536000),
        # Mail
        "MAIL_BACKEND": _env("MAIL_BACKEND", "smtp" if _env("SMTP_HOST") else "log"),
        "MAIL_OUTBOX_FILE": _env("MAIL_OUTBOX_FILE"),
        "MAIL_DEFAULT_SENDER": _env("MAIL_DEFAULT_SENDER", "Nexus Store <no-reply@nexus.local>"),
        "SMTP_HOST": _env("SMTP_HOST"),
        "SMTP_PORT": _int("SMTP_PORT", 587),
        "SMTP_USER": _env("SMTP_USER"),
        "SMTP_PASSWORD": _env("SMTP_PASSWORD"),
        "SMTP_STARTTLS": _bool("SMTP_STARTTLS", True),
        "FRONTEND_URL": _env("FRONTEND_URL", "http://127.0.0.1:5000"),
        # HTTP
        "CORS_ORIGINS": _list("CORS_ORIGINS", "" if production else "*"),
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 10 * 1024 * 1024),
        "ALLOWED_HOSTS": _list("ALLOWED_HOSTS"),
        # Admin site: a signed session cookie, sent only over HTTPS in production and never to scripts.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", production),
        "SESSION_COOKIE_NAME": _env("SESSION_COOKIE_NAME", "nexus_admin"),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=_int("ADMIN_SESSION_HOURS", 12)),
        # CSRF tokens are checked on the admin site's forms only: the JSON API is JWT-only, with no cookies.
        "WTF_CSRF_CHECK_DEFAULT": False,
        "WTF_CSRF_TIME_LIMIT": None,
        # Shop
        "PAGE_SIZE": _int("PAGE_SIZE", 12),
        "MAX_PAGE_SIZE": _int("MAX_PAGE_SIZE", 100),
        "STORE_CURRENCY": _env("STORE_CURRENCY", "USD"),
        "MAX_LINE_QUANTITY": _int("MAX_LINE_QUANTITY", 100),
        "LOW_STOCK_THRESHOLD": _int("LOW_STOCK_THRESHOLD", 5),
        "MEDIA_ROOT": _env("MEDIA_ROOT", str(INSTANCE_DIR / "media")),
        "MEDIA_URL": _env("MEDIA_URL", "/media/"),
        "MAX_IMAGE_BYTES": _int("MAX_IMAGE_BYTES", 5 * 1024 * 1024),
        "MAX_IMAGE_PIXELS": _int("MAX_IMAGE_PIXELS", 40_000_000),
        "SHIPPING_FLAT_RATE": Decimal(_env("SHIPPING_FLAT_RATE", "5.00")),
        "FREE_SHIPPING_THRESHOLD": Decimal(_env("FREE_SHIPPING_THRESHOLD", "100.00")),
        "ORDER_PAYMENT_TIMEOUT": _int("ORDER_PAYMENT_TIMEOUT", 30),
        "PAYMENT_PROVIDER": _env("PAYMENT_PROVIDER", "test"),
        "PAYMENT_WEBHOOK_SECRET": _env("PAYMENT_WEBHOOK_SECRET", "whsec_dev_change_me"),
        "IDEMPOTENCY_KEY_TTL_HOURS": _int("IDEMPOTENCY_KEY_TTL_HOURS", 24),
        # OpenAPI
        "API_TITLE": "Nexus Store API",
        "API_VERSION": "1.0.0",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/swagger/",
        "OPENAPI_SWAGGER_UI_URL": "/static/swagger-ui/",
        "OPENAPI_SWAGGER_UI_CONFIG": {"persistAuthorization": True, "tryItOutEnabled": True},
        "OPENAPI_REDOC_PATH": "/redoc/",
        "OPENAPI_REDOC_URL": "/static/redoc/redoc.standalone.js",
    }
