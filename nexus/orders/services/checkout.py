"""Checkout: the user's whole cart becomes an order in one transaction, or nothing changes."""

from __future__ import annotations

import secrets
from decimal import Decimal
from functools import cache
from typing import NamedTuple

from flask import current_app
from sqlalchemy import Insert, Update, bindparam, insert, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from nexus.cart import services as cart_services
from nexus.catalog.exceptions import OutOfStock
from nexus.catalog.models import MovementReason, Product, ProductStatus, ProductVariant
from nexus.catalog.services import StockChange, StockLine, ledger_insert, ledger_rows, take_stock
from nexus.common import outbox
from nexus.common.database import PREPARED, run_rows, run_together
from nexus.common.models import utcnow
from nexus.extensions import db
from nexus.orders import tasks
from nexus.orders.exceptions import EmptyCart, ItemsUnavailable
from nexus.orders.models import Order, OrderItem, OrderPaymentStatus, OrderStatus
from nexus.orders.services.base import as_loaded as _as_loaded
from nexus.orders.services.base import creation_entry, for_viewer, record_creation

CENT = Decimal("0.01")


def place_order(*, user_id: int, is_staff: bool, shipping_address: dict, notes: str = "") -> Order:
    """Turn the user's cart into an order: stock taken, prices copied, cart emptied; all or nothing.

    Raises EmptyCart (400), ItemsUnavailable (409, inactive variants or products) or OutOfStock (409, naming
    every short line with what is available).
    """
    try:
        order = _place_order(user_id=user_id, shipping_address=shipping_address, notes=notes)
    except BaseException:
        outbox.rollback()
        raise
    outbox.commit()
    return for_viewer(order, user_id=user_id, is_staff=is_staff)


def shipping_cost_for(subtotal: Decimal) -> Decimal:
    """SHIPPING_FLAT_RATE, free when the subtotal reaches FREE_SHIPPING_THRESHOLD."""
    config = current_app.config
    return Decimal("0.00") if subtotal >= config["FREE_SHIPPING_THRESHOLD"] else config["SHIPPING_FLAT_RATE"]


def _unavailable(variants: list[ProductVariant]) -> list[dict]:
    return [
        {"variant_id": v.id, "sku": v.sku, "product": v.product.name, "size": v.size}
        for v in variants
        if not v.is_active or v.product.status != ProductStatus.ACTIVE
    ]


def _sell(lines: list[tuple[int, int]], *, order_id: int, user_id: int) -> list[StockChange]:
    """Take the stock of every line (variant id, quantity), each only if its variant is on sale; else raise
    ItemsUnavailable naming every line not on sale, or OutOfStock naming every short line."""
    try:
        return take_stock(
            [StockLine(variant_id, quantity) for variant_id, quantity in lines],
            reason=MovementReason.SALE,
            order_id=order_id,
            by_id=user_id,
            only_on_sale=True,
            ledger=False,  # written with the items (_insert_items)
        )
    except OutOfStock as exc:
        refused = {line["variant_id"]: line for line in exc.details["lines"]}
        variants = db.session.scalars(_described(), {"p_ids": list(refused)}).all()
        unavailable = _unavailable(variants)
        if unavailable:
            names = ", ".join(f"{line['product']} ({line['sku']}, size {line['size']})" for line in unavailable)
            raise ItemsUnavailable(f"No longer available: {names}.", details={"lines": unavailable}) from None
        short = [
            {**refused[v.id], "sku": v.sku, "product": v.product.name, "size": v.size}
            for v in sorted(variants, key=lambda v: v.id)
        ]
        described = "; ".join(
            f"{s['product']} ({s['sku']}, size {s['size']}): requested {s['requested']}, available {s['available']}"
            for s in short
        )
        raise OutOfStock(f"Not enough stock for: {described}.", details={"lines": short}) from None


@cache
def _described():
    """Variants by id with their products: what a refused checkout names."""
    return (
        select(ProductVariant)
        .where(ProductVariant.id.in_(bindparam("p_ids", expanding=True)))
        .options(joinedload(ProductVariant.product))
        .execution_options(populate_existing=True)
    )


def _product(change: StockChange) -> Product:
    """The line's product as the answer shows it (id, name, slug), from the stock change: nothing read again."""
    loaded = db.session.identity_map.get(db.session.identity_key(Product, change.product_id))
    return loaded or _as_loaded(Product(id=change.product_id, name=change.product_name, slug=change.product_slug))


