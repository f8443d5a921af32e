"""`flask seed-demo`: a realistic demo catalog whose every summary is exact."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import delete, func, select

from nexus.auth.models import User
from nexus.auth.passwords import check_password
from nexus.catalog.models import (
    SIZES,
    Category,
    Product,
    ProductImage,
    ProductStatus,
    ProductVariant,
    Review,
    StockMovement,
)
from nexus.catalog.services import demo
from nexus.common import media
from nexus.extensions import db
from tests.factories import product_with_variants


def _seed(app, *args: str):
    result = app.test_cli_runner().invoke(args=["seed-demo", *args])
    assert result.exit_code == 0, result.output
    db.session.remove()
    return result


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("chunk", [1000, 7], ids=["one-chunk", "chunks-side-by-side"])
def test_seed_demo_builds_an_exact_catalog(app, client, monkeypatch, chunk):
    # In chunks of 7, PostgreSQL inserts them over several connections at once (SQLite in turn).
    monkeypatch.setattr(demo, "CHUNK", chunk)
    result = _seed(app, "--products", "40", "--seed", "3")
    assert "Seeded 40 products, 240 variants" in result.output
    assert _count(Product) == 40
    assert {p.status for p in db.session.scalars(select(Product))} == set(ProductStatus)

    depth = {c.id: (0 if c.parent_id is None else None) for c in db.session.scalars(select(Category))}
    parents = dict(db.session.execute(select(Category.id, Category.parent_id)).all())
    for category_id in depth:
        level, parent = 0, parents[category_id]
        while parent is not None:
            level, parent = level + 1, parents[parent]
        depth[category_id] = level
    assert max(depth.values()) == 2

    for product in db.session.scalars(select(Product)):
        variants = product.variants
        assert [v.size for v in variants] == list(SIZES)
        active = [v for v in variants if v.is_active]
        assert product.min_price == min((v.price for v in active), default=None)
        assert product.in_stock == any(v.stock > 0 for v in active)
        ratings = [r.rating for r in db.session.scalars(select(Review).where(Review.product_id == product.id))]
        expected = (Decimal(sum(ratings)) / len(ratings)).quantize(Decimal("0.1"), ROUND_HALF_UP) if ratings else None
        assert (product.average_rating, product.review_count) == (expected, len(ratings))
        assert sum(image.is_main for image in product.images) == 1
        for variant in variants:
            ledger = db.session.scalar(
                select(func.sum(StockMovement.change)).where(StockMovement.variant_id == variant.id)
            )
            assert (ledger or 0) == variant.stock
    assert _count(Review) > 0
    assert len({v.price for v in db.session.scalars(select(ProductVariant))}) > 10

    image = db.session.scalar(select(ProductImage).limit(1))
    assert media.exists(image.image) and media.exists(image.thumbnail)
    listed = client.get("/api/store/products/?page_size=100").json
    assert listed["count"] == db.session.scalar(select(func.count(Product.id)).where(Product.status == "active"))
    with client.get(listed["results"][0]["main_image"]) as served:
        assert served.status_code == 200

    reviewer = db.session.scalar(select(User).where(User.email == "demo.alice@example.com"))
    password = result.output.rsplit("password: ", 1)[1].strip()
    assert check_password(reviewer.password_hash, password)


def test_seed_demo_if_empty_and_reruns(app):
    _seed(app, "--products", "5", "--if-empty")
    assert _count(Product) == 5
    result = _seed(app, "--products", "5", "--if-empty")
    assert "nothing seeded" in result.output
    assert _count(Product) == 5
    categories, users = _count(Category), _count(User)
    result = _seed(app, "--products", "7")
    assert _count(Product) == 12
    assert (_count(Category), _count(User)) == (categories, users)  # the tree and the demo customers are reused
    assert "password" not in result.output


def _catalog_by_number() -> list[tuple]:
    """Each product's rows (not its ids or its number), in the order of its number (the SKUs' digits)."""
    products = db.session.scalars(select(Product)).all()
    return [
        (
            product.name,
            product.status,
            product.category_id,
            product.min_price,
            product.average_rating,
            [(v.size, v.price, v.stock, v.is_active) for v in product.variants],
            sorted(image.image for image in product.images),
        )
        for product in sorted(products, key=lambda product: product.variants[0].sku)
    ]


def test_seed_side_by_side_makes_the_same_catalog_as_in_turn(app, monkeypatch):
    monkeypatch.setattr(demo, "CHUNK", 4)
    monkeypatch.setattr(demo, "SEED_CONNECTIONS", 1)
    _seed(app, "--products", "30", "--seed", "11")
    in_turn = _catalog_by_number()
    db.session.execute(delete(Product))
    db.session.commit()

    monkeypatch.setattr(demo, "SEED_CONNECTIONS", 3)
    result = _seed(app, "--products", "30", "--seed", "11")
    assert "Seeded 30 products, 180 variants" in result.output
    assert _catalog_by_number() == in_turn
    assert _count(Product) == 30


def test_seed_stops_at_a_failing_chunk_and_keeps_the_chunks_before(app, monkeypatch):
    monkeypatch.setattr(demo, "CHUNK", 3)
    inserted, calls = demo._insert_chunk, []

    def failing_third(drafts):
        calls.append(len(drafts))
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return inserted(drafts)

    monkeypatch.setattr(demo, "_insert_chunk", failing_third)
    with pytest.raises(RuntimeError, match="disk full"):
        demo.seed_demo(products=30, seed=4)
    db.session.remove()
    # The failing chunk wrote nothing; no chunk after it started (at most the one already being inserted).
    assert _count(Product) % 3 == 0
    assert 6 <= _count(Product) <= 9
    assert len(calls) <= 4
    assert _count(ProductVariant) == 6 * _count(Product)


def test_seeded_products_are_searchable(app, client):
    _seed(app, "--products", "30", "--seed", "5")
    product = db.session.scalar(select(Product).where(Product.status == "active").order_by(Product.id).limit(1))
    word = product.name.split()[-1].lower()
    found = client.get(f"/api/store/products/?search={word}&page_size=100").json["results"]
    assert product.slug in [p["slug"] for p in found]


def test_bulk_rows_keep_every_value_as_given(app):
    # PostgreSQL takes them by COPY, in its text format: tabs, newlines, backslashes, NULL-looking text,
    # NULLs, booleans, aware datetimes (in any zone) must all arrive as they were.
    product = product_with_variants(slug="bulk", sizes=())
    texts = ["tab\there", "line\nbreak\r\n", "back\\slash \\N", "\\N", "", "ünïcødé"]
    at = datetime(2026, 11, 27, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=5)))
    rows = [
        {
            "product_id": product.id,
            "image": f"p/{n}.png",
            "thumbnail": None,
            "alt_text": text,
            "is_main": n == 0,
            "created_at": at,
        }
        for n, text in enumerate(texts)
    ]
    demo._insert(ProductImage.__table__, rows)
    db.session.commit()
    stored = db.session.execute(
        select(ProductImage.alt_text, ProductImage.thumbnail, ProductImage.is_main, ProductImage.created_at)
        .where(ProductImage.product_id == product.id)
        .order_by(ProductImage.id)
    ).all()
    assert [tuple(row) for row in stored] == [(text, None, n == 0, at) for n, text in enumerate(texts)]


def test_bulk_rows_must_name_every_column(app):
    product = product_with_variants(slug="bulk", sizes=())
    with pytest.raises(ValueError, match="lack"):
        demo._insert(ProductImage.__table__, [{"product_id": product.id, "image": "p/1.png"}])
