"""What every orders service shares: locking an order, recording a status change, what a caller may do next."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import make_transient_to_detached, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from nexus.common import outbox
from nexus.common.api import MAX_ID
from nexus.common.database import PREPARED
from nexus.extensions import db
from nexus.orders import tasks
from nexus.orders.models import Order, OrderItem, OrderStatus, OrderStatusHistory

# The one path an order walks, a step at a time; cancellation is the only way off it.
NEXT_STEP = {
    OrderStatus.PENDING: OrderStatus.PROCESSING,
    OrderStatus.PROCESSING: OrderStatus.SHIPPED,
    OrderStatus.SHIPPED: OrderStatus.DELIVERED,
}
CANCELLABLE_BY_STAFF = (OrderStatus.PENDING, OrderStatus.PROCESSING)
CANCELLABLE_BY_OWNER = (OrderStatus.PENDING,)


def valid_id(value: int | None) -> bool:
    return value is not None and 1 <= value <= MAX_ID


def lock_order(order_id: int, *, with_details: bool = False) -> Order | None:
    """The order, locked until the transaction ends: every change of an order or its payments takes this lock
    first, so they happen one after another (a row lock on PostgreSQL; SQLite serialises on the first write).

    `with_details` also loads items (with products), history, payments and user in a fixed number of queries.
    """
    if not valid_id(order_id):
        return None
    if db.engine.dialect.name != "postgresql":
        # SQLite has no row locks: writing first takes its database write lock before anything is read.
        db.session.execute(
            update(Order).where(Order.id == order_id).values(updated_at=Order.updated_at),
            execution_options={"synchronize_session": False},
        )
    stmt = select(Order).where(Order.id == order_id).with_for_update(of=Order)
    if with_details:
        stmt = stmt.options(
            selectinload(Order.items).joinedload(OrderItem.product),
            selectinload(Order.history),
            selectinload(Order.payments),
            selectinload(Order.user),
        )
    return db.session.scalar(stmt.execution_options(populate_existing=True))


def record_transition(order: Order, to_status: OrderStatus, *, by_id: int | None) -> OrderStatusHistory:
    """Move the order to `to_status`, write the history row and ask for the customer's email."""
    from_status, order.status = order.status, to_status
    return _record(order, from_status, to_status, by_id=by_id)


@functools.cache
def _creation_insert():
    history, orders = OrderStatusHistory.__table__, Order.__table__
    order_id = select(orders.c.id).where(orders.c.number == bindparam("p_number")).scalar_subquery()
    return (
        insert(history)
        .values(order_id=order_id)
        .returning(history.c.id, history.c.order_id)
        .execution_options(**PREPARED)
    )


def creation_entry(*, number: str, status: OrderStatus, by_id: int, at: datetime) -> tuple:
    """(statement, params) of a new order's first history row (from no status to its first), for an order written
    with statements in the same round trip (checkout): the order is named by its `number` (unique), and the row's
    id and the order's are returned. The statement is built once (every order's creation runs it)."""
    return _creation_insert(), {"p_number": number, "from_status": None, "to_status": status, "by_id": by_id, "at": at}


def record_creation(order: Order, *, entry_id: int, by_id: int, first: Sequence[tuple] = ()) -> OrderStatusHistory:
    """The first history row of a new order, written by `creation_entry` at the order's creation, as the order's
    loaded history; and the customer's email asked for. `first`: (statement, params) whose rows nobody reads, run
    before the outbox's row in the same round trip (`outbox.enqueue`)."""
    values = {"from_status": None, "to_status": order.status, "by_id": by_id, "at": order.created_at}
    entry = as_loaded(OrderStatusHistory(id=entry_id, order_id=order.id, **values))
    set_committed_value(order, "history", [entry])
    outbox.enqueue(tasks.notify_order_status_task, entry.id, first=first)
    return entry


def as_loaded(instance):
    """An object for a row this transaction has just written with a statement: the session holds it as loaded
    (persistent, nothing to write), so it answers requests and later changes like any object read."""
    make_transient_to_detached(instance)
    db.session.add(instance)
    return instance


def _record(
    order: Order, from_status: OrderStatus | None, to_status: OrderStatus, *, by_id: int | None
) -> OrderStatusHistory:
    entry = OrderStatusHistory(order=order, from_status=from_status, to_status=to_status, by_id=by_id)
    db.session.add(entry)
    db.session.flush()
    outbox.enqueue(tasks.notify_order_status_task, entry.id)
    return entry


def allowed_transitions(order: Order, *, is_staff: bool, is_owner: bool) -> list[OrderStatus]:
    if is_staff:
        allowed = [NEXT_STEP[order.status]] if order.status in NEXT_STEP else []
        if order.status in CANCELLABLE_BY_STAFF:
            allowed.append(OrderStatus.CANCELLED)
        return allowed
    if is_owner and order.status in CANCELLABLE_BY_OWNER:
        return [OrderStatus.CANCELLED]
    return []


def for_viewer(orders: Iterable[Order] | Order, *, user_id: int, is_staff: bool):
    """Annotate orders with what this caller may do and see (`allowed_transitions`, `user` for staff)."""
    for order in [orders] if isinstance(orders, Order) else orders:
        order.allowed_transitions = allowed_transitions(order, is_staff=is_staff, is_owner=order.user_id == user_id)
        order.shown_to_staff = is_staff
    return orders
