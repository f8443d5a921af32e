"""Background jobs: expiry of unpaid orders (task and `flask cancel-expired-orders`), the beat schedule."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from nexus.catalog.models import MovementReason, StockMovement
from nexus.common.models import utcnow
from nexus.extensions import db
from nexus.orders.models import Order, OrderPaymentStatus, OrderStatus, Payment, PaymentMethod, PaymentStatus
from tests.factories import PaymentFactory
from tests.orders.conftest import PAYMENTS, emails_about, fresh_order, stock_of


def _age(order_id: int, minutes: int) -> None:
    db.session.execute(
        update(Order).where(Order.id == order_id).values(created_at=utcnow() - timedelta(minutes=minutes))
    )
    db.session.commit()


def _expire() -> int:
    from nexus.orders.services import cancel_expired_orders

    return cancel_expired_orders()


def test_an_unpaid_order_past_the_timeout_is_cancelled_and_its_stock_returns(customer, placed_order, variant):
    _age(placed_order["id"], 31)

    assert _expire() == 1

    order = fresh_order(placed_order["id"])
    assert order.status == OrderStatus.CANCELLED and order.cancelled_at is not None
    assert order.history[-1].by_id is None and order.history[-1].to_status == OrderStatus.CANCELLED
    assert stock_of(variant.id) == 10
    (movement,) = db.session.scalars(select(StockMovement).where(StockMovement.reason == MovementReason.EXPIRY)).all()
    assert (movement.variant_id, movement.change, movement.order_id) == (variant.id, 2, order.id)
    assert emails_about(customer.email, "cancelled")
    assert _expire() == 0  # safe to run again
    assert stock_of(variant.id) == 10


def test_a_recent_order_is_kept(placed_order, variant):
    _age(placed_order["id"], 29)
    assert _expire() == 0
    assert fresh_order(placed_order["id"]).status == OrderStatus.PENDING and stock_of(variant.id) == 8


def test_the_timeout_is_configurable(app, placed_order, monkeypatch):
    monkeypatch.setitem(app.config, "ORDER_PAYMENT_TIMEOUT", 5)
    _age(placed_order["id"], 6)
    assert _expire() == 1


@pytest.mark.parametrize(
    ("method", "kept"),
    [(PaymentMethod.BANK_TRANSFER, True), (PaymentMethod.CASH_ON_DELIVERY, True), (PaymentMethod.CARD, False)],
)
def test_orders_waiting_for_an_offline_payment_are_kept(placed_order, variant, method, kept):
    order = db.session.get(Order, placed_order["id"])
    payment = PaymentFactory(order=order, method=method, status=PaymentStatus.PENDING)
    _age(order.id, 60)
    db.session.execute(update(Payment).values(created_at=utcnow() - timedelta(minutes=45)))
    db.session.commit()

    assert _expire() == (0 if kept else 1)

    assert fresh_order(order.id).status == (OrderStatus.PENDING if kept else OrderStatus.CANCELLED)
    if not kept:  # a card charge stuck for longer than the timeout does not hold the stock; it is failed
        assert db.session.get(Payment, payment.id).status == PaymentStatus.FAILED
        assert stock_of(variant.id) == 10


def test_a_card_payment_being_charged_holds_the_order(placed_order):
    order = db.session.get(Order, placed_order["id"])
    PaymentFactory(order=order, method=PaymentMethod.CARD, status=PaymentStatus.PENDING)
    _age(order.id, 60)
    assert _expire() == 0


def test_paid_processing_and_cancelled_orders_are_never_expired(client, customer_headers, placed_order):
    client.post(PAYMENTS, json={"order": placed_order["id"], "method": "card"}, headers=customer_headers)
    from tests.helpers import wait_for

    assert wait_for(lambda: fresh_order(placed_order["id"]).payment_status == OrderPaymentStatus.PAID)
    _age(placed_order["id"], 600)
    assert _expire() == 0
    assert fresh_order(placed_order["id"]).status == OrderStatus.PROCESSING


def test_the_cli_command_cancels_expired_orders(app, placed_order, variant):
    _age(placed_order["id"], 45)
    result = app.test_cli_runner().invoke(args=["cancel-expired-orders"])
    assert result.exit_code == 0 and "cancelled 1 expired order(s)" in result.output
    assert fresh_order(placed_order["id"]).status == OrderStatus.CANCELLED
    assert stock_of(variant.id) == 10


def test_the_task_runs_the_job(app, placed_order, variant):
    """Published like beat publishes it: the real worker runs it in the services run, eagerly otherwise."""
    from tests.helpers import wait_for

    _age(placed_order["id"], 45)
    app.extensions["celery"].tasks["orders.cancel_expired_orders"].apply_async()
    assert wait_for(lambda: fresh_order(placed_order["id"]).status == OrderStatus.CANCELLED)
    assert stock_of(variant.id) == 10


def test_beat_runs_the_periodic_jobs(app):
    schedule = app.extensions["celery"].conf.beat_schedule
    tasks = {entry["task"] for entry in schedule.values()}
    assert {"orders.cancel_expired_orders", "common.purge_idempotency_keys", "common.relay_outbox"} <= tasks
    celery_tasks = app.extensions["celery"].tasks
    assert all(name in celery_tasks for name in tasks if name.startswith(("orders.", "common.")))
