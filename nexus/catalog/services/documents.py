"""Product documents for the read endpoints, built from plain rows: no ORM objects, no schema per item.

A list page or a product detail is two statements whatever the number of products, variants and images
(products with their category, then the variants and images of those products), turned into the dicts
`ProductSchema().dump(product)` makes — the same JSON, field for field (proven in
tests/catalog/test_documents.py). ProductSchema stays the documented shape and what the write endpoints
answer with; this is the read path's faster way to the same bytes (bench/README.md, "Optimisations").
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import cache
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, Select, bindparam, cast, literal_column, null, select, union_all

from nexus.catalog.exceptions import ProductNotFound
from nexus.catalog.models import Category, Product, ProductImage, ProductVariant, seo_description, seo_title
from nexus.catalog.services.lookup import visible
from nexus.common.database import PREPARED, read_connection, run
from nexus.common.models import UTCDateTime
from nexus.common.pagination import Page, check_page

_PRODUCT = (
    Product.id,
    Product.name,
    Product.slug,
    Product.description,
    Product.status,
    Product.meta_title,
    Product.meta_description,
    Product.min_price,
    Product.average_rating,
    Product.review_count,
    Product.in_stock,
    Product.low_stock_threshold,
    Product.created_at,
    Product.updated_at,
    Category.id.label("category_id"),
    Category.name.label("category_name"),
    Category.slug.label("category_slug"),
)
_IDS = bindparam("ids", expanding=True)


@cache
def _parts(is_staff: bool) -> Select:
    """The variants (by size) and images (by id) of the products `ids`, in one statement: one row shape for both,
    `kind` 0 for a variant (sku, size, price, stock, is_active) and 1 for an image (image, thumbnail, alt_text,
    is_main, created_at)."""
    variant_criteria = [ProductVariant.product_id.in_(_IDS)]
    if not is_staff:
        variant_criteria.append(ProductVariant.is_active.is_(True))
    variants = select(
        literal_column("0").label("kind"),
        ProductVariant.product_id,
        ProductVariant.id,
        ProductVariant.sku.label("text1"),
        ProductVariant.size.label("text2"),
        null().label("text3"),
        ProductVariant.price,
        ProductVariant.stock,
        ProductVariant.is_active.label("flag"),
        cast(null(), UTCDateTime).label("created_at"),
        ProductVariant.size_rank.label("rank"),
    ).where(*variant_criteria)
    images = select(
        literal_column("1"),
        ProductImage.product_id,
        ProductImage.id,
        ProductImage.image,
        ProductImage.thumbnail,
        ProductImage.alt_text,
        null(),
        null(),
        ProductImage.is_main,
        ProductImage.created_at,
        ProductImage.id,
    ).where(ProductImage.product_id.in_(_IDS))
    # Prepared: its text takes one form per number of ids, at most a page's (MAX_PAGE_SIZE).
    return union_all(variants, images).order_by("kind", "product_id", "rank").execution_options(**PREPARED)


def _execute(stmt, params=None) -> list:
    # On the read connection (nexus.common.database), marked statements straight on the driver: plain rows.
    return run(stmt, params, connection=read_connection())


def product_rows(*criteria: ColumnElement) -> Select:
    """The products (with their category's columns) matching the criteria; order and limit it as needed."""
    return select(*_PRODUCT).join(Category, Category.id == Product.category_id).where(*criteria)


def _money(value: Decimal | None) -> str | None:
    # What marshmallow's Decimal(places=2, as_string=True) makes of a stored Numeric(12, 2).
    return None if value is None else f"{value:.2f}"


def _documents(rows: Sequence[Any], *, is_staff: bool) -> list[dict]:
    """The documents of these product rows, in their order (one more statement: their variants and images)."""
    if not rows:
        return []
    ids = [row.id for row in rows]
    variants: dict[int, list[dict]] = {product_id: [] for product_id in ids}
    images: dict[int, list[dict]] = {product_id: [] for product_id in ids}
    main_images: dict[int, str | None] = {}
    thresholds = {row.id: row.low_stock_threshold for row in rows}
    default_threshold = current_app.config["LOW_STOCK_THRESHOLD"]
    media = current_app.config["MEDIA_URL"].rstrip("/") + "/"

    def url(name: str | None) -> str | None:
        return media + name.lstrip("/") if name else None  # nexus.common.media.media_url, without a lookup each

    # Rows fetched at once (not one fetch per row) and unpacked as tuples, in _parts' column order: the hot loop
    # of a list page (~100 rows).
    parts = _execute(_parts(is_staff), {"ids": ids})
    for kind, product_id, id_, text1, text2, text3, price, stock, flag, created_at, _rank in parts:
        if kind == 0:
            threshold = thresholds[product_id]
            variants[product_id].append(
                {
                    "id": id_,
                    "sku": text1,
                    "size": text2,
                    "price": _money(price),
                    "stock": stock,
                    "is_active": flag,
                    "low_stock": stock <= (default_threshold if threshold is None else threshold),
                }
            )
            continue
        if flag:
            main_images[product_id] = url(text1)
        images[product_id].append(
            {
                "id": id_,
                "image": url(text1),
                "thumbnail": url(text2),
                "alt_text": text3,
                "is_main": flag,
                "created_at": created_at.isoformat(),
            }
        )
    return [
        {
            "id": id_,
            "name": name,
            "slug": slug,
            "description": description,
            "category": {"id": category_id, "name": category_name, "slug": category_slug},
            "status": status.value,
            "meta_title": seo_title(name, meta_title),
            "meta_description": seo_description(description, meta_description),
            "price": _money(min_price),
            "variants": variants[id_],
            "images": images[id_],
            "main_image": main_images.get(id_),
            "average_rating": None if average_rating is None else float(average_rating),
            "review_count": review_count,
            "in_stock": in_stock,
            "low_stock_threshold": low_stock_threshold,
            "created_at": created_at.isoformat(),
            "updated_at": updated_at.isoformat(),
        }
        # In _PRODUCT's column order.
        for (
            id_,
            name,
            slug,
            description,
            status,
            meta_title,
            meta_description,
            min_price,
            average_rating,
            review_count,
            in_stock,
            low_stock_threshold,
            created_at,
            updated_at,
            category_id,
            category_name,
            category_slug,
        ) in rows
    ]


def product_page(stmt: Select, params: dict, *, is_staff: bool, page: int, page_size: int, count: int) -> Page:
    """A page of `stmt` (product_rows(...), ordered, with LIMIT p_limit OFFSET p_offset) as documents, `params`
    binding its other parameters; past the end → 404."""
    check_page(page=page, page_size=page_size, count=count)
    rows = _execute(stmt, {**params, "p_limit": page_size, "p_offset": (page - 1) * page_size})
    return Page(items=_documents(rows, is_staff=is_staff), count=count, page=page, page_size=page_size)


@cache
def _by_slug(is_staff: bool) -> Select:
    return product_rows(Product.slug == bindparam("slug"), *visible(is_staff)).execution_options(**PREPARED)


def product_document(*, slug: str, is_staff: bool) -> dict:
    """The product with this slug as the public (or staff) may see it; unknown or hidden → 404."""
    rows = _execute(_by_slug(is_staff), {"slug": slug})  # slugs are unique: one row at most
    if not rows:
        raise ProductNotFound()
    return _documents(rows, is_staff=is_staff)[0]
