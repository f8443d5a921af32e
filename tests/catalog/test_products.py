"""Products: who sees which, staff create (with variants), update, delete or discontinue."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from nexus.catalog.models import Category, Product, ProductStatus, ProductVariant, Review, StockMovement
from nexus.extensions import db
from tests.catalog.conftest import reread
from tests.factories import ProductFactory, ReviewFactory, VariantFactory, product_with_variants

URL = "/api/store/products/"


def _body(**overrides) -> dict:
    body = {
        "name": "Oxford Shirt",
        "category": "tops",
        "description": "A crisp cotton oxford shirt with a button-down collar, cut for a relaxed fit.",
        "status": "active",
        "variants": [
            {"sku": "ox-s", "size": "S", "price": "39.90", "stock": 4},
            {"sku": "ox-m", "size": "M", "price": "34.90", "stock": 0},
            {"sku": "ox-l", "size": "L", "price": "29.90", "stock": 7, "is_active": False},
        ],
    }
    body.update(overrides)
    return body


def test_detail_of_an_active_product(client, product):
    response = client.get(URL + "linen-shirt/")
    assert response.status_code == 200
    body = response.json
    assert body["name"] == "Linen Shirt"
    assert body["price"] == "25.00"
    assert body["in_stock"] is True
    assert body["average_rating"] is None and body["review_count"] == 0
    assert body["main_image"] is None and body["images"] == []
    assert [v["size"] for v in body["variants"]] == ["S", "M", "L"]
    assert body["variants"][0] == {
        "id": product.variant_ids[0],
        "sku": body["variants"][0]["sku"],
        "size": "S",
        "price": "25.00",
        "stock": 10,
        "is_active": True,
        "low_stock": False,
    }
    assert body["meta_title"] == "Linen Shirt"
    assert body["meta_description"] == "Breathable summer linen."
    assert body["category"]["id"] == product.category_id
    assert body["created_at"].endswith("+00:00")


@pytest.mark.parametrize("status", ["draft", "inactive", "discontinued"])
def test_products_not_active_are_hidden_from_the_public(client, customer_headers, admin_headers, status):
    product_with_variants(slug="hidden", status=ProductStatus(status))
    assert client.get(URL + "hidden/").status_code == 404
    assert client.get(URL + "hidden/", headers=customer_headers).status_code == 404
    assert client.get(URL).json["count"] == 0
    assert client.get(URL + f"?status={status}").json["count"] == 0

    assert client.get(URL + "hidden/", headers=admin_headers).json["status"] == status
    assert client.get(URL, headers=admin_headers).json["count"] == 1
    assert client.get(URL + f"?status={status}", headers=admin_headers).json["count"] == 1
    assert client.get(URL + "?status=active", headers=admin_headers).json["count"] == 0


def test_inactive_variants_are_hidden_from_the_public(client, admin_headers, product):
    db.session.get(ProductVariant, product.variant_ids[1]).is_active = False
    db.session.commit()
    assert [v["size"] for v in client.get(URL + "linen-shirt/").json["variants"]] == ["S", "L"]
    assert len(client.get(URL + "linen-shirt/", headers=admin_headers).json["variants"]) == 3


def test_create_with_nested_variants(client, admin, admin_headers, tree):
    response = client.post(URL, json=_body(), headers=admin_headers)
    assert response.status_code == 201
    body = response.json
    assert body["slug"] == "oxford-shirt"
    assert body["category"] == {"id": tree.tops, "name": "Tops", "slug": "tops"}
    assert body["status"] == "active"
    assert body["price"] == "34.90"  # the lowest *active* variant price
    assert body["in_stock"] is True
    assert [(v["sku"], v["stock"], v["low_stock"]) for v in body["variants"]] == [
        ("OX-S", 4, True),
        ("OX-M", 0, True),
        ("OX-L", 7, False),
    ]
    assert body["meta_title"] == "Oxford Shirt"
    assert body["meta_description"] == "A crisp cotton oxford shirt with a button-down collar, cut for a relaxed fit."
    # The opening stock is in the ledger, by the admin who made it.
    movements = db.session.scalars(select(StockMovement).order_by(StockMovement.id)).all()
    assert [(m.change, m.stock_after, m.reason.value, m.by_id) for m in movements] == [
        (4, 4, "restock", admin.id),
        (7, 7, "restock", admin.id),
    ]


def test_create_defaults_to_draft_without_variants(client, admin_headers, tree):
    response = client.post(URL, json={"name": "Plain Tee", "category": "tees"}, headers=admin_headers)
    assert response.status_code == 201
    assert response.json["status"] == "draft"
    assert response.json["price"] is None and response.json["in_stock"] is False
    assert client.get(URL + "plain-tee/").status_code == 404


def test_meta_description_defaults_to_the_start_of_a_long_description(client, admin_headers, tree):
    description = "Soft organic cotton. " * 20
    body = client.post(URL, json=_body(description=description, variants=[]), headers=admin_headers).json
    assert len(body["meta_description"]) <= 160
    assert body["meta_description"].startswith("Soft organic cotton. Soft")
    assert body["meta_description"].endswith("...")
    explicit = client.patch(
        URL + "oxford-shirt/",
        json={"meta_title": "Buy the Oxford", "meta_description": "Short."},
        headers=admin_headers,
    ).json
    assert (explicit["meta_title"], explicit["meta_description"]) == ("Buy the Oxford", "Short.")


@pytest.mark.parametrize(
    "overrides, path",
    [
        ({"variants": [{"sku": "a", "size": "XXXL", "price": "10.00"}]}, ["variants", "0", "size"]),
        ({"variants": [{"sku": "a", "size": "M", "price": "-1.00"}]}, ["variants", "0", "price"]),
        ({"variants": [{"sku": "a", "size": "M", "price": "0"}]}, ["variants", "0", "price"]),
        ({"variants": [{"sku": "a", "size": "M", "price": "10.00", "stock": -1}]}, ["variants", "0", "stock"]),
        ({"variants": [{"sku": "a", "size": "M", "price": "10", "colour": "red"}]}, ["variants", "0", "colour"]),
        (
            {"variants": [{"sku": "a", "size": "M", "price": "10"}, {"sku": "b", "size": "M", "price": "10"}]},
            ["variants", "1", "size"],
        ),
        (
            {"variants": [{"sku": "a", "size": "S", "price": "10"}, {"sku": "A", "size": "M", "price": "10"}]},
            ["variants", "1", "sku"],
        ),
        ({"category": "nope"}, ["category"]),
        ({"status": "sold-out"}, ["status"]),
        ({"price": "10.00"}, ["price"]),  # read-only
        ({"average_rating": 5}, ["average_rating"]),
        ({"slug": "Bad Slug"}, ["slug"]),
        ({"name": ""}, ["name"]),
        ({"low_stock_threshold": -1}, ["low_stock_threshold"]),
    ],
)
def test_create_refuses_bad_bodies(client, admin_headers, tree, overrides, path):
    response = client.post(URL, json=_body(**overrides), headers=admin_headers)
    assert response.status_code == 400, response.json
    errors = response.json["errors"]["json"]
    for key in path:
        errors = errors[key]
    assert errors
    assert db.session.scalar(select(func.count(Product.id))) == 0
    assert db.session.scalar(select(func.count(ProductVariant.id))) == 0


def test_duplicate_slug_and_sku_are_400(client, admin_headers, tree, product):
    taken_slug = client.post(URL, json=_body(name="Linen Shirt", variants=[]), headers=admin_headers)
    assert taken_slug.status_code == 400
    assert taken_slug.json["errors"]["json"]["slug"] == ["A product with this slug already exists."]
    sku = db.session.get(ProductVariant, product.variant_ids[0]).sku
    taken_sku = client.post(
        URL, json=_body(variants=[{"sku": sku.lower(), "size": "M", "price": "10"}]), headers=admin_headers
    )
    assert taken_sku.status_code == 400
    assert "sku" in taken_sku.json["errors"]["json"]["variants"]["0"]
    assert db.session.scalar(select(func.count(Product.id))) == 1


def test_create_needs_staff_before_the_body_is_read(client, customer_headers, tree):
    assert client.post(URL, json=_body()).status_code == 401
    assert client.post(URL, json={"nonsense": 1}, headers=customer_headers).status_code == 403
    assert client.post(URL, data="not json", headers=customer_headers).status_code == 403
    assert db.session.scalar(select(func.count(Product.id))) == 0


def test_put_and_patch(client, admin_headers, tree, product):
    assert client.put(URL + "linen-shirt/", json={"name": "X"}, headers=admin_headers).status_code == 400
    response = client.put(
        URL + "linen-shirt/",
        json={"name": "Linen Shirt II", "category": "tees", "status": "inactive", "low_stock_threshold": 12},
        headers=admin_headers,
    )
    assert response.status_code == 200
    assert response.json["category"]["slug"] == "tees"
    assert response.json["slug"] == "linen-shirt"  # a slug is a URL: it changes only when asked
    assert all(v["low_stock"] for v in response.json["variants"])
    response = client.patch(
        URL + "linen-shirt/", json={"slug": "linen-shirt-2", "status": "active"}, headers=admin_headers
    )
    assert response.status_code == 200
    row = reread(Product, product.id)
    assert (row.name, row.slug, row.status, row.category_id) == ("Linen Shirt II", "linen-shirt-2", "active", tree.tees)
    assert client.patch(URL + "linen-shirt/", json={"name": "Y"}, headers=admin_headers).status_code == 404


def test_update_refuses_taken_slugs_unknown_categories_and_read_only_fields(client, admin_headers, tree, product):
    product_with_variants(slug="other")
    cases = [({"slug": "other"}, "slug"), ({"category": "nope"}, "category"), ({"review_count": 9}, "review_count")]
    for body, field in cases:
        response = client.patch(URL + "linen-shirt/", json=body, headers=admin_headers)
        assert response.status_code == 400
        assert field in response.json["errors"]["json"]
    assert reread(Product, product.id).slug == "linen-shirt"


def test_customers_cannot_update_or_delete(client, customer_headers, product):
    assert client.patch(URL + "linen-shirt/", json={"name": "X"}, headers=customer_headers).status_code == 403
    assert client.put(URL + "linen-shirt/", json={}, headers=customer_headers).status_code == 403
    assert client.delete(URL + "linen-shirt/", headers=customer_headers).status_code == 403
    assert client.delete(URL + "linen-shirt/").status_code == 401
    assert reread(Product, product.id).name == "Linen Shirt"


def test_delete_removes_the_product_and_its_rows(client, admin_headers, product, customer):
    ReviewFactory(product=db.session.get(Product, product.id), user=customer)
    client.patch(URL + f"linen-shirt/variants/{product.variant_ids[0]}/", json={"stock": 3}, headers=admin_headers)
    assert client.delete(URL + "linen-shirt/", headers=admin_headers).status_code == 204
    assert reread(Product, product.id) is None
    assert db.session.scalar(select(func.count(ProductVariant.id))) == 0
    assert db.session.scalar(select(func.count(Review.id))) == 0
    assert db.session.scalar(select(func.count(StockMovement.id))) == 0
    assert client.get(URL + "linen-shirt/").status_code == 404


def test_delete_of_an_ordered_product_discontinues_it(app, client, admin_headers, product, monkeypatch):
    asked = []
    hooks = app.extensions.setdefault("nexus_catalog_hooks", {})
    monkeypatch.setitem(hooks, "product_was_ordered", lambda product_id: asked.append(product_id) or True)
    assert client.delete(URL + "linen-shirt/", headers=admin_headers).status_code == 204
    assert asked == [product.id]
    row = reread(Product, product.id)
    assert row.status == ProductStatus.DISCONTINUED
    assert len(row.variants) == 3
    assert client.get(URL + "linen-shirt/").status_code == 404


def test_price_ignores_inactive_variants_and_in_stock_needs_an_active_variant_with_stock(client, admin_headers, tree):
    product = ProductFactory(slug="mixed", category=db.session.get(Category, tree.tees))
    VariantFactory(product=product, size="S", price=Decimal("5.00"), stock=9, is_active=False)
    VariantFactory(product=product, size="M", price=Decimal("15.00"), stock=0)
    from nexus.catalog.services import refresh_product_summaries
    from nexus.common.outbox import commit

    refresh_product_summaries([product.id])
    commit()
    body = client.get(URL + "mixed/").json
    assert (body["price"], body["in_stock"]) == ("15.00", False)


@pytest.mark.parametrize(
    "url",
    ["/api/store/products/", "/api/store/products/linen-shirt/", "/api/store/categories/"],
)
def test_a_bad_token_on_a_public_read_is_401(client, product, url):
    response = client.get(url, headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert response.json["code"] == 401


def test_the_database_refuses_impossible_variants(app, product):
    from sqlalchemy.exc import IntegrityError

    for values in ({"stock": -1}, {"price": Decimal("0")}, {"size": "XXS"}):
        variant = db.session.get(ProductVariant, product.variant_ids[0])
        for field, value in values.items():
            setattr(variant, field, value)
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
