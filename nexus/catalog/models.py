"""Categories, products, size variants, images, reviews and the stock ledger."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from flask import current_app
from sqlalchemy import (
    DDL,
    REAL,
    BigInteger,
    Boolean,
    CheckConstraint,
    ColumnElement,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Select,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    cast,
    delete,
    event,
    func,
    insert,
    inspect,
    literal,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from nexus.common.models import Money, TimestampMixin, UTCDateTime, utcnow
from nexus.extensions import db

SIZES = ("XS", "S", "M", "L", "XL", "XXL")
# The PostgreSQL text-search configuration of product search (stemming: "shirts" finds "shirt").
SEARCH_CONFIG = "english"


class ProductStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    INACTIVE = "inactive"
    DISCONTINUED = "discontinued"


class MovementReason(enum.StrEnum):
    SALE = "sale"
    CANCELLATION = "cancellation"
    EXPIRY = "expiry"
    ADJUSTMENT = "adjustment"
    RESTOCK = "restock"


class _NullsLast(UnaryExpression):
    """`<column> DESC NULLS LAST` in an index. SQLite has no NULLS LAST in an index, and needs none: its DESC
    already puts NULLs last. (A column with modifiers, not an expression: both databases reflect it.)"""

    inherit_cache = True

    def __init__(self, element: ColumnElement) -> None:
        super().__init__(element, modifier=operators.nulls_last_op)


@compiles(_NullsLast, "sqlite")
def _nulls_last_sqlite(element: _NullsLast, compiler, **kw) -> str:
    return compiler.process(element.element, **kw)


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings with a CHECK, the same on SQLite and PostgreSQL.
    return Enum(cls, name=name, native_enum=False, values_callable=lambda e: [m.value for m in e], length=20)


class Category(TimestampMixin, db.Model):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    slug: Mapped[str] = mapped_column(String(140), unique=True, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"), index=True)
    image: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)

    parent: Mapped[Category | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Category]] = relationship(back_populates="parent", order_by="Category.name")


class Product(TimestampMixin, db.Model):
    __tablename__ = "products"
    __table_args__ = (
        Index("ix_products_status_created_at", "status", "created_at"),
        # Staff see every status: their default list (newest first) reads this one.
        Index("ix_products_created_at", "created_at"),
        Index("ix_products_status_name", "status", "name"),
        # Every ordering of the public list reads its page in order from an index, ties (same price or rating)
        # broken by id inside the index too: no sort, however many products share a price. Read backwards they
        # would give descending prices and ratings with NULLs first, but the list wants them last: the two
        # descending indexes are defined below the class.
        Index("ix_products_status_min_price_id", "status", "min_price", "id"),
        Index("ix_products_status_average_rating_id", "status", "average_rating", "id"),
        Index("ix_products_search_vector", "search_vector", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    slug: Mapped[str] = mapped_column(String(220), unique=True, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    status: Mapped[ProductStatus] = mapped_column(
        _enum(ProductStatus, "product_status"), nullable=False, default=ProductStatus.DRAFT
    )
    meta_title: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    meta_description: Mapped[str] = mapped_column(String(320), nullable=False, default="")
    low_stock_threshold: Mapped[int | None] = mapped_column(Integer)
    # Denormalised summaries, kept exact in the same transaction as every write that changes them
    # (see catalog.services.refresh_product_summaries): lists filter and sort on them without joins.
    min_price: Mapped[Decimal | None] = mapped_column(Money)
    in_stock: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    average_rating: Mapped[Decimal | None] = mapped_column(Numeric(2, 1))
    review_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # The list's size and price filters, as exact as the variants they summarise (one variant per size):
    # bit i of sizes_in_stock is set when the active variant of SIZES[i] has stock, and price_<size> is the
    # price of the active variant of that size (NULL: no such variant, or inactive). A product has an active
    # variant priced in a range exactly when one of the six prices is in it.
    sizes_in_stock: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=0, server_default="0")
    price_xs: Mapped[Decimal | None] = mapped_column(Money)
    price_s: Mapped[Decimal | None] = mapped_column(Money)
    price_m: Mapped[Decimal | None] = mapped_column(Money)
    price_l: Mapped[Decimal | None] = mapped_column(Money)
    price_xl: Mapped[Decimal | None] = mapped_column(Money)
    price_xxl: Mapped[Decimal | None] = mapped_column(Money)
    # Weighted name + description for PostgreSQL full-text search (GIN index), kept by the listener below;
    # unused (NULL) on SQLite, which searches with a simple case-insensitive match instead.
    search_vector: Mapped[str | None] = mapped_column(
        Text().with_variant(TSVECTOR(), "postgresql"), deferred=True, nullable=True
    )

    category: Mapped[Category] = relationship()
    variants: Mapped[list[ProductVariant]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="ProductVariant.size_rank"
    )
    images: Mapped[list[ProductImage]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="ProductImage.id"
    )

    @staticmethod
    def sizes_mask(sizes) -> int:
        """The sizes_in_stock bits of these sizes."""
        return sum(1 << SIZES.index(size) for size in sizes)

    @classmethod
    def size_price(cls, size: str):
        """The column holding the price of the product's active variant of `size`."""
        return getattr(cls, f"price_{size.lower()}")

    @property
    def main_image(self) -> str | None:
        """The stored path of the main image (needs `images` loaded), or None."""
        return next((image.image for image in self.images if image.is_main), None)

    @property
    def seo_title(self) -> str:
        """meta_title, or the name when none was given."""
        return seo_title(self.name, self.meta_title)

    @property
    def seo_description(self) -> str:
        """meta_description, or the start of the description (cut at a word) when none was given."""
        return seo_description(self.description, self.meta_description)

    @property
    def effective_low_stock_threshold(self) -> int:
        if self.low_stock_threshold is None:
            return current_app.config["LOW_STOCK_THRESHOLD"]
        return self.low_stock_threshold


