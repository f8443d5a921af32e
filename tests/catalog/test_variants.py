"""Variants: the public list, staff writes, the ledger and the product's summaries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from nexus.catalog.models import Product, ProductStatus, ProductVariant, StockMovement
from nexus.extensions import db
from tests.catalog.conftest import reread
from tests.factories import product_with_variants

URL = "/api/store/products/linen-shirt/variants/"


def _ledger(variant_id: int) -> list[tuple[int, int, str]]:
    db.session.remove()
    rows = db.session.scalars(select(StockMovement).where(StockMovement.variant_id == variant_id).order_by("id"))
    return [(row.change, row.stock_after, row.reason.value) for row in rows]


def test_public_list_shows_active_variants_by_size(client, admin_headers, product):
    db.session.get(ProductVariant, product.variant_ids[0]).is_active = False
    db.session.commit()
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json["count"] == 2
    assert [v["size"] for v in response.json["results"]] == ["M", "L"]
    assert [v["size"] for v in client.get(URL, headers=admin_headers).json["results"]] == ["S", "M", "L"]


def test_variants_of_a_hidden_product_are_404_for_the_public(client, admin_headers):
    product_with_variants(slug="draft", status=ProductStatus.DRAFT)
    assert client.get("/api/store/products/draft/variants/").status_code == 404
    assert client.get("/api/store/products/draft/variants/", headers=admin_headers).json["count"] == 3
    assert client.get("/api/store/products/nothing/variants/").status_code == 404


def test_add_a_variant(client, admin, admin_headers, product):
    response = client.post(
        URL, json={"sku": "ls-xl", "size": "XL", "price": "19.50", "stock": 3}, headers=admin_headers
    )
    assert response.status_code == 201
    body = response.json
    assert (body["sku"], body["size"], body["price"], body["stock"], body["low_stock"]) == (
        "LS-XL",
        "XL",
        "19.50",
        3,
        True,
    )
    assert _ledger(body["id"]) == [(3, 3, "restock")]
    assert reread(Product, product.id).min_price == Decimal("19.50")
    sizes = [v["size"] for v in client.get(URL).json["results"]]
    assert sizes == ["S", "M", "L", "XL"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"sku": "new-1", "size": "M", "price": "10.00"}, "size"),  # the product has an M already
        ({"sku": "new-1", "size": "XXXL", "price": "10.00"}, "size"),
        ({"sku": "new-1", "size": "XL", "price": "-1"}, "price"),
        ({"sku": "new-1", "size": "XL", "price": "0.00"}, "price"),
        ({"sku": "new-1", "size": "XL", "price": "100000000"}, "price"),
        ({"sku": "new-1", "size": "XL", "price": "10", "stock": -5}, "stock"),
        ({"sku": "new-1", "size": "XL", "price": "10", "stock": "5"}, "stock"),
        ({"sku": "has space", "size": "XL", "price": "10"}, "sku"),
        ({"sku": "new-1", "size": "XL", "price": "10", "product": 2}, "product"),
        ({"size": "XL", "price": "10"}, "sku"),
    ],
)
def test_add_refuses_bad_variants(client, admin_headers, product, body, field):
    response = client.post(URL, json=body, headers=admin_headers)
    assert response.status_code == 400
    assert field in response.json["errors"]["json"]
    assert db.session.scalar(select(func.count(ProductVariant.id))) == 3


def test_duplicate_sku_is_400_whatever_the_case(client, admin_headers, product):
    other = product_with_variants(slug="other", sizes=("M",))
    sku = other.variants[0].sku
    response = client.post(URL, json={"sku": sku.lower(), "size": "XL", "price": "10"}, headers=admin_headers)
    assert response.status_code == 400
    assert response.json["errors"]["json"]["sku"] == [f"A variant with SKU {sku} already exists."]


def test_change_stock_is_an_adjustment_in_the_ledger(client, admin, admin_headers, product):
    variant_id = product.variant_ids[0]
    url = f"{URL}{variant_id}/"
    assert client.patch(url, json={"stock": 4}, headers=admin_headers).json["stock"] == 4
    response = client.patch(url, json={"stock": 12}, headers=admin_headers)
    assert response.status_code == 200
    assert (response.json["stock"], response.json["low_stock"]) == (12, False)
    assert client.patch(url, json={"stock": 12}, headers=admin_headers).status_code == 200  # no change, no row
    assert _ledger(variant_id) == [(-6, 4, "adjustment"), (8, 12, "adjustment")]
    movement = db.session.scalar(select(StockMovement).where(StockMovement.variant_id == variant_id).limit(1))
    assert movement.by_id == admin.id


def test_price_and_active_changes_update_the_product(client, admin_headers, product):
    s, m, l_ = product.variant_ids
    client.patch(f"{URL}{m}/", json={"price": "9.99"}, headers=admin_headers)
    row = reread(Product, product.id)
    assert (row.min_price, row.in_stock) == (Decimal("9.99"), True)
    client.patch(f"{URL}{m}/", json={"is_active": False}, headers=admin_headers)
    assert reread(Product, product.id).min_price == Decimal("25.00")
    client.patch(f"{URL}{s}/", json={"stock": 0}, headers=admin_headers)
    client.patch(f"{URL}{l_}/", json={"stock": 0}, headers=admin_headers)
    assert reread(Product, product.id).in_stock is False
    client.patch(f"{URL}{m}/", json={"is_active": True}, headers=admin_headers)
    row = reread(Product, product.id)
    assert (row.min_price, row.in_stock) == (Decimal("9.99"), True)
    assert client.get("/api/store/products/linen-shirt/").json["price"] == "9.99"


@pytest.mark.parametrize(
    "body", [{"stock": -1}, {"price": "0"}, {"sku": "NEW"}, {"size": "XL"}, {"is_active": "perhaps"}]
)
def test_change_refuses_bad_values_and_other_fields(client, admin_headers, product, body):
    response = client.patch(f"{URL}{product.variant_ids[0]}/", json=body, headers=admin_headers)
    assert response.status_code == 400
    variant = reread(ProductVariant, product.variant_ids[0])
    assert (variant.stock, variant.price, variant.size) == (10, Decimal("25.00"), "S")


def test_delete_a_variant(client, admin_headers, product):
    client.patch(f"{URL}{product.variant_ids[0]}/", json={"price": "5.00"}, headers=admin_headers)
    assert client.delete(f"{URL}{product.variant_ids[0]}/", headers=admin_headers).status_code == 204
    assert reread(ProductVariant, product.variant_ids[0]) is None
    assert reread(Product, product.id).min_price == Decimal("25.00")
    assert _ledger(product.variant_ids[0]) == []
    assert client.delete(f"{URL}{product.variant_ids[0]}/", headers=admin_headers).status_code == 404


def test_a_variant_of_another_product_is_404(client, admin_headers, product):
    other = product_with_variants(slug="other", sizes=("M",))
    other_variant = other.variants[0].id
    assert client.patch(f"{URL}{other_variant}/", json={"stock": 1}, headers=admin_headers).status_code == 404
    assert client.delete(f"{URL}{other_variant}/", headers=admin_headers).status_code == 404
    assert reread(ProductVariant, other_variant).stock == 10


def test_variant_writes_need_staff(client, customer_headers, product):
    url = f"{URL}{product.variant_ids[0]}/"
    assert client.post(URL, json={}).status_code == 401
    assert client.post(URL, json={"x": 1}, headers=customer_headers).status_code == 403
    assert client.patch(url, json={"stock": -9}, headers=customer_headers).status_code == 403
    assert client.delete(url, headers=customer_headers).status_code == 403
    assert client.delete(url).status_code == 401
    assert reread(ProductVariant, product.variant_ids[0]).stock == 10


def test_low_stock_flag_follows_the_products_threshold(client, admin_headers, product):
    client.patch(f"{URL}{product.variant_ids[0]}/", json={"stock": 5}, headers=admin_headers)
    flags = {v["size"]: v["low_stock"] for v in client.get(URL).json["results"]}
    assert flags == {"S": True, "M": False, "L": False}
    client.patch("/api/store/products/linen-shirt/", json={"low_stock_threshold": 10}, headers=admin_headers)
    flags = {v["size"]: v["low_stock"] for v in client.get(URL).json["results"]}
    assert flags == {"S": True, "M": True, "L": True}
