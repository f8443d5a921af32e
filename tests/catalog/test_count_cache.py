"""The product list's count cache: exact after every kind of write, raised in the writing transaction only."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from nexus.catalog.models import CatalogState, ListCount, Product, ProductStatus, ProductVariant
from nexus.catalog.services import counts
from nexus.common.models import utcnow
from nexus.extensions import db
from nexus.orders.models import Order
from tests.catalog.test_list_summaries import truth
from tests.factories import ProductFactory, ReviewFactory, UserFactory, product_with_variants
from tests.helpers import count_queries
from tests.orders.conftest import checkout, fill_cart

PRODUCTS = "/api/store/products/"
# Lists whose counts the writes below change; fetched by staff (no response cache) and by the public.
LISTS = [
    "",
    "?category=clothing",
    "?category=tops&size=M",
    "?min_price=20&max_price=30",
    "?size=XS,XL",
    "?in_stock=true",
    "?min_rating=4",
    "?search=shirt",
    "?ordering=-price&min_price=25",
]


@pytest.fixture(autouse=True)
def _catalog_state(app):
    """Every test's tables start empty: the first list read puts the catalog_state row back, as here."""
    counts.lookup("any list")
    db.session.remove()


def generation() -> int:
    db.session.remove()
    return db.session.scalar(select(CatalogState.generation))


def _fresh_count(query: str, *, staff: bool) -> int:
    """The true count, from the variants table (not the summaries) and the category tree, in Python."""
    from urllib.parse import parse_qs

    from nexus.catalog.models import Category, Review

    db.session.remove()
    args = {name: values[0] for name, values in parse_qs(query.lstrip("?")).items()}
    summaries = truth()
    categories = {c.id: c.parent_id for c in db.session.scalars(select(Category))}
    slugs = {c.slug: c.id for c in db.session.scalars(select(Category))}
    variants = db.session.scalars(select(ProductVariant)).all()
    ratings: dict[int, list[int]] = {}
    for review in db.session.scalars(select(Review)):
        ratings.setdefault(review.product_id, []).append(review.rating)

    def under(category_id: int, root: int) -> bool:
        while category_id is not None:
            if category_id == root:
                return True
            category_id = categories[category_id]
        return False

    total = 0
    for product in db.session.scalars(select(Product)):
        active = [v for v in variants if v.product_id == product.id and v.is_active]
        if not staff and product.status != ProductStatus.ACTIVE:
            continue
        if "category" in args and not under(product.category_id, slugs[args["category"]]):
            continue
        low, high = Decimal(args.get("min_price", "0")), Decimal(args.get("max_price", "1e9"))
        if ("min_price" in args or "max_price" in args) and not any(low <= v.price <= high for v in active):
            continue
        if "size" in args and not any(v.size in args["size"].split(",") and v.stock > 0 for v in active):
            continue
        if "in_stock" in args and not summaries[product.id]["in_stock"]:
            continue
        if "min_rating" in args:
            rated = ratings.get(product.id)
            if not rated or round(Decimal(sum(rated)) / len(rated), 1) < Decimal(args["min_rating"]):
                continue
        if "search" in args and args["search"] not in (product.name + " " + product.description).lower():
            continue
        total += 1
    return total


def assert_counts_exact(client, admin_headers) -> None:
    for query in LISTS:
        for staff in (False, True):
            response = client.get(PRODUCTS + query, headers=admin_headers if staff else {})
            assert response.status_code == 200, response.json
            assert response.json["count"] == _fresh_count(query, staff=staff), (query, staff)


@pytest.fixture
def shop(app, tree):
    """Shirts in tees and tops, shoes elsewhere, one draft; every list's count cached once."""
    from nexus.catalog.models import Category

    tees, tops, shoes = (db.session.get(Category, id_) for id_ in (tree.tees, tree.tops, tree.shoes))
    made = {
        "tee": product_with_variants(slug="tee", name="Cotton Shirt", category=tees, sizes=("S", "M"), price="20.00"),
        "top": product_with_variants(slug="top", name="Linen Shirt", category=tops, sizes=("M", "L", "XL"), stock=1),
        "boot": product_with_variants(slug="boot", name="Boot", category=shoes, sizes=("XS",), price="90.00"),
        "draft": product_with_variants(slug="draft", name="Draft Shirt", category=tees, status="draft"),
    }
    return {slug: product.id for slug, product in made.items()}


def _warm(client, admin_headers) -> None:
    assert_counts_exact(client, admin_headers)
    assert_counts_exact(client, admin_headers)  # the second time from the cache


