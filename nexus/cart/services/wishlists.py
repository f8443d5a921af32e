"""Wishlists: products a user keeps for later; entries stay, with their product's current status."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import joinedload

from nexus.cart.exceptions import ProductNotAvailable, ProductNotFound, WishlistItemNotFound
from nexus.cart.models import WishlistItem
from nexus.cart.services.views import WishlistEntry, wishlist_entries
from nexus.catalog import services as catalog_services
from nexus.catalog.exceptions import ProductNotFound as CatalogProductNotFound
from nexus.catalog.models import Product, ProductStatus
from nexus.common import outbox
from nexus.common.api import MAX_ID
from nexus.common.models import upsert_insert, utcnow
from nexus.common.pagination import Page, paginate
from nexus.extensions import db

# Statuses the public cannot see: such products answer 404, as the product detail does.
HIDDEN_STATUSES = (ProductStatus.DRAFT, ProductStatus.INACTIVE)


def list_wishlist_items(*, user_id: int, page: int, page_size: int) -> Page:
    """A page of the user's wishlist entries (WishlistEntry), newest first, in a fixed number of statements."""
    stmt = (
        select(WishlistItem)
        .where(WishlistItem.user_id == user_id)
        .options(joinedload(WishlistItem.product))
        .order_by(WishlistItem.id.desc())
    )
    result = paginate(stmt, page=page, page_size=page_size)
    result.items = wishlist_entries(result.items)
    return result


def find_product(ref: int | str) -> Product | None:
    """A product by numeric id (an int) or by slug (a string; a string of digits falls back to the id)."""
    if isinstance(ref, int):
        return db.session.get(Product, ref) if 1 <= ref <= MAX_ID else None
    try:
        return catalog_services.get_product_by_pk_or_404(product_pk=str(ref), is_staff=True)
    except CatalogProductNotFound:
        return None


def add_to_wishlist(*, user_id: int, product: int | str) -> tuple[WishlistEntry, bool]:
    """Add an active product to the user's wishlist; (entry, created). Already there → the existing entry.

    Missing, draft and inactive products are not found (the public cannot see them); a discontinued one
    is a conflict. Race-safe: the unique (user, product) constraint keeps one entry.
    """
    found = find_product(product)
    if found is None:
        raise ProductNotFound()
    existing = _entry(user_id=user_id, product_id=found.id)
    if existing is not None:
        return existing, False
    if found.status in HIDDEN_STATUSES:
        raise ProductNotFound()
    if found.status != ProductStatus.ACTIVE:
        raise ProductNotAvailable(f"Product {found.slug} is {found.status.value} and cannot be added to a wishlist.")
    insert = upsert_insert(WishlistItem.__table__)
    created_id = db.session.execute(
        insert.values(user_id=user_id, product_id=found.id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["user_id", "product_id"])
        .returning(WishlistItem.__table__.c.id)
    ).scalar()
    outbox.commit()
    return _entry(user_id=user_id, product_id=found.id), created_id is not None


def delete_wishlist_item(*, user_id: int, entry_id: int) -> None:
    """Remove an entry from the user's own wishlist; another user's entry is not found."""
    deleted = 0
    if 1 <= entry_id <= MAX_ID:
        deleted = db.session.execute(
            delete(WishlistItem).where(WishlistItem.id == entry_id, WishlistItem.user_id == user_id)
        ).rowcount
    if not deleted:
        outbox.rollback()
        raise WishlistItemNotFound()
    outbox.commit()


def _entry(*, user_id: int, product_id: int) -> WishlistEntry | None:
    item = db.session.scalar(
        select(WishlistItem)
        .where(WishlistItem.user_id == user_id, WishlistItem.product_id == product_id)
        .options(joinedload(WishlistItem.product))
    )
    return wishlist_entries([item])[0] if item is not None else None
