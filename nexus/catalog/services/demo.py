"""Demo data: a realistic catalog made with bulk inserts, fast enough for 100,000 products.

Every summary a list filters on (lowest active price, in stock, sizes in stock, active price per size, rating,
review count) is computed here from the very rows inserted, so the demo catalog is as exact as one built
through the API.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from io import BytesIO, StringIO

from flask import current_app
from PIL import Image, ImageDraw
from slugify import slugify
from sqlalchemy import Table, bindparam, func, insert, literal, select

from nexus.auth.models import User
from nexus.auth.passwords import hash_password
from nexus.catalog.models import (
    SIZES,
    Category,
    MovementReason,
    Product,
    ProductImage,
    ProductStatus,
    ProductVariant,
    Review,
    SearchTerm,
    StockMovement,
    product_search_document,
    rewrite_search_documents,
    search_terms_of,
)
from nexus.catalog.services import counts
from nexus.common import cache, media, outbox
from nexus.common.models import utcnow
from nexus.extensions import db

CHUNK = 1000
# PostgreSQL connections inserting chunks at once (see _insert_side_by_side). On the 2-core machine of
# bench/README.md, 20,000 products took 29.4 s with one, 17.9-20.2 with two and 17.8 with three.
SEED_CONNECTIONS = 2
# top level → second level → third level (an empty list: products go right in the second level).
TREE = {
    "Women": {
        "Tops": ["T-Shirts", "Blouses", "Knitwear"],
        "Dresses": [],
        "Bottoms": ["Jeans", "Skirts", "Trousers"],
        "Outerwear": ["Jackets", "Coats"],
    },
    "Men": {
        "Tops": ["T-Shirts", "Shirts", "Knitwear"],
        "Bottoms": ["Jeans", "Chinos", "Shorts"],
        "Outerwear": ["Jackets", "Coats"],
    },
    "Kids": {"Girls": [], "Boys": []},
    "Activewear": {"Running": [], "Yoga": []},
}
GARMENTS = {
    "T-Shirts": ("T-Shirt", 12, 35),
    "Blouses": ("Blouse", 25, 70),
    "Knitwear": ("Sweater", 35, 120),
    "Dresses": ("Dress", 35, 160),
    "Jeans": ("Jeans", 40, 130),
    "Skirts": ("Skirt", 25, 80),
    "Trousers": ("Trousers", 35, 110),
    "Jackets": ("Jacket", 60, 250),
    "Coats": ("Coat", 90, 350),
    "Shirts": ("Shirt", 25, 90),
    "Chinos": ("Chinos", 35, 95),
    "Shorts": ("Shorts", 18, 55),
    "Girls": ("Kids' Hoodie", 15, 45),
    "Boys": ("Kids' Joggers", 15, 45),
    "Running": ("Running Top", 20, 70),
    "Yoga": ("Yoga Leggings", 25, 90),
}
ADJECTIVES = ("Classic", "Relaxed", "Slim", "Essential", "Vintage", "Organic", "Everyday", "Tailored", "Soft", "Urban")
COLOURS = ("Black", "White", "Navy", "Olive", "Sand", "Burgundy", "Grey", "Sky Blue", "Forest", "Rust")
MATERIALS = ("Cotton", "Linen", "Wool", "Denim", "Jersey", "Cashmere-Blend", "Recycled", "Corduroy")
STATUS_WEIGHTS = {
    ProductStatus.ACTIVE: 80,
    ProductStatus.DRAFT: 8,
    ProductStatus.INACTIVE: 7,
    ProductStatus.DISCONTINUED: 5,
}
SIZE_SURCHARGE = {"XS": 0, "S": 0, "M": 0, "L": 0, "XL": 2, "XXL": 4}
REVIEWERS = ("Alice", "Ben", "Chloe", "Daniel", "Emma", "Farid")
REVIEW_LINES = {
    1: ("Disappointing", "Fell apart after two washes."),
    2: ("Not for me", "The fit was off and the colour duller than pictured."),
    3: ("Okay", "Decent for the price, nothing special."),
    4: ("Very nice", "Good fabric and a true-to-size fit."),
    5: ("Love it", "Beautifully made; I ordered a second colour."),
}
PLACEHOLDER_COLOURS = (
    (38, 70, 83),
    (42, 157, 143),
    (233, 196, 106),
    (244, 162, 97),
    (231, 111, 81),
    (69, 123, 157),
    (168, 218, 220),
    (29, 53, 87),
)


@dataclass
class SeedReport:
    products: int = 0
    variants: int = 0
    images: int = 0
    reviews: int = 0
    categories: int = 0
    users: list[str] = field(default_factory=list)
    password: str | None = None

    def add(self, other: SeedReport) -> None:
        """Count in the rows another part of the seed added."""
        self.products += other.products
        self.variants += other.variants
        self.images += other.images
        self.reviews += other.reviews


def catalog_has_products() -> bool:
    return db.session.scalar(select(Product.id).limit(1)) is not None


def _categories(report: SeedReport) -> list[tuple[int, str]]:
    """Get or make the demo tree; returns (id, name) of the categories products go in."""
    existing = {slug: id_ for id_, slug in db.session.execute(select(Category.id, Category.slug))}

    def ensure(name: str, slug: str, parent_id: int | None) -> int:
        if slug not in existing:
            category = Category(name=name, slug=slug, parent_id=parent_id, description=f"{name} at Nexus.")
            db.session.add(category)
            db.session.flush()
            existing[slug] = category.id
            report.categories += 1
        return existing[slug]

    leaves = []
    for top, middles in TREE.items():
        top_id = ensure(top, slugify(top), None)
        for middle, lows in middles.items():
            middle_id = ensure(middle, slugify(f"{top} {middle}"), top_id)
            if not lows:
                leaves.append((middle_id, middle))
            for low in lows:
                leaves.append((ensure(low, slugify(f"{top} {middle} {low}"), middle_id), low))
    return leaves


def _reviewers(report: SeedReport) -> list[int]:
    emails = [f"demo.{name.lower()}@example.com" for name in REVIEWERS]
    found = dict(db.session.execute(select(User.email, User.id).where(User.email.in_(emails))).all())
    missing = [(email, name) for email, name in zip(emails, REVIEWERS, strict=True) if email not in found]
    if missing:
        report.password = secrets.token_urlsafe(9)
        password_hash = hash_password(report.password)  # one hash (own salt) serves every demo customer
        for email, name in missing:
            user = User(email=email, password_hash=password_hash, first_name=name, last_name="Demo", is_verified=True)
            db.session.add(user)
            db.session.flush()
            found[email] = user.id
    report.users = emails
    return [found[email] for email in emails]


def _placeholders() -> list[str]:
    """A handful of generated images (and their thumbnails) that every demo product shares."""
    names = []
    for index, colour in enumerate(PLACEHOLDER_COLOURS):
        name = f"demo/placeholder-{index}.jpg"
        if not media.exists(name):
            image = Image.new("RGB", (600, 800), colour)
            draw = ImageDraw.Draw(image)
            draw.rectangle((150, 200, 450, 600), outline=(255, 255, 255), width=12)
            draw.text((280, 395), "NEXUS", fill=(255, 255, 255))
            out = BytesIO()
            image.save(out, format="JPEG", quality=80)
            media.store(name, out.getvalue())
        if not media.exists(media.thumbnail_name(name)):
            media.make_thumbnail(name)
        names.append(name)
    return names


def _average(ratings: list[int]) -> Decimal | None:
    if not ratings:
        return None
    return (Decimal(sum(ratings)) / len(ratings)).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass
class _Draft:
    """One product's rows before insertion (its id is known only after)."""

    product: dict
    variants: list[dict]
    reviews: list[dict]
    images: list[dict]


