"""The cart's rules at the service level: merging, limits, checkout helpers and concurrency."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from nexus.cart import services
from nexus.cart.exceptions import CartItemNotFound, NotEnoughStock, VariantNotFound, VariantUnavailable
from nexus.cart.models import Cart, WishlistItem
from nexus.common import outbox
from nexus.common.errors import ValidationFailed
from nexus.extensions import db
from tests.cart.conftest import carts_of, lines_of, set_variant, wishlist_of
from tests.conftest import SERVICES
from tests.factories import cart_with_lines, product_with_variants
from tests.helpers import count_round_trips, run_concurrently


def test_get_or_create_cart_makes_one_cart_per_user(customer_id):
    first = services.get_or_create_cart(user_id=customer_id)
    outbox.commit()
    assert services.get_or_create_cart(user_id=customer_id).id == first.id
    assert carts_of(customer_id) == 1


@pytest.mark.parametrize("quantity", ["2", 1.5, True, None, 0, -1, 101])
def test_add_item_refuses_bad_quantities(customer_id, variant, quantity):
    with pytest.raises(ValidationFailed) as refused:
        services.add_item(user_id=customer_id, variant_id=variant.id, quantity=quantity)
    assert list(refused.value.errors) == ["quantity"]
    assert carts_of(customer_id) == 0


def test_add_item_merges_and_answers_the_line(customer_id, variant):
    first = services.add_item(user_id=customer_id, variant_id=variant.id, quantity=2)
    second = services.add_item(user_id=customer_id, variant_id=variant.id, quantity=5)
    assert second.id == first.id
    assert (second.quantity, str(second.line_total)) == (7, "175.00")
    assert second.product.main_image == "/media/products/linen-shirt.jpg"
    assert [line.quantity for line in lines_of(customer_id)] == [7]


def test_a_refused_add_rolls_back_the_merge(customer_id, variant):
    services.add_item(user_id=customer_id, variant_id=variant.id, quantity=8)
    with pytest.raises(NotEnoughStock) as refused:
        services.add_item(user_id=customer_id, variant_id=variant.id, quantity=3)
    assert refused.value.details == {"variant_id": variant.id, "sku": variant.sku, "available": 10, "requested": 11}
    db.session.remove()
    assert [line.quantity for line in lines_of(customer_id)] == [8]


def test_an_unknown_or_unavailable_variant_creates_no_cart(customer_id, variant):
    with pytest.raises(VariantNotFound):
        services.add_item(user_id=customer_id, variant_id=987654)
    set_variant(variant.id, is_active=False)
    with pytest.raises(VariantUnavailable):
        services.add_item(user_id=customer_id, variant_id=variant.id)
    assert carts_of(customer_id) == 0


def test_remove_and_set_quantity_only_reach_the_users_own_lines(customer_id, other_id, variant):
    others = services.add_item(user_id=other_id, variant_id=variant.id, quantity=2).id
    services.get_or_create_cart(user_id=customer_id)
    outbox.commit()
    with pytest.raises(CartItemNotFound):
        services.set_item_quantity(user_id=customer_id, item_id=others, quantity=1)
    with pytest.raises(CartItemNotFound):
        services.remove_item(user_id=customer_id, item_id=others)
    db.session.remove()
    assert [line.quantity for line in lines_of(other_id)] == [2]


def test_take_lines_locks_the_cart_and_answers_the_lines_it_removed_in_variant_order_in_one_round_trip(customer_id):
    cart = cart_with_lines(user_id=customer_id, lines=3)
    before = cart.updated_at
    db.session.remove()
    held = sorted((line.variant_id, line.quantity) for line in lines_of(customer_id))
    db.session.remove()
    with count_round_trips() as trips:
        removed = services.take_lines(user_id=customer_id)
    assert [s.split()[0] for trip in trips for s in trip] == ["UPDATE", "DELETE"]  # the cart's lock, then its lines
    assert [len(trip) for trip in trips] == ([2] if SERVICES else [1, 1])  # one round trip on PostgreSQL
    assert removed == held
    assert [variant_id for variant_id, _ in removed] == sorted(variant_id for variant_id, _ in removed)
    outbox.commit()
    assert lines_of(customer_id) == []
    assert db.session.get(Cart, cart.id).updated_at > before  # marked changed, as every cart write


def test_take_lines_only_flushes_the_callers_transaction_and_takes_nothing_without_a_cart(customer_id, other_id):
    cart_with_lines(user_id=customer_id, lines=2)
    assert len(services.take_lines(user_id=customer_id)) == 2
    outbox.rollback()
    assert len(lines_of(customer_id)) == 2
    assert services.take_lines(user_id=other_id) == []  # no cart: none made
    assert len(services.take_lines(user_id=customer_id)) == 2
    outbox.commit()
    assert lines_of(customer_id) == []
    assert carts_of(customer_id) == 1 and carts_of(other_id) == 0


def test_lock_cart_creates_the_cart_unless_told_not_to(customer_id):
    assert services.lock_cart(user_id=customer_id, create=False) is None
    cart_id = services.lock_cart(user_id=customer_id)
    outbox.commit()
    assert db.session.scalar(select(Cart.id).where(Cart.user_id == customer_id)) == cart_id


def test_find_product_by_id_slug_or_digits(product):
    assert services.find_product(product.id).id == product.id
    assert services.find_product("linen-shirt").id == product.id
    assert services.find_product(str(product.id)).id == product.id
    assert services.find_product("9" * 50) is None
    assert services.find_product(0) is None


# -- concurrency (PostgreSQL: true parallel transactions) ------------------------------------------------


def _at_once(app, count: int, work) -> list:
    return run_concurrently(app, count, work)


concurrent = pytest.mark.skipif(not SERVICES, reason="true concurrency needs PostgreSQL (the real-services run)")


@concurrent
def test_concurrent_adds_of_one_variant_end_in_one_line_with_the_sum(app, customer_id):
    variant_id = product_with_variants(sizes=("M",), stock=100).variants[0].id
    results = _at_once(app, 8, lambda _: services.add_item(user_id=customer_id, variant_id=variant_id, quantity=3))
    assert [type(result).__name__ for result in results] == ["CartLine"] * 8
    assert len({result.id for result in results}) == 1
    assert [(line.variant_id, line.quantity) for line in lines_of(customer_id)] == [(variant_id, 24)]
    assert carts_of(customer_id) == 1


@concurrent
def test_concurrent_adds_never_pass_the_stock(app, customer_id):
    variant_id = product_with_variants(sizes=("M",), stock=10).variants[0].id
    results = _at_once(app, 8, lambda _: services.add_item(user_id=customer_id, variant_id=variant_id, quantity=2))
    refused = [result for result in results if isinstance(result, NotEnoughStock)]
    assert (len(refused), len(results) - len(refused)) == (3, 5)
    assert [line.quantity for line in lines_of(customer_id)] == [10]


@concurrent
def test_concurrent_first_reads_create_one_cart(app, customer_id):
    results = _at_once(app, 8, lambda _: services.get_cart(user_id=customer_id).id)
    assert len(set(results)) == 1 and isinstance(results[0], int)
    assert carts_of(customer_id) == 1


@concurrent
def test_concurrent_wishlist_adds_keep_one_entry(app, customer_id, product):
    results = _at_once(app, 6, lambda _: services.add_to_wishlist(user_id=customer_id, product="linen-shirt"))
    assert sorted(created for _, created in results) == [False] * 5 + [True]
    assert len({entry.id for entry, _ in results}) == 1
    assert [row.product_id for row in wishlist_of(customer_id)] == [product.id]
    assert db.session.scalar(select(db.func.count()).select_from(WishlistItem)) == 1
