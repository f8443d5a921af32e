"""Money and stock under true concurrency (PostgreSQL), and no lost work when the broker is down."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from nexus.catalog.models import StockMovement
from nexus.common import outbox
from nexus.common.models import utcnow
from nexus.common.outbox import OutboxMessage, relay_outbox
from nexus.extensions import db
from nexus.orders.models import (
    Order,
    OrderItem,
    OrderPaymentStatus,
    OrderStatus,
    OrderStatusHistory,
    Payment,
    PaymentStatus,
    SentNotification,
)
from tests.conftest import SERVICES, bearer
from tests.factories import UserFactory, VariantFactory
from tests.helpers import count_queries, run_concurrently, wait_for
from tests.orders.conftest import ADDRESS, ORDERS, PAYMENTS, fill_cart, fresh_order, fresh_payment, stock_of

pytestmark = pytest.mark.skipif(not SERVICES, reason="true concurrency and a real broker need the services run")


def run_together(app, calls) -> list:
    """Run each `call(client)` in its own thread, all released at once, each with its own app context."""
    return run_concurrently(app, len(calls), lambda index: calls[index](app.test_client()))


def _checkout_as(headers):
    def call(client):
        response = client.post(ORDERS, json={"shipping_address": ADDRESS}, headers=headers)
        return response.status_code

    return call


def test_forty_buyers_for_ten_units(app):
    variant = VariantFactory(stock=10)
    buyers = [UserFactory() for _ in range(40)]
    for buyer in buyers:
        fill_cart(buyer, (variant, 1))
    calls = [_checkout_as(bearer(buyer)) for buyer in buyers]
    variant_id = variant.id

    statuses = run_together(app, calls)

    assert sorted(statuses) == [201] * 10 + [409] * 30, statuses
    assert stock_of(variant_id) == 0
    assert db.session.scalar(select(func.count()).select_from(Order)) == 10
    assert db.session.scalar(select(func.sum(OrderItem.quantity))) == 10
    assert (
        db.session.scalar(select(func.sum(StockMovement.change)).where(StockMovement.variant_id == variant_id)) == -10
    )


def test_two_users_race_for_the_last_unit(app):
    variant = VariantFactory(stock=1)
    first, second = UserFactory(), UserFactory()
    fill_cart(first, (variant, 1))
    fill_cart(second, (variant, 1))
    variant_id = variant.id

    statuses = run_together(app, [_checkout_as(bearer(first)), _checkout_as(bearer(second))])

    assert sorted(statuses) == [201, 409]
    assert stock_of(variant_id) == 0
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1


def test_a_double_submitted_checkout_makes_one_order(app, customer, customer_headers):
    variant = VariantFactory(stock=10)
    fill_cart(customer, (variant, 3))
    variant_id = variant.id

    statuses = run_together(app, [_checkout_as(customer_headers)] * 2)

    assert sorted(statuses) == [201, 400]  # the second finds the cart already emptied
    assert stock_of(variant_id) == 7
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1


def test_double_submitted_payments_complete_at_most_once(app, client, customer_headers, placed_order):
    def pay(client):
        return client.post(PAYMENTS, json={"order": placed_order["id"], "method": "card"}, headers=customer_headers)

    statuses = sorted(response.status_code for response in run_together(app, [pay] * 4))

    assert statuses[0] == 201 and set(statuses[1:]) == {409}, statuses
    assert wait_for(lambda: db.session.scalar(select(func.count()).where(Payment.status == PaymentStatus.PENDING)) == 0)
    completed = db.session.scalar(select(func.count()).where(Payment.status == PaymentStatus.COMPLETED))
    assert completed == 1
    assert fresh_order(placed_order["id"]).payment_status == OrderPaymentStatus.PAID


def test_processing_one_payment_twice_at_once_charges_once(app, customer_headers, placed_order, monkeypatch):
    from nexus.orders.models import PaymentMethod
    from nexus.orders.providers import TestProvider
    from nexus.orders.services import process_payment
    from tests.factories import PaymentFactory

    payment_id = PaymentFactory(order=db.session.get(Order, placed_order["id"]), method=PaymentMethod.CARD).id
    charges = []
    original = TestProvider.charge
    monkeypatch.setattr(TestProvider, "charge", lambda self, **kw: charges.append(kw) or original(self, **kw))

    results = run_together(app, [lambda _client: process_payment(payment_id=payment_id)] * 3)

    assert results == [PaymentStatus.COMPLETED] * 3
    assert len(charges) == 1
    assert fresh_payment(payment_id).status == PaymentStatus.COMPLETED


def test_cancel_and_payment_racing_leave_a_consistent_order(app, customer_headers, placed_order, variant):
    from nexus.orders.models import PaymentMethod
    from nexus.orders.services import cancel_order, process_payment
    from tests.factories import PaymentFactory

    order = db.session.get(Order, placed_order["id"])
    payment = PaymentFactory(order=order, method=PaymentMethod.CARD)
    user_id, payment_id, variant_id = order.user_id, payment.id, variant.id

    def cancel(_client):
        try:
            return cancel_order(order_id=placed_order["id"], user_id=user_id, is_staff=False).status
        except Exception as exc:
            return type(exc).__name__

    run_together(app, [cancel, lambda _client: process_payment(payment_id=payment_id)])

    order, payment = fresh_order(placed_order["id"]), fresh_payment(payment_id)
    if order.status == OrderStatus.CANCELLED:
        # Cancelled first: the charge is refused. Otherwise paid first: the owner can no longer cancel.
        assert payment.status == PaymentStatus.FAILED and order.payment_status == OrderPaymentStatus.UNPAID
        assert stock_of(variant_id) == 10
    else:
        assert order.status == OrderStatus.PROCESSING and order.payment_status == OrderPaymentStatus.PAID
        assert payment.status == PaymentStatus.COMPLETED and stock_of(variant_id) == 8


def test_concurrent_retries_with_one_idempotency_key_make_one_order(app, customer, customer_headers):
    variant = VariantFactory(stock=10)
    fill_cart(customer, (variant, 1))
    variant_id = variant.id
    headers = {**customer_headers, "Idempotency-Key": "same-click"}

    def post(client):
        response = client.post(ORDERS, json={"shipping_address": ADDRESS}, headers=headers)
        return response.status_code, response.json

    results = run_together(app, [post] * 5)

    created = [body for status, body in results if status == 201]
    assert created and all(status in (201, 409) for status, _ in results), results
    assert len({body["id"] for body in created}) == 1  # later ones are replays of the first
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    assert stock_of(variant_id) == 9


def test_one_webhook_event_delivered_twice_at_once_is_applied_once(app, client, customer_headers, placed_order):
    from tests.orders.conftest import WEBHOOK, sign, webhook_event

    payment = client.post(PAYMENTS, json={"order": placed_order["id"], "method": "bank_transfer"},
                          headers=customer_headers).json  # fmt: skip
    body = webhook_event("evt_race", "payment.succeeded", payment_id=payment["id"])
    headers = {"Content-Type": "application/json", "X-Nexus-Signature": sign(body)}

    def deliver(client):
        return client.post(WEBHOOK, data=body, headers=headers).json["status"]

    assert sorted(run_together(app, [deliver] * 3)) == ["duplicate", "duplicate", "processed"]
    order = fresh_order(placed_order["id"])
    assert order.payment_status == OrderPaymentStatus.PAID
    assert [h.to_status for h in order.history].count(OrderStatus.PROCESSING) == 1


def _outbox_rows() -> int:
    db.session.remove()
    return db.session.scalar(select(func.count()).select_from(OutboxMessage))


@pytest.fixture
def no_broker_backoff(app):
    """Whatever happens in the test, later tests publish at once (an outage makes the app skip publishing 5 s)."""
    yield
    app.extensions.pop("nexus_broker_down_until", None)


def test_a_broker_outage_fails_no_request_and_loses_no_work(app, client, customer, customer_headers, variant,
                                                            monkeypatch, no_broker_backoff):  # fmt: skip
    celery = app.extensions["celery"]
    monkeypatch.setattr(outbox._Publisher, "PUBLISH_AFTER", 60)  # published by the explicit call below only
    unreachable = "amqp://guest:guest@127.0.0.1:1//"
    fill_cart(customer, (variant, 2))
    variant_id = variant.id
    with monkeypatch.context() as outage:
        outage.setattr(celery, "connection_for_write", lambda url=None, **kw: celery._connection(unreachable, **kw))
        outage.setattr(celery.amqp, "_producer_pool", None)

        started = time.monotonic()
        placed = client.post(ORDERS, json={"shipping_address": ADDRESS}, headers=customer_headers)
        assert placed.status_code == 201
        assert time.monotonic() - started < 10  # publishing is bounded: an outage never hangs a request
        paid = client.post(PAYMENTS, json={"order": placed.json["id"], "method": "card"}, headers=customer_headers)
        assert paid.status_code == 201
        outbox.flush()  # the publishing the process does a moment after each commit: it fails, the rows stay

        db.session.remove()
        kept = db.session.scalars(select(OutboxMessage.task_name)).all()
        assert "orders.process_payment" in kept and "orders.notify_order_status" in kept
        assert fresh_payment(paid.json["id"]).status == PaymentStatus.PENDING

    # The relay takes no row younger than a couple of seconds (it may be published, its deletion pending).
    db.session.execute(update(OutboxMessage).values(created_at=utcnow() - timedelta(seconds=5)))
    db.session.commit()
    assert relay_outbox(older_than_seconds=0) == len(kept)

    assert wait_for(lambda: fresh_payment(paid.json["id"]).status == PaymentStatus.COMPLETED)
    order = fresh_order(placed.json["id"])
    assert (order.status, order.payment_status) == (OrderStatus.PROCESSING, OrderPaymentStatus.PAID)
    # The worker commits the payment, then publishes and deletes the outbox rows that commit asked for.
    assert wait_for(lambda: _outbox_rows() == 0)
    assert stock_of(variant_id) == 8


def test_published_rows_are_deleted_together_and_never_relayed_meanwhile(
    app, client, customer, customer_headers, monkeypatch
):
    """A task's row is not published and deleted by each order: the process publishes what it committed a moment
    later, one task for all the order e-mails, deletes the rows in one statement, and the relay leaves such young
    rows alone until then."""
    monkeypatch.setattr(outbox._Publisher, "PUBLISH_AFTER", 60)  # only the explicit call below publishes them
    outbox.flush()
    published = []
    task = app.extensions["celery"].tasks["orders.notify_order_status"]
    real_apply_async = task.apply_async
    monkeypatch.setattr(
        task,
        "apply_async",
        lambda *args, **kwargs: published.append(kwargs["args"]) or real_apply_async(*args, **kwargs),
    )
    with count_queries() as during_orders:
        for _ in range(3):
            fill_cart(customer, (VariantFactory(stock=5), 1))
            assert client.post(ORDERS, json={"shipping_address": ADDRESS}, headers=customer_headers).status_code == 201
    assert not [s for s in during_orders if s.lstrip().upper().startswith("DELETE FROM OUTBOX_MESSAGES")]
    assert published == []
    assert _outbox_rows() == 3  # the order e-mails, to be published by this process
    assert relay_outbox(older_than_seconds=0) == 0  # younger than the relay's floor: not published twice

    with count_queries() as deleting:
        outbox.flush()
    (history_ids,) = published  # one task for the three e-mails
    assert sorted(history_ids) == sorted(db.session.scalars(select(OrderStatusHistory.id)).all())
    assert [s.split(" WHERE")[0] for s in deleting if s.lstrip().upper().startswith("DELETE")] == [
        "DELETE FROM outbox_messages"
    ]
    assert _outbox_rows() == 0
    # The order e-mails went out once each.
    assert wait_for(lambda: db.session.scalar(select(func.count()).select_from(SentNotification)) == 3)


def test_published_rows_are_deleted_without_being_asked(client, customer, customer_headers):
    fill_cart(customer, (VariantFactory(stock=5), 1))
    assert client.post(ORDERS, json={"shipping_address": ADDRESS}, headers=customer_headers).status_code == 201
    assert wait_for(lambda: _outbox_rows() == 0, timeout=5)
