"""Stock: taken and returned with one conditional statement per line, each change written to the ledger."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from flask import current_app
from sqlalchemy import ColumnElement, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.orm import aliased, contains_eager, joinedload

from nexus.catalog.exceptions import OutOfStock
from nexus.catalog.models import SIZES, MovementReason, Product, ProductStatus, ProductVariant, StockMovement
from nexus.catalog.services import counts
from nexus.catalog.services.helpers import count
from nexus.common import cache
from nexus.common.database import PREPARED, run, run_rows
from nexus.common.pagination import Page, paginate
from nexus.extensions import db


@dataclass(frozen=True)
class StockLine:
    variant_id: int
    quantity: int


@dataclass(frozen=True)
class StockChange:
    variant_id: int
    product_id: int
    change: int
    stock_after: int
    # True when this change took the variant from above its low-stock threshold to at or under it.
    crossed_low_stock: bool
    # The variant as the change found it, row locked (what an order copies onto its line).
    price: Decimal
    sku: str
    size: str
    product_name: str
    product_slug: str

    @property
    def crossed_zero(self) -> bool:
        """The variant went from in stock (> 0) to out of it, or back: its product's summary changes."""
        return (self.stock_after - self.change > 0) != (self.stock_after > 0)


def _merge(lines: Iterable[StockLine]) -> list[StockLine]:
    """One line per variant, in id order: every transaction locks rows in the same order (no deadlocks)."""
    totals: dict[int, int] = {}
    for line in lines:
        totals[line.variant_id] = totals.get(line.variant_id, 0) + line.quantity
    return [StockLine(variant_id, quantity) for variant_id, quantity in sorted(totals.items())]


# The stock statements are built on the tables, not the mapped classes: they run in every sale, and a statement
# of mapped classes goes through the ORM's bulk UPDATE/INSERT path (~0.2 ms more CPU each, measured).
_VARIANTS, _PRODUCTS = ProductVariant.__table__, Product.__table__


def _of_product(column: ColumnElement) -> ColumnElement:
    """A column of the variant's product, as a scalar subquery correlated to product_variants."""
    return select(column).where(_PRODUCTS.c.id == _VARIANTS.c.product_id).correlate_except(_PRODUCTS).scalar_subquery()


def _on_sale() -> ColumnElement:
    """The variant is active and its product is for sale."""
    p = _PRODUCTS.c
    active_product = select(p.id).where(p.id == _VARIANTS.c.product_id, p.status == ProductStatus.ACTIVE)
    return and_(_VARIANTS.c.is_active.is_(True), active_product.correlate_except(_PRODUCTS).exists())


@functools.cache
def _stock_update(taking: bool, only_on_sale: bool):
    """The stock UPDATE, built once (a sale runs one per line): taking is conditional on the stock, and with
    only_on_sale also on the variant being on sale. It returns the new stock and the variant as it stands, row
    locked, with its product's low-stock threshold, name and slug: nothing to read again."""
    v, p = _VARIANTS.c, _PRODUCTS.c
    threshold = _of_product(func.coalesce(p.low_stock_threshold, bindparam("p_default_threshold")))
    stmt = (
        update(_VARIANTS)
        .where(v.id == bindparam("p_variant"))
        .values(stock=v.stock + bindparam("p_delta"))
        .returning(v.stock, v.product_id, threshold, v.price, v.sku, v.size, _of_product(p.name), _of_product(p.slug))
    )
    if taking:
        stmt = stmt.where(v.stock >= bindparam("p_needed"))
    if only_on_sale:
        stmt = stmt.where(_on_sale())
    return stmt.execution_options(**PREPARED)


def _apply(
    lines: list[StockLine],
    *,
    sign: int,
    reason: MovementReason,
    order_id: int | None,
    by_id: int | None,
    only_on_sale: bool = False,
    ledger: bool = True,
) -> tuple[list[StockChange], list[dict]]:
    changes, shortages = [], []
    default_threshold = current_app.config["LOW_STOCK_THRESHOLD"]
    for line in lines:
        delta = sign * line.quantity
        params = {"p_variant": line.variant_id, "p_delta": delta, "p_default_threshold": default_threshold}
        if delta < 0:
            params["p_needed"] = -delta
        rows = run(_stock_update(delta < 0, only_on_sale), params)
        if not rows:
            available = db.session.scalar(select(ProductVariant.stock).where(ProductVariant.id == line.variant_id))
            shortages.append({"variant_id": line.variant_id, "requested": line.quantity, "available": available or 0})
            continue
        [(stock_after, product_id, threshold, price, sku, size, product_name, product_slug)] = rows
        stock_before = stock_after - delta
        changes.append(
            StockChange(
                variant_id=line.variant_id,
                product_id=product_id,
                change=delta,
                stock_after=stock_after,
                crossed_low_stock=stock_before > threshold >= stock_after,
                price=price,
                sku=sku,
                size=size,
                product_name=product_name,
                product_slug=product_slug,
            )
        )
    if ledger and changes and not shortages:  # short: the caller rolls everything back
        # The ledger rows of every line in one INSERT (bulk, no objects to track).
        run_rows(ledger_insert(), ledger_rows(changes, reason=reason, order_id=order_id, by_id=by_id))
    return changes, shortages


