"""Finding products: who may see which, and loading them with a fixed number of statements."""

from __future__ import annotations

from sqlalchemy import Select, case, or_, select
from sqlalchemy.orm import joinedload, selectinload

from nexus.catalog.exceptions import ProductNotFound
from nexus.catalog.models import Product, ProductStatus, ProductVariant
from nexus.extensions import db


def visible(is_staff: bool) -> list:
    """The public sees active products only; staff see every status."""
    return [] if is_staff else [Product.status == ProductStatus.ACTIVE]


def with_relations(stmt: Select, *, is_staff: bool) -> Select:
    """Load category, variants (active ones for the public) and images: three statements for any number.

    populate_existing: a product already in the session gets the collections this viewer may see, too.
    """
    variants = Product.variants if is_staff else Product.variants.and_(ProductVariant.is_active.is_(True))
    return stmt.options(
        joinedload(Product.category), selectinload(variants), selectinload(Product.images)
    ).execution_options(populate_existing=True)


def get_product_or_404(*, slug: str, is_staff: bool = True, relations: bool = True) -> Product:
    """The product with this slug (with category, variants and images unless relations=False)."""
    stmt = select(Product).where(Product.slug == slug, *visible(is_staff))
    if relations:
        stmt = with_relations(stmt, is_staff=is_staff)
    product = db.session.scalars(stmt).unique().one_or_none()
    if product is None:
        raise ProductNotFound()
    return product


def get_product_by_pk_or_404(*, product_pk: str, is_staff: bool, for_update: bool = False) -> Product:
    """The product whose slug or numeric id is `product_pk` (a slug wins when both match)."""
    matches = [Product.slug == product_pk]
    if product_pk.isascii() and product_pk.isdigit() and len(product_pk) < 10:
        matches.append(Product.id == int(product_pk))
    stmt = (
        select(Product)
        .where(or_(*matches), *visible(is_staff))
        .order_by(case((Product.slug == product_pk, 0), else_=1))
        .limit(1)
    )
    if for_update:
        stmt = stmt.with_for_update()
    product = db.session.scalars(stmt).one_or_none()
    if product is None:
        raise ProductNotFound()
    return product


def reload_product(product_id: int) -> Product:
    """The product as staff see it, read again from the database (summaries are updated in SQL)."""
    stmt = with_relations(select(Product).where(Product.id == product_id), is_staff=True)
    return db.session.scalars(stmt).unique().one()
