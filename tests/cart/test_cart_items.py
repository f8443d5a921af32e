"""Cart items over HTTP: /api/store/cart-items/ and /api/store/cart-items/{id}/, the owner's only."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from nexus.cart.models import Cart
from nexus.catalog.models import ProductStatus, ProductVariant
from nexus.extensions import db
from tests.cart.conftest import lines_of, set_product_status, set_variant
from tests.conftest import bearer
from tests.factories import CartItemFactory, cart_with_lines, product_with_variants
from tests.helpers import count_queries

ITEMS = "/api/store/cart-items/"


def item_url(item_id: int) -> str:
    return f"{ITEMS}{item_id}/"


@pytest.fixture
def line(customer_id, variant) -> int:
    """The id of a line of 2 × `variant` in the customer's cart."""
    cart = cart_with_lines(user_id=customer_id, lines=0)
    return CartItemFactory(cart=cart, variant=db.session.get(ProductVariant, variant.id), quantity=2).id


@pytest.fixture
def others_line(other_id, variant) -> int:
    """The id of a line of 3 × `variant` in the other customer's cart."""
    cart = cart_with_lines(user_id=other_id, lines=0)
    return CartItemFactory(cart=cart, variant=db.session.get(ProductVariant, variant.id), quantity=3).id


def test_post_adds_a_line_and_answers_it_with_201(client, customer_id, customer_headers, variant):
    response = client.post(ITEMS, json={"variant_id": variant.id, "quantity": 3}, headers=customer_headers)
    assert response.status_code == 201
    [row] = lines_of(customer_id)
    assert response.json == {
        "id": row.id,
        "variant": {"id": variant.id, "sku": variant.sku, "size": "S", "price": "25.00"},
        "product": {
            "id": variant.product_id,
            "name": "Linen Shirt",
            "slug": "linen-shirt",
            "main_image": "/media/products/linen-shirt.jpg",
        },
        "quantity": 3,
        "unit_price": "25.00",
        "line_total": "75.00",
    }


def test_post_merges_into_the_existing_line(client, customer_id, customer_headers, variant, line):
    response = client.post(ITEMS, json={"variant_id": variant.id}, headers=customer_headers)
    assert response.status_code == 201
    assert (response.json["id"], response.json["quantity"]) == (line, 3)
    assert [(row.id, row.quantity) for row in lines_of(customer_id)] == [(line, 3)]


def test_post_applies_the_same_rules_as_add_item(client, customer_id, customer_headers, variant):
    assert (
        client.post(ITEMS, json={"variant_id": variant.id, "quantity": 0}, headers=customer_headers).status_code == 400
    )
    assert client.post(ITEMS, json={"variant_id": 999999}, headers=customer_headers).status_code == 404
    response = client.post(ITEMS, json={"variant_id": variant.id, "quantity": 11}, headers=customer_headers)
    assert response.status_code == 409
    assert f"Not enough stock for variant {variant.sku}: 10 available" in response.json["message"]
    assert lines_of(customer_id) == []


def test_the_list_is_the_users_own_lines_paginated(client, customer_id, other_id, customer_headers):
    cart_with_lines(user_id=customer_id, lines=3)
    cart_with_lines(user_id=other_id, lines=2)
    own = [row.id for row in lines_of(customer_id)]
    first = client.get(f"{ITEMS}?page_size=2", headers=customer_headers)
    assert first.status_code == 200
    assert first.json["count"] == 3
    assert [item["id"] for item in first.json["results"]] == own[:2]
    assert first.json["previous"] is None
    assert "page=2" in first.json["next"] and "page_size=2" in first.json["next"]
    second = client.get(first.json["next"], headers=customer_headers)
    assert [item["id"] for item in second.json["results"]] == own[2:]
    assert second.json["next"] is None
    assert client.get(f"{ITEMS}?page=3&page_size=2", headers=customer_headers).status_code == 404
    assert client.get(f"{ITEMS}?page=0", headers=customer_headers).status_code == 400


def test_the_list_is_empty_before_any_cart(client, customer_headers):
    response = client.get(ITEMS, headers=customer_headers)
    assert response.status_code == 200
    assert response.json == {"count": 0, "next": None, "previous": None, "results": []}


def test_the_list_runs_the_same_statements_for_1_and_20_lines(client, customer_id, customer_headers):
    cart = cart_with_lines(user_id=customer_id, lines=1)
    client.get(ITEMS, headers=customer_headers)
    with count_queries() as one_line:
        assert len(client.get(f"{ITEMS}?page_size=50", headers=customer_headers).json["results"]) == 1
    for _ in range(19):
        CartItemFactory(cart=db.session.merge(cart), variant=product_with_variants(sizes=("XL",)).variants[0])
    with count_queries() as twenty_lines:
        assert len(client.get(f"{ITEMS}?page_size=50", headers=customer_headers).json["results"]) == 20
    assert len(twenty_lines) == len(one_line)


