"""Emails about orders: status changes to the customer, low stock to staff; each sent once, whatever retries."""

from __future__ import annotations

import functools

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from nexus.auth.models import User
from nexus.catalog.models import ProductVariant
from nexus.common import outbox
from nexus.common.mail import send_mail
from nexus.common.models import built_once, upsert_insert
from nexus.common.observability import STOCK_ALERTS
from nexus.common.tasks import send_email_task
from nexus.extensions import db
from nexus.orders.models import Order, OrderPaymentStatus, OrderStatus, OrderStatusHistory, SentNotification

_SUBJECTS = {
    OrderStatus.PENDING: "We received your order {number}",
    OrderStatus.PROCESSING: "Your order {number} is being prepared",
    OrderStatus.SHIPPED: "Your order {number} is on its way",
    OrderStatus.DELIVERED: "Your order {number} was delivered",
    OrderStatus.CANCELLED: "Your order {number} was cancelled",
}


def _claim(key: str) -> bool:
    """True the first time a key is seen: the notification is then sent in the same transaction."""

    def build():  # on the table: every order's e-mail runs it
        insert = upsert_insert(SentNotification.__table__)
        return insert.values(key=bindparam("p_key")).on_conflict_do_nothing(index_elements=["key"])

    return db.session.execute(built_once("notification-claim", build), {"p_key": key}).rowcount == 1


@functools.cache
def _status_change():
    """A status change with its order, the order's customer and items, in one statement; built once (every
    order's e-mail runs it)."""
    order = joinedload(OrderStatusHistory.order)
    return (
        select(OrderStatusHistory)
        .where(OrderStatusHistory.id == bindparam("p_id"))
        .options(order.joinedload(Order.user), order.joinedload(Order.items))
    )


def notify_order_status(*, history_id: int) -> bool:
    """Email the customer about one status change of their order; False when already sent (or gone).

    The claim and the sending share one transaction, in this one task (one task per order e-mail, not two): a
    failed sending rolls the claim back, so the task's retry sends it; a crash after the sending but before the
    commit sends it again on the retry — at least once, as a separate sending task acknowledged after its work
    would (`acks_late`)."""
    try:
        entry = db.session.scalars(_status_change(), {"p_id": history_id}).unique().first()
        if entry is None or not _claim(f"order-status:{history_id}"):
            outbox.rollback()
            return False
        order = entry.order
        send_mail(
            to=order.user.email,
            subject=_SUBJECTS[entry.to_status].format(number=order.number),
            body=_status_body(order, entry.to_status),
        )
    except BaseException:
        outbox.rollback()
        raise
    outbox.commit()
    return True


def _status_body(order: Order, status: OrderStatus) -> str:
    lines = [f"Hello {order.user.first_name or 'there'},", ""]
    if status == OrderStatus.PENDING:
        lines.append(f"Thank you for your order {order.number}. Total: {order.total} {order.currency}.")
        lines += [f"  {item.quantity} x {item.product_name} ({item.size}) {item.line_total}" for item in order.items]
    elif status == OrderStatus.CANCELLED:
        lines.append(f"Your order {order.number} was cancelled.")
        if order.payment_status == OrderPaymentStatus.REFUNDED:
            lines.append(f"Your payment of {order.total} {order.currency} has been refunded.")
    else:
        lines.append(f"Your order {order.number} is now {status.value}.")
    lines += ["", "Nexus Store"]
    return "\n".join(lines)


def alert_low_stock(*, variant_id: int, order_id: int) -> int:
    """Email the staff that a sale took a variant to or under its low-stock threshold; once per crossing
    (a crossing is identified by the order that caused it). Returns how many emails were asked for."""
    try:
        variant = db.session.scalar(
            select(ProductVariant).where(ProductVariant.id == variant_id).options(joinedload(ProductVariant.product))
        )
        if variant is None or not _claim(f"low-stock:{variant_id}:{order_id}"):
            outbox.rollback()
            return 0
        staff = db.session.scalars(select(User.email).where(User.is_staff.is_(True), User.is_active.is_(True))).all()
        subject = f"Low stock: {variant.product.name} ({variant.sku}, size {variant.size})"
        body = (
            f"{variant.product.name}, size {variant.size} (SKU {variant.sku}) is down to {variant.stock} in stock "
            f"after order #{order_id}. Restock it before it sells out."
        )
        for email in staff:
            outbox.enqueue(send_email_task, email, subject, body)
    except BaseException:
        outbox.rollback()
        raise
    outbox.commit()
    STOCK_ALERTS.inc()
    return len(staff)