for _column in (Product.min_price, Product.average_rating):
    Index(f"ix_products_status_{_column.key}_desc", Product.status, _NullsLast(_column.desc()), Product.id.desc())


def seo_title(name: str, meta_title: str) -> str:
    """A product's SEO title: its meta_title, or its name when none was given."""
    return meta_title or name[:200]


def seo_description(description: str | None, meta_description: str) -> str:
    """A product's SEO description: its meta_description, or the start of its description (cut at a word)."""
    if meta_description:
        return meta_description
    text_ = " ".join((description or "").split())
    if len(text_) <= 160:
        return text_
    return text_[:157].rsplit(" ", 1)[0].rstrip(",.;:") + "..."


def product_search_document(name, description) -> ColumnElement:
    """The tsvector of a product: its name weighs more than its description (columns or plain values)."""

    def vector(value, weight: str) -> ColumnElement:
        return func.setweight(func.to_tsvector(literal(SEARCH_CONFIG), func.coalesce(value, "")), weight)

    return vector(name, "A").op("||")(vector(description, "B"))


def _search_text_changed(product: Product) -> bool:
    """True when this flush writes the product's name or description (what its search vector is made of)."""
    attrs = inspect(product).attrs
    return attrs.name.history.has_changes() or attrs.description.history.has_changes()


@event.listens_for(Product, "before_insert")
@event.listens_for(Product, "before_update")
def _maintain_search_vector(_mapper, connection, product: Product) -> None:
    if connection.dialect.name != "postgresql":
        return
    if inspect(product).persistent and not _search_text_changed(product):
        return
    product.search_vector = product_search_document(literal(product.name), literal(product.description or ""))


class SearchTerm(db.Model):
    """PostgreSQL only: each lexeme of a product's search vector, with the product's rank for a search of that one
    word (`ts_rank_cd(search_vector, lexeme)`, the very value the list ranks by). A one-word search reads its best
    matches in rank order from the index instead of ranking every match. Kept with the search vector (below)."""

    __tablename__ = "search_terms"
    # Read backwards: a lexeme's best rank first, ties by the newest product (the list's order).
    __table_args__ = (Index("ix_search_terms_lexeme_rank", "lexeme", "rank", "product_id"),)

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    lexeme: Mapped[str] = mapped_column(Text, primary_key=True)
    rank: Mapped[float] = mapped_column(REAL, nullable=False)


