"""The order workflow: pending → processing → shipped → delivered a step at a time, cancellation, expiry."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import exists, or_, select, update

from nexus.catalog.models import MovementReason, Review
from nexus.catalog.services import StockLine, return_stock
from nexus.common import cache, outbox
from nexus.common.models import utcnow
from nexus.extensions import db
from nexus.orders.exceptions import InvalidTransition, OrderNotFound
from nexus.orders.models import ONLINE_METHODS, Order, OrderPaymentStatus, OrderStatus, Payment, PaymentStatus
from nexus.orders.services.base import (
    CANCELLABLE_BY_OWNER,
    CANCELLABLE_BY_STAFF,
    NEXT_STEP,
    for_viewer,
    lock_order,
    record_transition,
)
from nexus.orders.services.payments import collect_cash_on_delivery, settle_payments_of_cancelled_order


def change_order_status(*, order_id: int, status: OrderStatus, by_id: int) -> Order:
    """An admin moves the order one step on (or cancels it); any other change raises InvalidTransition (409)."""
    try:
        order = lock_order(order_id, with_details=True)
        if order is None:
            raise OrderNotFound()
        if status == OrderStatus.CANCELLED:
            _refuse_cancel(order, CANCELLABLE_BY_STAFF)
            _cancel(order, by_id=by_id, reason=MovementReason.CANCELLATION)
        elif NEXT_STEP.get(order.status) != status:
            raise InvalidTransition(
                f"An order that is {order.status.value} cannot become {status.value}.",
                details={"from": order.status.value, "to": status.value},
            )
        else:
            if status == OrderStatus.DELIVERED:
                _deliver(order, by_id=by_id)
            record_transition(order, status, by_id=by_id)
    except BaseException:
        outbox.rollback()
        raise
    outbox.commit()
    return for_viewer(order, user_id=by_id, is_staff=True)


def cancel_order(*, order_id: int, user_id: int, is_staff: bool) -> Order:
    """Cancel: the owner while it is pending, an admin until it ships. Stock goes back; a paid order is refunded."""
    try:
        order = lock_order(order_id, with_details=True)
        if order is None or not (is_staff or order.user_id == user_id):
            raise OrderNotFound()
        _refuse_cancel(order, CANCELLABLE_BY_STAFF if is_staff else CANCELLABLE_BY_OWNER)
        _cancel(order, by_id=user_id, reason=MovementReason.CANCELLATION)
    except BaseException:
        outbox.rollback()
        raise
    outbox.commit()
    return for_viewer(order, user_id=user_id, is_staff=is_staff)


def _refuse_cancel(order: Order, cancellable: tuple[OrderStatus, ...]) -> None:
    if order.status not in cancellable:
        if order.status == OrderStatus.CANCELLED:
            message = "This order is already cancelled."
        elif order.status in CANCELLABLE_BY_STAFF:
            message = "The order is being prepared and can no longer be cancelled here; contact us."
        else:
            message = f"An order that is {order.status.value} cannot be cancelled."
        raise InvalidTransition(message, details={"from": order.status.value, "to": OrderStatus.CANCELLED.value})


def _cancel(order: Order, *, by_id: int | None, reason: MovementReason) -> None:
    lines = [StockLine(item.variant_id, item.quantity) for item in order.items if item.variant_id is not None]
    return_stock(lines, reason=reason, order_id=order.id, by_id=by_id)
    settle_payments_of_cancelled_order(order)
    order.cancelled_at = utcnow()
    record_transition(order, OrderStatus.CANCELLED, by_id=by_id)


def _deliver(order: Order, *, by_id: int) -> None:
    collect_cash_on_delivery(order, by_id=by_id)
    # The customer's reviews of what they received now count as verified purchases.
    product_ids = {item.product_id for item in order.items if item.product_id is not None}
    if product_ids:
        db.session.execute(
            update(Review)
            .where(
                Review.user_id == order.user_id,
                Review.product_id.in_(product_ids),
                Review.verified_purchase.is_(False),
            )
            .values(verified_purchase=True),
            execution_options={"synchronize_session": False},
        )
        cache.invalidate_on_commit("products", "reviews")


# -- expiry of unpaid orders --------------------------------------------------------------------------


def _payment_cutoff(now: datetime) -> datetime:
    return now - timedelta(minutes=current_app.config["ORDER_PAYMENT_TIMEOUT"])


def _awaiting_payment(cutoff: datetime):
    """A pending bank transfer or cash on delivery (they take days), or a card/PayPal payment being charged."""
    return exists().where(
        Payment.order_id == Order.id,
        Payment.status == PaymentStatus.PENDING,
        or_(Payment.method.not_in(ONLINE_METHODS), Payment.created_at > cutoff),
    )


def _expirable(cutoff: datetime):
    return (
        Order.status == OrderStatus.PENDING,
        Order.payment_status == OrderPaymentStatus.UNPAID,
        Order.created_at <= cutoff,
        ~_awaiting_payment(cutoff),
    )


def cancel_expired_orders(*, now: datetime | None = None, limit: int = 500) -> int:
    """Cancel unpaid orders older than ORDER_PAYMENT_TIMEOUT minutes that wait for no bank transfer or cash
    on delivery, returning their stock (ledger reason `expiry`). Returns how many were cancelled; safe to
    run twice, and side by side with payments (each order is re-checked under its lock)."""
    cutoff = _payment_cutoff(now or utcnow())
    ids = db.session.scalars(select(Order.id).where(*_expirable(cutoff)).order_by(Order.id).limit(limit)).all()
    outbox.rollback()
    return sum(expire_order(order_id=order_id, cutoff=cutoff) for order_id in ids)


def expire_order(*, order_id: int, cutoff: datetime) -> bool:
    """Cancel one expired order if it still is expirable once locked."""
    try:
        order = lock_order(order_id)
        still_expirable = order is not None and db.session.scalar(
            select(Order.id).where(Order.id == order_id, *_expirable(cutoff))
        )
        if not still_expirable:
            outbox.rollback()
            return False
        _cancel(order, by_id=None, reason=MovementReason.EXPIRY)
    except BaseException:
        outbox.rollback()
        raise
    outbox.commit()
    return True
