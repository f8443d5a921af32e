"""The cart over HTTP: /api/store/carts/, add_item and clear."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from nexus.catalog.models import ProductStatus, ProductVariant
from nexus.extensions import db
from tests.cart.conftest import carts_of, lines_of, set_product_status, set_variant
from tests.factories import CartItemFactory, cart_with_lines, product_with_variants
from tests.helpers import count_queries

CART = "/api/store/carts/"
ADD = "/api/store/carts/add_item/"
CLEAR = "/api/store/carts/clear/"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", CART),
        ("post", ADD),
        ("post", CLEAR),
        ("get", "/api/store/cart-items/"),
        ("post", "/api/store/cart-items/"),
        ("get", "/api/store/cart-items/1/"),
        ("put", "/api/store/cart-items/1/"),
        ("patch", "/api/store/cart-items/1/"),
        ("delete", "/api/store/cart-items/1/"),
        ("get", "/api/store/wishlists/"),
        ("post", "/api/store/wishlists/"),
        ("delete", "/api/store/wishlists/1/"),
    ],
)
def test_every_cart_and_wishlist_endpoint_needs_a_token(client, method, path):
    response = getattr(client, method)(path, json={"variant_id": 1})
    assert response.status_code == 401
    assert response.json["code"] == 401
    assert response.json["status"] == "Unauthorized"


def test_first_read_creates_an_empty_cart_once(client, customer_id, customer_headers):
    first = client.get(CART, headers=customer_headers)
    assert first.status_code == 200
    body = first.json
    assert body["items"] == []
    assert body["item_count"] == 0
    assert body["subtotal"] == "0.00"
    assert body["currency"] == "USD"
    assert datetime.fromisoformat(body["updated_at"]).tzinfo is not None
    second = client.get(CART, headers=customer_headers)
    assert second.json["id"] == body["id"]
    assert carts_of(customer_id) == 1


def test_a_path_without_its_slash_still_reaches_the_cart(client, customer_headers):
    response = client.get(CART.rstrip("/"), headers=customer_headers, follow_redirects=True)
    assert response.status_code == 200
    assert response.json["items"] == []


def test_add_item_answers_the_cart_with_current_prices_and_main_image(client, customer_id, customer_headers, variant):
    response = client.post(ADD, json={"variant_id": variant.id, "quantity": 2}, headers=customer_headers)
    assert response.status_code == 200
    body = response.json
    [line] = lines_of(customer_id)
    assert body["id"] == line.cart_id
    assert body["items"] == [
        {
            "id": line.id,
            "variant": {"id": variant.id, "sku": variant.sku, "size": "S", "price": "25.00"},
            "product": {
                "id": variant.product_id,
                "name": "Linen Shirt",
                "slug": "linen-shirt",
                "main_image": "/media/products/linen-shirt.jpg",
            },
            "quantity": 2,
            "unit_price": "25.00",
            "line_total": "50.00",
        }
    ]
    assert (body["item_count"], body["subtotal"], body["currency"]) == (2, "50.00", "USD")

    set_variant(variant.id, price=Decimal("30.50"))
    body = client.get(CART, headers=customer_headers).json
    assert body["items"][0]["unit_price"] == "30.50"
    assert body["items"][0]["variant"]["price"] == "30.50"
    assert body["items"][0]["line_total"] == "61.00"
    assert body["subtotal"] == "61.00"


def test_the_same_variant_again_merges_into_its_line(client, customer_id, customer_headers, product):
    small, medium = product.variants
    client.post(ADD, json={"variant_id": small.id, "quantity": 2}, headers=customer_headers)
    client.post(ADD, json={"variant_id": medium.id}, headers=customer_headers)
    response = client.post(ADD, json={"variant_id": small.id, "quantity": 3}, headers=customer_headers)
    assert response.status_code == 200
    assert [(item["variant"]["id"], item["quantity"]) for item in response.json["items"]] == [
        (small.id, 5),
        (medium.id, 1),
    ]
    assert response.json["item_count"] == 6
    assert response.json["subtotal"] == "150.00"
    assert [(line.variant_id, line.quantity) for line in lines_of(customer_id)] == [(small.id, 5), (medium.id, 1)]


def test_a_cart_reserves_no_stock(client, customer_headers, variant):
    client.post(ADD, json={"variant_id": variant.id, "quantity": 4}, headers=customer_headers)
    assert db.session.get(ProductVariant, variant.id, populate_existing=True).stock == 10


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("2", "Not a valid integer."),
        (1.5, "Not a valid integer."),
        (2.0, "Not a valid integer."),
        (True, "Not a valid integer."),
        (None, "Field may not be null."),
        ([1], "Not a valid integer."),
        (0, "Must be greater than or equal to 1."),
        (-3, "Must be greater than or equal to 1."),
        (101, "Must be less than or equal to 100."),
        (10**30, "Must be less than or equal to 100."),
    ],
)
def test_bad_quantities_are_400_with_the_field_named(client, customer_id, customer_headers, variant, quantity, message):
    response = client.post(ADD, json={"variant_id": variant.id, "quantity": quantity}, headers=customer_headers)
    assert response.status_code == 400
    assert response.json["errors"] == {"json": {"quantity": [message]}}
    assert lines_of(customer_id) == []


@pytest.mark.parametrize(
    "body",
    [{}, {"variant_id": "1"}, {"variant_id": None}, {"variant_id": 0}, {"variant_id": 2**40}, {"variant_id": 1.0}],
)
def test_bad_variant_ids_are_400(client, customer_headers, body):
    response = client.post(ADD, json=body, headers=customer_headers)
    assert response.status_code == 400
    assert "variant_id" in response.json["errors"]["json"]


def test_unknown_fields_are_refused(client, customer_id, customer_headers, variant):
    body = {"variant_id": variant.id, "quantity": 1, "unit_price": "0.01"}
    response = client.post(ADD, json=body, headers=customer_headers)
    assert response.status_code == 400
    assert response.json["errors"]["json"] == {"unit_price": ["Unknown field."]}
    assert lines_of(customer_id) == []


@pytest.mark.parametrize(
    ("data", "content_type"), [("quantity=1", "text/plain"), ("{bad", "application/json"), ("[1]", "application/json")]
)
def test_a_body_that_is_not_a_json_object_is_400(client, customer_headers, data, content_type):
    response = client.post(ADD, data=data, headers=customer_headers, content_type=content_type)
    assert response.status_code == 400
    assert response.json["message"] == "Validation failed"
    assert "json" in response.json["errors"]


def test_an_unknown_variant_is_404(client, customer_id, customer_headers):
    response = client.post(ADD, json={"variant_id": 424242}, headers=customer_headers)
    assert response.status_code == 404
    assert response.json["message"] == "Variant 424242 not found."
    assert lines_of(customer_id) == []


def test_an_inactive_variant_is_409_naming_it(client, customer_id, customer_headers, variant):
    set_variant(variant.id, is_active=False)
    response = client.post(ADD, json={"variant_id": variant.id}, headers=customer_headers)
    assert response.status_code == 409
    assert variant.sku in response.json["message"]
    assert "inactive" in response.json["message"]
    assert lines_of(customer_id) == []


@pytest.mark.parametrize("status", [ProductStatus.DRAFT, ProductStatus.INACTIVE, ProductStatus.DISCONTINUED])
def test_a_variant_of_a_product_not_for_sale_is_409(client, customer_id, customer_headers, variant, status):
    set_product_status(variant.product_id, status)
    response = client.post(ADD, json={"variant_id": variant.id}, headers=customer_headers)
    assert response.status_code == 409
    assert variant.sku in response.json["message"]
    assert status.value in response.json["message"]
    assert lines_of(customer_id) == []


def test_stock_is_checked_for_the_lines_new_total(client, customer_id, customer_headers, variant):
    set_variant(variant.id, stock=3)
    assert client.post(ADD, json={"variant_id": variant.id, "quantity": 2}, headers=customer_headers).status_code == 200
    response = client.post(ADD, json={"variant_id": variant.id, "quantity": 2}, headers=customer_headers)
    assert response.status_code == 409
    assert response.json["message"] == f"Not enough stock for variant {variant.sku}: 3 available, 4 requested."
    assert response.json["details"] == {"variant_id": variant.id, "sku": variant.sku, "available": 3, "requested": 4}
    assert [line.quantity for line in lines_of(customer_id)] == [2]
    assert client.post(ADD, json={"variant_id": variant.id, "quantity": 1}, headers=customer_headers).status_code == 200
    assert [line.quantity for line in lines_of(customer_id)] == [3]


def test_a_sold_out_variant_is_409(client, customer_id, customer_headers, variant):
    set_variant(variant.id, stock=0)
    response = client.post(ADD, json={"variant_id": variant.id}, headers=customer_headers)
    assert response.status_code == 409
    assert "0 available" in response.json["message"]


def test_a_merged_line_cannot_pass_the_line_maximum(client, customer_id, customer_headers, variant):
    set_variant(variant.id, stock=500)
    assert (
        client.post(ADD, json={"variant_id": variant.id, "quantity": 60}, headers=customer_headers).status_code == 200
    )
    response = client.post(ADD, json={"variant_id": variant.id, "quantity": 41}, headers=customer_headers)
    assert response.status_code == 400
    assert "at most 100 per line" in response.json["errors"]["json"]["quantity"][0]
    assert [line.quantity for line in lines_of(customer_id)] == [60]


def test_the_line_maximum_and_currency_come_from_the_settings(app, client, customer_headers, variant, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_LINE_QUANTITY", 5)
    monkeypatch.setitem(app.config, "STORE_CURRENCY", "EUR")
    response = client.post(ADD, json={"variant_id": variant.id, "quantity": 6}, headers=customer_headers)
    assert response.json["errors"] == {"json": {"quantity": ["Must be less than or equal to 5."]}}
    response = client.post(ADD, json={"variant_id": variant.id, "quantity": 5}, headers=customer_headers)
    assert response.status_code == 200
    assert response.json["currency"] == "EUR"


def test_clear_empties_only_the_users_own_cart(client, customer_id, other_id, customer_headers):
    cart_id = cart_with_lines(user_id=customer_id, lines=2).id
    other_cart_id = cart_with_lines(user_id=other_id, lines=1).id
    response = client.post(CLEAR, headers=customer_headers)
    assert response.status_code == 200
    assert response.json["id"] == cart_id
    assert (response.json["items"], response.json["item_count"], response.json["subtotal"]) == ([], 0, "0.00")
    assert lines_of(customer_id) == []
    assert carts_of(customer_id) == 1
    assert [line.cart_id for line in lines_of(other_id)] == [other_cart_id]


def test_clear_works_before_the_cart_exists(client, customer_id, customer_headers):
    response = client.post(CLEAR, headers=customer_headers)
    assert response.status_code == 200
    assert response.json["items"] == []
    assert carts_of(customer_id) == 1


def test_writes_move_the_carts_updated_at(client, customer_headers, variant):
    before = client.get(CART, headers=customer_headers).json["updated_at"]
    after = client.post(ADD, json={"variant_id": variant.id}, headers=customer_headers).json["updated_at"]
    assert datetime.fromisoformat(after) > datetime.fromisoformat(before)


def test_lines_of_unavailable_variants_stay_listed_at_current_prices(client, customer_id, customer_headers, variant):
    cart = cart_with_lines(user_id=customer_id, lines=0)
    CartItemFactory(cart=cart, variant=db.session.get(ProductVariant, variant.id), quantity=2)
    set_variant(variant.id, is_active=False, price=Decimal("19.90"))
    body = client.get(CART, headers=customer_headers).json
    assert [(item["variant"]["sku"], item["line_total"]) for item in body["items"]] == [(variant.sku, "39.80")]


def test_reading_the_cart_runs_the_same_statements_for_1_and_20_lines(client, customer_id, customer_headers):
    cart = cart_with_lines(user_id=customer_id, lines=1)
    client.get(CART, headers=customer_headers)  # warm up: the first request of a test may load metadata
    with count_queries() as one_line:
        response = client.get(CART, headers=customer_headers)
    assert len(response.json["items"]) == 1
    for _ in range(19):
        product = product_with_variants(sizes=("L",))
        CartItemFactory(cart=db.session.merge(cart), variant=product.variants[0], quantity=2)
    with count_queries() as twenty_lines:
        response = client.get(CART, headers=customer_headers)
    assert len(response.json["items"]) == 20
    assert response.json["item_count"] == 39
    assert len(twenty_lines) == len(one_line)


def _writes(statements: list[str]) -> list[str]:
    return [
        " ".join(s.split()[:3]) for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]


def test_adding_runs_the_same_statements_for_1_and_20_lines(client, customer_id, customer_headers, variant):
    set_variant(variant.id, stock=500)
    cart = cart_with_lines(user_id=customer_id, lines=1)
    client.post(ADD, json={"variant_id": variant.id}, headers=customer_headers)  # warm up
    with count_queries() as two_lines:
        response = client.post(ADD, json={"variant_id": variant.id}, headers=customer_headers)
    assert len(response.json["items"]) == 2
    for _ in range(18):
        product = product_with_variants(sizes=("L",))
        CartItemFactory(cart=db.session.merge(cart), variant=product.variants[0], quantity=1)
    with count_queries() as twenty_lines:
        response = client.post(ADD, json={"variant_id": variant.id}, headers=customer_headers)
    assert len(response.json["items"]) == 20
    assert len(twenty_lines) == len(two_lines)
    # The cart's part: the lock, the merge, and the answer read in the same transaction (no re-read of the cart).
    assert _writes(two_lines) == ["UPDATE carts SET", "INSERT INTO cart_items"]


def test_a_line_that_cannot_fit_is_refused_before_any_write(client, customer_id, customer_headers, variant):
    set_variant(variant.id, stock=3)
    assert client.post(ADD, json={"variant_id": variant.id}, headers=customer_headers).status_code == 200  # the cart
    with count_queries() as accepted:
        assert client.post(ADD, json={"variant_id": variant.id}, headers=customer_headers).status_code == 200
    with count_queries() as refused:
        response = client.post(ADD, json={"variant_id": variant.id, "quantity": 2}, headers=customer_headers)
    assert response.status_code == 409
    # The line's new total is named, as when the merge itself is refused.
    assert response.json["details"] == {"variant_id": variant.id, "sku": variant.sku, "available": 3, "requested": 4}
    assert _writes(refused) == []
    assert len(refused) == len(accepted) - 3  # no lock, no merge, no answer
    assert [line.quantity for line in lines_of(customer_id)] == [2]


def test_clear_answers_the_empty_cart_without_reading_it_again(client, customer_id, customer_headers):
    cart_with_lines(user_id=customer_id, lines=3)
    with count_queries() as cleared:
        response = client.post(CLEAR, headers=customer_headers)
    assert response.status_code == 200
    assert (response.json["items"], response.json["item_count"]) == ([], 0)
    assert _writes(cleared) == ["UPDATE carts SET", "DELETE FROM cart_items"]
    assert len(cleared) == len(_writes(cleared)) + 1  # and the signed-in user's lookup
    assert lines_of(customer_id) == []