@functools.cache
def ledger_insert():
    """The ledger's INSERT, for the rows of `ledger_rows`."""
    return insert(StockMovement.__table__).execution_options(**PREPARED)


def ledger_rows(
    changes: Iterable[StockChange], *, reason: MovementReason, order_id: int | None, by_id: int | None
) -> list[dict]:
    """The ledger's rows of these changes: what `take_stock` writes, or leaves to its caller (`ledger=False`)."""
    return [
        {
            "variant_id": change.variant_id,
            "change": change.change,
            "stock_after": change.stock_after,
            "reason": reason,
            "order_id": order_id,
            "by_id": by_id,
        }
        for change in changes
    ]


def take_stock(
    lines: Iterable[StockLine],
    *,
    reason: MovementReason,
    order_id: int | None = None,
    by_id: int | None = None,
    only_on_sale: bool = False,
    ledger: bool = True,
) -> list[StockChange]:
    """Take stock for every line, or for none: raises OutOfStock naming every short line.

    With only_on_sale (checkout), a variant is taken only while on sale (active, of an active product), in the
    same statement: one that is not is named as short too, and the caller tells which it was. With ledger=False
    the caller writes the changes' ledger rows (`ledger_rows`) before its transaction ends: checkout sends them
    with its items, in one round trip.

    Runs inside the caller's transaction (it only flushes); on OutOfStock the caller rolls back, which also
    undoes the lines already taken. `UPDATE ... WHERE stock >= :q` is atomic on SQLite and PostgreSQL.
    """
    changes, shortages = _apply(
        _merge(lines), sign=-1, reason=reason, order_id=order_id, by_id=by_id, only_on_sale=only_on_sale, ledger=ledger
    )
    if shortages:
        raise OutOfStock(
            "Not enough stock for: "
            + ", ".join(
                f"variant {s['variant_id']} (requested {s['requested']}, available {s['available']})" for s in shortages
            ),
            details={"lines": shortages},
        )
    _after_stock_changes(changes)
    return changes


def return_stock(
    lines: Iterable[StockLine], *, reason: MovementReason, order_id: int | None = None, by_id: int | None = None
) -> list[StockChange]:
    """Put stock back (cancellation, expiry, restock); recorded in the ledger like any change."""
    changes, _ = _apply(_merge(lines), sign=1, reason=reason, order_id=order_id, by_id=by_id)
    _after_stock_changes(changes)
    return changes


def _after_stock_changes(changes: list[StockChange]) -> None:
    """Refresh the summaries of the products a change can alter, and let cached catalog reads go.

    Stock enters a product's summary only as "in stock or not" (`stock > 0`, for `in_stock` and
    `sizes_in_stock`): a change that leaves a variant on the same side of zero alters no summary, so a sale
    from plenty skips the refresh (two statements, and the product row's lock every sale would queue on).
    The answers showing stock change all the same: the cache is let go for every change."""
    refresh_product_summaries(change.product_id for change in changes if change.crossed_zero)
    cache.invalidate_on_commit("products")


def adjust_stock(*, variant_id: int, new_stock: int, by_id: int | None) -> StockChange | None:
    """Set a variant's stock to `new_stock` (an admin edit), recorded as an adjustment; None if unchanged."""
    current = db.session.scalar(select(ProductVariant.stock).where(ProductVariant.id == variant_id).with_for_update())
    if current is None or current == new_stock:
        return None
    delta = new_stock - current
    line = [StockLine(variant_id, abs(delta))]
    reason = MovementReason.ADJUSTMENT
    changes = (take_stock if delta < 0 else return_stock)(line, reason=reason, by_id=by_id)
    return changes[0]


_IDS = bindparam("p_product_ids", expanding=True)


