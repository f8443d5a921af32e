"""OWASP API Security Top 10 (2023): one class per risk, with concrete attacks and the answers the contract gives."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from types import SimpleNamespace

import jwt as pyjwt
import pytest
from sqlalchemy import func, select

from nexus.auth.models import User
from nexus.cart.models import CartItem, WishlistItem
from nexus.catalog.models import Category, Product, ProductImage, ProductStatus, ProductVariant, Review
from nexus.extensions import db
from nexus.orders.models import Order, OrderStatus, Payment, PaymentStatus
from tests.auth.conftest import make_token
from tests.catalog.conftest import image_bytes, png_header_only, upload
from tests.conftest import TEST_ENV, bearer
from tests.factories import (
    PASSWORD,
    CartItemFactory,
    OrderFactory,
    OrderItemFactory,
    PaymentFactory,
    ReviewFactory,
    UserFactory,
    WishlistItemFactory,
    product_with_variants,
)
from tests.helpers import wait_for
from tests.orders.conftest import ORDERS, PAYMENTS, checkout, fill_cart

METHODS = ("get", "post", "put", "patch", "delete")


def assert_error(response, code: int) -> dict:
    """The contract's error shape with `code`, and never a traceback."""
    assert response.status_code == code, (response.status_code, response.get_data(as_text=True)[:500])
    body = response.json
    assert body["code"] == code and body["status"] and body["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def count_of(model, *where) -> int:
    db.session.remove()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def snapshot(model, ident: int) -> dict | None:
    """A row's column values read afresh, to compare before and after an attack."""
    db.session.remove()
    row = db.session.get(model, ident)
    return None if row is None else {column.key: getattr(row, column.key) for column in model.__table__.columns}


@pytest.fixture
def shop(app) -> SimpleNamespace:
    """An active product "Silk Scarf" (sizes S and M, 25.00, 10 in stock each)."""
    product = product_with_variants(sizes=("S", "M"), name="Silk Scarf", slug="silk-scarf")
    return SimpleNamespace(
        id=product.id, slug=product.slug, category=product.category.slug, variant_ids=[v.id for v in product.variants]
    )


@pytest.fixture
def victim(other_customer, shop) -> SimpleNamespace:
    """What `other_customer` owns: a cart item, a wishlist entry, an order with an item and a payment, a review."""
    item = CartItemFactory(
        cart__user_id=other_customer.id, variant=db.session.get(ProductVariant, shop.variant_ids[0]), quantity=2
    )
    entry = WishlistItemFactory(user_id=other_customer.id, product=db.session.get(Product, shop.id))
    order = OrderFactory(user_id=other_customer.id)
    order_item = OrderItemFactory(order=order, variant=db.session.get(ProductVariant, shop.variant_ids[1]))
    payment = PaymentFactory(order=order)
    review = ReviewFactory(
        product=db.session.get(Product, shop.id), user=db.session.get(User, other_customer.id), title="Lovely"
    )
    return SimpleNamespace(
        user_id=other_customer.id,
        email=other_customer.email,
        cart_item=item.id,
        entry=entry.id,
        order=order.id,
        order_item=order_item.id,
        payment=payment.id,
        review=review.id,
    )


# -- API1: broken object level authorization ----------------------------------------------------------------------


class TestBrokenObjectLevelAuthorization:
    """Another user's objects answer 404 on every method, as if they did not exist, and nothing changes."""

    def attacks(self, victim, shop) -> list[tuple[str, str, dict | None]]:
        reviews = f"/api/store/products/{shop.slug}/reviews/{victim.review}/"
        return [
            ("get", f"/api/store/cart-items/{victim.cart_item}/", None),
            ("put", f"/api/store/cart-items/{victim.cart_item}/", {"quantity": 5}),
            ("patch", f"/api/store/cart-items/{victim.cart_item}/", {"quantity": 5}),
            ("delete", f"/api/store/cart-items/{victim.cart_item}/", None),
            ("delete", f"/api/store/wishlists/{victim.entry}/", None),
            ("get", f"/api/store/orders/{victim.order}/", None),
            ("get", f"/api/store/orders/{victim.order}/items/", None),
            ("post", f"/api/store/orders/{victim.order}/cancel/", None),
            ("get", f"/api/store/payments/{victim.payment}/", None),
            ("post", PAYMENTS, {"order": victim.order, "method": "card", "card_token": "tok_visa"}),
            ("patch", reviews, {"title": "Hacked"}),
            ("delete", reviews, None),
            ("patch", f"/api/store/products/{shop.id}/reviews/{victim.review}/", {"rating": 1}),
        ]

    def test_every_method_on_another_users_objects_is_404_and_changes_nothing(
        self, client, customer_headers, victim, shop
    ):
        rows = [
            (CartItem, victim.cart_item),
            (WishlistItem, victim.entry),
            (Order, victim.order),
            (Payment, victim.payment),
            (Review, victim.review),
        ]
        before = [snapshot(model, ident) for model, ident in rows]
        payments = count_of(Payment)

        for method, url, body in self.attacks(victim, shop):
            response = getattr(client, method)(url, json=body, headers=customer_headers)
            assert_error(response, 404)

        assert [snapshot(model, ident) for model, ident in rows] == before
        assert count_of(Payment) == payments

    def test_the_owner_reaches_the_same_objects(self, client, other_headers, victim):
        # The 404s above are about ownership, not broken urls.
        assert client.get(f"/api/store/cart-items/{victim.cart_item}/", headers=other_headers).status_code == 200
        assert client.get(f"/api/store/orders/{victim.order}/items/", headers=other_headers).status_code == 200
        assert client.get(f"/api/store/payments/{victim.payment}/", headers=other_headers).status_code == 200

    def test_lists_hold_only_the_callers_own_objects(self, client, customer_headers, victim):
        for url in ("/api/store/cart-items/", "/api/store/wishlists/", ORDERS, PAYMENTS):
            response = client.get(url, headers=customer_headers)
            assert response.status_code == 200
            assert response.json["count"] == 0, (url, response.json)
        assert client.get("/api/store/carts/", headers=customer_headers).json["items"] == []

    def test_another_users_order_filter_or_id_in_a_body_reaches_nothing(self, client, customer_headers, victim):
        response = client.get(ORDERS, query_string={"status": "pending"}, headers=customer_headers)
        assert response.json["count"] == 0


# -- API2: broken authentication ----------------------------------------------------------------------------------


def _unsigned(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


class TestBrokenAuthentication:
    """Every forged, stale or misused token is 401 on every protected endpoint, in the error shape."""

    PROTECTED = ("/api/store/users/me/", "/api/store/carts/", ORDERS, PAYMENTS, "/api/store/inventory/low-stock/")

    def claims(self, user) -> dict:
        return {"sub": str(user.id), "type": "access", "jti": "forged", "tv": 0, "exp": 4102444800, "fresh": False}

    def assert_refused(self, client, token: str) -> None:
        for url in self.PROTECTED:
            response = client.get(url, headers={"Authorization": f"Bearer {token}"})
            assert_error(response, 401)

    def test_alg_none(self, client, admin):
        self.assert_refused(client, _unsigned(self.claims(admin)))

    def test_a_token_signed_with_another_key(self, client, admin):
        self.assert_refused(client, pyjwt.encode(self.claims(admin), "another-key-of-at-least-32-bytes!!!", "HS256"))

    def test_an_expired_token(self, client, admin):
        self.assert_refused(client, make_token(admin, expires=timedelta(seconds=-1)))

    def test_a_refresh_token_used_as_access(self, client, admin):
        self.assert_refused(client, make_token(admin, kind="refresh"))

    def test_a_revoked_token(self, client, admin):
        headers = bearer(admin)
        assert client.post("/api/auth/logout/", headers=headers).status_code == 204
        self.assert_refused(client, headers["Authorization"].split()[1])

    def test_a_token_from_before_a_password_change(self, client, admin):
        headers = bearer(admin)
        body = {"old_password": PASSWORD, "new_password": "Velvet-Otter-93", "new_password2": "Velvet-Otter-93"}
        assert client.post("/api/auth/password/change/", json=body, headers=headers).status_code == 200
        self.assert_refused(client, headers["Authorization"].split()[1])

    def test_a_token_of_a_deleted_user(self, client):
        user = UserFactory(is_staff=True)
        token = bearer(user)["Authorization"].split()[1]
        db.session.delete(user)
        db.session.commit()
        self.assert_refused(client, token)

    def test_a_token_of_a_deactivated_user(self, client):
        user = UserFactory(is_staff=True)
        token = bearer(user)["Authorization"].split()[1]
        user.is_active = False
        db.session.commit()
        self.assert_refused(client, token)

    def test_a_token_for_a_user_id_that_overflows(self, client, admin):
        claims = {**self.claims(admin), "sub": "9" * 40}
        self.assert_refused(client, pyjwt.encode(claims, TEST_ENV["JWT_SECRET_KEY"], "HS256"))

    def test_wrong_passwords_do_not_tell_which_accounts_exist(self, client, customer):
        known = client.post("/api/auth/jwt/create/", json={"email": customer.email, "password": "Wrong-Pass-99"})
        unknown = client.post(
            "/api/auth/jwt/create/", json={"email": "nobody@example.com", "password": "Wrong-Pass-99"}
        )
        assert assert_error(known, 401) == assert_error(unknown, 401)
        reset_known = client.post("/api/auth/password/reset/", json={"email": customer.email})
        reset_unknown = client.post("/api/auth/password/reset/", json={"email": "nobody@example.com"})
        assert (reset_known.status_code, reset_known.json) == (reset_unknown.status_code, reset_unknown.json)


# -- API3: broken object property level authorization -------------------------------------------------------------


class TestBrokenObjectPropertyLevelAuthorization:
    """Read-only and privileged properties in any body are 400 and change nothing; no response leaks secrets."""

    @pytest.mark.parametrize(
        "field, value",
        [("is_staff", True), ("is_verified", True), ("id", 1), ("email", "boss@example.com"), ("is_active", True)],
    )
    def test_profile_updates_cannot_set_privileged_fields(self, client, customer, customer_headers, field, value):
        before = snapshot(User, customer.id)
        for method in ("put", "patch"):
            for url in ("/api/store/users/me/", "/api/auth/user/"):
                response = getattr(client, method)(
                    url, json={"first_name": "Eve", field: value}, headers=customer_headers
                )
                assert assert_error(response, 400)["errors"]["json"][field] == ["Unknown field."]
        assert snapshot(User, customer.id) == before

    def test_registration_cannot_make_staff(self, client):
        body = {"email": "eve@example.com", "password": "Velvet-Otter-93", "password2": "Velvet-Otter-93"}
        for field, value in (("is_staff", True), ("is_verified", True), ("id", 1)):
            response = client.post("/api/auth/registration/", json={**body, field: value})
            assert assert_error(response, 400)["errors"]["json"][field] == ["Unknown field."]
        assert count_of(User, User.email == "eve@example.com") == 0

    @pytest.mark.parametrize("field, value", [("price", "0.01"), ("unit_price", "0.01"), ("line_total", "0.01")])
    def test_cart_lines_cannot_set_prices(self, client, customer, customer_headers, shop, field, value):
        body = {"variant_id": shop.variant_ids[0], "quantity": 1, field: value}
        assert_error(client.post("/api/store/cart-items/", json=body, headers=customer_headers), 400)
        assert_error(client.post("/api/store/carts/add_item/", json=body, headers=customer_headers), 400)
        assert count_of(CartItem) == 0
        item = CartItemFactory(cart__user_id=customer.id, variant=db.session.get(ProductVariant, shop.variant_ids[0]))
        response = client.patch(
            f"/api/store/cart-items/{item.id}/", json={"quantity": 2, field: value}, headers=customer_headers
        )
        assert_error(response, 400)
        assert snapshot(CartItem, item.id)["quantity"] == 1

    @pytest.mark.parametrize(
        "field, value",
        [
            ("total", "0.01"),
            ("subtotal", "0.01"),
            ("shipping_cost", "0"),
            ("status", "delivered"),
            ("payment_status", "paid"),
            ("user", 1),
            ("id", 1),
            ("number", "NX-1"),
        ],
    )
    def test_checkout_cannot_set_totals_or_statuses(self, client, customer, customer_headers, shop, field, value):
        fill_cart(customer, (db.session.get(ProductVariant, shop.variant_ids[0]), 1))
        assert_error(checkout(client, customer_headers, **{field: value}), 400)
        assert count_of(Order) == 0
        assert count_of(CartItem) == 1

    @pytest.mark.parametrize("field, value", [("amount", "0.01"), ("status", "completed"), ("transaction_id", "x")])
    def test_payments_cannot_set_amount_or_status(self, client, customer, customer_headers, field, value):
        order = OrderFactory(user_id=customer.id)
        body = {"order": order.id, "method": "card", field: value}
        assert_error(client.post(PAYMENTS, json=body, headers=customer_headers), 400)
        assert count_of(Payment) == 0
        assert snapshot(Order, order.id)["payment_status"] == order.payment_status

    def test_reviews_cannot_claim_a_verified_purchase(self, client, customer_headers, shop):
        body = {"rating": 5, "comment": "Great", "verified_purchase": True}
        response = client.post(f"/api/store/products/{shop.slug}/reviews/", json=body, headers=customer_headers)
        assert_error(response, 400)
        assert count_of(Review) == 0

    def test_no_response_leaks_a_password_hash_or_another_users_email(
        self, client, customer, customer_headers, victim, shop
    ):
        fill_cart(customer, (db.session.get(ProductVariant, shop.variant_ids[0]), 1))
        order = checkout(client, customer_headers).json
        urls = [
            "/api/store/users/me/",
            "/api/auth/user/",
            "/api/store/carts/",
            "/api/store/cart-items/",
            ORDERS,
            f"{ORDERS}{order['id']}/",
            PAYMENTS,
            "/api/store/products/",
            f"/api/store/products/{shop.slug}/",
            f"/api/store/products/{shop.slug}/reviews/",
            f"/api/store/products/{shop.slug}/reviews/{victim.review}/",
        ]
        hash_prefix = snapshot(User, customer.id)["password_hash"][:12]
        for url in urls:
            text = client.get(url, headers=customer_headers).get_data(as_text=True)
            assert "password" not in text.lower(), url
            assert hash_prefix not in text and "$argon2" not in text, url
            assert victim.email not in text, url
        reviews = client.get(f"/api/store/products/{shop.slug}/reviews/").json["results"]
        assert reviews and set(reviews[0]["user"]) == {"id", "first_name"}


# -- API4: unrestricted resource consumption ----------------------------------------------------------------------


class TestUnrestrictedResourceConsumption:
    """Pages are capped, bodies and uploads are bounded, decompression bombs and login brute force are refused."""

    def test_a_huge_page_size_is_capped_at_100(self, client):
        db.session.add_all(Category(name=f"Category {n}", slug=f"category-{n}") for n in range(101))
        db.session.commit()
        response = client.get("/api/store/categories/", query_string={"page_size": 1_000_000})
        assert response.status_code == 200
        assert response.json["count"] == 101
        assert len(response.json["results"]) == 100
        assert "page_size=100" in response.json["next"]

    @pytest.mark.parametrize("page", [10**6, 2**63, 10**30])
    def test_a_huge_page_number_is_404_or_400_never_500(self, client, page):
        response = client.get("/api/store/categories/", query_string={"page": page})
        assert response.status_code in (400, 404)
        assert_error(response, response.status_code)

    def test_a_json_body_over_the_limit_is_413(self, app, client, customer_headers):
        body = b'{"email": "' + b"a" * app.config["MAX_CONTENT_LENGTH"] + b'"}'
        for url, headers in (("/api/auth/jwt/create/", {}), (ORDERS, customer_headers)):
            response = client.post(url, data=body, content_type="application/json", headers=headers)
            assert_error(response, 413)

    def test_an_oversize_upload_is_413_and_stores_nothing(self, app, client, admin_headers, shop, monkeypatch):
        data = image_bytes(size=(300, 300))
        monkeypatch.setitem(app.config, "MAX_IMAGE_BYTES", len(data) - 1)
        assert_error(upload(client, f"/api/store/products/{shop.slug}/images/", admin_headers, data), 413)
        assert count_of(ProductImage) == 0

    @pytest.mark.parametrize("width, height", [(30_000, 30_000), (7_000, 7_000)])
    def test_a_decompression_bomb_is_refused_before_decoding(self, client, admin_headers, shop, width, height):
        bomb = png_header_only(width, height)
        assert len(bomb) < 100
        assert_error(upload(client, f"/api/store/products/{shop.slug}/images/", admin_headers, bomb), 400)
        assert_error(upload(client, f"/api/store/categories/{shop.category}/image/", admin_headers, bomb), 400)
        assert count_of(ProductImage) == 0

    def test_login_brute_force_is_429_even_with_the_right_password_at_the_end(self, app, client, customer):
        limit = int(app.config["LOGIN_RATE_LIMIT"].split()[0])
        for _ in range(limit):
            body = {"email": customer.email, "password": "Guess-Number-1"}
            assert client.post("/api/auth/jwt/create/", json=body).status_code == 401
        response = client.post("/api/auth/jwt/create/", json={"email": customer.email, "password": PASSWORD})
        assert_error(response, 429)
        assert int(response.headers["Retry-After"]) > 0

    def test_huge_numbers_in_filters_are_400_not_500(self, client):
        for args in ({"min_price": "1e400"}, {"max_price": "9" * 400}, {"min_rating": 10**30}):
            response = client.get("/api/store/products/", query_string=args)
            assert response.status_code in (200, 400), (args, response.status_code)
            assert_error(response, 400)


# -- API5: broken function level authorization --------------------------------------------------------------------


def admin_operations(spec: dict) -> list[tuple[str, str]]:
    """The staff-only operations of the OpenAPI document: every one that documents a 403."""
    return [
        (method, path)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS and "403" in operation.get("responses", {})
    ]


def concrete(path: str) -> str:
    """A path with its parameters filled in (permission is checked before the object is looked up)."""
    for name, value in (("{slug}", "silk-scarf"), ("{product_pk}", "silk-scarf")):
        path = path.replace(name, value)
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + "1" + path[end + 1 :]
    return path


class TestBrokenFunctionLevelAuthorization:
    """Every admin operation, enumerated from /openapi.json: 403 for a customer, 401 for anonymous, nothing done."""

    def test_the_enumeration_finds_the_admin_operations(self, client):
        found = set(admin_operations(client.get("/openapi.json").json))
        assert {
            ("post", "/api/store/products/"),
            ("delete", "/api/store/categories/{slug}/"),
            ("get", "/api/store/inventory/low-stock/"),
            ("get", "/api/store/inventory/movements/"),
            ("post", "/api/store/orders/{order_id}/status/"),
            ("post", "/api/store/payments/{payment_id}/confirm/"),
        } <= found

    def test_every_admin_operation_refuses_customers_and_anonymous_callers(self, client, customer_headers, shop):
        before = (count_of(Category), count_of(Product), count_of(ProductVariant), snapshot(Product, shop.id))
        operations = admin_operations(client.get("/openapi.json").json)
        assert len(operations) >= 15
        for method, path in operations:
            url = concrete(path)
            call = getattr(client, method)
            # A body that would be valid enough to act on: permission must be checked first.
            body = {"name": "Pwned", "status": "processing"}
            assert_error(call(url, json=body, headers=customer_headers), 403)
            assert_error(call(url, json=body), 401)
        assert (count_of(Category), count_of(Product), count_of(ProductVariant), snapshot(Product, shop.id)) == before

    def test_admins_see_every_status_and_customers_only_active_products(self, client, customer_headers, admin_headers):
        product_with_variants(slug="secret-draft", status=ProductStatus.DRAFT)
        assert client.get("/api/store/products/secret-draft/", headers=customer_headers).status_code == 404
        assert client.get("/api/store/products/secret-draft/", headers=admin_headers).status_code == 200
        response = client.get("/api/store/products/", query_string={"status": "draft"}, headers=customer_headers)
        assert all(product["slug"] != "secret-draft" for product in response.json.get("results", []))


# -- API6: unrestricted access to sensitive business flows ---------------------------------------------------------


class TestUnrestrictedAccessToSensitiveBusinessFlows:
    """Quantities, product states, payments, reviews and retried checkouts cannot be abused."""

    @pytest.mark.parametrize("quantity", [-1, 0, 101, 10**9, 2**63, 10**30, 1.5, "2", True, None, [1]])
    def test_bad_quantities_are_400_and_the_cart_stays_empty(self, client, customer_headers, shop, quantity):
        body = {"variant_id": shop.variant_ids[0], "quantity": quantity}
        assert_error(client.post("/api/store/cart-items/", json=body, headers=customer_headers), 400)
        assert_error(client.post("/api/store/carts/add_item/", json=body, headers=customer_headers), 400)
        assert count_of(CartItem) == 0

    @pytest.mark.parametrize("quantity", [-1, 0, 101, 10**30, 1.5, "3"])
    def test_bad_quantities_on_an_existing_line_are_400(self, client, customer, customer_headers, shop, quantity):
        item = CartItemFactory(
            cart__user_id=customer.id, variant=db.session.get(ProductVariant, shop.variant_ids[0]), quantity=2
        )
        for method in ("put", "patch"):
            response = getattr(client, method)(
                f"/api/store/cart-items/{item.id}/", json={"quantity": quantity}, headers=customer_headers
            )
            assert_error(response, 400)
        assert snapshot(CartItem, item.id)["quantity"] == 2

    def test_more_than_the_stock_is_409(self, client, customer_headers, shop):
        body = {"variant_id": shop.variant_ids[0], "quantity": 11}
        assert_error(client.post("/api/store/cart-items/", json=body, headers=customer_headers), 409)
        assert count_of(CartItem) == 0

    @pytest.mark.parametrize("status", [ProductStatus.DRAFT, ProductStatus.INACTIVE, ProductStatus.DISCONTINUED])
    def test_a_product_not_on_sale_cannot_be_bought(self, client, customer, customer_headers, status):
        product = product_with_variants(sizes=("M",), status=status)
        body = {"variant_id": product.variants[0].id, "quantity": 1}
        assert_error(client.post("/api/store/cart-items/", json=body, headers=customer_headers), 409)
        assert count_of(CartItem) == 0

    def test_a_product_taken_off_sale_after_it_was_carted_cannot_be_checked_out(
        self, client, customer, customer_headers, shop
    ):
        fill_cart(customer, (db.session.get(ProductVariant, shop.variant_ids[0]), 1))
        db.session.get(Product, shop.id).status = ProductStatus.INACTIVE
        db.session.commit()
        assert_error(checkout(client, customer_headers), 409)
        assert count_of(Order) == 0
        assert snapshot(ProductVariant, shop.variant_ids[0])["stock"] == 10

    def test_an_order_cannot_be_paid_twice(self, client, customer, customer_headers, shop):
        fill_cart(customer, (db.session.get(ProductVariant, shop.variant_ids[0]), 1))
        order = checkout(client, customer_headers).json
        body = {"order": order["id"], "method": "card", "card_token": "tok_visa"}
        assert client.post(PAYMENTS, json=body, headers=customer_headers).status_code == 201
        assert wait_for(lambda: db.session.get(Order, order["id"]).payment_status.value == "paid")
        assert_error(client.post(PAYMENTS, json=body, headers=customer_headers), 409)
        assert count_of(Payment, Payment.status == PaymentStatus.COMPLETED) == 1

    def test_a_cancelled_order_cannot_be_paid(self, client, customer, customer_headers):
        order = OrderFactory(user_id=customer.id, status=OrderStatus.CANCELLED)
        body = {"order": order.id, "method": "card", "card_token": "tok_visa"}
        assert_error(client.post(PAYMENTS, json=body, headers=customer_headers), 409)
        assert count_of(Payment) == 0

    def test_another_users_order_cannot_be_paid(self, client, customer_headers, victim):
        body = {"order": victim.order, "method": "card", "card_token": "tok_visa"}
        assert_error(client.post(PAYMENTS, json=body, headers=customer_headers), 404)
        assert count_of(Payment, Payment.order_id == victim.order) == 1

    def test_a_customer_cannot_move_an_order_forward(self, client, customer, customer_headers):
        order = OrderFactory(user_id=customer.id)
        response = client.post(f"{ORDERS}{order.id}/status/", json={"status": "delivered"}, headers=customer_headers)
        assert_error(response, 403)
        assert snapshot(Order, order.id)["status"] == OrderStatus.PENDING

    def test_reviewing_twice_is_409(self, client, customer_headers, shop):
        url = f"/api/store/products/{shop.slug}/reviews/"
        body = {"rating": 5, "comment": "Great"}
        assert client.post(url, json=body, headers=customer_headers).status_code == 201
        assert_error(client.post(url, json={"rating": 1, "comment": "Again"}, headers=customer_headers), 409)
        assert_error(client.post(f"/api/store/products/{shop.id}/reviews/", json=body, headers=customer_headers), 409)
        assert count_of(Review) == 1

    def test_changing_the_cart_between_checkout_retries_never_makes_a_second_order(
        self, client, customer, customer_headers, shop
    ):
        headers = {**customer_headers, "Idempotency-Key": "checkout-7f3a"}
        fill_cart(customer, (db.session.get(ProductVariant, shop.variant_ids[0]), 1))
        first = checkout(client, headers)
        assert first.status_code == 201

        fill_cart(customer, (db.session.get(ProductVariant, shop.variant_ids[1]), 3))
        replay = checkout(client, headers)  # the same key and body: the first answer, nothing ordered again
        assert (replay.status_code, replay.json) == (201, first.json)
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert_error(checkout(client, headers, notes="and the new line please"), 409)  # same key, other body

        assert count_of(Order) == 1
        assert count_of(CartItem) == 1
        assert snapshot(ProductVariant, shop.variant_ids[1])["stock"] == 10


# -- API8: security misconfiguration and injection ---------------------------------------------------------------


INJECTIONS = [
    "' OR 1=1 --",
    "'; DROP TABLE products; --",
    '" OR ""="',
    "%",
    "_",
    "\\",
    "1' UNION SELECT email FROM users --",
]


class TestInjection:
    """SQL and LIKE metacharacters are data: answered correctly, with no 500 and nothing but real matches."""

    @pytest.fixture
    def catalog(self, app, shop):
        product_with_variants(sizes=("M",), name="Plain Tee", slug="plain-tee", description="Cotton.")
        return shop

    @pytest.mark.parametrize("text", INJECTIONS)
    def test_search_returns_only_real_matches(self, client, catalog, victim, text):
        for url in ("/api/store/products/", "/api/store/categories/"):
            response = client.get(url, query_string={"search": text})
            assert response.status_code == 200, response.json
            assert response.json["count"] == 0, (url, text, response.json)
            assert victim.email not in response.get_data(as_text=True)

    def test_a_literal_percent_sign_matches_only_itself(self, client, catalog):
        product_with_variants(sizes=("M",), name="100% Linen Shirt", slug="linen-100")
        response = client.get("/api/store/products/", query_string={"search": "100%"})
        assert [product["slug"] for product in response.json["results"]] == ["linen-100"]

    @pytest.mark.parametrize("text", INJECTIONS)
    def test_slugs_and_ids_in_paths_are_404(self, client, catalog, customer_headers, text):
        from urllib.parse import quote

        segment = quote(text, safe="")
        for url in (
            f"/api/store/products/{segment}/",
            f"/api/store/categories/{segment}/",
            f"/api/store/products/{segment}/reviews/",
            f"/api/store/products/{segment}/variants/",
        ):
            assert_error(client.get(url, headers=customer_headers), 404)

    @pytest.mark.parametrize(
        "args",
        [
            {"category": "' OR 1=1 --"},
            {"ordering": "name; DROP TABLE products"},
            {"ordering": "(SELECT 1)"},
            {"min_price": "1 OR 1=1"},
            {"size": "M' --"},
            {"min_rating": "5 OR 1=1"},
            {"in_stock": "true' --"},
            {"status": "active' OR '1'='1"},
        ],
    )
    def test_filters_with_sql_are_refused_or_match_nothing(self, client, catalog, args):
        response = client.get("/api/store/products/", query_string=args)
        assert response.status_code in (200, 400, 404), response.json
        if response.status_code == 200:
            assert response.json["count"] == 0, (args, response.json)
        else:
            assert_error(response, response.status_code)
        assert count_of(Product) == 2  # nothing dropped

    @pytest.mark.parametrize("ident", ["2147483648", "9" * 30, "\u00b9", "\u0663"])
    def test_ids_beyond_the_database_integer_or_not_ascii_digits_name_nothing(
        self, client, customer_headers, admin_headers, catalog, ident
    ):
        # Found by the fuzzer: such ids overflowed the database integer, or int() refused a non-ASCII digit: 500s.
        for url in (f"/api/store/cart-items/{ident}/", f"{ORDERS}{ident}/", f"{PAYMENTS}{ident}/"):
            assert_error(client.get(url, headers=customer_headers), 404)
        assert_error(client.get(f"/api/store/products/{ident}/reviews/"), 404)
        url = f"/api/store/products/{catalog.slug}/variants/{ident}/"
        assert_error(client.delete(url, headers=admin_headers), 404)
        if ident.isascii():
            args = {"variant": ident}
            assert_error(client.get("/api/store/inventory/movements/", query_string=args, headers=admin_headers), 400)

    @pytest.mark.parametrize("names", [[None], [None, "image", ""]])
    def test_multipart_parts_without_a_name_are_400(self, client, admin_headers, catalog, names):
        # Found by the fuzzer: a nameless part was reported under the key None, which broke the error answer.
        parts = b"".join(
            b"--XX\r\nContent-Disposition: form-data"
            + (b"" if name is None else b'; name="' + name.encode() + b'"')
            + b"\r\n\r\nfalse\r\n"
            for name in names
        )
        headers = {**admin_headers, "Content-Type": "multipart/form-data; boundary=XX"}
        for url in (f"/api/store/products/{catalog.slug}/images/", f"/api/store/categories/{catalog.category}/image/"):
            response = client.post(url, data=parts + b"--XX--\r\n", headers=headers)
            assert assert_error(response, 400)["errors"]["form"]["_schema"] == ["Every form field needs a name."]
        assert count_of(ProductImage) == 0

    @pytest.mark.parametrize("text", ["\x00", "a\x00b"])
    def test_nul_characters_are_400_not_500(self, client, customer_headers, catalog, text):
        assert_error(client.get("/api/store/products/", query_string={"search": text}), 400)
        assert_error(client.patch("/api/store/users/me/", json={"first_name": text}, headers=customer_headers), 400)
        body = {"email": f"x{text}@example.com", "password": "x"}
        assert_error(client.post("/api/auth/jwt/create/", json=body), 400)
        assert_error(client.get(f"/api/store/products/{text}/"), 404)


class TestSecurityMisconfiguration:
    """Errors never leak internals, CORS never pairs credentials with any origin, and the basics are set."""

    def test_an_unexpected_error_is_a_generic_500_without_a_traceback(self, client, monkeypatch):
        from nexus.catalog import services

        def broken(**kwargs):
            raise RuntimeError("secret internals: postgresql://admin:hunter2@db")

        monkeypatch.setattr(services, "read_products", broken)
        response = client.get("/api/store/products/")
        body = assert_error(response, 500)
        text = response.get_data(as_text=True)
        assert "hunter2" not in text and "RuntimeError" not in text and "File " not in text
        assert body["message"] == "An unexpected error occurred. It has been logged."

    @pytest.mark.parametrize(
        "method, url", [("get", "/no/such/page/"), ("delete", "/api/store/products/"), ("post", "/healthz")]
    )
    def test_framework_errors_are_in_the_error_shape(self, client, method, url):
        response = getattr(client, method)(url)
        assert response.status_code in (404, 405)
        assert_error(response, response.status_code)

    def test_cors_never_allows_credentials_with_a_foreign_origin(self, client):
        headers = {
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        }
        for response in (
            client.options("/api/store/orders/", headers=headers),
            client.get("/api/store/products/", headers={"Origin": "https://evil.example"}),
        ):
            allowed = response.headers.get("Access-Control-Allow-Origin")
            credentials = response.headers.get("Access-Control-Allow-Credentials")
            assert not (credentials == "true" and allowed in ("*", "https://evil.example")), response.headers

    def test_json_answers_are_json_and_not_sniffable(self, client):
        response = client.get("/api/store/products/")
        assert response.mimetype == "application/json"
        if "X-Content-Type-Options" in response.headers:  # set by the observability middleware when present
            assert response.headers["X-Content-Type-Options"] == "nosniff"

    def test_the_webhook_refuses_unsigned_and_forged_calls(self, client, customer):
        order = OrderFactory(user_id=customer.id)
        event = json.dumps({"id": "evt_1", "type": "payment.succeeded", "data": {"order": order.id}}).encode()
        for signature in (None, "t=1,v1=00", "garbage"):
            headers = {"X-Nexus-Signature": signature} if signature else {}
            response = client.post(
                "/api/store/payments/webhook/", data=event, content_type="application/json", headers=headers
            )
            assert_error(response, 400)
        assert snapshot(Order, order.id)["payment_status"] == order.payment_status
