"""Catalog rules: the category tree, exact summaries, the ledger, search upkeep, and concurrency."""

from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import func, select, text

from nexus.catalog import services
from nexus.catalog.exceptions import DuplicateReview, OutOfStock
from nexus.catalog.models import Category, MovementReason, Product, ProductVariant, Review, StockMovement
from nexus.catalog.services import StockLine
from nexus.common.errors import ValidationFailed
from nexus.common.outbox import commit
from nexus.extensions import db
from tests.conftest import SERVICES
from tests.factories import CategoryFactory, ReviewFactory, UserFactory, product_with_variants
from tests.helpers import run_concurrently


def test_subtree_and_ancestors_at_any_depth(app):
    chain = [CategoryFactory(name="Level 0", slug="level-0")]
    for depth in range(1, 8):
        chain.append(CategoryFactory(name=f"Level {depth}", slug=f"level-{depth}", parent=chain[-1]))
    side = CategoryFactory(name="Side", slug="side", parent=chain[2])
    ids = [category.id for category in chain]
    below_two = set(db.session.scalars(services.subtree_ids(ids[2])))
    assert below_two == set(ids[2:]) | {side.id}
    assert services.ancestor_ids(ids[5]) == set(ids[:6])
    assert services.ancestor_ids(side.id) == set(ids[:3]) | {side.id}


def test_create_category_refuses_a_cycle_made_through_several_levels(app):
    a = services.create_category(name="A")
    b = services.create_category(name="B", parent="a")
    services.create_category(name="C", parent="b")
    with pytest.raises(ValidationFailed):
        services.update_category(slug="a", changes={"parent": "c"})
    db.session.remove()
    assert db.session.get(Category, a.id).parent_id is None
    assert services.update_category(slug="c", changes={"parent": "a"}).parent_id == a.id
    assert db.session.get(Category, b.id).parent_id == a.id


def _expected_summary(product_id: int) -> tuple:
    variants = db.session.scalars(select(ProductVariant).where(ProductVariant.product_id == product_id)).all()
    active = [v for v in variants if v.is_active]
    ratings = list(db.session.scalars(select(Review.rating).where(Review.product_id == product_id)))
    average = (Decimal(sum(ratings)) / len(ratings)).quantize(Decimal("0.1"), ROUND_HALF_UP) if ratings else None
    return min((v.price for v in active), default=None), any(v.stock > 0 for v in active), average, len(ratings)


def _summary(product_id: int) -> tuple:
    db.session.remove()
    product = db.session.get(Product, product_id)
    return product.min_price, product.in_stock, product.average_rating, product.review_count


def test_summaries_stay_exact_through_random_changes(app, admin):
    rng = random.Random(7)
    product = product_with_variants(sizes=("XS", "S", "M", "L", "XL", "XXL"), stock=3)
    slug, product_id = product.slug, product.id
    variant_ids = [v.id for v in product.variants]
    reviewers = [UserFactory().id for _ in range(6)]
    reviews: dict[int, int] = {}
    for _ in range(60):
        action = rng.choice(["price", "active", "stock", "take", "return", "review", "unreview"])
        variant_id = rng.choice(variant_ids)
        if action == "price":
            services.update_variant(
                slug=slug, variant_id=variant_id, changes={"price": Decimal(rng.randint(100, 9999)) / 100}, by_id=None
            )
        elif action == "active":
            services.update_variant(
                slug=slug, variant_id=variant_id, changes={"is_active": rng.random() < 0.6}, by_id=None
            )
        elif action == "stock":
            services.update_variant(slug=slug, variant_id=variant_id, changes={"stock": rng.randint(0, 4)}, by_id=None)
        elif action == "take":
            stock = db.session.get(ProductVariant, variant_id).stock
            if stock:
                services.take_stock([StockLine(variant_id, rng.randint(1, stock))], reason=MovementReason.SALE)
                commit()
        elif action == "return":
            services.return_stock([StockLine(variant_id, rng.randint(1, 3))], reason=MovementReason.CANCELLATION)
            commit()
        elif action == "review":
            user_id = rng.choice(reviewers)
            if user_id in reviews:
                services.update_review(
                    product_pk=slug,
                    review_id=reviews[user_id],
                    user_id=user_id,
                    is_staff=False,
                    changes={"rating": rng.randint(1, 5)},
                )
            else:
                reviews[user_id] = services.create_review(
                    product_pk=slug, user_id=user_id, is_staff=False, rating=rng.randint(1, 5), comment="x"
                ).id
        elif reviews:
            user_id = rng.choice(list(reviews))
            services.delete_review(product_pk=slug, review_id=reviews.pop(user_id), user_id=user_id, is_staff=False)
        db.session.remove()
        assert _summary(product_id) == _expected_summary(product_id), action


