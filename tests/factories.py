"""factory_boy factories for the models of every domain; objects are committed so any session sees them."""

from __future__ import annotations

from decimal import Decimal

import factory
from factory.alchemy import SQLAlchemyModelFactory

from nexus.auth.models import User
from nexus.auth.passwords import hash_password
from nexus.catalog.models import SIZES, Category, Product, ProductStatus, ProductVariant
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
