"""Fixtures and helpers of the orders tests: carts to check out, an address, fresh reads of rows."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from sqlalchemy import func, inspect, select

from nexus.cart.models import Cart
from nexus.catalog.models import ProductVariant, StockMovement
from nexus.extensions import db
from nexus.orders.models import Order, OrderStatusHistory, Payment, SentNotification
from tests.conftest import SERVICES
from tests.factories import CartFactory, CartItemFactory, VariantFactory
from tests.helpers import sent_emails, wait_for

ADDRESS = {
    "full_name": "Cora Customer",
    "line1": "1 Main Street",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}
ORDERS = "/api/store/orders/"
PAYMENTS = "/api/store/payments/"
WEBHOOK = "/api/store/payments/webhook/"


def fill_cart(user, *lines) -> int:
    """Put (variant, quantity) lines in the user's cart; returns the cart id."""
    user_id = inspect(user).identity[0]  # readable even when a failed request's rollback expired the object
    cart = db.session.scalar(select(Cart).where(Cart.user_id == user_id)) or CartFactory(user_id=user_id)
    for variant, quantity in lines:
        CartItemFactory(cart=cart, variant=variant, quantity=quantity)
    return cart.id


def checkout(client, headers, *, address=None, **body):
    return client.post(ORDERS, json={"shipping_address": address or ADDRESS, **body}, headers=headers)


def stock_of(variant_id: int) -> int:
    db.session.remove()
    return db.session.scalar(select(ProductVariant.stock).where(ProductVariant.id == variant_id))


def ledger_sum(variant_id: int) -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(StockMovement.change), 0)).where(StockMovement.variant_id == variant_id)
    )


def fresh_order(order_id: int) -> Order:
    db.session.remove()
    return db.session.get(Order, order_id)


def fresh_payment(payment_id: int) -> Payment:
    db.session.remove()
    return db.session.get(Payment, payment_id)


def emails_to(address: str, *, at_least: int = 1) -> list[dict]:
    """The emails sent to `address`, once there are at least `at_least` (the worker may still be sending)."""
    mails = wait_for(lambda: len(sent_emails(to=address, wait=False)) >= at_least)
    assert mails, f"fewer than {at_least} email(s) to {address}: {sent_emails(to=address, wait=False)}"
    return sent_emails(to=address, wait=False)


def emails_about(address: str, subject_contains: str) -> list[dict]:
    """The emails to `address` whose subject contains the text, once there is one (the worker may be sending)."""

    def matching() -> list[dict]:
        return [mail for mail in sent_emails(to=address, wait=False) if subject_contains in mail["subject"]]

    wait_for(matching)
    return matching()


def sign(body: bytes, *, secret: str = "whsec_dev_change_me", timestamp: int | None = None) -> str:
    """An X-Nexus-Signature header computed independently of the code under test."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1=" + hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def webhook_event(event_id: str, event_type: str, **data) -> bytes:
    return json.dumps({"id": event_id, "type": event_type, "data": data}).encode()


@pytest.fixture(autouse=True)
def _settle_background_work(app):
    """In the services run, let the worker finish this test's order emails before the tables are emptied:
    a late task would otherwise write into the next test (its mailbox, or rows under recycled ids)."""
    yield
    if not SERVICES:
        return

    def settled() -> bool:
        history = db.session.scalar(select(func.count()).select_from(OrderStatusHistory))
        notified = db.session.scalar(
            select(func.count()).select_from(SentNotification).where(SentNotification.key.like("order-status:%"))
        )
        return history == notified and len(sent_emails(wait=False)) >= notified

    wait_for(settled)
    db.session.remove()


@pytest.fixture
def variant(app):
    """An active size-M variant at 25.00 with 10 in stock."""
    return VariantFactory(stock=10)


@pytest.fixture
def placed_order(client, customer, customer_headers, variant):
    """A pending order of the customer: 2 of `variant` (stock 10 → 8), total 55.00 with shipping."""
    fill_cart(customer, (variant, 2))
    response = checkout(client, customer_headers)
    assert response.status_code == 201, response.json
    return response.json
