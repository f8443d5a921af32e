"""The product list: every filter, full-text search and ordering of the contract, combinable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, exists, func, literal, or_, select

from nexus.catalog.models import SEARCH_CONFIG, Product, ProductVariant
from nexus.catalog.services.categories import category_id_by_slug, subtree_ids
from nexus.catalog.services.helpers import count, like_pattern
from nexus.catalog.services.lookup import visible, with_relations
from nexus.common.pagination import Page, paginate
from nexus.extensions import db

_SORT_COLUMNS = {
    "price": Product.min_price,
    "created_at": Product.created_at,
    "name": Product.name,
    "rating": Product.average_rating,
}


def _active_variant(*criteria: ColumnElement) -> ColumnElement:
    return exists().where(ProductVariant.product_id == Product.id, ProductVariant.is_active.is_(True), *criteria)


def _search(text: str) -> tuple[ColumnElement, ColumnElement | None]:
    """(criterion, rank): ranked full-text search on PostgreSQL, a case-insensitive match elsewhere."""
    if db.engine.dialect.name == "postgresql":
        query = func.websearch_to_tsquery(literal(SEARCH_CONFIG), text)
        return Product.search_vector.bool_op("@@")(query), func.ts_rank_cd(Product.search_vector, query)
    pattern = like_pattern(text)
    return or_(Product.name.ilike(pattern, escape="\\"), Product.description.ilike(pattern, escape="\\")), None


def _criteria(filters: Mapping[str, Any], *, is_staff: bool) -> tuple[list[ColumnElement], ColumnElement | None]:
    criteria = visible(is_staff)
    rank = None
    if filters.get("status") is not None:
        criteria.append(Product.status == filters["status"])
    if filters.get("category"):
        root = category_id_by_slug(filters["category"], field="category", location="query", is_staff=is_staff)
        criteria.append(Product.category_id.in_(subtree_ids(root)))
    low, high = filters.get("min_price"), filters.get("max_price")
    if low is not None or high is not None:
        # One active variant priced within the range (not merely the lowest price).
        in_range = [ProductVariant.price >= low] if low is not None else []
        in_range += [ProductVariant.price <= high] if high is not None else []
        criteria.append(_active_variant(*in_range))
    if filters.get("size"):
        criteria.append(_active_variant(ProductVariant.size.in_(filters["size"]), ProductVariant.stock > 0))
    if filters.get("min_rating") is not None:
        criteria.append(Product.average_rating >= filters["min_rating"])
    if filters.get("in_stock") is not None:
        criteria.append(Product.in_stock.is_(filters["in_stock"]))
    if filters.get("search"):
        matches, rank = _search(filters["search"])
        criteria.append(matches)
    return criteria, rank


def _ordering(ordering: str | None, rank: ColumnElement | None) -> list[ColumnElement]:
    if ordering is None and rank is not None:
        return [rank.desc(), Product.id.desc()]
    ordering = ordering or "-created_at"
    name = ordering.lstrip("-")
    descending = ordering.startswith("-")
    column = _SORT_COLUMNS[name]
    primary = column.desc() if descending else column.asc()
    if name in ("price", "rating"):
        # Products without a price or a rating come last either way, the same on every database.
        primary = primary.nulls_last()
    return [primary, Product.id.desc() if descending else Product.id.asc()]


def list_products(*, filters: Mapping[str, Any], is_staff: bool, page: int, page_size: int) -> Page:
    """A page of products matching every filter given; a fixed number of statements whatever the page size."""
    criteria, rank = _criteria(filters, is_staff=is_staff)
    stmt = with_relations(select(Product).where(*criteria), is_staff=is_staff)
    stmt = stmt.order_by(*_ordering(filters.get("ordering"), rank))
    return paginate(stmt, page=page, page_size=page_size, count=count(Product.id, *criteria))
