"""Size variants: one per size per product, unique SKUs, every stock change recorded in the ledger."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import contains_eager

from nexus.catalog.exceptions import VariantNotFound
from nexus.catalog.models import SIZES, MovementReason, Product, ProductVariant, StockMovement
from nexus.catalog.services.helpers import commit
from nexus.catalog.services.inventory import adjust_stock, refresh_product_summaries
from nexus.catalog.services.lookup import get_product_or_404
from nexus.common.errors import Conflict, ValidationFailed
from nexus.common.pagination import Page, paginate_list
from nexus.extensions import db


def normalise_sku(sku: str) -> str:
    return sku.strip().upper()


def list_variants(*, slug: str, is_staff: bool, page: int, page_size: int) -> Page:
    """The product's variants by size; the public sees active variants of active products."""
    product = get_product_or_404(slug=slug, is_staff=is_staff, relations=False)
    stmt = select(ProductVariant).where(ProductVariant.product_id == product.id)
    if not is_staff:
        stmt = stmt.where(ProductVariant.is_active.is_(True))
    variants = list(db.session.scalars(stmt.order_by(ProductVariant.size_rank)))
    return paginate_list(variants, page=page, page_size=page_size)


def add_variants(
    *, product_id: int, variants: Sequence[Mapping[str, Any]], by_id: int | None, nested: bool = False
) -> list[ProductVariant]:
    """Add variants to a product (flushes, does not commit); their opening stock enters the ledger as a restock.

    A size the product already has, or a SKU already used, is a 400 on that field (under `variants.<i>`
    when `nested`, as in a product created with its variants).
    """

    def refuse(index: int, field: str, message: str) -> ValidationFailed:
        error = {field: [message]}
        return ValidationFailed(errors={"variants": {index: error}} if nested else error)

    skus = [normalise_sku(variant["sku"]) for variant in variants]
    taken_sizes = set(db.session.scalars(select(ProductVariant.size).where(ProductVariant.product_id == product_id)))
    taken_skus = set(db.session.scalars(select(ProductVariant.sku).where(ProductVariant.sku.in_(skus))))
    seen_sizes: set[str] = set()
    for index, (variant, sku) in enumerate(zip(variants, skus, strict=True)):
        size = variant["size"]
        if size in taken_sizes or size in seen_sizes:
            raise refuse(index, "size", f"The product already has a variant of size {size}: one per size.")
        if sku in taken_skus or skus.index(sku) != index:
            raise refuse(index, "sku", f"A variant with SKU {sku} already exists.")
        seen_sizes.add(size)
    added = [
        ProductVariant(
            product_id=product_id,
            sku=sku,
            size=variant["size"],
            size_rank=SIZES.index(variant["size"]),
            price=variant["price"],
            stock=variant.get("stock", 0),
            is_active=variant.get("is_active", True),
        )
        for variant, sku in zip(variants, skus, strict=True)
    ]
    db.session.add_all(added)
    db.session.flush()
    db.session.add_all(
        StockMovement(
            variant_id=variant.id,
            change=variant.stock,
            stock_after=variant.stock,
            reason=MovementReason.RESTOCK,
            by_id=by_id,
        )
        for variant in added
        if variant.stock > 0
    )
    return added


def _variant_or_404(*, variant_id: int, slug: str | None = None) -> ProductVariant:
    """The variant with its product, read afresh (after a write too); with `slug`, only if it is that product's."""
    criteria = [ProductVariant.id == variant_id] + ([Product.slug == slug] if slug is not None else [])
    stmt = (
        select(ProductVariant)
        .join(ProductVariant.product)
        .where(*criteria)
        .options(contains_eager(ProductVariant.product))
        .execution_options(populate_existing=True)
    )
    variant = db.session.scalars(stmt).one_or_none()
    if variant is None:
        raise VariantNotFound()
    return variant


def create_variant(*, slug: str, data: Mapping[str, Any], by_id: int | None) -> ProductVariant:
    """Add a variant to a product; its opening stock is recorded in the ledger."""
    product = get_product_or_404(slug=slug, relations=False)
    (variant,) = add_variants(product_id=product.id, variants=[data], by_id=by_id)
    refresh_product_summaries([product.id])
    commit("products")
    return _variant_or_404(variant_id=variant.id)


def update_variant(*, slug: str, variant_id: int, changes: Mapping[str, Any], by_id: int | None) -> ProductVariant:
    """Change a variant's price, stock (recorded in the ledger as an adjustment) or is_active."""
    variant = _variant_or_404(slug=slug, variant_id=variant_id)
    for field in ("price", "is_active"):
        if field in changes:
            setattr(variant, field, changes[field])
    db.session.flush()
    if "stock" in changes:
        adjust_stock(variant_id=variant.id, new_stock=changes["stock"], by_id=by_id)
    refresh_product_summaries([variant.product_id])
    commit("products")
    return _variant_or_404(variant_id=variant.id)


def delete_variant(*, slug: str, variant_id: int) -> None:
    """Delete a variant (and its ledger); the product's price and stock summaries follow."""
    variant = _variant_or_404(slug=slug, variant_id=variant_id)
    product_id = variant.product_id
    # Explicit for SQLite, which does not enforce the foreign keys' ON DELETE CASCADE.
    db.session.execute(delete(StockMovement).where(StockMovement.variant_id == variant.id))
    db.session.delete(variant)
    db.session.flush()
    refresh_product_summaries([product_id])
    commit(
        "products",
        other=lambda _exc: Conflict("The variant is still referenced (by orders): deactivate it instead."),
    )