def search_terms_of(product_ids: ColumnElement) -> Select:
    """(product_id, lexeme, rank) rows of these products' search vectors (`product_ids`: an IN criterion's
    right side), for INSERT ... FROM SELECT."""
    lexeme = func.unnest(Product.search_vector).table_valued("lexeme").alias("term")
    rank = func.ts_rank_cd(Product.search_vector, cast(func.quote_literal(lexeme.c.lexeme), TSQUERY))
    return (
        select(Product.id, lexeme.c.lexeme, rank)
        .select_from(Product)
        .join(lexeme, true())
        .where(Product.id.in_(product_ids))
    )


@event.listens_for(Product, "after_insert")
@event.listens_for(Product, "after_update")
def _maintain_search_terms(_mapper, connection, product: Product) -> None:
    if connection.dialect.name != "postgresql":
        return
    if not _search_text_changed(product):
        return  # the search vector was not rewritten (the "before" listener above)
    connection.execute(delete(SearchTerm).where(SearchTerm.product_id == product.id))
    connection.execute(insert(SearchTerm).from_select(["product_id", "lexeme", "rank"], search_terms_of([product.id])))


class SearchDocument(db.Model):
    """PostgreSQL only: the search vector of each product the public may see (status active), and of no other. The
    public's search of several words ranks every match: from these narrow rows it reads the active products'
    vectors alone, not the wide products rows around them nor the other statuses' (at 100,000 products, "wool
    sweater" matches 1,215 products of every status in 1,107 heap blocks of products, its 949 active ones in 774
    of this table's 2,276). Kept exact in the same flush as every write of a product's status, name or description
    (the listeners below; the seed fills it with its products; deleting a product deletes its row by cascade);
    empty on SQLite, like search_terms."""

    __tablename__ = "search_documents"
    __table_args__ = (Index("ix_search_documents_search_vector", "search_vector", postgresql_using="gin"),)

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    search_vector: Mapped[str] = mapped_column(Text().with_variant(TSVECTOR(), "postgresql"), nullable=False)


def search_documents_of(product_ids: ColumnElement | None = None) -> Select:
    """(product_id, search_vector) rows of those of these products (`product_ids`: an IN criterion's right side;
    None: every product) the public may see, in category order (see rewrite_search_documents), for INSERT ... FROM
    SELECT."""
    stmt = (
        select(Product.id, Product.search_vector)
        .where(Product.status == ProductStatus.ACTIVE, Product.search_vector.is_not(None))
        .order_by(Product.category_id, Product.id)
    )
    return stmt if product_ids is None else stmt.where(Product.id.in_(product_ids))


def rewrite_search_documents(connection) -> None:
    """Write search_documents afresh from the products, its rows in category order (PostgreSQL): after a bulk
    load, as a table is VACUUMed and ANALYZEd. Products of one category share their words, so a search's matches
    then lie in few blocks of the table: at 100,000 products "wool sweater" read 215 blocks instead of 779 (its
    page query 0.61 against 1.29 ms, warm; bench/README.md, "Eleventh pass"). Rows written later go at the end.
    Searches meanwhile read the table as it stood until this transaction commits; a product write meanwhile waits
    for it (the rows' locks)."""
    connection.execute(delete(SearchDocument))
    connection.execute(insert(SearchDocument).from_select(["product_id", "search_vector"], search_documents_of()))