class _Maker:
    def __init__(self, *, rng: random.Random, leaves, reviewers: list[int], images: list[str], first: int) -> None:
        self.rng, self.leaves, self.reviewers, self.images, self.first = rng, leaves, reviewers, images, first
        self.now = utcnow()

    def _status(self, number: int) -> ProductStatus:
        # The first products of a run cover every status, so even a tiny demo shows them all.
        if number - self.first < len(STATUS_WEIGHTS):
            return list(STATUS_WEIGHTS)[number - self.first]
        return self.rng.choices(list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()))[0]

    def _stock(self) -> int:
        roll = self.rng.random()
        return 0 if roll < 0.1 else self.rng.randint(1, 5) if roll < 0.25 else self.rng.randint(6, 80)

    def draft(self, number: int) -> _Draft:
        rng = self.rng
        category_id, leaf = rng.choice(self.leaves)
        noun, low, high = GARMENTS[leaf]
        adjective, colour, material = rng.choice(ADJECTIVES), rng.choice(COLOURS), rng.choice(MATERIALS)
        name = f"{adjective} {colour} {material} {noun}"
        created = self.now - timedelta(seconds=rng.uniform(3600, 365 * 86400))
        stamps = {"created_at": created, "updated_at": created}
        base = Decimal(rng.randint(low, high)) + Decimal(rng.choice(("0.00", "0.50", "0.90", "0.99")))
        variants = [
            {
                "sku": f"NX{number:07d}-{size}",
                "size": size,
                "size_rank": rank,
                "price": base + SIZE_SURCHARGE[size],
                "stock": self._stock(),
                "is_active": rng.random() > 0.05,
                **stamps,
            }
            for rank, size in enumerate(SIZES)
        ]
        status = self._status(number)
        reviews = []
        if status == ProductStatus.ACTIVE and rng.random() < 0.6:
            for user_id in rng.sample(self.reviewers, rng.randint(1, len(self.reviewers))):
                rating = rng.choices((1, 2, 3, 4, 5), weights=(1, 2, 5, 10, 12))[0]
                title, comment = REVIEW_LINES[rating]
                at = created + (self.now - created) * rng.random()
                reviews.append(
                    {
                        "user_id": user_id,
                        "rating": rating,
                        "title": title,
                        "comment": comment,
                        "verified_purchase": False,
                        "created_at": at,
                        "updated_at": at,
                    }
                )
        active = [variant for variant in variants if variant["is_active"]]
        product = {
            "name": name,
            "slug": f"{slugify(name)}-{number}",
            "description": f"A {adjective.lower()} {noun.lower()} in {colour.lower()} {material.lower()}, "
            f"made to last and cut for everyday wear. Machine washable at 30°C.",
            "category_id": category_id,
            "status": status,
            "meta_title": "",
            "meta_description": "",
            "min_price": min((variant["price"] for variant in active), default=None),
            "in_stock": any(variant["stock"] > 0 for variant in active),
            "sizes_in_stock": Product.sizes_mask(variant["size"] for variant in active if variant["stock"] > 0),
            **{Product.size_price(size).key: None for size in SIZES},
            **{Product.size_price(variant["size"]).key: variant["price"] for variant in active},
            "average_rating": _average([review["rating"] for review in reviews]),
            "review_count": len(reviews),
            **stamps,
        }
        images = [
            {
                "image": path,
                "thumbnail": media.thumbnail_name(path),
                "alt_text": name,
                "is_main": index == 0,
                "created_at": created,
            }
            for index, path in enumerate(rng.sample(self.images, rng.randint(1, 3)))
        ]
        return _Draft(product=product, variants=variants, reviews=reviews, images=images)