def test_a_count_is_cached_for_the_generation_and_never_served_after_a_write(client, admin_headers, shop):
    assert client.get(PRODUCTS + "?page_size=2").json["count"] == 3
    # Prove the cache is what answers: a (wrong) count planted for the current generation is served...
    db.session.execute(update(ListCount).values(count=42))
    db.session.commit()
    assert client.get(PRODUCTS + "?page_size=3", headers=admin_headers).json["count"] != 42  # staff: other key
    assert client.get(PRODUCTS + "?page_size=5").json["count"] == 42
    # ...and never again once any write committed.
    assert client.patch(f"{PRODUCTS}boot/", json={"name": "Ankle Boot"}, headers=admin_headers).status_code == 200
    assert client.get(PRODUCTS + "?page_size=7").json["count"] == 3


def test_admin_product_writes_keep_every_count_exact(client, admin_headers, shop):
    _warm(client, admin_headers)
    assert client.patch(f"{PRODUCTS}draft/", json={"status": "active"}, headers=admin_headers).status_code == 200
    assert_counts_exact(client, admin_headers)
    assert client.patch(f"{PRODUCTS}tee/", json={"category": "shoes"}, headers=admin_headers).status_code == 200
    assert_counts_exact(client, admin_headers)
    body = {"name": "Wool Shirt", "category": "tops", "status": "active", "variants": []}
    body["variants"] = [{"sku": "wool-m", "size": "M", "price": "25.00", "stock": 3}]
    assert client.post(PRODUCTS, json=body, headers=admin_headers).status_code == 201
    assert_counts_exact(client, admin_headers)
    assert client.delete(f"{PRODUCTS}boot/", headers=admin_headers).status_code == 204
    assert_counts_exact(client, admin_headers)


def test_admin_variant_writes_keep_every_count_exact(client, admin_headers, shop):
    _warm(client, admin_headers)
    variants = {(v.product_id, v.size): v.id for v in db.session.scalars(select(ProductVariant))}
    top_m = f"{PRODUCTS}top/variants/{variants[(shop['top'], 'M')]}/"
    for changes in ({"price": "99.00"}, {"stock": 0}, {"is_active": False}, {"is_active": True, "stock": 4}):
        assert client.patch(top_m, json=changes, headers=admin_headers).status_code == 200
        assert_counts_exact(client, admin_headers)
    body = {"sku": "tee-xl", "size": "XL", "price": "21.00", "stock": 1}
    assert client.post(f"{PRODUCTS}tee/variants/", json=body, headers=admin_headers).status_code == 201
    assert_counts_exact(client, admin_headers)
    assert client.delete(top_m, headers=admin_headers).status_code == 204
    assert_counts_exact(client, admin_headers)


def test_category_writes_keep_every_count_exact(client, admin_headers, shop):
    _warm(client, admin_headers)
    # tees moves out from under clothing > tops: both subtrees change.
    assert (
        client.patch("/api/store/categories/tees/", json={"parent": "shoes"}, headers=admin_headers).status_code == 200
    )
    assert_counts_exact(client, admin_headers)


def test_review_writes_keep_every_count_exact(client, admin_headers, customer_headers, shop):
    _warm(client, admin_headers)
    url = f"{PRODUCTS}tee/reviews/"
    response = client.post(url, json={"rating": 5, "comment": "Great."}, headers=customer_headers)
    assert response.status_code == 201
    assert_counts_exact(client, admin_headers)
    review = f"{url}{response.json['id']}/"
    assert client.patch(review, json={"rating": 2}, headers=customer_headers).status_code == 200
    assert_counts_exact(client, admin_headers)
    assert client.delete(review, headers=customer_headers).status_code == 204
    assert_counts_exact(client, admin_headers)


def test_checkout_cancellation_and_expiry_keep_every_count_exact(
    client, admin_headers, customer, customer_headers, shop
):
    _warm(client, admin_headers)
    variants = {(v.product_id, v.size): v for v in db.session.scalars(select(ProductVariant))}
    # The top's L and XL have one unit each: selling them changes the size and stock lists.
    fill_cart(customer, (variants[(shop["top"], "XL")], 1), (variants[(shop["top"], "L")], 1))
    placed = checkout(client, customer_headers)
    assert placed.status_code == 201, placed.json
    assert_counts_exact(client, admin_headers)
    assert client.post(f"/api/store/orders/{placed.json['id']}/cancel/", headers=customer_headers).status_code == 200
    assert_counts_exact(client, admin_headers)

    fill_cart(customer, (variants[(shop["top"], "M")], 1))
    again = checkout(client, customer_headers)
    assert again.status_code == 201, again.json
    assert_counts_exact(client, admin_headers)
    db.session.execute(
        update(Order).where(Order.id == again.json["id"]).values(created_at=utcnow() - timedelta(days=1))
    )
    db.session.commit()
    from nexus.orders.services import cancel_expired_orders

    assert cancel_expired_orders() == 1
    assert_counts_exact(client, admin_headers)


