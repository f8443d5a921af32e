"""PostgreSQL: one-word searches read stored ranks (search_terms) and answer exactly what ranking every match
answers; the stored terms follow every write of a product's name or description."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import func, select, text

from nexus.catalog.models import Product, SearchTerm
from nexus.extensions import db
from tests.conftest import SERVICES
from tests.helpers import count_queries

pytestmark = pytest.mark.skipif(not SERVICES, reason="PostgreSQL full-text search (NEXUS_TEST_SERVICES=1)")

PRODUCTS = "/api/store/products/"
WORDS = ("cotton", "Linen", "shirts", "wool", "the", "nothing")


def stored_terms() -> set[tuple]:
    db.session.remove()
    return {tuple(row) for row in db.session.execute(select(SearchTerm.product_id, SearchTerm.lexeme, SearchTerm.rank))}


def fresh_terms() -> set[tuple]:
    rows = db.session.execute(
        text(
            "SELECT p.id, t.lexeme, ts_rank_cd(p.search_vector, quote_literal(t.lexeme)::tsquery) "
            "FROM products p, unnest(p.search_vector) AS t(lexeme)"
        )
    )
    return set(rows)


def ranked(word: str, *, staff: bool, extra: str = "", rank: str = "ts_rank_cd") -> list[int]:
    """Every match of a search, best first, by ranking each one: with ts_rank_cd what the list did for one word
    before search_terms; with ts_rank what it does for any other search."""
    status = "" if staff else "AND status = 'active'"
    sql = (
        "SELECT id FROM products WHERE search_vector @@ websearch_to_tsquery('english', :w) "
        f"{status} {extra} ORDER BY {rank}(search_vector, websearch_to_tsquery('english', :w)) DESC, id DESC"
    )
    return list(db.session.scalars(text(sql), {"w": word}))


@pytest.fixture
def catalog(search_catalog):
    """The search tests' catalog (tests/catalog/conftest.py)."""


def _ids(client, url: str, headers=None) -> list[int]:
    slugs = [item["slug"] for item in client.get(url, headers=headers or {}).json["results"]]
    return [db.session.scalar(select(Product.id).where(Product.slug == slug)) for slug in slugs]


def test_the_stored_terms_are_the_search_vectors_terms_and_ranks(catalog):
    assert stored_terms() == fresh_terms()
    assert len(stored_terms()) > 24


def test_the_terms_follow_product_writes(client, admin_headers, catalog):
    body = {"name": "Denim Jacket", "category": "tees", "status": "active", "description": "Denim, denim."}
    assert client.post(PRODUCTS, json=body, headers=admin_headers).status_code == 201
    assert stored_terms() == fresh_terms()
    assert client.patch(f"{PRODUCTS}p-1/", json={"name": "Renamed Jumper"}, headers=admin_headers).status_code == 200
    assert stored_terms() == fresh_terms()
    change = {"description": "Now with wool and cotton and wool."}
    assert client.patch(f"{PRODUCTS}p-2/", json=change, headers=admin_headers).status_code == 200
    assert stored_terms() == fresh_terms()
    assert client.patch(f"{PRODUCTS}p-3/", json={"status": "inactive"}, headers=admin_headers).status_code == 200
    assert stored_terms() == fresh_terms()
    assert client.delete(f"{PRODUCTS}p-4/", headers=admin_headers).status_code == 204
    assert stored_terms() == fresh_terms()
    assert db.session.scalar(select(func.count()).select_from(SearchTerm).where(SearchTerm.product_id == 0)) == 0


@pytest.mark.parametrize("word", WORDS)
@pytest.mark.parametrize("staff", [False, True])
def test_a_one_word_search_answers_what_ranking_every_match_answers(client, admin_headers, catalog, word, staff):
    headers = admin_headers if staff else {}
    expected = ranked(word, staff=staff)
    body = client.get(f"{PRODUCTS}?search={word}&page_size=5", headers=headers).json
    assert body["count"] == len(expected)
    last = max(1, -(-len(expected) // 5))  # pages past the end are 404s
    pages = [_ids(client, f"{PRODUCTS}?search={word}&page_size=5&page={page}", headers) for page in range(1, last + 1)]
    assert [product_id for page in pages for product_id in page] == expected


def test_filters_and_orderings_combine_with_a_one_word_search(client, catalog, tree):
    expected = ranked("cotton", staff=False, extra=f"AND category_id = {tree.tees} AND min_price <= 25")
    assert _ids(client, f"{PRODUCTS}?search=cotton&category=tees&max_price=25&page_size=50") == expected
    by_price = _ids(client, f"{PRODUCTS}?search=cotton&ordering=-price&page_size=50")
    assert by_price == sorted(ranked("cotton", staff=False), key=lambda id_: -db.session.get(Product, id_).min_price)


def test_one_word_reads_the_stored_ranks_and_more_words_rank_every_match(client, catalog):
    for url, uses_terms in (
        (f"{PRODUCTS}?search=cotton&page_size=3", True),
        (f"{PRODUCTS}?search=cotton+shirt", False),
    ):
        with count_queries() as statements:
            assert client.get(url).status_code == 200
        page = next(s for s in statements if "LIMIT" in s)
        assert ("search_terms" in page) is uses_terms
        assert ("ts_rank(" in page) is not uses_terms
    expected = ranked("cotton shirt", staff=False, rank="ts_rank")
    assert _ids(client, f"{PRODUCTS}?search=cotton+shirt&page_size=50") == expected


@pytest.mark.parametrize("words", ["cotton shirt", "linen cotton", '"cotton shirt"', "cotton -linen"])
@pytest.mark.parametrize("staff", [False, True])
def test_a_search_of_several_words_pages_through_every_match_best_first(
    client, admin_headers, catalog, tree, words, staff
):
    # Its page is picked from (id, rank) rows before the products are read whole: pages, filters and orderings
    # must still answer exactly what ranking every match answers.
    headers = admin_headers if staff else {}
    expected = ranked(words, staff=staff, rank="ts_rank")
    assert expected, "the catalog must match these words"
    query = f"search={quote(words)}&page_size=4"
    assert client.get(f"{PRODUCTS}?{query}", headers=headers).json["count"] == len(expected)
    pages = [_ids(client, f"{PRODUCTS}?{query}&page={page}", headers) for page in range(1, -(-len(expected) // 4) + 1)]
    assert [product_id for page in pages for product_id in page] == expected
    filtered = ranked(words, staff=staff, extra=f"AND category_id = {tree.tees} AND min_price <= 25", rank="ts_rank")
    assert _ids(client, f"{PRODUCTS}?{query}&category=tees&max_price=25&page_size=50", headers) == filtered
    prices = {id_: db.session.get(Product, id_).min_price for id_ in expected}
    by_price = sorted(expected, key=lambda id_: (-prices[id_], -id_))
    assert _ids(client, f"{PRODUCTS}?search={quote(words)}&ordering=-price&page_size=50", headers) == by_price
