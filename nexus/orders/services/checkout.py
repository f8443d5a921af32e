"""Checkout: the user's whole cart becomes an order in one transaction, or nothing changes."""

from __future__ import annotations

import secrets
from decimal import Decimal

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from nexus.cart import services as cart_services
from nexus.cart.models import CartItem
from nexus.catalog.exceptions import OutOfStock
from nexus.catalog.models import MovementReason, ProductStatus, ProductVariant
from nexus.catalog.services import StockLine, take_stock
from nexus.common import outbox
from nexus.extensions import db
from nexus.orders import tasks
from nexus.orders.exceptions import CartChanged, EmptyCart, ItemsUnavailable
from nexus.orders.models import Order, OrderItem, OrderStatus
from nexus.orders.services.base import for_viewer, record_creation

CENT = Decimal("0.01")


def place_order(*, user_id: int, is_staff: bool, shipping_address: dict, notes: str = "") -> Order:
    """Turn the user's cart into an order: stock taken, prices copied, cart emptied; all or nothing.

    Raises EmptyCart (400), ItemsUnavailable (409, inactive variants or products), OutOfStock (409, naming
    every short line with what is available) or CartChanged (409, a concurrent change of the cart).
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


def _refuse_unavailable(variants: list[ProductVariant]) -> None:
    unavailable = _unavailable(variants)
    if unavailable:
        names = ", ".join(f"{line['product']} ({line['sku']}, size {line['size']})" for line in unavailable)
        raise ItemsUnavailable(f"No longer available: {names}.", details={"lines": unavailable})


def _take_stock(lines: list[CartItem], *, order_id: int, user_id: int):
    try:
        return take_stock(
            [StockLine(line.variant_id, line.quantity) for line in lines],
            reason=MovementReason.SALE,
            order_id=order_id,
            by_id=user_id,
        )
    except OutOfStock as exc:
        variants = {line.variant_id: line.variant for line in lines}
        short = []
        for shortage in exc.details["lines"]:
            variant = variants[shortage["variant_id"]]
            short.append({**shortage, "sku": variant.sku, "product": variant.product.name, "size": variant.size})
        described = "; ".join(
            f"{s['product']} ({s['sku']}, size {s['size']}): requested {s['requested']}, available {s['available']}"
            for s in short
        )
        raise OutOfStock(f"Not enough stock for: {described}.", details={"lines": short}) from None


def _place_order(*, user_id: int, shipping_address: dict, notes: str) -> Order:
    # The cart's row lock is the one every cart change takes: a concurrent change or checkout of this cart
    # waits for this one, then sees its result.
    cart_id = cart_services.lock_cart(user_id=user_id, create=False)
    lines = cart_services.get_cart_lines(user_id=user_id) if cart_id is not None else []
    if not lines:
        raise EmptyCart()
    _refuse_unavailable([line.variant for line in lines])

    config = current_app.config
    zero = Decimal("0.00")
    order = Order(
        # The number is made from the id, known after the insert; a unique placeholder holds its place.
        number=f"NX-NEW-{secrets.token_hex(8)}",
        user_id=user_id,
        status=OrderStatus.PENDING,
        subtotal=zero,
        shipping_cost=zero,
        total=zero,
        currency=config["STORE_CURRENCY"],
        notes=notes,
        items=[],
        history=[],
        **{f"shipping_{name}": value for name, value in shipping_address.items()},
    )
    db.session.add(order)
    db.session.flush()
    order.number = f"NX-{order.created_at.year}-{order.id:06d}"

    changes = _take_stock(lines, order_id=order.id, user_id=user_id)
    # Stock rows are locked now: read prices and availability again, so the order is priced as they stand
    # at this moment and a variant withdrawn meanwhile is not sold.
    variants = {
        variant.id: variant
        for variant in db.session.scalars(
            select(ProductVariant)
            .where(ProductVariant.id.in_([line.variant_id for line in lines]))
            .options(joinedload(ProductVariant.product))
            .execution_options(populate_existing=True)
        )
    }
    _refuse_unavailable(list(variants.values()))

    subtotal = zero
    for line in lines:
        variant = variants[line.variant_id]
        line_total = (variant.price * line.quantity).quantize(CENT)
        subtotal += line_total
        order.items.append(
            OrderItem(
                product=variant.product,
                variant_id=variant.id,
                product_name=variant.product.name,
                variant_sku=variant.sku,
                size=variant.size,
                unit_price=variant.price,
                quantity=line.quantity,
                line_total=line_total,
            )
        )
    order.subtotal = subtotal
    order.shipping_cost = shipping_cost_for(subtotal)
    order.total = subtotal + order.shipping_cost

    if cart_services.empty_cart(cart_id=cart_id) != len(lines):
        raise CartChanged()
    record_creation(order, by_id=user_id)
    for change in changes:
        if change.crossed_low_stock:
            outbox.enqueue(tasks.alert_low_stock_task, change.variant_id, order.id)
    return order
