"""Carts and their lines: one cart per user, one line per variant merged atomically, nothing reserved.

Every write to a cart first updates the cart row (its `updated_at`), which takes the row's lock on
PostgreSQL (SQLite locks the whole database for a write): changes to one cart run one after another,
while different carts never wait for each other. The merge itself is one `INSERT ... ON CONFLICT DO UPDATE`
backed by the unique (cart, variant) constraint, so even without that lock no line is ever duplicated.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import joinedload

from nexus.cart.exceptions import CartItemNotFound, NotEnoughStock, VariantNotFound, VariantUnavailable
from nexus.cart.models import MAX_ID, Cart, CartItem
from nexus.cart.services.views import CartLine, CartView, cart_lines
from nexus.catalog.models import ProductStatus, ProductVariant
from nexus.common import outbox
from nexus.common.errors import NexusError, ValidationFailed
from nexus.common.models import utcnow
from nexus.common.pagination import Page, paginate
from nexus.extensions import db


def _with_variant_and_product():
    # Built per query, not at import: loader options configure the mappers, which needs every model imported.
    return joinedload(CartItem.variant, innerjoin=True).joinedload(ProductVariant.product, innerjoin=True)


def upsert_insert(table: Table):
    """An INSERT that supports ON CONFLICT, for the database in use."""
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        return pg_insert(table)
    if dialect == "sqlite":
        return sqlite_insert(table)
    raise NotImplementedError(f"no upsert for the {dialect} dialect")


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


def _insert_cart(user_id: int) -> None:
    now = utcnow()
    insert = upsert_insert(Cart.__table__)
    db.session.execute(
        insert.values(user_id=user_id, created_at=now, updated_at=now).on_conflict_do_nothing(
            index_elements=["user_id"]
        )
    )


def lock_cart(*, user_id: int, create: bool = True) -> int | None:
    """Mark the user's cart changed and hold its row lock until the transaction ends; its id.

    Creates the cart when missing (or returns None with create=False). Flushes only: the orders domain
    calls it at checkout so that no cart write interleaves with placing an order from that cart.
    """
    stmt = update(Cart).where(Cart.user_id == user_id).values(updated_at=utcnow()).returning(Cart.id)
    options = {"synchronize_session": False}
    cart_id = db.session.execute(stmt, execution_options=options).scalar()
    if cart_id is None and create:
        _insert_cart(user_id)
        cart_id = db.session.execute(stmt, execution_options=options).scalar_one()
    return cart_id


def get_cart(*, user_id: int) -> CartView:
    """The user's cart with every line at current prices, in a fixed number of statements whatever its size."""
    cart, created = _find_or_create_cart(user_id)
    if created:
        outbox.commit()
    return _cart_view(cart)


def _cart_view(cart: Cart) -> CartView:
    items = db.session.scalars(
        select(CartItem).where(CartItem.cart_id == cart.id).options(_with_variant_and_product()).order_by(CartItem.id)
    ).all()
    return CartView(cart=cart, items=cart_lines(list(items)), currency=current_app.config["STORE_CURRENCY"])


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


def get_cart_lines(*, user_id: int) -> list[CartItem]:
    """The user's cart items with variant and product loaded, in variant id order (the order stock is locked in).

    For checkout: read-only, no cart is created. Call `lock_cart(user_id=...)` first to keep the cart
    unchanged until the transaction ends.
    """
    stmt = (
        select(CartItem)
        .join(Cart, Cart.id == CartItem.cart_id)
        .where(Cart.user_id == user_id)
        .options(_with_variant_and_product())
        .order_by(CartItem.variant_id)
        .execution_options(populate_existing=True)
    )
    return list(db.session.scalars(stmt).unique())


def add_item(*, user_id: int, variant_id: int, quantity: int = 1) -> CartLine:
    """Add a variant to the user's cart, merging into its line; the line's new total must be in stock."""
    item_id = _add(user_id=user_id, variant_id=variant_id, quantity=quantity)
    return get_cart_item(user_id=user_id, item_id=item_id)


def add_item_to_cart(*, user_id: int, variant_id: int, quantity: int = 1) -> CartView:
    """`add_item`, answered with the whole cart."""
    _add(user_id=user_id, variant_id=variant_id, quantity=quantity)
    return get_cart(user_id=user_id)


def set_item_quantity(*, user_id: int, item_id: int, quantity: int) -> CartLine:
    """Set a line's quantity; its variant must still be on sale and in stock for it."""
    check_quantity(quantity)
    try:
        item = _own_item(user_id=user_id, item_id=item_id, lock=True)
        _check_available(item.variant)
        _check_line(item.variant, quantity)
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


def empty_cart(*, cart_id: int) -> int:
    """Remove every line of a cart inside the caller's transaction (checkout); flushes only. Lines removed."""
    removed = db.session.execute(delete(CartItem).where(CartItem.cart_id == cart_id)).rowcount
    db.session.execute(
        update(Cart).where(Cart.id == cart_id).values(updated_at=utcnow()),
        execution_options={"synchronize_session": False},
    )
    return removed


def clear_cart(*, user_id: int) -> CartView:
    """Empty the user's cart; answers the (empty) cart."""
    empty_cart(cart_id=lock_cart(user_id=user_id))
    outbox.commit()
    return get_cart(user_id=user_id)


# -- rules ----------------------------------------------------------------------------------------------


def _add(*, user_id: int, variant_id: int, quantity: int) -> int:
    check_quantity(quantity)
    try:
        variant = _available_variant(variant_id)
        cart_id = lock_cart(user_id=user_id)
        item_id, total = _merge_into_line(cart_id=cart_id, variant_id=variant.id, quantity=quantity)
        # Checked on the merged total the database computed, so concurrent adds cannot slip past the limits.
        _check_line(variant, total)
    except NexusError:
        outbox.rollback()
        raise
    outbox.commit()
    return item_id


def _merge_into_line(*, cart_id: int, variant_id: int, quantity: int) -> tuple[int, int]:
    """Insert the line, or add to the existing one, in one atomic statement; (item id, new quantity)."""
    table = CartItem.__table__
    now = utcnow()
    insert = upsert_insert(table)
    stmt = (
        insert.values(cart_id=cart_id, variant_id=variant_id, quantity=quantity, created_at=now, updated_at=now)
        .on_conflict_do_update(
            index_elements=["cart_id", "variant_id"],
            set_={"quantity": table.c.quantity + insert.excluded.quantity, "updated_at": insert.excluded.updated_at},
        )
        .returning(table.c.id, table.c.quantity)
    )
    item_id, total = db.session.execute(stmt).one()
    return item_id, total


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


def _available_variant(variant_id: int) -> ProductVariant:
    variant = None
    if 1 <= variant_id <= MAX_ID:
        variant = db.session.scalar(
            select(ProductVariant)
            .where(ProductVariant.id == variant_id)
            .options(joinedload(ProductVariant.product))
            .execution_options(populate_existing=True)
        )
    if variant is None:
        raise VariantNotFound(f"Variant {variant_id} not found.")
    _check_available(variant)
    return variant


def _check_available(variant: ProductVariant) -> None:
    details = {"variant_id": variant.id, "sku": variant.sku}
    if not variant.is_active:
        raise VariantUnavailable(f"Variant {variant.sku} is not available: it is inactive.", details=details)
    if variant.product.status != ProductStatus.ACTIVE:
        raise VariantUnavailable(
            f"Variant {variant.sku} is not available: its product is not for sale ({variant.product.status.value}).",
            details=details,
        )


def _check_line(variant: ProductVariant, quantity: int) -> None:
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
