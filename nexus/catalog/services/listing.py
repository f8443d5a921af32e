"""The product list: every filter, full-text search and ordering of the contract, combinable."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, cast, func, literal, or_

from nexus.catalog.models import SEARCH_CONFIG, SIZES, Product, SearchTerm
from nexus.catalog.services import counts
from nexus.catalog.services.categories import category_id_by_slug, subtree_ids
from nexus.catalog.services.documents import product_page, product_rows
from nexus.catalog.services.helpers import count, like_pattern
from nexus.catalog.services.lookup import visible
from nexus.common.pagination import Page
from nexus.extensions import db

# A word of ASCII letters: the parser makes one token of it, so the search is one lexeme (or none).
_ONE_WORD = re.compile(r"[A-Za-z]+")
_SORT_COLUMNS = {
    "price": Product.min_price,
    "created_at": Product.created_at,
    "name": Product.name,
    "rating": Product.average_rating,
}


def _search(text: str) -> tuple[list[ColumnElement], list[ColumnElement] | None]:
    """(criteria, best-match ordering): ranked full-text search on PostgreSQL, a case-insensitive match elsewhere.

    A search of one plain word is one lexeme (or none, for a stop word), whose rank in every product is stored in
    search_terms: PostgreSQL reads the best matches from its index in order, without ranking every match. The
    ranks are the same ts_rank_cd values, so the order is the same as ranking them all."""
    if db.engine.dialect.name == "postgresql":
        query = func.websearch_to_tsquery(literal(SEARCH_CONFIG), text)
        if _ONE_WORD.fullmatch(text.strip()):
            lexeme = func.btrim(cast(query, Text), "'")
            criteria = [SearchTerm.product_id == Product.id, SearchTerm.lexeme == lexeme]
            return criteria, [SearchTerm.rank.desc(), SearchTerm.product_id.desc()]
        rank = func.ts_rank_cd(Product.search_vector, query)
        return [Product.search_vector.bool_op("@@")(query)], [rank.desc(), Product.id.desc()]
    pattern = like_pattern(text)
    return [or_(Product.name.ilike(pattern, escape="\\"), Product.description.ilike(pattern, escape="\\"))], None


def _criteria(
    filters: Mapping[str, Any], *, is_staff: bool
) -> tuple[list[ColumnElement], list[ColumnElement] | None, counts.CountLookup]:
    """(criteria, best-match ordering of a search, the list's cached count). The variant filters read the
    products' exact summaries of their variants."""
    # The cached count first, before anything it depends on is read (see catalog.services.counts).
    known = counts.lookup("products", is_staff, {name: value for name, value in filters.items() if name != "ordering"})
    criteria = visible(is_staff)
    rank = None
    if filters.get("status") is not None:
        criteria.append(Product.status == filters["status"])
    if filters.get("category"):
        root = category_id_by_slug(filters["category"], field="category", location="query", is_staff=is_staff)
        criteria.append(Product.category_id.in_(subtree_ids(root)))
    low, high = filters.get("min_price"), filters.get("max_price")
    if low is not None or high is not None:
        # One active variant priced within the range (not merely the lowest price): one of the six sizes' prices.
        in_range = []
        for size in SIZES:
            price = Product.size_price(size)
            bounds = ([price >= low] if low is not None else []) + ([price <= high] if high is not None else [])
            in_range.append(and_(*bounds))
        criteria.append(or_(*in_range))
        if high is not None:
            # Implied by the above (the lowest price is at most the one in range): lets the price orderings'
            # indexes skip the products priced above the range.
            criteria.append(Product.min_price <= high)
    if filters.get("size"):
        # An active variant of one of the sizes, with stock.
        criteria.append(Product.sizes_in_stock.op("&")(Product.sizes_mask(filters["size"])) != 0)
    if filters.get("min_rating") is not None:
        criteria.append(Product.average_rating >= filters["min_rating"])
    if filters.get("in_stock") is not None:
        criteria.append(Product.in_stock.is_(filters["in_stock"]))
    if filters.get("search"):
        matches, rank = _search(filters["search"])
        criteria.extend(matches)
    return criteria, rank, known


def _ordering(ordering: str | None, rank: list[ColumnElement] | None) -> list[ColumnElement]:
    if ordering is None and rank is not None:
        return rank
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
    """A page of product documents matching every filter given; a fixed number of statements whatever the
    page size."""
    criteria, rank, known = _criteria(filters, is_staff=is_staff)
    stmt = product_rows(*criteria).order_by(*_ordering(filters.get("ordering"), rank))
    return product_page(
        stmt,
        is_staff=is_staff,
        page=page,
        page_size=page_size,
        count=known.resolve(lambda: count(Product.id, *criteria)),
    )
