"""The product list: every filter, full-text search and ordering of the contract, combinable."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, Text, and_, bindparam, cast, func, literal, or_, select

from nexus.catalog.models import SEARCH_CONFIG, SIZES, Product, SearchDocument, SearchTerm
from nexus.catalog.services import counts
from nexus.catalog.services.categories import category_id_by_slug, subtree_ids
from nexus.catalog.services.documents import product_page, product_rows
from nexus.catalog.services.helpers import like_pattern
from nexus.catalog.services.lookup import visible
from nexus.common.database import PREPARED, read_connection
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


# The parameters of the list's statements (bound per request: each statement is built once per shape).
_CATEGORY = bindparam("p_category")
_LOW, _HIGH = bindparam("p_low"), bindparam("p_high")
_SIZES = bindparam("p_sizes")
_STATUS, _MIN_RATING, _IN_STOCK = bindparam("p_status"), bindparam("p_min_rating"), bindparam("p_in_stock")
_SEARCH = bindparam("p_search")
_LIMIT, _OFFSET = bindparam("p_limit"), bindparam("p_offset")


def _search_kind(text: str) -> str:
    """How a search runs: ranked full-text search on PostgreSQL — from the term index for one plain word
    ("word"), ranking every match otherwise ("words") — and a case-insensitive match elsewhere ("like")."""
    if db.engine.dialect.name != "postgresql":
        return "like"
    return "word" if _ONE_WORD.fullmatch(text.strip()) else "words"


def _search(kind: str) -> tuple[list[ColumnElement], list[ColumnElement] | None]:
    """(criteria, best-match ordering) of a search of this kind, on the parameter p_search.

    A search of one plain word is one lexeme (or none, for a stop word), whose rank in every product is stored in
    search_terms: PostgreSQL reads the best matches from its index in order, without ranking every match. The
    ranks are the same ts_rank_cd values, so the order is the same as ranking them all.

    Any other search ranks every match with ts_rank (Django's SearchRank, as most shops built on it use): the name
    weighs more than the description and, for several words, the nearer they stand the better. ts_rank_cd (cover
    density), used here before, ranked ~900 matches at 100,000 products in 2.6 ms over the 1.2 ms of finding
    them; ts_rank in 1.6.

    The public's search of several words with no other filter ranks and counts from search_documents instead
    (_Shape.narrow, _public_words): the vectors of the active products alone, in narrow rows. Ranking every match
    reads every match's vector, and in products those lie in wide rows among the other statuses' matches: at
    100,000 products "wool sweater" read 1,107 heap blocks of products (its 1,215 matches of every status), and
    774 of search_documents (its 949 active ones); the page query took 1.40 ms → 1.00, the count 0.93 → 0.66
    (warm, medians of 51 EXPLAIN ANALYZE runs; four pairs of words: page 0.60-1.40 → 0.45-1.00 ms, count
    0.40-0.93 → 0.30-0.66). Not half: a vector is most of a row (~195 of ~220 bytes), so the table still holds
    only ~35 rows a block, and ~950 matches touch a third of its blocks. The vectors and so the ranks are the same
    values: the same matches in the same order. Staff searches, and searches with other filters, which read
    products anyway, still rank products.search_vector."""
    if kind == "like":
        return [or_(Product.name.ilike(_SEARCH, escape="\\"), Product.description.ilike(_SEARCH, escape="\\"))], None
    query = _query()
    if kind == "word":
        lexeme = func.btrim(cast(query, Text), "'")
        criteria = [SearchTerm.product_id == Product.id, SearchTerm.lexeme == lexeme]
        return criteria, [SearchTerm.rank.desc(), SearchTerm.product_id.desc()]
    rank = func.ts_rank(Product.search_vector, query)
    return [Product.search_vector.bool_op("@@")(query)], [rank.desc(), Product.id.desc()]


def _query() -> ColumnElement:
    """The tsquery of the search p_search (PostgreSQL)."""
    return func.websearch_to_tsquery(literal(SEARCH_CONFIG), _SEARCH)


def _public_words() -> tuple[ColumnElement, ColumnElement]:
    """(criterion, rank) of the public's search of several words on search_documents, which holds the search vector
    of every active product and of no other (see catalog.models.SearchDocument): matching there is matching an
    active product, with the very vector products holds."""
    query = _query()
    return SearchDocument.search_vector.bool_op("@@")(query), func.ts_rank(SearchDocument.search_vector, query)


class _Shape(NamedTuple):
    """Which filters a list has (not their values) and its order: the list's statements depend on nothing else."""

    is_staff: bool
    status: bool
    category: bool
    low: bool
    high: bool
    size: bool
    min_rating: bool
    in_stock: bool
    search: str | None
    ordering: str | None

    @property
    def narrow(self) -> bool:
        """The public's search of several words and nothing else: its matches are counted, and without another
        order ranked, from search_documents (see _search)."""
        return (
            self.search == "words"
            and not self.is_staff
            and not any((self.status, self.category, self.low, self.high, self.size, self.min_rating, self.in_stock))
        )

    @property
    def filtered(self) -> bool:
        """Any filter or search (the visibility and the order are not filters)."""
        return any(
            (self.status, self.category, self.low, self.high, self.size, self.min_rating, self.in_stock, self.search)
        )


def _criteria(shape: _Shape) -> tuple[list[ColumnElement], list[ColumnElement] | None]:
    """(criteria, best-match ordering of a search). The variant filters read the products' exact summaries of
    their variants."""
    criteria = visible(shape.is_staff)
    rank = None
    if shape.status:
        criteria.append(Product.status == _STATUS)
    if shape.category:
        criteria.append(Product.category_id.in_(subtree_ids(_CATEGORY)))
    if shape.low or shape.high:
        # One active variant priced within the range (not merely the lowest price): one of the six sizes' prices.
        in_range = []
        for size in SIZES:
            price = Product.size_price(size)
            in_range.append(and_(*([price >= _LOW] if shape.low else []), *([price <= _HIGH] if shape.high else [])))
        criteria.append(or_(*in_range))
        if shape.high:
            # Implied by the above (the lowest price is at most the one in range): lets the price orderings'
            # indexes skip the products priced above the range.
            criteria.append(Product.min_price <= _HIGH)
    if shape.size:
        # An active variant of one of the sizes, with stock.
        criteria.append(Product.sizes_in_stock.op("&")(_SIZES) != 0)
    if shape.min_rating:
        criteria.append(Product.average_rating >= _MIN_RATING)
    if shape.in_stock:
        criteria.append(Product.in_stock == _IN_STOCK)
    if shape.search:
        matches, rank = _search(shape.search)
        criteria.extend(matches)
    return criteria, rank


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


@cache
def _statements(shape: _Shape) -> tuple[Select, Select]:
    """(page, count) of lists of this shape, built once: SQLAlchemy then reuses their compiled form as it is,
    rather than building, compiling-cache-matching and adapting new statement objects on every request."""
    criteria, rank = _criteria(shape)
    ordering = _ordering(shape.ordering, rank)
    count = select(func.count()).select_from(Product).where(*criteria)
    if shape.narrow:
        # No products.status = 'active' here: search_documents holds the active products only. With it, PostgreSQL
        # would read every match's products row again, the very reads the table is there to spare.
        matches, ranking = _public_words()
        count = select(func.count()).select_from(SearchDocument).where(matches)
        if shape.ordering is None:
            return _narrow_page(matches, ranking), count
    if shape.search != "words":
        page = product_rows(*criteria).order_by(*ordering).limit(_LIMIT).offset(_OFFSET)
        # The unfiltered list (any order) is prepared: its plan is the same for every page. A filtered list's best
        # plan depends on the values (how many products a category or price range holds): planned each time.
        return (page if shape.filtered else page.execution_options(**PREPARED)), count
    # A search of several words sorts every match (no index holds its order): the page's ids are picked from narrow
    # (id, sort key) rows first, and only those products are read whole and joined to their category — sorting
    # ~800 whole rows joined to their category took 5.7 ms at 100,000 products, this 3.6. The outer ORDER BY
    # recomputes the same keys for the page's rows alone.
    best = select(Product.id).where(*criteria).order_by(*ordering).limit(_LIMIT).offset(_OFFSET).subquery("best")
    return product_rows().join(best, best.c.id == Product.id).order_by(*ordering), count


def _narrow_page(matches: ColumnElement, rank: ColumnElement) -> Select:
    """The page of the public's search of several words: its ids and ranks picked from search_documents, then only
    those products read whole, in the same order (best first, ties by the newest id, as ranking products does).
    The visibility criterion on products is implied by the table (active products only) and kept on the page's
    rows, where it costs nothing, so what the public may see is plain from the statement."""
    best = (
        select(SearchDocument.product_id.label("id"), rank.label("rank"))
        .where(matches)
        .order_by(rank.desc(), SearchDocument.product_id.desc())
        .limit(_LIMIT)
        .offset(_OFFSET)
        .subquery("best")
    )
    page = product_rows(*visible(is_staff=False)).join(best, best.c.id == Product.id)
    return page.order_by(best.c.rank.desc(), best.c.id.desc())


def _bound(filters: Mapping[str, Any], shape: _Shape, *, is_staff: bool) -> dict[str, Any]:
    """The values of the shape's parameters (an unknown category slug is a 400)."""
    params: dict[str, Any] = {}
    if shape.status:
        params["p_status"] = filters["status"]
    if shape.category:
        params["p_category"] = category_id_by_slug(
            filters["category"], field="category", location="query", is_staff=is_staff, reader=read_connection()
        )
    if shape.low:
        params["p_low"] = filters["min_price"]
    if shape.high:
        params["p_high"] = filters["max_price"]
    if shape.size:
        params["p_sizes"] = Product.sizes_mask(filters["size"])
    if shape.min_rating:
        params["p_min_rating"] = filters["min_rating"]
    if shape.in_stock:
        params["p_in_stock"] = filters["in_stock"]
    if shape.search:
        params["p_search"] = like_pattern(filters["search"]) if shape.search == "like" else filters["search"]
    return params


def list_products(*, filters: Mapping[str, Any], is_staff: bool, page: int, page_size: int) -> Page:
    """A page of product documents matching every filter given; a fixed number of statements whatever the
    page size."""
    # The cached count first, before anything it depends on is read (see catalog.services.counts).
    known = counts.lookup("products", is_staff, {name: value for name, value in filters.items() if name != "ordering"})
    search = filters.get("search")
    shape = _Shape(
        is_staff=is_staff,
        status=filters.get("status") is not None,
        category=bool(filters.get("category")),
        low=filters.get("min_price") is not None,
        high=filters.get("max_price") is not None,
        size=bool(filters.get("size")),
        min_rating=filters.get("min_rating") is not None,
        in_stock=filters.get("in_stock") is not None,
        search=_search_kind(search) if search else None,
        ordering=filters.get("ordering"),
    )
    page_stmt, count_stmt = _statements(shape)
    params = _bound(filters, shape, is_staff=is_staff)
    total = known.resolve(lambda: read_connection().scalar(count_stmt, params))
    return product_page(page_stmt, params, is_staff=is_staff, page=page, page_size=page_size, count=total)
