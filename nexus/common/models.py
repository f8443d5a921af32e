"""Column types and mixins shared by every domain's models."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import DateTime, Numeric
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def upsert_insert(target):
    """An INSERT of `target` (a model or table) that supports ON CONFLICT, for the database in use."""
    from nexus.extensions import db

    dialect = db.engine.dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"no upsert for the {dialect} dialect")
    return (postgresql if dialect == "postgresql" else sqlite).insert(target)


_BUILT: dict[tuple[str, str], object] = {}


def built_once(name: str, build: Callable[[], object]):
    """`build()`'s statement, built once per database dialect and kept under `name` (unique in the app): a hot
    path's statement with bound parameters, since building and keying a statement costs more Python time than
    running it. For statements whose form depends on the dialect (upsert_insert); others can use functools.cache."""
    from nexus.extensions import db

    key = (name, db.engine.dialect.name)
    stmt = _BUILT.get(key)
    if stmt is None:
        stmt = _BUILT[key] = build()
    return stmt


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given; use nexus.common.models.utcnow()")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


Money = Numeric(12, 2, asdecimal=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)
