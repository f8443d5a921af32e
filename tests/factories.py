"""factory_boy factories for the models of every domain; objects are committed so any session sees them."""

from __future__ import annotations

from decimal import Decimal

import factory
from factory.alchemy import SQLAlchemyModelFactory

from nexus.auth.models import User
from nexus.auth.passwords import hash_password
from nexus.catalog.models import SIZES, Category, Product, ProductImage, ProductStatus, ProductVariant, Review
from nexus.extensions import db

PASSWORD = "Correct-Horse-42"


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "commit"


class UserFactory(BaseFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password_hash = factory.LazyFunction(lambda: hash_password(PASSWORD))
    is_active = True
    is_staff = False
    is_verified = False


# -- catalog ----------------------------------------------------------------------------------------


class CategoryFactory(BaseFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")
    description = ""
    is_active = True


class ProductFactory(BaseFactory):
    """An active product; pass `variants__stock=...`/`variants__price=...` or use `with_variants(...)`."""

    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Product {n}")
    slug = factory.Sequence(lambda n: f"product-{n}")
    description = "A well-made garment."
    category = factory.SubFactory(CategoryFactory)
    status = ProductStatus.ACTIVE


class VariantFactory(BaseFactory):
    class Meta:
        model = ProductVariant

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:06d}")
    size = "M"
    size_rank = factory.LazyAttribute(lambda v: SIZES.index(v.size))
    price = Decimal("25.00")
    stock = 10
    is_active = True


def product_with_variants(*, sizes=("S", "M", "L"), price="25.00", stock=10, **product_fields) -> Product:
    """An active product with one variant per size, its summaries (price, in_stock) already computed."""
    from nexus.catalog.services import refresh_product_summaries
    from nexus.common.outbox import commit

    product = ProductFactory(**product_fields)
    for size in sizes:
        VariantFactory(product=product, size=size, price=Decimal(price), stock=stock)
    refresh_product_summaries([product.id])
    commit()
    db.session.refresh(product)
    return product


class ProductImageFactory(BaseFactory):
    """An image row of `product` (no file is stored: upload through the API for that)."""

    class Meta:
        model = ProductImage

    product = factory.SubFactory(ProductFactory)
    image = factory.Sequence(lambda n: f"products/factory-{n}.jpg")
    alt_text = ""
    is_main = False


class ReviewFactory(BaseFactory):
    """A review row (pass `product=` and `user=`); use catalog.services.refresh_review_summary afterwards
    when the product's rating matters."""

    class Meta:
        model = Review

    product = factory.SubFactory(ProductFactory)
    user = factory.SubFactory(UserFactory)
    rating = 4
    title = "Nice"
    comment = "Fits well."
    verified_purchase = False


# -- cart -------------------------------------------------------------------------------------------

from nexus.cart.models import Cart, CartItem, WishlistItem  # noqa: E402


class CartFactory(BaseFactory):
    """A user's cart (a new customer's unless `user_id` is given)."""

    class Meta:
        model = Cart

    user_id = factory.LazyFunction(lambda: UserFactory().id)


class CartItemFactory(BaseFactory):
    """A cart line; pass `cart=` and `variant=` (by default a new cart and a new variant with stock 10)."""

    class Meta:
        model = CartItem

    cart = factory.SubFactory(CartFactory)
    variant = factory.SubFactory(VariantFactory)
    quantity = 1


class WishlistItemFactory(BaseFactory):
    """A wishlist entry; pass `user_id=` and `product=`."""

    class Meta:
        model = WishlistItem

    user_id = factory.LazyFunction(lambda: UserFactory().id)
    product = factory.SubFactory(ProductFactory)


def cart_with_lines(*, user_id: int, lines: int, quantity: int = 1) -> Cart:
    """The user's cart holding `lines` lines, each of its own active product (with a main image) and variant."""
    from nexus.catalog.models import ProductImage

    cart = CartFactory(user_id=user_id)
    for _ in range(lines):
        product = product_with_variants(sizes=("M",))
        db.session.add(ProductImage(product_id=product.id, image=f"products/{product.slug}.jpg", is_main=True))
        CartItemFactory(cart=cart, variant=product.variants[0], quantity=quantity)
    return cart


# -- orders -----------------------------------------------------------------------------------------

from nexus.orders.models import Order, OrderItem, OrderStatus, Payment, PaymentMethod, PaymentStatus  # noqa: E402


class OrderFactory(BaseFactory):
    """An order row as checkout leaves it (no stock is taken: use POST /api/store/orders/ for that)."""

    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"NX-TEST-{n:06d}")
    user_id = factory.LazyFunction(lambda: UserFactory().id)
    status = OrderStatus.PENDING
    subtotal = Decimal("25.00")
    shipping_cost = Decimal("5.00")
    total = factory.LazyAttribute(lambda o: o.subtotal + o.shipping_cost)
    currency = "USD"
    shipping_full_name = "Cora Customer"
    shipping_line1 = "1 Main Street"
    shipping_city = "Berlin"
    shipping_postal_code = "10115"
    shipping_country = "DE"


class OrderItemFactory(BaseFactory):
    """A line of `order`, copied from `variant` (pass both)."""

    class Meta:
        model = OrderItem

    order = factory.SubFactory(OrderFactory)
    product_id = factory.LazyAttribute(lambda i: i.variant.product_id if i.variant else None)
    variant_id = factory.LazyAttribute(lambda i: i.variant.id if i.variant else None)
    product_name = factory.LazyAttribute(lambda i: i.variant.product.name if i.variant else "Gone Product")
    variant_sku = factory.LazyAttribute(lambda i: i.variant.sku if i.variant else "GONE")
    size = factory.LazyAttribute(lambda i: i.variant.size if i.variant else "M")
    unit_price = Decimal("25.00")
    quantity = 1
    line_total = factory.LazyAttribute(lambda i: i.unit_price * i.quantity)

    class Params:
        variant = None


class PaymentFactory(BaseFactory):
    """A payment of `order` for its total (pending card payment unless told otherwise)."""

    class Meta:
        model = Payment

    order = factory.SubFactory(OrderFactory)
    amount = factory.LazyAttribute(lambda p: p.order.total)
    currency = "USD"
    method = PaymentMethod.CARD
    status = PaymentStatus.PENDING
    provider = "test"
