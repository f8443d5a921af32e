"""Fixtures and helpers of the catalog tests: a small category tree, products, and image files."""

from __future__ import annotations

import struct
import zlib
from io import BytesIO
from types import SimpleNamespace

import pytest
from PIL import Image

from nexus.extensions import db
from tests.factories import CategoryFactory, product_with_variants

# Fixtures hand out plain snapshots (ids and slugs), not ORM objects: every request ends its session.


@pytest.fixture
def tree(app) -> SimpleNamespace:
    """Categories clothing > tops > tees, and a separate top-level category shoes (ids by name)."""
    clothing = CategoryFactory(name="Clothing", slug="clothing")
    tops = CategoryFactory(name="Tops", slug="tops", parent=clothing)
    tees = CategoryFactory(name="Tees", slug="tees", parent=tops)
    shoes = CategoryFactory(name="Shoes", slug="shoes")
    return SimpleNamespace(clothing=clothing.id, tops=tops.id, tees=tees.id, shoes=shoes.id)


@pytest.fixture
def product(app) -> SimpleNamespace:
    """An active product "Linen Shirt" with sizes S, M and L at 25.00, 10 of each in stock."""
    made = product_with_variants(name="Linen Shirt", slug="linen-shirt", description="Breathable summer linen.")
    return SimpleNamespace(
        id=made.id, slug=made.slug, category_id=made.category_id, variant_ids=[v.id for v in made.variants]
    )


def image_bytes(image_format: str = "PNG", size: tuple[int, int] = (64, 48), colour: str = "teal") -> bytes:
    out = BytesIO()
    mode = "RGB" if image_format in ("JPEG", "WEBP") else "RGBA"
    Image.new(mode, size, colour).save(out, format=image_format)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG file that claims to be width x height pixels (a decompression bomb's disguise)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def upload(client, url: str, headers: dict, data: bytes, *, filename: str = "photo.png", **fields):
    """POST a multipart/form-data body with the file as `image` and any other form fields."""
    body = {"image": (BytesIO(data), filename), **{name: str(value) for name, value in fields.items()}}
    return client.post(url, data=body, headers=headers, content_type="multipart/form-data")


def reread(model, ident):
    """A row read afresh (after a request, whose session has ended)."""
    db.session.remove()
    return db.session.get(model, ident)


@pytest.fixture
def search_catalog(app, tree):
    """24 products of a few texts in two categories: drafts (0, 5, 10, 15, 20), inactive ones (7, 14, 21), the
    rest active; what the search tests rank."""
    from nexus.catalog.models import Category

    tees, shoes = db.session.get(Category, tree.tees), db.session.get(Category, tree.shoes)
    texts = [
        ("Cotton Shirt", "Soft cotton, cotton and more cotton."),
        ("Linen Shirt", "Breathable linen."),
        ("Wool Coat", "Warm wool with a cotton lining."),
        ("Cotton Linen Blend", "Half linen, half cotton; the best shirt."),
        ("Plain Tee", "A soft shirt of cotton."),
        ("Boot", "Leather."),
    ]
    for n in range(24):
        name, description = texts[n % len(texts)]
        product_with_variants(
            slug=f"p-{n}",
            name=f"{name} {n}",
            description=description,
            category=tees if n % 2 else shoes,
            status="draft" if n % 5 == 0 else "inactive" if n % 7 == 0 else "active",
            price=f"{10 + n}.00",
        )