def test_the_ledger_sums_to_the_stock(app, admin):
    product = services.create_product(
        data={
            "name": "Ledger Tee",
            "category": CategoryFactory().slug,
            "variants": [
                {"sku": "l-s", "size": "S", "price": Decimal("10"), "stock": 5},
                {"sku": "l-m", "size": "M", "price": Decimal("10"), "stock": 0},
            ],
        },
        by_id=admin.id,
    )
    small, medium = (v.id for v in product.variants)
    services.update_variant(slug="ledger-tee", variant_id=medium, changes={"stock": 7}, by_id=admin.id)
    services.take_stock([StockLine(small, 2), StockLine(medium, 7)], reason=MovementReason.SALE)
    commit()
    services.return_stock([StockLine(medium, 3)], reason=MovementReason.CANCELLATION)
    commit()
    services.update_variant(slug="ledger-tee", variant_id=small, changes={"stock": 1}, by_id=admin.id)
    services.create_variant(
        slug="ledger-tee", data={"sku": "l-l", "size": "L", "price": Decimal("12"), "stock": 4}, by_id=None
    )
    db.session.remove()
    for variant in db.session.scalars(select(ProductVariant)):
        ledger = db.session.scalar(select(func.sum(StockMovement.change)).where(StockMovement.variant_id == variant.id))
        last = db.session.scalar(
            select(StockMovement.stock_after)
            .where(StockMovement.variant_id == variant.id)
            .order_by(StockMovement.id.desc())
        )
        assert (ledger, last) == (variant.stock, variant.stock), variant.sku
    assert {v.sku: v.stock for v in db.session.scalars(select(ProductVariant))} == {"L-S": 1, "L-M": 3, "L-L": 4}


def test_take_stock_refuses_what_is_not_there_and_changes_nothing(app, product):
    s, m, _ = product.variant_ids
    with pytest.raises(OutOfStock) as refused:
        services.take_stock([StockLine(s, 1), StockLine(m, 11)], reason=MovementReason.SALE)
    db.session.rollback()
    assert refused.value.details == {"lines": [{"variant_id": m, "requested": 11, "available": 10}]}
    assert [db.session.get(ProductVariant, v).stock for v in (s, m)] == [10, 10]
    assert db.session.scalar(select(func.count(StockMovement.id))) == 0


@pytest.mark.skipif(not SERVICES, reason="the search vector is PostgreSQL's")
def test_the_search_vector_follows_name_and_description(app, product):
    def matches(words: str) -> bool:
        db.session.remove()
        query = select(Product.id).where(
            Product.search_vector.bool_op("@@")(func.websearch_to_tsquery("english", words))
        )
        return db.session.scalar(query) == product.id

    assert matches("linen") and matches("breathable")
    services.update_product(slug="linen-shirt", changes={"name": "Hemp Shirt", "description": "Rugged."})
    assert matches("hemp") and matches("rugged") and not matches("linen")
    index = db.session.scalar(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_products_search_vector'"))
    assert "gin" in index.lower()


def _in_threads(app, work, count: int) -> list:
    return [result for result in run_concurrently(app, count, work) if isinstance(result, Exception)]


@pytest.mark.skipif(not SERVICES, reason="true concurrency needs PostgreSQL")
def test_concurrent_reviews_keep_the_rating_exact(app, product):
    users = [UserFactory().id for _ in range(8)]
    ratings = [1, 5, 4, 4, 3, 5, 2, 5]

    def review(index: int) -> None:
        services.create_review(
            product_pk="linen-shirt", user_id=users[index], is_staff=False, rating=ratings[index], comment="x"
        )

    assert _in_threads(app, review, len(users)) == []
    assert _summary(product.id)[2:] == (Decimal("3.6"), 8)


@pytest.mark.skipif(not SERVICES, reason="true concurrency needs PostgreSQL")
def test_concurrent_sales_of_the_last_units_leave_the_product_out_of_stock(app):
    for _ in range(3):
        made = product_with_variants(sizes=("S", "M", "L", "XL"), stock=1)
        variant_ids = [v.id for v in made.variants]

        def sell(index: int, variant_ids=variant_ids) -> None:
            services.take_stock([StockLine(variant_ids[index], 1)], reason=MovementReason.SALE)
            commit()

        assert _in_threads(app, sell, len(variant_ids)) == []
        assert _summary(made.id)[1] is False


@pytest.mark.skipif(not SERVICES, reason="true concurrency needs PostgreSQL")
def test_concurrent_second_reviews_are_refused(app, product, customer):
    def review(_index: int) -> None:
        services.create_review(product_pk="linen-shirt", user_id=customer.id, is_staff=False, rating=5, comment="x")

    errors = _in_threads(app, review, 4)
    assert len(errors) == 3 and all(isinstance(error, DuplicateReview) for error in errors)
    assert _summary(product.id)[2:] == (Decimal("5.0"), 1)


def test_review_factory_and_refresh_agree(app, product, customer, other_customer):
    for user, rating in ((customer, 5), (other_customer, 2)):
        ReviewFactory(product=db.session.get(Product, product.id), user=user, rating=rating)
    services.refresh_review_summary(product.id)
    commit()
    assert _summary(product.id)[2:] == (Decimal("3.5"), 2)
