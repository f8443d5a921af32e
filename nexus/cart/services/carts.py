"""Carts and their lines: one cart per user, one line per variant merged atomically, nothing reserved.

Every write to a cart first updates the cart row (its `updated_at`), which takes the row's lock on
PostgreSQL (SQLite locks the whole database for a write): changes to one cart run one after another,
while different carts never wait for each other. The merge itself is one `INSERT ... ON CONFLICT DO UPDATE`
backed by the unique (cart, variant) constraint, so even without that lock no line is ever duplicated.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import NamedTuple

from flask import current_app
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import joinedload

from nexus.cart.exceptions import CartItemNotFound, NotEnoughStock, VariantNotFound, VariantUnavailable
from nexus.cart.models import Cart, CartItem
from nexus.cart.services.views import CartLine, CartView, cart_line_columns, cart_lines, cart_lines_of_rows
from nexus.catalog.models import Product, ProductStatus, ProductVariant
from nexus.common import outbox
from nexus.common.api import MAX_ID
from nexus.common.database import PREPARED, run, run_together
from nexus.common.errors import NexusError, ValidationFailed
from nexus.common.models import built_once, upsert_insert, utcnow
from nexus.common.pagination import Page, paginate
from nexus.extensions import db

# The hot paths' statements (adding to the cart, checkout) are built once (functools.cache; `built_once` for the
# upsert, whose form depends on the database). Their writes are built on the tables: a write of mapped classes
# takes the ORM's bulk path, ~0.2 ms more CPU each.
_CARTS, _ITEMS = Cart.__table__, CartItem.__table__


def _with_variant_and_product():
    # Built per query, not at import: loader options configure the mappers, which needs every model imported.
    return joinedload(CartItem.variant, innerjoin=True).joinedload(ProductVariant.product, innerjoin=True)


def check_quantity(quantity: object, *, field: str = "quantity") -> int:
    """An integer from 1 to MAX_LINE_QUANTITY, else ValidationFailed naming the field."""
    highest = current_app.config["MAX_LINE_QUANTITY"]
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise ValidationFailed(errors={field: ["Not a valid integer."]})
    if quantity < 1:
        raise ValidationFailed(errors={field: ["Must be greater than or equal to 1."]})
    if quantity > highest:
        raise ValidationFailed(errors={field: [f"Must be less than or equal to {highest}."]})
    return quantity


def get_or_create_cart(*, user_id: int) -> Cart:
    """The user's cart, created on first use. Race-safe: a concurrent creator's row wins. Flushes only."""
    return _find_or_create_cart(user_id)[0]


def _find_or_create_cart(user_id: int) -> tuple[Cart, bool]:
    stmt = select(Cart).where(Cart.user_id == user_id).execution_options(populate_existing=True)
    cart = db.session.scalar(stmt)
    if cart is not None:
        return cart, False
    _insert_cart(user_id)
    return db.session.scalars(stmt).one(), True


def _insert_cart(user_id: int, now: datetime | None = None) -> None:
    now = now or utcnow()
    insert = upsert_insert(Cart.__table__)
    db.session.execute(
        insert.values(user_id=user_id, created_at=now, updated_at=now).on_conflict_do_nothing(
            index_elements=["user_id"]
        )
    )


def lock_cart(*, user_id: int, create: bool = True) -> int | None:
    """Mark the user's cart changed and hold its row lock until the transaction ends; its id.

    Creates the cart when missing (or returns None with create=False). Flushes only. Every change of a cart takes
    this lock first, checkout included (`take_lines`), so that no cart write interleaves with another or with
    placing an order from that cart.
    """
    locked = _lock(user_id, create=create)
    return locked[0] if locked else None


def _lock(user_id: int, *, create: bool) -> tuple[int, datetime] | None:
    """`lock_cart`, answering (cart id, the updated_at it wrote)."""
    now = utcnow()
    lock = _lock_call(user_id, now)
    locked = run(*lock)
    if not locked and create:
        _insert_cart(user_id, now)
        locked = run(*lock)
    return (locked[0][0], now) if locked else None


def _lock_call(user_id: int, now: datetime) -> tuple:
    """(statement, params) of the cart lock: the user's cart marked changed at `now`, its row locked, its id."""
    return _lock_statement(), {"p_user": user_id, "p_now": now}


