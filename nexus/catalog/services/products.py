"""Products: creating one with its variants, changing it, and deleting or discontinuing it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select

from nexus.catalog import hooks
from nexus.catalog.models import Product, ProductStatus, ProductVariant, Review, StockMovement
from nexus.catalog.services.categories import category_id_by_slug
from nexus.catalog.services.helpers import commit, ensure_slug_free, slug_from
from nexus.catalog.services.images import remove_unreferenced_files
from nexus.catalog.services.inventory import refresh_product_summaries
from nexus.catalog.services.lookup import get_product_or_404, reload_product
from nexus.catalog.services.variants import add_variants
from nexus.extensions import db

_WRITABLE = ("name", "slug", "description", "status", "meta_title", "meta_description", "low_stock_threshold")


def create_product(*, data: Mapping[str, Any], by_id: int | None = None) -> Product:
    """A new product (draft unless a status is given), with its variants and their stock, in one transaction."""
    values = {field: data[field] for field in _WRITABLE if field in data}
    values["slug"] = values.get("slug") or slug_from(values["name"], max_length=220)
    ensure_slug_free(Product, values["slug"])
    values["category_id"] = category_id_by_slug(data["category"], field="category")
    product = Product(**values)
    db.session.add(product)
    db.session.flush()
    add_variants(product_id=product.id, variants=data.get("variants", []), by_id=by_id, nested=True)
    refresh_product_summaries([product.id])
    commit("products")
    return reload_product(product.id)


def update_product(*, slug: str, changes: Mapping[str, Any]) -> Product:
    """Change a product's fields (variants and images have their own endpoints)."""
    product = get_product_or_404(slug=slug, relations=False)
    values = {field: changes[field] for field in _WRITABLE if field in changes}
    if values.get("slug", product.slug) != product.slug:
        ensure_slug_free(Product, values["slug"], own_id=product.id)
    if "category" in changes:
        values["category_id"] = category_id_by_slug(changes["category"], field="category")
    for field, value in values.items():
        setattr(product, field, value)
    # A status change also decides whether the public may read the product's reviews.
    commit("products", "reviews")
    return reload_product(product.id)


def delete_product(*, slug: str) -> None:
    """Delete a product, or discontinue it when it was ever ordered (orders keep pointing at it)."""
    product = get_product_or_404(slug=slug)
    if hooks.product_was_ordered(product.id):
        product.status = ProductStatus.DISCONTINUED
        commit("products", "reviews")
        return
    files = [image.image for image in product.images]
    # Explicit for SQLite, which does not enforce the foreign keys' ON DELETE CASCADE.
    variant_ids = select(ProductVariant.id).where(ProductVariant.product_id == product.id)
    db.session.execute(delete(StockMovement).where(StockMovement.variant_id.in_(variant_ids)))
    db.session.execute(delete(Review).where(Review.product_id == product.id))
    db.session.delete(product)
    commit("products", "reviews")
    remove_unreferenced_files(files)
