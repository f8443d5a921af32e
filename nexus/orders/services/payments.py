"""Payments: created pending, charged in the background through a provider, confirmed, failed or refunded.

Every change of a payment first locks its order (`lock_order`), so payments of one order are handled one at
a time; the partial unique indexes on `payments` back this up in the database.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from nexus.common import outbox
from nexus.common.models import utcnow
from nexus.extensions import db
from nexus.orders import tasks
from nexus.orders.exceptions import (
    OrderNotFound,
    OrderNotPayable,
    PaymentInProgress,
    PaymentNotConfirmable,
    PaymentNotFound,
)
from nexus.orders.models import (
    ONLINE_METHODS,
    Order,
    OrderPaymentStatus,
    OrderStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from nexus.orders.providers import get_provider
from nexus.orders.services.base import lock_order, record_transition, valid_id


def create_payment(
    *, user_id: int, is_staff: bool, order_id: int, method: PaymentMethod, card_token: str | None = None
) -> Payment:
    """A pending payment of the order's total; card and PayPal payments are charged in the background.

    Raises OrderNotFound (also for another user's order), OrderNotPayable (paid or cancelled) or
    PaymentInProgress (another payment of the order is pending)."""
    try:
        order = lock_order(order_id)
        if order is None or not (is_staff or order.user_id == user_id):
            raise OrderNotFound()
        if order.status == OrderStatus.CANCELLED:
            raise OrderNotPayable("This order was cancelled and cannot be paid.")
        if order.payment_status != OrderPaymentStatus.UNPAID:
            raise OrderNotPayable("This order is already paid.")
        if db.session.scalar(
            select(Payment.id).where(Payment.order_id == order.id, Payment.status == PaymentStatus.PENDING)
        ):
            raise PaymentInProgress()
        payment = Payment(
            order_id=order.id,
            amount=order.total,
            currency=order.currency,
            method=method,
            status=PaymentStatus.PENDING,
            provider=current_app.config["PAYMENT_PROVIDER"],
            card_token=card_token if method == PaymentMethod.CARD else None,
        )
        db.session.add(payment)
        try:
            db.session.flush()
        except IntegrityError:
            # Only reachable without row locks (SQLite): the database refused a second pending payment.
            raise PaymentInProgress() from None
        if method in ONLINE_METHODS:
            outbox.enqueue(tasks.process_payment_task, payment.id)
    except BaseException:
        outbox.rollback()
        raise
    outbox.commit()
    return payment


def lock_payment(payment_id: int) -> tuple[Order, Payment] | None:
    """The payment and its order, the order locked first (the lock order every payment writer keeps)."""
    if not valid_id(payment_id):
        return None
    order_id = db.session.scalar(select(Payment.order_id).where(Payment.id == payment_id))
    if order_id is None:
        return None
    order = lock_order(order_id)
    payment = db.session.scalar(
        select(Payment).where(Payment.id == payment_id).execution_options(populate_existing=True)
    )
    return order, payment


def process_payment(*, payment_id: int) -> PaymentStatus | None:
    """Charge a pending card or PayPal payment through its provider; safe to run twice (only a pending
    payment is charged, and the provider treats the payment id as its idempotency key)."""
    try:
        found = lock_payment(payment_id)
        if found is None:
            outbox.rollback()
            return None
        order, payment = found
        if payment.status != PaymentStatus.PENDING or payment.method not in ONLINE_METHODS:
            outbox.rollback()
            return payment.status
        if order.status == OrderStatus.CANCELLED:
            fail_payment(payment, "The order was cancelled.")
        elif order.payment_status != OrderPaymentStatus.UNPAID:
            fail_payment(payment, "The order is already paid.")
        else:
            result = get_provider(payment.provider).charge(
                payment_id=payment.id,
                amount=payment.amount,
                currency=payment.currency,
                method=payment.method.value,
                card_token=payment.card_token,
            )
            if result.succeeded:
                complete_payment(payment, order, transaction_id=result.transaction_id, by_id=None)
            else:
                fail_payment(payment, result.failure_reason or "The payment failed.")
    except BaseException:
        outbox.rollback()
        raise
    outbox.commit()
    return payment.status


def confirm_payment(*, payment_id: int, by_id: int, transaction_id: str | None = None) -> Payment:
    """An admin confirms a pending bank transfer (or cash on delivery) as received."""
    try:
        found = lock_payment(payment_id)
        if found is None:
            raise PaymentNotFound()
        order, payment = found
        if payment.status != PaymentStatus.PENDING or payment.method in ONLINE_METHODS:
            raise PaymentNotConfirmable()
        complete_payment(payment, order, transaction_id=transaction_id or f"manual-{payment.id}", by_id=by_id)
    except BaseException:
        outbox.rollback()
        raise
    outbox.commit()
    return payment


def complete_payment(payment: Payment, order: Order, *, transaction_id: str | None, by_id: int | None) -> None:
    """Mark the payment completed and the order paid; a pending order moves on to processing."""
    payment.status = PaymentStatus.COMPLETED
    payment.transaction_id = transaction_id or payment.transaction_id
    payment.failure_reason = None
    payment.card_token = None
    order.payment_status = OrderPaymentStatus.PAID
    order.paid_at = utcnow()
    if order.status == OrderStatus.PENDING:
        record_transition(order, OrderStatus.PROCESSING, by_id=by_id)


def fail_payment(payment: Payment, reason: str) -> None:
    """Record why the payment failed; the order stays payable."""
    payment.status = PaymentStatus.FAILED
    payment.failure_reason = reason[:500]
    payment.card_token = None


def settle_payments_of_cancelled_order(order: Order) -> None:
    """Refund a completed payment (the order becomes `refunded`) and fail the ones still pending."""
    for payment in order.payments:
        if payment.status == PaymentStatus.COMPLETED:
            refund = get_provider(payment.provider).refund(
                payment_id=payment.id,
                transaction_id=payment.transaction_id,
                amount=payment.amount,
                currency=payment.currency,
            )
            payment.status = PaymentStatus.REFUNDED
            payment.refund_id = refund.refund_id
            order.payment_status = OrderPaymentStatus.REFUNDED
        elif payment.status == PaymentStatus.PENDING:
            fail_payment(payment, "The order was cancelled.")


def collect_cash_on_delivery(order: Order, *, by_id: int | None) -> None:
    """A delivered order's pending cash-on-delivery payment is collected with the parcel."""
    for payment in order.payments:
        if payment.status == PaymentStatus.PENDING and payment.method == PaymentMethod.CASH_ON_DELIVERY:
            complete_payment(payment, order, transaction_id=f"cod-{payment.id}", by_id=by_id)