@functools.cache
def _lock_statement():
    return (
        update(_CARTS)
        .where(_CARTS.c.user_id == bindparam("p_user"))
        .values(updated_at=bindparam("p_now"))
        .returning(_CARTS.c.id)
        .execution_options(**PREPARED)
    )


def get_cart(*, user_id: int) -> CartView:
    """The user's cart with every line at current prices, in a fixed number of statements whatever its size."""
    cart, created = _find_or_create_cart(user_id)
    view = _cart_view(cart.id, cart.updated_at)
    if created:
        outbox.commit()
    return view


def _cart_view(cart_id: int, updated_at: datetime) -> CartView:
    return _cart_of(cart_id, updated_at, _lines(cart_id))


def _cart_of(cart_id: int, updated_at: datetime, lines: list[CartLine]) -> CartView:
    return CartView(id=cart_id, updated_at=updated_at, items=lines, currency=current_app.config["STORE_CURRENCY"])


def _lines(cart_id: int) -> list[CartLine]:
    """The cart's lines, oldest first, with variant, product and main image: one statement."""
    return cart_lines_of_rows(run(_lines_statement(), {"p_cart": cart_id}))


@functools.cache
def _lines_statement():
    variants, products = ProductVariant.__table__, Product.__table__
    return (
        select(*cart_line_columns())
        .join_from(_ITEMS, variants, variants.c.id == _ITEMS.c.variant_id)
        .join(products, products.c.id == variants.c.product_id)
        .where(_ITEMS.c.cart_id == bindparam("p_cart"))
        .order_by(_ITEMS.c.id)
        .execution_options(**PREPARED)
    )


def get_cart_item(*, user_id: int, item_id: int) -> CartLine:
    """One line of the user's own cart; another user's item is not found, like a missing one."""
    return cart_lines([_own_item(user_id=user_id, item_id=item_id)])[0]


def list_cart_items(*, user_id: int, page: int, page_size: int) -> Page:
    """A page of the user's cart lines (CartLine), oldest first, in a fixed number of statements."""
    stmt = (
        select(CartItem)
        .join(Cart, Cart.id == CartItem.cart_id)
        .where(Cart.user_id == user_id)
        .options(_with_variant_and_product())
        .order_by(CartItem.id)
    )
    result = paginate(stmt, page=page, page_size=page_size)
    result.items = cart_lines(result.items)
    return result


def add_item(*, user_id: int, variant_id: int, quantity: int = 1) -> CartLine:
    """Add a variant to the user's cart, merging into its line; the line's new total must be in stock."""
    return _add(
        user_id=user_id,
        variant_id=variant_id,
        quantity=quantity,
        answer=lambda _cart_id, _updated_at, line, _lines: line,
    )


def add_item_to_cart(*, user_id: int, variant_id: int, quantity: int = 1) -> CartView:
    """`add_item`, answered with the whole cart."""
    return _add(
        user_id=user_id,
        variant_id=variant_id,
        quantity=quantity,
        answer=lambda cart_id, updated_at, _line, lines: _cart_of(cart_id, updated_at, lines),
    )


def set_item_quantity(*, user_id: int, item_id: int, quantity: int) -> CartLine:
    """Set a line's quantity; its variant must still be on sale and in stock for it."""
    check_quantity(quantity)
    try:
        item = _own_item(user_id=user_id, item_id=item_id, lock=True)
        offer = _Offer.of(item.variant)
        _check_available(offer)
        _check_line(offer, quantity)
        item.quantity = quantity
        db.session.flush()
    except NexusError:
        outbox.rollback()
        raise
    outbox.commit()
    return cart_lines([item])[0]


