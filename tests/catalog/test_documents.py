"""The read path's product documents are exactly what ProductSchema makes of the ORM product, for every shape."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from nexus.catalog.models import Product, ProductStatus
from nexus.catalog.schemas import ProductSchema
from nexus.catalog.services import get_product_or_404, list_products, refresh_review_summary
from nexus.catalog.services.documents import product_document
from nexus.extensions import db
from tests.factories import ProductImageFactory, ReviewFactory, UserFactory, VariantFactory, product_with_variants


def _canonical(value) -> str:
    # The application's JSON provider (sorted keys), as both paths are sent.
    from flask import current_app

    return current_app.json.dumps(value)


def _schema_dump(slug: str, *, is_staff: bool) -> dict:
    db.session.expunge_all()
    return ProductSchema().dump(get_product_or_404(slug=slug, is_staff=is_staff))


@pytest.fixture
def shapes(app) -> list[str]:
    """Products of every shape the document has: inactive variants, images with and without a main one and a
    thumbnail, a rating, a custom threshold, SEO fields set and defaulted, a long description, no variants."""
    plain = product_with_variants(name="Plain Tee", slug="plain-tee", sizes=("XS", "XXL", "M"), price="9.5")
    VariantFactory(product=db.session.get(Product, plain.id), size="L", price=Decimal("12.00"), is_active=False)

    rich = product_with_variants(
        name="Rich Coat",
        slug="rich-coat",
        description="Warm wool, " * 40,
        meta_title="The coat",
        low_stock_threshold=30,
        stock=12,
    )
    # Exactly at the threshold: low stock (the boundary both paths must agree on).
    VariantFactory(product=db.session.get(Product, rich.id), size="XL", stock=30)
    ProductImageFactory(product=db.session.get(Product, rich.id), alt_text="front")
    ProductImageFactory(product=db.session.get(Product, rich.id), is_main=True, thumbnail="products/t/1.jpg")
    ReviewFactory(product=db.session.get(Product, rich.id), user=UserFactory(), rating=5)
    ReviewFactory(product=db.session.get(Product, rich.id), user=UserFactory(), rating=4)
    refresh_review_summary(rich.id)
    db.session.commit()

    bare = product_with_variants(name="Bare", slug="bare", sizes=(), meta_description="Nothing yet.")
    draft = product_with_variants(name="Draft Dress", slug="draft-dress", status=ProductStatus.DRAFT, stock=0)
    return [plain.slug, rich.slug, bare.slug, draft.slug]


@pytest.mark.parametrize("is_staff", [False, True])
def test_detail_document_equals_the_schema_dump(app, shapes, is_staff):
    visible = shapes if is_staff else shapes[:3]
    for slug in visible:
        document = product_document(slug=slug, is_staff=is_staff)
        assert _canonical(document) == _canonical(_schema_dump(slug, is_staff=is_staff)), slug
    # The shapes really are varied: the comparison covered each kind of field.
    rich = product_document(slug="rich-coat", is_staff=is_staff)
    assert rich["main_image"] and rich["images"][1]["thumbnail"] and rich["average_rating"] == 4.5
    assert rich["meta_title"] == "The coat" and rich["meta_description"].endswith("...")
    assert [v["low_stock"] for v in rich["variants"]] == [True, True, True, True]
    plain = product_document(slug="plain-tee", is_staff=is_staff)
    assert [v["size"] for v in plain["variants"]] == (["XS", "M", "L", "XXL"] if is_staff else ["XS", "M", "XXL"])
    assert plain["price"] == "9.50"


@pytest.mark.parametrize("is_staff", [False, True])
def test_list_page_documents_equal_the_schema_dumps(app, shapes, is_staff):
    page = list_products(filters={"ordering": "name"}, is_staff=is_staff, page=1, page_size=50)
    expected = sorted(shapes if is_staff else shapes[:3], key=lambda slug: get_product_or_404(slug=slug).name)
    assert [item["slug"] for item in page.items] == expected
    assert page.count == len(expected)
    for item in page.items:
        assert _canonical(item) == _canonical(_schema_dump(item["slug"], is_staff=is_staff))


def test_api_detail_body_is_the_schema_dump(client, shapes):
    body = client.get("/api/store/products/rich-coat/").get_json()
    assert json.dumps(body, sort_keys=True) == json.dumps(_schema_dump("rich-coat", is_staff=False), sort_keys=True)
