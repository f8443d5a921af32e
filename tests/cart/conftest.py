"""Fixtures of the cart tests: a product on sale with two sizes, and readers of the rows behind a cart."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from nexus.cart.models import Cart, CartItem, WishlistItem
from nexus.catalog.models import Product, ProductImage, ProductStatus, ProductVariant
from nexus.extensions import db
from tests.factories import product_with_variants

# Fixtures hand out plain snapshots and ids, not ORM objects: a request that fails rolls the shared session
# back, which expires every object loaded in it (the signed-in user included).


@pytest.fixture
def product(app) -> SimpleNamespace:
    """An active product "Linen Shirt" with sizes S and M, each priced 25.00 with 10 in stock, and a main image."""
    product = product_with_variants(sizes=("S", "M"), price="25.00", stock=10, name="Linen Shirt", slug="linen-shirt")
    db.session.add(ProductImage(product_id=product.id, image="products/linen-shirt.jpg", is_main=True))
    db.session.add(ProductImage(product_id=product.id, image="products/linen-shirt-back.jpg", is_main=False))
    db.session.commit()
    variants = [SimpleNamespace(id=v.id, sku=v.sku, size=v.size, product_id=product.id) for v in product.variants]
    assert [v.size for v in variants] == ["S", "M"]
    return SimpleNamespace(id=product.id, slug=product.slug, variants=variants)


@pytest.fixture
def variant(product) -> SimpleNamespace:
    """The product's size S variant."""
    return product.variants[0]


@pytest.fixture
def customer_id(customer) -> int:
    return customer.id


@pytest.fixture
def other_id(other_customer) -> int:
    return other_customer.id


def lines_of(user_id: int) -> list[CartItem]:
    """The user's cart items as the database holds them now."""
    return list(
        db.session.scalars(
            select(CartItem)
            .join(Cart, Cart.id == CartItem.cart_id)
            .where(Cart.user_id == user_id)
            .order_by(CartItem.id)
            .execution_options(populate_existing=True)
        )
    )


def carts_of(user_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Cart).where(Cart.user_id == user_id))


def wishlist_of(user_id: int) -> list[WishlistItem]:
    return list(db.session.scalars(select(WishlistItem).where(WishlistItem.user_id == user_id)))


def set_variant(variant_id: int, **values) -> None:
    """Change a variant in the database (price, stock, is_active), as an admin edit would."""
    db.session.execute(update(ProductVariant).where(ProductVariant.id == variant_id).values(**values))
    db.session.commit()


def set_product_status(product_id: int, status: ProductStatus) -> None:
    db.session.execute(update(Product).where(Product.id == product_id).values(status=status))
    db.session.commit()