@event.listens_for(Product, "after_insert")
@event.listens_for(Product, "after_update")
def _maintain_search_document(_mapper, connection, product: Product) -> None:
    if connection.dialect.name != "postgresql":
        return
    state = inspect(product)
    new = not state.persistent
    if new and product.status != ProductStatus.ACTIVE:
        return  # a new product the public does not see
    if not new and not (state.attrs.status.history.has_changes() or _search_text_changed(product)):
        return  # neither whether the public sees it nor its search vector changed
    # Whether it goes in is read from the products row this flush has just written, not from the object: a
    # concurrent write of the product committed before this one's UPDATE (which waited for its row lock) shows
    # there, and this transaction holds the lock now.
    if not new:
        connection.execute(delete(SearchDocument).where(SearchDocument.product_id == product.id))
    columns = ["product_id", "search_vector"]
    connection.execute(insert(SearchDocument).from_select(columns, search_documents_of([product.id])))


class ProductVariant(TimestampMixin, db.Model):
    __tablename__ = "product_variants"
    __table_args__ = (
        UniqueConstraint("product_id", "size"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint(f"size IN ({', '.join(repr(size) for size in SIZES)})", name="size_known"),
        # The low-stock report scans variants by stock.
        Index("ix_product_variants_stock", "stock"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), nullable=False, index=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    size: Mapped[str] = mapped_column(String(3), nullable=False)
    # XS..XXL as 0..5, so variants sort by size, not alphabetically.
    size_rank: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=0)
    price: Mapped[Decimal] = mapped_column(Money, nullable=False)
    stock: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)

    product: Mapped[Product] = relationship(back_populates="variants")

    @property
    def low_stock(self) -> bool:
        """At or under the product's low-stock threshold (LOW_STOCK_THRESHOLD when the product sets none)."""
        return self.stock <= self.product.effective_low_stock_threshold


class ProductImage(db.Model):
    __tablename__ = "product_images"
    # At most one main image per product, even when two uploads race.
    __table_args__ = (
        Index(
            "uq_product_images_product_id_main",
            "product_id",
            unique=True,
            sqlite_where=text("is_main"),
            postgresql_where=text("is_main"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), nullable=False, index=True)
    image: Mapped[str] = mapped_column(String(255), nullable=False)
    thumbnail: Mapped[str | None] = mapped_column(String(255))
    alt_text: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    is_main: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    product: Mapped[Product] = relationship(back_populates="images")


class Review(TimestampMixin, db.Model):
    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("product_id", "user_id"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        Index("ix_reviews_product_id_created_at", "product_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Indexed by ix_reviews_product_id_created_at (product reviews, newest first).
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    rating: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    comment: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # Set from the orders domain's answer (catalog.hooks.verified_purchase) on create, and by orders on delivery.
    verified_purchase: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)

    product: Mapped[Product] = relationship()
    user = relationship("User")


class StockMovement(db.Model):
    """The stock ledger: one row per change of a variant's stock; a variant's movements sum to its stock."""

    __tablename__ = "stock_movements"
    __table_args__ = (Index("ix_stock_movements_variant_id_id", "variant_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("product_variants.id", ondelete="CASCADE"), nullable=False)
    change: Mapped[int] = mapped_column(Integer, nullable=False)
    stock_after: Mapped[int] = mapped_column(Integer, nullable=False)
    reason: Mapped[MovementReason] = mapped_column(_enum(MovementReason, "movement_reason"), nullable=False, index=True)
    # The orders table belongs to a higher domain: referenced by name only, never imported.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    variant: Mapped[ProductVariant] = relationship()
    by = relationship("User")


class CatalogState(db.Model):
    """One row: the catalog's generation, raised by every transaction that may change what a product list holds
    or counts, in that transaction (catalog.services.counts). Cached list counts are valid for one generation."""

    __tablename__ = "catalog_state"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


# The one row exists from the start (the migration inserts it too).
event.listen(CatalogState.__table__, "after_create", DDL("INSERT INTO catalog_state (id, generation) VALUES (1, 0)"))


class ListCount(db.Model):
    """An exact list count, valid while the catalog's generation is still `generation`."""

    __tablename__ = "list_counts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    count: Mapped[int] = mapped_column(Integer, nullable=False)
