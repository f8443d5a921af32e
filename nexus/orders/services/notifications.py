"""Emails about orders: status changes to the customer, low stock to staff; each sent once, whatever retries."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable

from sqlalchemy import bindparam, delete, select
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

log = logging.getLogger(__name__)

_SUBJECTS = {
    OrderStatus.PENDING: "We received your order {number}",
    OrderStatus.PROCESSING: "Your order {number} is being prepared",
    OrderStatus.SHIPPED: "Your order {number} is on its way",
    OrderStatus.DELIVERED: "Your order {number} was delivered",
    OrderStatus.CANCELLED: "Your order {number} was cancelled",
}


def _claim(keys: list[str]) -> set[str]:
    """The keys seen for the first time, now claimed: their notifications are sent in the same transaction. One
    statement whatever the number of keys."""

    def build():  # on the table: every order's e-mail runs it
        table = SentNotification.__table__
        insert = upsert_insert(table)
        return insert.on_conflict_do_nothing(index_elements=["key"]).returning(table.c.key)

    if not keys:
        return set()
    rows = db.session.execute(built_once("notification-claim", build), [{"key": key} for key in keys])
    return set(rows.scalars())


def _release(keys: list[str]) -> None:
    """Undo the claims of notifications that were not sent after all (so that a retry sends them)."""
    table = SentNotification.__table__
    db.session.execute(delete(table).where(table.c.key.in_(keys)))


@functools.cache
def _status_changes():
    """Status changes with their orders, the orders' customers and items, in one statement whatever their
    number; built once (every order's e-mail runs it)."""
    order = joinedload(OrderStatusHistory.order)
    return (
        select(OrderStatusHistory)
        .where(OrderStatusHistory.id.in_(bindparam("p_ids", expanding=True)))
        .options(order.joinedload(Order.user), order.joinedload(Order.items))
        .order_by(OrderStatusHistory.id)
    )


def notify_order_status(*, history_ids: Iterable[int]) -> int:
    """Email the customers about status changes of their orders, each once; how many were sent now (changes
    already notified, or gone, are skipped). The outbox hands the worker many changes per task at busy times.

    The claims and the sending share one transaction: three statements whatever the number of changes. Each
    e-mail stands alone: when one cannot be sent, the others are still sent, its claim is released, the rest are
    committed, and its error goes up, so the task's retry sends it and only it (one bad address never holds back
    another customer's e-mail). A crash after a sending but before the commit sends it again on the retry: at
    least once, as a separate sending task acknowledged after its work would (`acks_late`)."""
    ids = sorted(set(history_ids))
    try:
        entries = db.session.scalars(_status_changes(), {"p_ids": ids}).unique().all() if ids else []
        keys = {entry.id: f"order-status:{entry.id}" for entry in entries}
        claimed = _claim(list(keys.values()))
        to_send = [entry for entry in entries if keys[entry.id] in claimed]
        failed: list[tuple[OrderStatusHistory, Exception]] = []
        for entry in to_send:
            try:
                _send_status_email(entry)
            except Exception as exc:
                failed.append((entry, exc))
        if failed:
            _release([keys[entry.id] for entry, _ in failed])
    except BaseException:
        outbox.rollback()
        raise
    outbox.commit()
    if failed:
        for entry, exc in failed[1:]:
            log.warning("could not send the e-mail of status change %s (retried): %s", entry.id, exc)
        raise failed[0][1]
    return len(to_send)


def _send_status_email(entry: OrderStatusHistory) -> None:
    order = entry.order
    send_mail(
        to=order.user.email,
        subject=_SUBJECTS[entry.to_status].format(number=order.number),
        body=_status_body(order, entry.to_status),
    )


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
        if variant is None or not _claim([f"low-stock:{variant_id}:{order_id}"]):
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
