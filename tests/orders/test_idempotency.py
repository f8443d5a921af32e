"""Idempotency-Key on POST /api/store/orders/ and POST /api/store/payments/."""

from datetime import timedelta

from sqlalchemy import func, select, update

from nexus.common.idempotency import IN_PROGRESS, IdempotencyKey, purge_expired_keys
from nexus.common.models import utcnow
from nexus.extensions import db
from nexus.orders.models import Order, Payment
from tests.orders.conftest import ADDRESS, ORDERS, PAYMENTS, checkout, fill_cart, stock_of


def _orders() -> int:
    db.session.remove()
    return db.session.scalar(select(func.count()).select_from(Order))


def test_a_retried_checkout_returns_the_first_order_and_does_nothing_again(client, customer, customer_headers,
                                                                           variant):  # fmt: skip
    fill_cart(customer, (variant, 2))
    headers = {**customer_headers, "Idempotency-Key": "order-attempt-1"}

    first = checkout(client, headers)
    fill_cart(customer, (variant, 1))  # something new in the cart: a replay must not order it
    second = checkout(client, headers)

    assert first.status_code == second.status_code == 201
    assert second.json == first.json
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _orders() == 1 and stock_of(variant.id) == 8


def test_the_same_json_in_another_key_order_is_the_same_request(client, customer, customer_headers, variant):
    fill_cart(customer, (variant, 1))
    headers = {**customer_headers, "Idempotency-Key": "k", "Content-Type": "application/json"}
    first = client.post(ORDERS, data='{"shipping_address": {"full_name": "A", "line1": "B", "city": "C", '
                        '"postal_code": "1", "country": "DE"}, "notes": ""}', headers=headers)  # fmt: skip
    second = client.post(ORDERS, data='{"notes":"","shipping_address":{"country":"DE","postal_code":"1",'
                         '"city":"C","line1":"B","full_name":"A"}}', headers=headers)  # fmt: skip
    assert first.status_code == 201 and second.headers.get("Idempotent-Replayed") == "true"


def test_the_same_key_with_another_body_is_409(client, customer, customer_headers, variant):
    fill_cart(customer, (variant, 1))
    headers = {**customer_headers, "Idempotency-Key": "k1"}
    assert checkout(client, headers).status_code == 201
    fill_cart(customer, (variant, 1))
    response = checkout(client, headers, address={**ADDRESS, "city": "Hamburg"})
    assert response.status_code == 409 and "different request" in response.json["message"]
    assert _orders() == 1 and stock_of(variant.id) == 9


def test_a_key_in_progress_is_409(app, client, customer, customer_headers, variant):
    from nexus.common.idempotency import request_fingerprint

    fill_cart(customer, (variant, 1))
    variant_id = variant.id
    body = b'{"shipping_address": {}}'
    db.session.add(
        IdempotencyKey(
            user_id=customer.id,
            key="busy",
            fingerprint=request_fingerprint("POST", ORDERS, body),
            status=IN_PROGRESS,
            expires_at=utcnow() + timedelta(hours=24),
        )
    )
    db.session.commit()
    response = client.post(ORDERS, data=body, headers={**customer_headers, "Idempotency-Key": "busy",
                                                       "Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 409 and "still being processed" in response.json["message"]
    assert _orders() == 0 and stock_of(variant_id) == 10


def test_keys_are_scoped_per_user(client, customer, other_customer, customer_headers, other_headers, variant):
    fill_cart(customer, (variant, 1))
    fill_cart(other_customer, (variant, 1))
    mine = checkout(client, {**customer_headers, "Idempotency-Key": "shared"})
    theirs = checkout(client, {**other_headers, "Idempotency-Key": "shared"})
    assert mine.status_code == theirs.status_code == 201
    assert mine.json["id"] != theirs.json["id"] and "Idempotent-Replayed" not in theirs.headers
    assert stock_of(variant.id) == 8


def test_a_failed_request_releases_its_key(client, customer, customer_headers, variant):
    headers = {**customer_headers, "Idempotency-Key": "retry-me"}
    assert checkout(client, headers).status_code == 400  # empty cart: nothing happened
    fill_cart(customer, (variant, 1))
    response = checkout(client, headers)
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert _orders() == 1


def test_an_expired_key_runs_again_and_the_purge_removes_old_keys(client, customer, customer_headers, variant):
    fill_cart(customer, (variant, 1))
    headers = {**customer_headers, "Idempotency-Key": "old"}
    assert checkout(client, headers).status_code == 201
    key = db.session.scalar(select(IdempotencyKey))
    assert key.expires_at - key.created_at >= timedelta(hours=24)
    assert purge_expired_keys() == 0

    db.session.execute(update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    fill_cart(customer, (variant, 1))
    again = checkout(client, headers)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert _orders() == 2

    assert purge_expired_keys(now=utcnow() + timedelta(hours=25)) == 1
    assert db.session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


def test_a_key_longer_than_255_characters_is_400(client, customer, customer_headers, variant):
    fill_cart(customer, (variant, 1))
    refused = checkout(client, {**customer_headers, "Idempotency-Key": "k" * 256})
    assert refused.status_code == 400
    assert refused.json == {
        "code": 400,
        "status": "Bad Request",
        "message": "The Idempotency-Key header must be 1 to 255 characters.",
    }
    assert _orders() == 0
    assert checkout(client, {**customer_headers, "Idempotency-Key": "k" * 255}).status_code == 201


def test_a_retried_payment_returns_the_first_payment(client, customer_headers, placed_order):
    headers = {**customer_headers, "Idempotency-Key": "pay-1"}
    body = {"order": placed_order["id"], "method": "bank_transfer"}
    first = client.post(PAYMENTS, json=body, headers=headers)
    second = client.post(PAYMENTS, json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json == first.json and second.headers["Idempotent-Replayed"] == "true"
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    other = client.post(PAYMENTS, json={**body, "method": "card"}, headers=headers)
    assert other.status_code == 409


def test_the_key_is_documented(client):
    spec = client.get("/openapi.json").json
    for path in (ORDERS, PAYMENTS):
        operation = spec["paths"][path]["post"]
        assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in operation["parameters"])
        assert "Idempotent-Replayed" in operation["responses"]["201"]["headers"]
        assert "409" in operation["responses"]
