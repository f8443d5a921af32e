"""What cart and wishlist answers show: current prices, and each product's main image loaded in one query."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from nexus.cart.models import CartItem, WishlistItem
from nexus.catalog.models import Product, ProductImage, ProductStatus, ProductVariant
from nexus.common.media import media_url
from nexus.extensions import db


@dataclass(frozen=True)
class ProductCard:
    """A product as a cart line or a wishlist entry shows it."""

    id: int
    name: str
    slug: str
    main_image: str | None
    price: Decimal | None
    status: ProductStatus


@dataclass(frozen=True)
class CartVariant:
    """A cart line's variant, at its current price."""

    id: int
    sku: str
    size: str
    price: Decimal


@dataclass(frozen=True)
class CartLine:
    """A cart item priced at its variant's current price."""

    id: int
    variant: CartVariant
    product: ProductCard
    quantity: int

    @property
    def unit_price(self) -> Decimal:
        return self.variant.price

    @property
    def line_total(self) -> Decimal:
        return self.variant.price * self.quantity


@dataclass(frozen=True)
class CartView:
    """The cart with its lines, their count and subtotal in the store's currency."""

    id: int
    updated_at: datetime
    items: list[CartLine]
    currency: str

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.items)

    @property
    def subtotal(self) -> Decimal:
        return sum((line.line_total for line in self.items), Decimal("0.00"))


@dataclass(frozen=True)
class WishlistEntry:
    item: WishlistItem
    product: ProductCard

    @property
    def id(self) -> int:
        return self.item.id

    @property
    def created_at(self) -> datetime:
        return self.item.created_at


def main_images(product_ids: Iterable[int]) -> dict[int, str]:
    """product id → URL of its main image, for every product that has one: one query for any number."""
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(ProductImage.product_id, ProductImage.image)
        .where(ProductImage.product_id.in_(ids), ProductImage.is_main.is_(True))
        .order_by(ProductImage.id)
    )
    images: dict[int, str] = {}
    for product_id, image in rows:
        images.setdefault(product_id, media_url(image))
    return images


def main_image_column():
    """The stored path of a product's main image (the first by id), as a scalar subquery correlated to products:
    loads it in the statement that loads the product."""
    return (
        select(ProductImage.image)
        .where(ProductImage.product_id == Product.id, ProductImage.is_main.is_(True))
        .order_by(ProductImage.id)
        .limit(1)
        .correlate(Product)
        .scalar_subquery()
    )


def _card(product: Product, images: dict[int, str]) -> ProductCard:
    return ProductCard(
        id=product.id,
        name=product.name,
        slug=product.slug,
        main_image=images.get(product.id),
        price=product.min_price,
        status=product.status,
    )


def cart_lines(items: list[CartItem]) -> list[CartLine]:
    """Lines for items whose variant and product are loaded already."""
    images = main_images(item.variant.product_id for item in items)
    return [
        CartLine(
            id=item.id,
            variant=CartVariant(item.variant.id, item.variant.sku, item.variant.size, item.variant.price),
            product=_card(item.variant.product, images),
            quantity=item.quantity,
        )
        for item in items
    ]


def cart_line_columns() -> list:
    """The columns of a cart line's row (`cart_lines_of_rows`), selected from cart_items joined to its variant and
    product: the item, its variant, its product and the product's main image."""
    items, variants, products = CartItem.__table__.c, ProductVariant.__table__.c, Product.__table__.c
    return [
        items.id,
        items.quantity,
        variants.id,
        variants.sku,
        variants.size,
        variants.price,
        products.id,
        products.name,
        products.slug,
        products.min_price,
        products.status,
        main_image_column(),
    ]


def cart_lines_of_rows(rows: Iterable[tuple]) -> list[CartLine]:
    """Lines for rows of `cart_line_columns`."""
    lines = []
    for item_id, quantity, variant_id, sku, size, price, product_id, name, slug, min_price, status, image in rows:
        product = ProductCard(product_id, name, slug, media_url(image) if image else None, min_price, status)
        lines.append(CartLine(item_id, CartVariant(variant_id, sku, size, price), product, quantity))
    return lines


def wishlist_entries(items: list[WishlistItem]) -> list[WishlistEntry]:
    """Entries for wishlist items whose product is loaded already."""
    images = main_images(item.product_id for item in items)
    return [WishlistEntry(item=item, product=_card(item.product, images)) for item in items]
