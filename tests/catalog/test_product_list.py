"""The product list: filters, search, ordering, bad values, pagination and a fixed number of statements."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from nexus.catalog.models import Category, ProductImage
from nexus.catalog.services import refresh_product_summaries, refresh_review_summary
from nexus.common.models import utcnow
from nexus.common.outbox import commit
from nexus.extensions import db
from tests.conftest import SERVICES
from tests.factories import ProductFactory, ReviewFactory, UserFactory, VariantFactory
from tests.helpers import count_queries

URL = "/api/store/products/"


def _make(slug, *, category_id, variants, name=None, description="", age_days=0, ratings=(), status="active"):
    """A product with (size, price, stock, is_active) variants, made `age_days` ago, rated by new users."""
    product = ProductFactory(
        slug=slug,
        name=name or slug.replace("-", " ").title(),
        description=description,
        category=db.session.get(Category, category_id),
        status=status,
        created_at=utcnow() - timedelta(days=age_days),
    )
    for size, price, stock, active in variants:
        VariantFactory(product=product, size=size, price=Decimal(price), stock=stock, is_active=active)
    for rating in ratings:
        ReviewFactory(product=product, user=UserFactory(), rating=rating)
    refresh_product_summaries([product.id])
    refresh_review_summary(product.id)
    commit()
    return product.id


@pytest.fixture
def shop(tree):
    """Five active products across the tree and one draft; names, prices, sizes and ages differ."""
    _make(
        "alpha-tee",
        category_id=tree.tees,
        variants=[("S", "10.00", 5, True), ("M", "50.00", 0, True)],
        description="Organic cotton crew neck.",
        age_days=5,
        ratings=(5, 4),
    )
    _make(
        "bravo-top",
        category_id=tree.tops,
        variants=[("M", "30.00", 2, True), ("L", "35.00", 0, True)],
        description="A loose linen top.",
        age_days=4,
        ratings=(3,),
    )
    _make(
        "charlie-coat",
        category_id=tree.clothing,
        variants=[("L", "120.00", 1, True), ("XL", "20.00", 9, False)],
        description="Wool coat for winter.",
        age_days=3,
        ratings=(2, 2),
    )
    _make("delta-boot", category_id=tree.shoes, variants=[("M", "80.00", 0, True)], age_days=2)
    _make("echo-sock", category_id=tree.shoes, variants=[], description="Cotton socks.", age_days=1)
    _make("foxtrot-draft", category_id=tree.tees, variants=[("S", "1.00", 1, True)], status="draft")
    return tree


def _slugs(client, query="", **kwargs) -> list[str]:
    response = client.get(URL + query, **kwargs)
    assert response.status_code == 200, response.json
    return [product["slug"] for product in response.json["results"]]


def test_default_order_is_newest_first_and_public_sees_active_only(client, shop):
    assert _slugs(client) == ["echo-sock", "delta-boot", "charlie-coat", "bravo-top", "alpha-tee"]


def test_category_includes_every_category_below_it(client, shop):
    assert _slugs(client, "?category=clothing") == ["charlie-coat", "bravo-top", "alpha-tee"]
    assert _slugs(client, "?category=tops") == ["bravo-top", "alpha-tee"]
    assert _slugs(client, "?category=tees") == ["alpha-tee"]
    assert _slugs(client, "?category=shoes") == ["echo-sock", "delta-boot"]


def test_price_range_matches_any_active_variant_in_range(client, shop):
    # alpha-tee's lowest price is 10.00 but its 50.00 variant is within 40–60.
    assert _slugs(client, "?min_price=40&max_price=60") == ["alpha-tee"]
    # charlie-coat's 20.00 variant is inactive: it does not count.
    assert _slugs(client, "?min_price=15&max_price=25") == []
    assert _slugs(client, "?min_price=100") == ["charlie-coat"]
    assert _slugs(client, "?max_price=30") == ["bravo-top", "alpha-tee"]
    assert _slugs(client, "?min_price=30.00&max_price=30.00") == ["bravo-top"]


def test_size_needs_an_active_variant_of_that_size_in_stock(client, shop):
    assert _slugs(client, "?size=M") == ["bravo-top"]  # alpha-tee's and delta-boot's M are sold out
    assert _slugs(client, "?size=S,L") == ["charlie-coat", "alpha-tee"]
    assert _slugs(client, "?size=xl") == []  # charlie-coat's XL is inactive
    assert _slugs(client, "?size=s") == ["alpha-tee"]


def test_rating_and_stock_filters(client, shop):
    assert _slugs(client, "?min_rating=3") == ["bravo-top", "alpha-tee"]
    assert _slugs(client, "?min_rating=4.5") == ["alpha-tee"]
    assert _slugs(client, "?in_stock=true") == ["charlie-coat", "bravo-top", "alpha-tee"]
    assert _slugs(client, "?in_stock=false") == ["echo-sock", "delta-boot"]


def test_search_matches_name_and_description_case_insensitively(client, shop):
    assert set(_slugs(client, "?search=COTTON")) == {"echo-sock", "alpha-tee"}
    assert set(_slugs(client, "?search=Crew")) == {"alpha-tee"}
    assert _slugs(client, "?search=coat") == ["charlie-coat"]
    assert _slugs(client, "?search=nothing-like-this") == []


@pytest.mark.skipif(not SERVICES, reason="ranking is PostgreSQL full-text search")
def test_search_ranks_name_matches_first_and_stems_words(client, tree):
    _make("wool-scarf", category_id=tree.shoes, variants=[], name="Wool Scarf", description="Warm.", age_days=3)
    _make("cosy-hat", category_id=tree.shoes, variants=[], name="Cosy Hat", description="Knitted from wool.")
    assert _slugs(client, "?search=wool") == ["wool-scarf", "cosy-hat"]
    assert _slugs(client, "?search=hats") == ["cosy-hat"]
    assert _slugs(client, "?search=knitting") == ["cosy-hat"]
    assert _slugs(client, "?search=wool&ordering=-created_at") == ["cosy-hat", "wool-scarf"]


@pytest.mark.skipif(not SERVICES, reason="ranking is PostgreSQL full-text search")
def test_a_search_of_several_words_ranks_the_name_and_nearer_words_first(client, tree):
    # Each has its own rank (no tie for the newest-first rule to break): the name weighs most, then nearness.
    apart = "Navy blue, with room for a phone and keys: a jacket for every day."
    _make("scarf", category_id=tree.shoes, variants=[], name="Navy Scarf", description="Wear it with a jacket.")
    _make("apart", category_id=tree.shoes, variants=[], name="Everyday Coat", description=apart, age_days=1)
    _make("both", category_id=tree.shoes, variants=[], name="Navy Wool Jacket", description="Warm.", age_days=2)
    _make("near", category_id=tree.shoes, variants=[], name="Coat", description="A navy jacket.", age_days=3)
    _make("one-word", category_id=tree.shoes, variants=[], name="Navy Tee", description="Soft.", age_days=4)
    assert _slugs(client, "?search=navy+jacket") == ["both", "scarf", "near", "apart"]


def test_search_follows_renames(client, admin_headers, shop):
    client.patch(URL + "delta-boot/", json={"name": "Delta Sandal"}, headers=admin_headers)
    assert _slugs(client, "?search=sandal") == ["delta-boot"]
    assert _slugs(client, "?search=boot") == []


@pytest.mark.parametrize(
    "ordering, expected",
    [
        ("price", ["alpha-tee", "bravo-top", "delta-boot", "charlie-coat", "echo-sock"]),
        ("-price", ["charlie-coat", "delta-boot", "bravo-top", "alpha-tee", "echo-sock"]),
        ("name", ["alpha-tee", "bravo-top", "charlie-coat", "delta-boot", "echo-sock"]),
        ("-name", ["echo-sock", "delta-boot", "charlie-coat", "bravo-top", "alpha-tee"]),
        ("created_at", ["alpha-tee", "bravo-top", "charlie-coat", "delta-boot", "echo-sock"]),
        ("-created_at", ["echo-sock", "delta-boot", "charlie-coat", "bravo-top", "alpha-tee"]),
        ("rating", ["charlie-coat", "bravo-top", "alpha-tee", "delta-boot", "echo-sock"]),
        ("-rating", ["alpha-tee", "bravo-top", "charlie-coat", "echo-sock", "delta-boot"]),
    ],
)
def test_ordering(client, shop, ordering, expected):
    # Products without a price or rating come last in both directions; ties go by id.
    assert _slugs(client, f"?ordering={ordering}") == expected


def test_equal_values_are_ordered_by_id(client, tree):
    ids = [_make(f"same-{n}", category_id=tree.tees, variants=[("M", "9.00", 1, True)]) for n in range(3)]
    listed = client.get(URL + "?ordering=price").json["results"]
    assert [product["id"] for product in listed] == ids
    listed = client.get(URL + "?ordering=-price").json["results"]
    assert [product["id"] for product in listed] == ids[::-1]


def test_filters_combine(client, shop):
    assert _slugs(client, "?category=clothing&in_stock=true&min_rating=2&max_price=40&ordering=name") == [
        "alpha-tee",
        "bravo-top",
    ]
    assert _slugs(client, "?category=tops&size=M&search=linen") == ["bravo-top"]


@pytest.mark.parametrize(
    "query, field",
    [
        ("size=XXXL", "size"),
        ("size=M,,", "size"),
        ("min_price=abc", "min_price"),
        ("min_price=-1", "min_price"),
        ("max_price=NaN", "max_price"),
        ("min_price=50&max_price=10", "max_price"),
        ("ordering=foo", "ordering"),
        ("ordering=-id", "ordering"),
        ("min_rating=6", "min_rating"),
        ("in_stock=maybe", "in_stock"),
        ("category=nope", "category"),
        ("status=sold", "status"),
        ("page=0", "page"),
        ("page_size=abc", "page_size"),
        ("search=" + "x" * 201, "search"),
    ],
)
def test_bad_filter_values_are_400(client, shop, query, field):
    response = client.get(URL + "?" + query)
    assert response.status_code == 400
    assert response.json["message"] == "Validation failed"
    assert field in response.json["errors"]["query"]


def test_pagination_keeps_the_filters(client, shop):
    body = client.get(URL + "?category=clothing&page_size=2").json
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert "category=clothing" in body["next"] and "page=2" in body["next"]
    page_two = client.get(URL + "?category=clothing&page_size=2&page=2").json
    assert [p["slug"] for p in page_two["results"]] == ["alpha-tee"]
    assert client.get(URL + "?category=clothing&page_size=2&page=3").status_code == 404
    assert client.get(URL + "?page_size=500").status_code == 200


def _full_products(count: int, tree) -> None:
    category = db.session.get(Category, tree.tees)
    ids = []
    for n in range(count):
        product = ProductFactory(slug=f"p-{n}", category=category)
        for size in ("XS", "S", "M", "L", "XL", "XXL"):
            VariantFactory(product=product, size=size)
        db.session.add(ProductImage(product_id=product.id, image=f"products/{n}.jpg", is_main=True))
        db.session.add(ProductImage(product_id=product.id, image=f"products/{n}-b.jpg"))
        ids.append(product.id)
    refresh_product_summaries(ids)  # the list filters on them (sizes in stock, prices)
    db.session.commit()


@pytest.mark.parametrize("viewer", ["anonymous", "admin"])
def test_the_list_runs_the_same_statements_for_any_page_size(client, tree, admin_headers, viewer):
    _full_products(50, tree)
    headers = admin_headers if viewer == "admin" else {}
    counts = []
    for query in ("?page_size=1", "?page_size=50", "?page_size=50&category=clothing&size=M&search=product"):
        # The list's exact count is cached in the database once counted (tests/catalog/test_count_cache.py counts
        # the statements of a miss): the same filters at another URL (not a cached response) count it first.
        assert client.get(URL + query + "&page=1", headers=headers).status_code == 200
        with count_queries() as statements:
            response = client.get(URL + query, headers=headers)
        assert response.status_code == 200
        counts.append(len(statements))
    assert len(client.get(URL + "?page_size=50", headers=headers).json["results"][0]["variants"]) == 6
    assert counts[0] == counts[1]
    assert counts[2] == counts[1] + 1  # the category's id, looked up once
    assert counts[1] <= (6 if viewer == "admin" else 4)


def test_the_detail_runs_the_same_statements_for_1_or_6_variants(client, tree):
    _full_products(1, tree)
    one = ProductFactory(slug="one", category=db.session.get(Category, tree.tees))
    VariantFactory(product=one, size="M")
    counts = []
    for slug in ("one", "p-0"):
        with count_queries() as statements:
            assert client.get(URL + f"{slug}/").status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1] == 2  # the product with its category; its variants and images
