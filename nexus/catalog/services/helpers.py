"""Helpers the catalog services share: slugs, LIKE patterns, counting, and unique-violation translation."""

from __future__ import annotations

from collections.abc import Callable

from slugify import slugify
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError

from nexus.catalog.services import counts
from nexus.common import cache, outbox
from nexus.common.errors import ValidationFailed
from nexus.extensions import db


def slug_from(name: str, *, max_length: int) -> str:
    slug = slugify(name, max_length=max_length, word_boundary=True)
    if not slug:
        raise ValidationFailed(errors={"slug": ["The name has no letters or digits to make a slug from: give one."]})
    return slug


def like_pattern(text: str) -> str:
    """`%text%` with LIKE's wildcards in the text matched literally (use with escape="\\")."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def count(entity_id: ColumnElement, *criteria: ColumnElement) -> int:
    """How many rows match the criteria (a list's total, without its eager-loading options).

    `entity_id` is the primary key, never NULL, so count(*) is the same number; unlike count(id), PostgreSQL
    can take it from an index alone (e.g. ix_products_status_* for the public list) without reading the rows.
    """
    return db.session.scalar(select(func.count()).select_from(entity_id.class_).where(*criteria))


def is_unique_violation(exc: IntegrityError, table: str, *columns: str) -> bool:
    """True when the error is the unique constraint on table(columns), on SQLite or PostgreSQL."""
    message = str(exc.orig)
    sqlite = "UNIQUE constraint failed: " + ", ".join(f"{table}.{column}" for column in columns)
    postgresql = f'"uq_{table}_{"_".join(columns)}'
    return sqlite in message or postgresql in message


_SLUG_TAKEN = {
    "categories": "A category with this slug already exists.",
    "products": "A product with this slug already exists.",
}


def ensure_slug_free(model: type, slug: str, *, own_id: int | None = None) -> None:
    """A 400 on `slug` when another row of `model` (Category or Product) already has it."""
    taken = select(model.id).where(model.slug == slug, model.id != (own_id or 0))
    if db.session.scalar(taken) is not None:
        raise ValidationFailed(errors={"slug": [_SLUG_TAKEN[model.__tablename__]]})


_UNIQUE_FIELDS = (
    *(((table, "slug"), "slug", message) for table, message in _SLUG_TAKEN.items()),
    (("product_variants", "sku"), "sku", "A variant with this SKU already exists."),
    (("product_variants", "product_id", "size"), "size", "The product already has a variant of this size."),
)


def commit(*namespaces: str, other: Callable[[IntegrityError], Exception] | None = None) -> None:
    """Commit the use case and let cached reads of the namespaces go once it has committed (with "products",
    the cached list counts too: the catalog's generation is raised in the same transaction).

    A unique constraint that a concurrent write broke after our checks is a 400 on its field, like the
    checks themselves; any other integrity error is turned into `other(exc)` when given.
    """
    cache.invalidate_on_commit(*namespaces)
    if "products" in namespaces:
        # Whatever changed the products may change a list's members or count: cached counts go with it.
        counts.bump_on_commit()
    try:
        outbox.commit()
    except IntegrityError as exc:
        outbox.rollback()
        for key, field, message in _UNIQUE_FIELDS:
            if is_unique_violation(exc, *key):
                raise ValidationFailed(errors={field: [message]}) from exc
        if other is None:
            raise
        raise other(exc) from exc
