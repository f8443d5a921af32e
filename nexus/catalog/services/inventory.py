"""Stock: taken and returned with one conditional statement per line, each change written to the ledger."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import ColumnElement, and_, exists, func, select, update
from sqlalchemy.orm import contains_eager, joinedload

from nexus.catalog.exceptions import OutOfStock
from nexus.catalog.models import MovementReason, Product, ProductStatus, ProductVariant, StockMovement
from nexus.catalog.services.helpers import count
from nexus.common import cache
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


def _merge(lines: Iterable[StockLine]) -> list[StockLine]:
    """One line per variant, in id order: every transaction locks rows in the same order (no deadlocks)."""
    totals: dict[int, int] = {}
    for line in lines:
        totals[line.variant_id] = totals.get(line.variant_id, 0) + line.quantity
    return [StockLine(variant_id, quantity) for variant_id, quantity in sorted(totals.items())]


def _thresholds(variant_ids: list[int]) -> dict[int, tuple[int, int]]:
    """variant id → (product id, low-stock threshold)."""
    default = current_app.config["LOW_STOCK_THRESHOLD"]
    rows = db.session.execute(
        select(ProductVariant.id, ProductVariant.product_id, func.coalesce(Product.low_stock_threshold, default))
        .join(Product, Product.id == ProductVariant.product_id)
        .where(ProductVariant.id.in_(variant_ids))
    )
    return {variant_id: (product_id, threshold) for variant_id, product_id, threshold in rows}


def _apply(
    lines: list[StockLine], *, sign: int, reason: MovementReason, order_id: int | None, by_id: int | None
) -> tuple[list[StockChange], list[dict]]:
    changes, shortages = [], []
    info = _thresholds([line.variant_id for line in lines])
    for line in lines:
        delta = sign * line.quantity
        stmt = (
            update(ProductVariant)
            .where(ProductVariant.id == line.variant_id)
            .values(stock=ProductVariant.stock + delta)
            .returning(ProductVariant.stock)
        )
        if delta < 0:
            stmt = stmt.where(ProductVariant.stock >= -delta)
        stock_after = db.session.execute(stmt, execution_options={"synchronize_session": False}).scalar()
        if stock_after is None:
            available = db.session.scalar(select(ProductVariant.stock).where(ProductVariant.id == line.variant_id))
            shortages.append({"variant_id": line.variant_id, "requested": line.quantity, "available": available or 0})
            continue
        product_id, threshold = info[line.variant_id]
        stock_before = stock_after - delta
        db.session.add(
            StockMovement(
                variant_id=line.variant_id,
                change=delta,
                stock_after=stock_after,
                reason=reason,
                order_id=order_id,
                by_id=by_id,
            )
        )
        changes.append(
            StockChange(
                variant_id=line.variant_id,
                product_id=product_id,
                change=delta,
                stock_after=stock_after,
                crossed_low_stock=stock_before > threshold >= stock_after,
            )
        )
    return changes, shortages


def take_stock(
    lines: Iterable[StockLine], *, reason: MovementReason, order_id: int | None = None, by_id: int | None = None
) -> list[StockChange]:
    """Take stock for every line, or for none: raises OutOfStock naming every short line.

    Runs inside the caller's transaction (it only flushes); on OutOfStock the caller rolls back, which also
    undoes the lines already taken. `UPDATE ... WHERE stock >= :q` is atomic on SQLite and PostgreSQL.
    """
    changes, shortages = _apply(_merge(lines), sign=-1, reason=reason, order_id=order_id, by_id=by_id)
    if shortages:
        raise OutOfStock(
            "Not enough stock for: "
            + ", ".join(
                f"variant {s['variant_id']} (requested {s['requested']}, available {s['available']})" for s in shortages
            ),
            details={"lines": shortages},
        )
    refresh_product_summaries({change.product_id for change in changes})
    return changes


def return_stock(
    lines: Iterable[StockLine], *, reason: MovementReason, order_id: int | None = None, by_id: int | None = None
) -> list[StockChange]:
    """Put stock back (cancellation, expiry, restock); recorded in the ledger like any change."""
    changes, _ = _apply(_merge(lines), sign=1, reason=reason, order_id=order_id, by_id=by_id)
    refresh_product_summaries({change.product_id for change in changes})
    return changes


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


def refresh_product_summaries(product_ids: Iterable[int]) -> None:
    """Recompute products' lowest active price and in-stock flag in the current transaction, and let
    cached catalog reads go. Call after any change to variants' price, stock or is_active."""
    ids = sorted(set(product_ids))
    if not ids:
        return
    # Lock the products first (in id order, after the variants, as every stock change does): the UPDATE
    # below then runs on a fresh snapshot that includes every concurrent change committed before it, so the
    # last transaction to refresh a product sees all of its variants' committed stock and prices.
    db.session.execute(select(Product.id).where(Product.id.in_(ids)).order_by(Product.id).with_for_update())
    active = and_(ProductVariant.product_id == Product.id, ProductVariant.is_active.is_(True))
    db.session.execute(
        update(Product)
        .where(Product.id.in_(ids))
        .values(
            min_price=select(func.min(ProductVariant.price)).where(active).scalar_subquery(),
            in_stock=exists().where(active, ProductVariant.stock > 0),
        ),
        execution_options={"synchronize_session": False},
    )
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