def test_get_answers_the_owners_line(client, customer_headers, variant, line):
    response = client.get(item_url(line), headers=customer_headers)
    assert response.status_code == 200
    assert (response.json["id"], response.json["quantity"], response.json["line_total"]) == (line, 2, "50.00")


@pytest.mark.parametrize("method", ["put", "patch"])
def test_put_and_patch_set_the_quantity(client, customer_id, customer_headers, line, method):
    response = getattr(client, method)(item_url(line), json={"quantity": 7}, headers=customer_headers)
    assert response.status_code == 200
    assert (response.json["quantity"], response.json["line_total"]) == (7, "175.00")
    assert [row.quantity for row in lines_of(customer_id)] == [7]


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize("body", [{}, {"quantity": 0}, {"quantity": "3"}, {"quantity": 2.5}, {"quantity": None}])
def test_bad_quantities_are_400_and_change_nothing(client, customer_id, customer_headers, line, method, body):
    response = getattr(client, method)(item_url(line), json=body, headers=customer_headers)
    assert response.status_code == 400
    assert list(response.json["errors"]["json"]) == ["quantity"]
    assert [row.quantity for row in lines_of(customer_id)] == [2]


def test_a_quantity_over_the_stock_is_409(client, customer_id, customer_headers, variant, line):
    set_variant(variant.id, stock=4)
    response = client.put(item_url(line), json={"quantity": 5}, headers=customer_headers)
    assert response.status_code == 409
    assert response.json["message"] == f"Not enough stock for variant {variant.sku}: 4 available, 5 requested."
    assert [row.quantity for row in lines_of(customer_id)] == [2]
    assert client.put(item_url(line), json={"quantity": 4}, headers=customer_headers).status_code == 200


def test_a_line_whose_variant_left_sale_cannot_be_changed_but_can_be_removed(client, customer_headers, variant, line):
    set_product_status(variant.product_id, ProductStatus.INACTIVE)
    response = client.patch(item_url(line), json={"quantity": 1}, headers=customer_headers)
    assert response.status_code == 409
    assert variant.sku in response.json["message"]
    assert client.delete(item_url(line), headers=customer_headers).status_code == 204


def test_delete_removes_the_line(client, customer_id, customer_headers, line):
    response = client.delete(item_url(line), headers=customer_headers)
    assert response.status_code == 204
    assert response.data == b""
    assert lines_of(customer_id) == []
    assert client.delete(item_url(line), headers=customer_headers).status_code == 404


@pytest.mark.parametrize(
    ("method", "body"), [("get", None), ("put", {"quantity": 1}), ("patch", {"quantity": 1}), ("delete", None)]
)
def test_another_users_line_is_404_and_unchanged(client, customer_headers, others_line, other_id, method, body):
    response = getattr(client, method)(item_url(others_line), json=body, headers=customer_headers)
    assert response.status_code == 404
    assert response.json == {"code": 404, "status": "Not Found", "message": "Cart item not found."}
    assert [(row.id, row.quantity) for row in lines_of(other_id)] == [(others_line, 3)]


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_staff_get_404_for_a_customers_line_too(client, admin, others_line, other_id, method):
    response = getattr(client, method)(item_url(others_line), json={"quantity": 1}, headers=bearer(admin))
    assert response.status_code == 404
    assert [row.quantity for row in lines_of(other_id)] == [3]


@pytest.mark.parametrize("item_id", [0, 424242, 2**31, 10**30])
@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_unknown_ids_are_404(client, customer_headers, item_id, method):
    response = getattr(client, method)(item_url(item_id), json={"quantity": 1}, headers=customer_headers)
    assert response.status_code == 404
    assert response.json["code"] == 404


def test_a_refused_change_leaves_the_cart_untouched(client, customer_id, customer_headers, line):
    def cart_updated_at():
        return db.session.scalar(select(Cart.updated_at).where(Cart.user_id == customer_id))

    before = cart_updated_at()
    assert client.put(item_url(line + 1000), json={"quantity": 1}, headers=customer_headers).status_code == 404
    assert client.put(item_url(line), json={"quantity": 11}, headers=customer_headers).status_code == 409
    assert cart_updated_at() == before
    assert client.put(item_url(line), json={"quantity": 1}, headers=customer_headers).status_code == 200
    assert cart_updated_at() > before
