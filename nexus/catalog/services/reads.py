"""Catalog reads as JSON text, cached for visitors and customers (never for staff).

The cache holds the JSON text the output schema's result serialises to (a hit is sent as it is, never loaded
and serialised again), under a versioned namespace that every write affecting it
invalidates once it commits ("categories", "products", "reviews"), so no client reads a stale price, stock or
status after a write's answer. A cache that is down only makes these reads slower (nexus.common.cache).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import current_app
from marshmallow import Schema

from nexus.catalog.schemas import CategorySchema, ProductSchema, ReviewSchema, VariantSchema
from nexus.catalog.services.categories import get_category_or_404, list_categories
from nexus.catalog.services.listing import list_products
from nexus.catalog.services.lookup import get_product_or_404
from nexus.catalog.services.reviews import list_reviews
from nexus.catalog.services.variants import list_variants
from nexus.common import cache
from nexus.common.pagination import Page


def _json(value: Any) -> str:
    # The application's own JSON provider, so the text is what jsonify would have sent.
    return current_app.json.dumps(value, separators=(",", ":"))


def _read(namespace: str, key: Any, build: Callable[[], Any], *, is_staff: bool) -> Any:
    # Staff see drafts and inactive rows: their answers are never shared through the cache.
    # "json": entries of this text format never meet those of an older release (dicts) under the same version.
    return build() if is_staff else cache.cached(namespace, ["json", key], build)


def _page(
    namespace: str, key: Any, listing: Callable[[], Page], schema: Callable[[], Schema], *, is_staff: bool
) -> Page:
    """The page with `items` as a JSON array (text); the schema is only made on a cache miss."""

    def build() -> dict:
        page = listing()
        items = _json(schema().dump(page.items, many=True))
        return {"items": items, "count": page.count, "page": page.page, "page_size": page.page_size}

    return Page(**_read(namespace, key, build, is_staff=is_staff))


def read_categories(*, args: Mapping[str, Any], is_staff: bool) -> Page:
    """A page of categories (items as JSON text) (`args`: parent, search, page, page_size)."""

    def listing() -> Page:
        return list_categories(**args, is_staff=is_staff)

    return _page("categories", ["list", dict(args)], listing, CategorySchema, is_staff=is_staff)


def read_category(*, slug: str, is_staff: bool) -> str:
    """One category with its children, as JSON text."""
    build = lambda: _json(CategorySchema().dump(get_category_or_404(slug=slug, is_staff=is_staff)))  # noqa: E731
    return _read("categories", ["detail", slug], build, is_staff=is_staff)


def read_products(*, args: Mapping[str, Any], is_staff: bool) -> Page:
    """A page of the product list (items as JSON text) (`args`: the list's filters, ordering, page and page_size)."""
    filters = {name: value for name, value in args.items() if name not in ("page", "page_size")}

    def listing() -> Page:
        return list_products(filters=filters, is_staff=is_staff, page=args["page"], page_size=args["page_size"])

    return _page("products", ["list", dict(args)], listing, ProductSchema, is_staff=is_staff)


def read_product(*, slug: str, is_staff: bool) -> str:
    """One product with its variants and images, as JSON text."""
    build = lambda: _json(ProductSchema().dump(get_product_or_404(slug=slug, is_staff=is_staff)))  # noqa: E731
    return _read("products", ["detail", slug], build, is_staff=is_staff)


def read_variants(*, slug: str, is_staff: bool, page: int, page_size: int) -> Page:
    """A page of the product's variants (items as JSON text)."""

    def listing() -> Page:
        return list_variants(slug=slug, is_staff=is_staff, page=page, page_size=page_size)

    return _page("products", ["variants", slug, page, page_size], listing, VariantSchema, is_staff=is_staff)


def read_reviews(*, product_pk: str, is_staff: bool, page: int, page_size: int) -> Page:
    """A page of the product's reviews (items as JSON text)."""

    def listing() -> Page:
        return list_reviews(product_pk=product_pk, is_staff=is_staff, page=page, page_size=page_size)

    return _page("reviews", ["list", product_pk, page, page_size], listing, ReviewSchema, is_staff=is_staff)