def remove_item(*, user_id: int, item_id: int) -> None:
    """Remove a line from the user's own cart."""
    try:
        item = _own_item(user_id=user_id, item_id=item_id, lock=True)
    except NexusError:
        outbox.rollback()
        raise
    db.session.delete(item)
    outbox.commit()


def take_lines(*, user_id: int) -> list[tuple[int, int]]:
    """Lock the user's cart (as `lock_cart`, without creating one) and remove every line, inside the caller's
    transaction, in one round trip; the lines removed, as (variant id, quantity) in variant id order, none without
    a cart. Checkout takes its lines this way: what it orders is exactly what it removed, and no change of the cart
    interleaves until the transaction ends. The caller's rollback puts the lines back."""
    return sorted(run_together(_lock_call(user_id, utcnow()), (_empty_statement(), {"p_user": user_id})))


@functools.cache
def _empty_statement():
    """Delete the lines of the user's (`p_user`) cart: run after its lock, in the same transaction."""
    cart = select(_CARTS.c.id).where(_CARTS.c.user_id == bindparam("p_user")).scalar_subquery()
    return (
        delete(_ITEMS)
        .where(_ITEMS.c.cart_id == cart)
        .returning(_ITEMS.c.variant_id, _ITEMS.c.quantity)
        .execution_options(**PREPARED)
    )


def clear_cart(*, user_id: int) -> CartView:
    """Empty the user's cart; answers the (empty) cart, which the lock held until the commit keeps empty."""
    cart_id, updated_at = _lock(user_id, create=True)
    run(_empty_statement(), {"p_user": user_id})
    outbox.commit()
    return CartView(id=cart_id, updated_at=updated_at, items=[], currency=current_app.config["STORE_CURRENCY"])


# -- rules ----------------------------------------------------------------------------------------------


def _add(*, user_id: int, variant_id: int, quantity: int, answer):
    """Merge the line, then `answer(cart id, updated_at, the merged line, every line)` is built in the same
    transaction (the cart as this change left it), then the commit."""
    check_quantity(quantity)
    try:
        variant, in_cart, cart_id = _available_variant(variant_id, user_id=user_id)
        # A line that cannot fit is refused before any lock or write (what the merge below would refuse, as the
        # cart stands now); a sold-out variant costs one read.
        _check_line(variant, in_cart + quantity)
        if cart_id is None:  # the user's first line: the cart is made, then locked
            cart_id, updated_at = _lock(user_id, create=True)
            lock = None
        else:  # a user's cart is never replaced: its lock goes in the merge's round trip, first
            updated_at = utcnow()
            lock = _lock_call(user_id, updated_at)
        lines = _merge_into_line(cart_id=cart_id, variant_id=variant.id, quantity=quantity, lock=lock)
        [line] = [line for line in lines if line.variant.id == variant.id]  # one line per variant
        # Checked on the merged total the database computed, so concurrent adds cannot slip past the limits.
        _check_line(variant, line.quantity)
        result = answer(cart_id, updated_at, line, lines)
    except NexusError:
        outbox.rollback()
        raise
    outbox.commit()
    return result


def _merge_into_line(*, cart_id: int, variant_id: int, quantity: int, lock: tuple | None = None) -> list[CartLine]:
    """Insert the line, or add to the existing one, in one atomic statement; then every line of the cart as it
    stands, read in the same round trip (`run_together`), after the cart's `lock` (statement, params) when given."""

    def build():
        table = CartItem.__table__
        insert = upsert_insert(table)
        return (
            insert.values(
                cart_id=bindparam("p_cart"),
                variant_id=bindparam("p_variant"),
                quantity=bindparam("p_quantity"),
                created_at=bindparam("p_now", type_=table.c.created_at.type),
                updated_at=bindparam("p_now", type_=table.c.updated_at.type),
            )
            .on_conflict_do_update(
                index_elements=["cart_id", "variant_id"],
                set_={
                    "quantity": table.c.quantity + insert.excluded.quantity,
                    "updated_at": insert.excluded.updated_at,
                },
            )
            .returning(table.c.id, table.c.quantity)
            .execution_options(**PREPARED)
        )

    params = {"p_cart": cart_id, "p_variant": variant_id, "p_quantity": quantity, "p_now": utcnow()}
    merge = (built_once("cart-merge", build), params)
    calls = [lock] if lock else []
    return cart_lines_of_rows(run_together(*calls, merge, (_lines_statement(), {"p_cart": cart_id})))