def test_a_sale_that_sells_no_size_out_leaves_the_generation_alone(client, customer, customer_headers, shop):
    variants = {(v.product_id, v.size): v for v in db.session.scalars(select(ProductVariant))}
    before = generation()
    fill_cart(customer, (variants[(shop["tee"], "S")], 1))
    assert checkout(client, customer_headers).status_code == 201
    assert generation() == before  # 10 in stock, 9 left: no list changes

    fill_cart(customer, (variants[(shop["top"], "XL")], 1))
    assert checkout(client, customer_headers).status_code == 201
    assert generation() == before + 1  # the last XL: the size lists change, in that very transaction


def test_a_committed_write_raises_the_generation_once_and_a_rolled_back_one_not_at_all(app, shop):
    from nexus.catalog.services import refresh_product_summaries
    from nexus.catalog.services.helpers import commit

    before = generation()
    product = db.session.get(Product, shop["tee"])
    product.name = "Renamed"
    db.session.flush()
    db.session.rollback()
    assert generation() == before

    db.session.execute(update(ProductVariant).where(ProductVariant.product_id == shop["tee"]).values(stock=0))
    refresh_product_summaries([shop["tee"]])
    db.session.rollback()
    assert generation() == before

    db.session.get(Product, shop["tee"]).name = "Renamed"
    commit("products")
    assert generation() == before + 1

    # An unchanged refresh asks for nothing.
    refresh_product_summaries([shop["tee"], shop["top"]])
    db.session.commit()
    assert generation() == before + 1


def test_orm_writes_outside_the_services_raise_it_too(app, shop):
    before = generation()
    ProductFactory(slug="made-directly", status="active", category=db.session.get(Product, shop["tee"]).category)
    assert generation() == before + 1
    ReviewFactory(product=db.session.get(Product, shop["tee"]), user=UserFactory(), rating=3)
    assert generation() == before + 2


def test_the_bump_is_the_last_statement_before_commit(client, admin_headers, shop):
    with count_queries() as statements:
        assert client.patch(f"{PRODUCTS}tee/", json={"name": "Renamed"}, headers=admin_headers).status_code == 200
    writes = [s for s in statements if not s.lstrip().upper().startswith("SELECT")]
    assert "catalog_state" in writes[-1] and "generation + " in writes[-1]
    assert sum("catalog_state" in s for s in writes) == 1


def test_a_miss_costs_two_statements_more_than_a_hit(client, admin_headers, shop):
    sizes = []
    for page_size in (1, 2):  # the same filters: the first counts and stores, the second reads the count
        with count_queries() as statements:
            assert (
                client.get(f"{PRODUCTS}?category=tops&page_size={page_size}", headers=admin_headers).status_code == 200
            )
        sizes.append(len(statements))
    assert sizes[0] == sizes[1] + 2


def test_a_newer_count_is_never_replaced_by_an_older_one(app):
    key = counts.key_of("test")
    counts.CountLookup(key, 5, None).resolve(lambda: 50)
    counts.CountLookup(key, 4, None).resolve(lambda: 40)  # a slower request of the previous generation
    counts.CountLookup(key, 5, None).resolve(lambda: 50)  # the same entry again (a race of two misses): no error
    assert db.session.execute(select(ListCount.generation, ListCount.count)).one() == (5, 50)


def test_the_purge_removes_the_counts_of_past_generations(client, shop, admin_headers):
    client.get(PRODUCTS + "?page_size=2")
    client.get(PRODUCTS + "?page_size=2", headers=admin_headers)
    assert client.patch(f"{PRODUCTS}tee/", json={"name": "Renamed"}, headers=admin_headers).status_code == 200
    client.get(PRODUCTS + "?page_size=3")  # the public list's count again, under the new generation
    from nexus.catalog.tasks import purge_list_counts_task

    assert purge_list_counts_task() == 1
    assert db.session.scalar(select(func.count()).select_from(ListCount)) == 1
    assert counts.purge(max_entries=0) == 1
    assert db.session.scalar(select(func.count()).select_from(ListCount)) == 0


def test_the_purge_runs_on_a_schedule(app):
    schedule = app.extensions["celery"].conf.beat_schedule
    assert "catalog.purge_list_counts" in {entry["task"] for entry in schedule.values()}
