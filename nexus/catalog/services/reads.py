"""Catalog reads as documents (dicts, and pages of dicts) ready to be sent as JSON.

Products come from plain rows (services/documents.py); categories, variants and reviews through their output
schemas. Caching is the routes' business (routes/bodies.py `public_read`): these always read the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nexus.catalog.schemas import CategorySchema, ReviewSchema, VariantSchema
from nexus.catalog.services.categories import get_category_or_404, list_categories
from nexus.catalog.services.documents import product_document
from nexus.catalog.services.listing import list_products
from nexus.catalog.services.reviews import list_reviews
from nexus.catalog.services.variants import list_variants
from nexus.common.pagination import Page


def _dumped(page: Page, schema: type) -> Page:
    return Page(items=schema().dump(page.items, many=True), count=page.count, page=page.page, page_size=page.page_size)


def read_categories(*, args: Mapping[str, Any], is_staff: bool) -> Page:
    """A page of categories (`args`: parent, search, page, page_size)."""
    return _dumped(list_categories(**args, is_staff=is_staff), CategorySchema)


def read_category(*, slug: str, is_staff: bool) -> dict:
    """One category with its children."""
    return CategorySchema().dump(get_category_or_404(slug=slug, is_staff=is_staff))


def read_products(*, args: Mapping[str, Any], is_staff: bool) -> Page:
    """A page of the product list (`args`: the list's filters, ordering, page and page_size)."""
    filters = {name: value for name, value in args.items() if name not in ("page", "page_size")}
    return list_products(filters=filters, is_staff=is_staff, page=args["page"], page_size=args["page_size"])


def read_product(*, slug: str, is_staff: bool) -> dict:
    """One product with its variants and images."""
    return product_document(slug=slug, is_staff=is_staff)


def read_variants(*, slug: str, is_staff: bool, page: int, page_size: int) -> Page:
    """A page of the product's variants."""
    return _dumped(list_variants(slug=slug, is_staff=is_staff, page=page, page_size=page_size), VariantSchema)


def read_reviews(*, product_pk: str, is_staff: bool, page: int, page_size: int) -> Page:
    """A page of the product's reviews."""
    listing = list_reviews(product_pk=product_pk, is_staff=is_staff, page=page, page_size=page_size)
    return _dumped(listing, ReviewSchema)