def _chunks(total: int, size: int) -> Iterator[range]:
    for start in range(0, total, size):
        yield range(start, min(start + size, total))


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(value: object) -> str:
    """A value in COPY's text format (the rows here hold str, int, bool, Decimal, aware datetime or None)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()  # what UTCDateTime would bind
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    return str(value)


def _insert(table: Table, rows: list[dict]) -> None:
    """Many rows at once, every row with the same keys, which must name every column without a server default
    but the id. On PostgreSQL one COPY, which parses several times faster than multi-row INSERTs (the variants
    were 6.2 of a 20,000-product seed's 22 s); elsewhere one executemany."""
    if not rows:
        return
    columns = list(rows[0])
    lacking = [c.name for c in table.columns if c.name not in columns and not c.primary_key and not c.server_default]
    if lacking:
        raise ValueError(f"rows for {table.name} lack {', '.join(lacking)}")
    if db.engine.dialect.name != "postgresql":
        db.session.execute(insert(table), rows)
        return
    text = "".join("\t".join([_copy_value(row[name]) for name in columns]) + "\n" for row in rows)
    with db.session.connection().connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN", StringIO(text))


def _insert_products(rows: list[dict]) -> list[int]:
    """Insert the products; their ids in row order. On PostgreSQL each row's search vector is made in the same
    statement (no second pass over the rows)."""
    stmt = insert(Product.__table__)
    if db.engine.dialect.name == "postgresql":
        stmt = stmt.values(search_vector=product_search_document(bindparam("search_name"), bindparam("search_text")))
        rows = [{**row, "search_name": row["name"], "search_text": row["description"]} for row in rows]
    stmt = stmt.returning(Product.__table__.c.id, sort_by_parameter_order=True)
    return list(db.session.execute(stmt, rows).scalars())


def _insert_chunk(drafts: list[_Draft]) -> SeedReport:
    """Insert a chunk of products with their rows, in one transaction committed here; what it added."""
    ids = _insert_products([draft.product for draft in drafts])
    if db.engine.dialect.name == "postgresql":
        # Their search terms with their one-word ranks, from the search vectors just made (one statement).
        columns = ["product_id", "lexeme", "rank"]
        db.session.execute(insert(SearchTerm.__table__).from_select(columns, search_terms_of(ids)))
    variants, reviews, images = [], [], []
    for product_id, draft in zip(ids, drafts, strict=True):
        variants += [{**variant, "product_id": product_id} for variant in draft.variants]
        reviews += [{**review, "product_id": product_id} for review in draft.reviews]
        images += [{**image, "product_id": product_id} for image in draft.images]
    _insert(ProductVariant.__table__, variants)
    # The ledger opens with each variant's opening stock (so its movements sum to its stock): one set-based
    # statement copies it from the variants just inserted.
    opening = select(
        ProductVariant.id,
        ProductVariant.stock,
        ProductVariant.stock,
        literal(MovementReason.RESTOCK.value),
        ProductVariant.created_at,
    ).where(ProductVariant.product_id.in_(ids), ProductVariant.stock > 0)
    columns = ["variant_id", "change", "stock_after", "reason", "created_at"]
    db.session.execute(insert(StockMovement.__table__).from_select(columns, opening))
    _insert(Review.__table__, reviews)
    _insert(ProductImage.__table__, images)
    cache.invalidate_on_commit("products", "reviews")
    counts.bump_on_commit()
    outbox.commit()
    return SeedReport(products=len(ids), variants=len(variants), reviews=len(reviews), images=len(images))


def _insert_in_turn(chunks: Iterator[list[_Draft]], report: SeedReport, progress: Callable[[int], None]) -> None:
    for drafts in chunks:
        added = _insert_chunk(drafts)
        report.add(added)
        progress(added.products)


def _insert_side_by_side(
    chunks: Iterator[list[_Draft]], report: SeedReport, progress: Callable[[int], None], *, connections: int
) -> None:
    """Insert the chunks over `connections` connections at once (threads: the database works while Python waits
    on it), while this thread makes the next chunk's rows. The drafts are still made in order, from one random
    generator: the same seed gives the same catalog. A failing chunk stops the rest; the chunks committed before
    stay, as when inserting them in turn."""
    app = current_app._get_current_object()

    def insert(drafts: list[_Draft]) -> SeedReport:
        with app.app_context():
            try:
                return _insert_chunk(drafts)
            finally:
                db.session.remove()

    def settle(futures: set[Future]) -> None:
        for future in futures:
            added = future.result()
            report.add(added)
            progress(added.products)

    # At most `connections` chunks are submitted at once, so each starts at once and none waits in the pool's
    # queue: when one fails, its error leaves this loop, nothing more is submitted, and leaving the pool waits for
    # the chunks already being inserted.
    with ThreadPoolExecutor(max_workers=connections, thread_name_prefix="seed-demo") as pool:
        running: set[Future] = set()
        for drafts in chunks:
            if len(running) == connections:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                settle(done)
            running.add(pool.submit(insert, drafts))
        settle(running)


def seed_demo(*, products: int, seed: int | None = None, progress: Callable[[int], None] | None = None) -> SeedReport:
    """Add a demo catalog of `products` products (every status, six sizes each, placeholder images, reviews by
    demo customers) to whatever is there; one transaction per chunk of CHUNK products."""
    report = SeedReport()
    leaves = _categories(report)
    reviewers = _reviewers(report)
    images = _placeholders()
    cache.invalidate_on_commit("categories")
    counts.bump_on_commit()  # new categories: new subtrees
    outbox.commit()
    first = (db.session.scalar(select(func.max(Product.id))) or 0) + 1
    maker = _Maker(rng=random.Random(seed), leaves=leaves, reviewers=reviewers, images=images, first=first)
    chunks = ([maker.draft(first + number) for number in numbers] for numbers in _chunks(products, CHUNK))
    progress = progress or (lambda _count: None)
    if db.engine.dialect.name == "postgresql" and SEED_CONNECTIONS > 1:
        _insert_side_by_side(chunks, report, progress, connections=SEED_CONNECTIONS)
    else:  # SQLite takes one writer at a time
        _insert_in_turn(chunks, report, progress)
    if db.engine.dialect.name == "postgresql":
        # The active products' search vectors, which the public's searches of several words rank, in category
        # order (one statement, once the products are in).
        rewrite_search_documents(db.session.connection())
        outbox.commit()
    return report
