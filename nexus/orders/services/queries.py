"""Reads of orders, order items and payments: the owner's own, everything for admins, a fixed number of queries."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import joinedload, selectinload

from nexus.common.pagination import Page, paginate
from nexus.extensions import db
from nexus.orders.exceptions import OrderNotFound, PaymentNotFound
from nexus.orders.models import Order, OrderItem, OrderStatus, Payment, PaymentStatus
from nexus.orders.services.base import for_viewer, valid_id


def _order_options(*, with_user: bool) -> list:
    options = [
        selectinload(Order.items).joinedload(OrderItem.product),
        selectinload(Order.history),
    ]
    if with_user:
        options.append(joinedload(Order.user))
    return options


def _visible(stmt, *, user_id: int, is_staff: bool):
    return stmt if is_staff else stmt.where(Order.user_id == user_id)


def list_orders(*, user_id: int, is_staff: bool, page: int, page_size: int, status: OrderStatus | None = None) -> Page:
    """The caller's orders, newest first (admins: everyone's); `status` filters."""
    stmt = _visible(select(Order), user_id=user_id, is_staff=is_staff)
    if status is not None:
        stmt = stmt.where(Order.status == status)
    stmt = stmt.options(*_order_options(with_user=is_staff)).order_by(Order.created_at.desc(), Order.id.desc())
    result = paginate(stmt, page=page, page_size=page_size)
    for_viewer(result.items, user_id=user_id, is_staff=is_staff)
    return result


def get_order(*, order_id: int, user_id: int, is_staff: bool) -> Order:
    """One order with its items and history; another user's order is not found."""
    if not valid_id(order_id):
        raise OrderNotFound()
    stmt = _visible(select(Order).where(Order.id == order_id), user_id=user_id, is_staff=is_staff)
    order = db.session.scalar(stmt.options(*_order_options(with_user=is_staff)))
    if order is None:
        raise OrderNotFound()
    return for_viewer(order, user_id=user_id, is_staff=is_staff)


def list_order_items(*, order_id: int, user_id: int, is_staff: bool, page: int, page_size: int) -> Page:
    """The items of one order the caller may see."""
    if not valid_id(order_id):
        raise OrderNotFound()
    visible = _visible(select(Order.id).where(Order.id == order_id), user_id=user_id, is_staff=is_staff)
    if db.session.scalar(visible) is None:
        raise OrderNotFound()
    stmt = (
        select(OrderItem)
        .where(OrderItem.order_id == order_id)
        .options(joinedload(OrderItem.product))
        .order_by(OrderItem.id)
    )
    return paginate(stmt, page=page, page_size=page_size)


def _visible_payments(stmt, *, user_id: int, is_staff: bool):
    if is_staff:
        return stmt
    return stmt.join(Order, Order.id == Payment.order_id).where(Order.user_id == user_id)


def list_payments(
    *,
    user_id: int,
    is_staff: bool,
    page: int,
    page_size: int,
    status: PaymentStatus | None = None,
    order_id: int | None = None,
) -> Page:
    """The caller's payments, newest first (admins: everyone's); filter by `status` and `order`."""
    stmt = _visible_payments(select(Payment), user_id=user_id, is_staff=is_staff)
    if status is not None:
        stmt = stmt.where(Payment.status == status)
    if order_id is not None:
        stmt = stmt.where(Payment.order_id == order_id)
    stmt = stmt.order_by(Payment.created_at.desc(), Payment.id.desc())
    return paginate(stmt, page=page, page_size=page_size)


def get_payment(*, payment_id: int, user_id: int, is_staff: bool) -> Payment:
    """One payment; another user's payment is not found."""
    if not valid_id(payment_id):
        raise PaymentNotFound()
    stmt = _visible_payments(select(Payment).where(Payment.id == payment_id), user_id=user_id, is_staff=is_staff)
    payment = db.session.scalar(stmt)
    if payment is None:
        raise PaymentNotFound()
    return payment


# -- answers the catalog asks for (registered as hooks) ---------------------------------------------------


def product_was_ordered(product_id: int) -> bool:
    """True when any order ever contained the product."""
    return bool(db.session.scalar(select(exists().where(OrderItem.product_id == product_id))))


def has_delivered_purchase(user_id: int, product_id: int) -> bool:
    """True when the user has a delivered order containing the product."""
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    OrderItem.product_id == product_id,
                    OrderItem.order_id == Order.id,
                    Order.user_id == user_id,
                    Order.status == OrderStatus.DELIVERED,
                )
            )
        )
    )