def _own_item(*, user_id: int, item_id: int, lock: bool = False) -> CartItem:
    """The item if it is in the user's cart, else CartItemNotFound (never revealing another user's item)."""
    if not 1 <= item_id <= MAX_ID:
        raise CartItemNotFound()
    stmt = select(CartItem).options(_with_variant_and_product()).execution_options(populate_existing=True)
    if lock:
        cart_id = lock_cart(user_id=user_id, create=False)
        stmt = stmt.where(CartItem.id == item_id, CartItem.cart_id == cart_id)
    else:
        stmt = stmt.join(Cart, Cart.id == CartItem.cart_id).where(CartItem.id == item_id, Cart.user_id == user_id)
    item = db.session.scalar(stmt)
    if item is None:
        raise CartItemNotFound()
    return item


class _Offer(NamedTuple):
    """A variant as adding it to a cart checks it."""

    id: int
    sku: str
    stock: int
    is_active: bool
    product_status: ProductStatus

    @classmethod
    def of(cls, variant: ProductVariant) -> _Offer:
        return cls(variant.id, variant.sku, variant.stock, variant.is_active, variant.product.status)


def _available_variant(variant_id: int, *, user_id: int) -> tuple[_Offer, int, int | None]:
    """The variant if it is on sale, how many of it the user's cart holds already, and the cart's id (None
    before the user's first line)."""
    rows = []
    if 1 <= variant_id <= MAX_ID:
        rows = run(_variant_statement(), {"p_user": user_id, "p_variant": variant_id})
    if not rows:
        raise VariantNotFound(f"Variant {variant_id} not found.")
    *columns, in_cart_quantity, cart_id = rows[0]
    offer = _Offer(*columns)
    _check_available(offer)
    return offer, in_cart_quantity or 0, cart_id


@functools.cache
def _variant_statement():
    """A variant as _Offer, its quantity in the user's (`p_user`) cart, and the cart's id."""
    variants, products = ProductVariant.__table__, Product.__table__
    in_cart = (
        select(_ITEMS.c.quantity)
        .join(_CARTS, _CARTS.c.id == _ITEMS.c.cart_id)
        .where(_CARTS.c.user_id == bindparam("p_user"), _ITEMS.c.variant_id == variants.c.id)
        .correlate(variants)
        .scalar_subquery()
    )
    cart = select(_CARTS.c.id).where(_CARTS.c.user_id == bindparam("p_user")).scalar_subquery()
    v = variants.c
    return (
        select(v.id, v.sku, v.stock, v.is_active, products.c.status, in_cart, cart)
        .join_from(variants, products, products.c.id == v.product_id)
        .where(v.id == bindparam("p_variant"))
        .execution_options(**PREPARED)
    )


def _check_available(variant: _Offer) -> None:
    details = {"variant_id": variant.id, "sku": variant.sku}
    if not variant.is_active:
        raise VariantUnavailable(f"Variant {variant.sku} is not available: it is inactive.", details=details)
    if variant.product_status != ProductStatus.ACTIVE:
        raise VariantUnavailable(
            f"Variant {variant.sku} is not available: its product is not for sale ({variant.product_status.value}).",
            details=details,
        )


def _check_line(variant: _Offer, quantity: int) -> None:
    highest = current_app.config["MAX_LINE_QUANTITY"]
    if quantity > highest:
        raise ValidationFailed(
            errors={"quantity": [f"The line of {variant.sku} would hold {quantity}; at most {highest} per line."]}
        )
    if quantity > variant.stock:
        raise NotEnoughStock(
            f"Not enough stock for variant {variant.sku}: {variant.stock} available, {quantity} requested.",
            details={"variant_id": variant.id, "sku": variant.sku, "available": variant.stock, "requested": quantity},
        )