def _insert_items(rows: list[dict], changes: list[StockChange], ledger: list[dict]) -> list[OrderItem]:
    """Every item in one INSERT (whatever the number of lines: SQLAlchemy sends the rows as one multi-row
    INSERT), after the stock ledger's rows, and the items as loaded objects: the answer needs nothing read again.
    A cart holds one line per variant, so the variant names each returned id. An order of one line sends its
    ledger row and its item in one round trip."""
    if len(rows) == 1:
        ids = dict(run_together((ledger_insert(), ledger[0]), (_statements().items, rows[0])))
    else:
        run_rows(ledger_insert(), ledger)
        ids = dict(run_rows(_statements().items, rows))
    items = []
    for row, change in zip(rows, changes, strict=True):
        item = _as_loaded(OrderItem(id=ids[row["variant_id"]], **row))
        set_committed_value(item, "product", _product(change))
        items.append(item)
    return items


class _Statements(NamedTuple):
    order: Insert  # the order's row
    items: Insert  # its items, one row of parameters each (sent as one multi-row INSERT), (variant id, id) returned
    totals: Update  # the order's number and totals, set once its items are in


@cache
def _statements() -> _Statements:
    """Checkout's writes, built once (every order runs them); the columns come from the values given."""
    orders, items = Order.__table__, OrderItem.__table__
    return _Statements(
        order=insert(orders).execution_options(**PREPARED),
        items=insert(items).returning(items.c.variant_id, items.c.id).execution_options(**PREPARED),
        totals=update(orders).where(orders.c.id == bindparam("p_order")).execution_options(**PREPARED),
    )


def _place_order(*, user_id: int, shipping_address: dict, notes: str) -> Order:
    # The order's rows are written with one statement each and the answer is built from what is in hand: the
    # session only tracks the objects as loaded (nothing to flush at the commit).
    with db.session.no_autoflush:
        return _build_order(user_id=user_id, shipping_address=shipping_address, notes=notes)


# Address fields the input schema defaults; a service caller may leave them out.
_OPTIONAL_ADDRESS = {"line2": "", "phone": ""}


def _build_order(*, user_id: int, shipping_address: dict, notes: str) -> Order:
    # The cart's row lock is the one every cart change takes: a concurrent change or checkout of this cart
    # waits for this one, then sees its result. The lines are taken out of the cart as they are read: the
    # order holds exactly what the cart held (a failure below rolls their removal back).
    lines = cart_services.take_lines(user_id=user_id)
    if not lines:
        raise EmptyCart()

    zero, now = Decimal("0.00"), utcnow()
    values = {
        # The number is made from the id, known after the insert; a unique placeholder holds its place until
        # the same transaction's last write (and names the order to its first history row, in the same trip).
        "number": f"NX-NEW-{secrets.token_hex(8)}",
        "user_id": user_id,
        "status": OrderStatus.PENDING,
        "payment_status": OrderPaymentStatus.UNPAID,
        "subtotal": zero,
        "shipping_cost": zero,
        "total": zero,
        "currency": current_app.config["STORE_CURRENCY"],
        "notes": notes,
        "paid_at": None,
        "cancelled_at": None,
        "created_at": now,
        "updated_at": now,
        **{f"shipping_{name}": value for name, value in {**_OPTIONAL_ADDRESS, **shipping_address}.items()},
    }
    history = creation_entry(number=values["number"], status=values["status"], by_id=user_id, at=now)
    [(entry_id, order_id)] = run_together((_statements().order, values), history)

    # Each line's stock UPDATE locks its variant and returns it as it stands: the order is priced as the
    # variants stand at this moment, and a variant withdrawn meanwhile is not sold.
    changes = _sell(lines, order_id=order_id, user_id=user_id)
    subtotal, rows = zero, []
    for change in changes:  # one per line, in variant id order
        quantity = -change.change
        line_total = (change.price * quantity).quantize(CENT)
        subtotal += line_total
        rows.append(
            {
                "order_id": order_id,
                "product_id": change.product_id,
                "variant_id": change.variant_id,
                "product_name": change.product_name,
                "variant_sku": change.sku,
                "size": change.size,
                "unit_price": change.price,
                "quantity": quantity,
                "line_total": line_total,
            }
        )
    items = _insert_items(
        rows, changes, ledger_rows(changes, reason=MovementReason.SALE, order_id=order_id, by_id=user_id)
    )
    shipping_cost = shipping_cost_for(subtotal)
    final = {
        "number": f"NX-{now.year}-{order_id:06d}",
        "subtotal": subtotal,
        "shipping_cost": shipping_cost,
        "total": subtotal + shipping_cost,
        "updated_at": now,  # as written at the insert: the order is made in one transaction
    }
    order = _as_loaded(Order(id=order_id, **{**values, **final}))
    set_committed_value(order, "items", items)
    # The totals go in the round trip of the e-mail's outbox row.
    record_creation(
        order, entry_id=entry_id, by_id=user_id, first=[(_statements().totals, {**final, "p_order": order_id})]
    )
    for change in changes:
        if change.crossed_low_stock:
            outbox.enqueue(tasks.alert_low_stock_task, change.variant_id, order.id)
    return order