def _summaries():
    """The products' (`p_product_ids`) summaries computed afresh from their variants: one row per product (a
    product without variants too), one aggregate over its variants (cheaper to plan than a subquery per column)."""
    variant, product = ProductVariant, aliased(Product)
    on = variant.is_active.is_(True)
    stocked = and_(on, variant.stock > 0)
    columns = {
        "min_price": func.min(case((on, variant.price))),
        "in_stock": func.coalesce(func.max(case((stocked, 1), else_=0)), 0) == 1,
        # One variant per size: the sum of the sizes' distinct bits is their bitwise OR.
        "sizes_in_stock": func.coalesce(
            func.sum(
                case(*((and_(stocked, variant.size == size), Product.sizes_mask([size])) for size in SIZES), else_=0)
            ),
            0,
        ),
        **{
            Product.size_price(size).key: func.max(case((and_(on, variant.size == size), variant.price)))
            for size in SIZES
        },
    }
    return (
        select(product.id.label("id"), *(column.label(name) for name, column in columns.items()))
        .outerjoin(variant, variant.product_id == product.id)
        .where(product.id.in_(_IDS))
        .group_by(product.id)
        .subquery()
    )


@functools.cache
def _refresh_statements():
    """(lock, write): lock the products in id order; write the summaries that changed. Built once (a sale runs
    them for every order): making the UPDATE with its aggregate costs more Python than running it."""
    lock = select(Product.id).where(Product.id.in_(_IDS)).order_by(Product.id).with_for_update()
    fresh = _summaries()
    names = [column.name for column in fresh.columns if column.name != "id"]
    changed = or_(*(getattr(Product, name).is_distinct_from(fresh.c[name]) for name in names))
    write = (
        update(Product)
        .where(Product.id == fresh.c.id, changed)
        .values(**{name: fresh.c[name] for name in names})
        .execution_options(synchronize_session=False)
    )
    return lock, write


def refresh_product_summaries(product_ids: Iterable[int]) -> None:
    """Recompute products' lowest active price, in-stock flag, sizes in stock and active price per size in the
    current transaction, and let cached catalog reads go. Call after any change to variants' price or is_active,
    their deletion, or a stock change that takes one in or out of stock (take_stock and return_stock do). Only
    when a summary actually changed does the transaction raise the catalog's generation (list counts)."""
    ids = sorted(set(product_ids))
    if not ids:
        return
    # Lock the products first (in id order, after the variants, as every stock change does): the UPDATE
    # below then runs on a fresh snapshot that includes every concurrent change committed before it, so the
    # last transaction to refresh a product sees all of its variants' committed stock and prices.
    lock, write = _refresh_statements()
    db.session.execute(lock, {"p_product_ids": ids})
    if db.session.execute(write, {"p_product_ids": ids}).rowcount:
        counts.bump_on_commit()
    cache.invalidate_on_commit("products")


def _low_stock_criteria() -> list[ColumnElement]:
    threshold = func.coalesce(Product.low_stock_threshold, current_app.config["LOW_STOCK_THRESHOLD"])
    return [
        ProductVariant.is_active.is_(True),
        Product.status != ProductStatus.DISCONTINUED,
        ProductVariant.stock <= threshold,
    ]


def list_low_stock(*, page: int, page_size: int) -> Page:
    """Active variants (of products still sold) at or under their product's threshold, emptiest first."""
    criteria = _low_stock_criteria()
    stmt = (
        select(ProductVariant)
        .join(ProductVariant.product)
        .where(*criteria)
        .options(contains_eager(ProductVariant.product))
        .order_by(ProductVariant.stock, ProductVariant.id)
    )
    total = db.session.scalar(select(func.count(ProductVariant.id)).join(ProductVariant.product).where(*criteria))
    return paginate(stmt, page=page, page_size=page_size, count=total)


def list_movements(
    *, variant: int | None = None, reason: MovementReason | None = None, page: int, page_size: int
) -> Page:
    """The stock ledger, newest first; optionally one variant's, or one reason's."""
    criteria = []
    if variant is not None:
        criteria.append(StockMovement.variant_id == variant)
    if reason is not None:
        criteria.append(StockMovement.reason == reason)
    stmt = (
        select(StockMovement)
        .where(*criteria)
        .options(joinedload(StockMovement.variant), joinedload(StockMovement.by))
        .order_by(StockMovement.id.desc())
    )
    return paginate(stmt, page=page, page_size=page_size, count=count(StockMovement.id, *criteria))
