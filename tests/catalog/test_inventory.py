"""Inventory for staff: the low-stock report (API and `flask low-stock`) and the stock ledger."""

from __future__ import annotations

import pytest

from nexus.catalog.models import MovementReason, ProductStatus, ProductVariant
from nexus.catalog.services import StockLine, return_stock, take_stock
from nexus.common.outbox import commit
from nexus.extensions import db
from tests.factories import product_with_variants

LOW = "/api/store/inventory/low-stock/"
MOVES = "/api/store/inventory/movements/"


@pytest.fixture
def stock(app):
    """Variants at various stock levels: (sku by name) -> id."""
    shirt = product_with_variants(slug="shirt", name="Shirt", sizes=("S", "M", "L"), stock=10)
    coat = product_with_variants(slug="coat", name="Coat", sizes=("M",), stock=10, low_stock_threshold=12)
    gone = product_with_variants(slug="gone", sizes=("M",), stock=0, status=ProductStatus.DISCONTINUED)
    s, m, l_ = shirt.variants
    s.stock, m.stock, l_.stock, l_.is_active = 5, 6, 0, False
    db.session.commit()
    return {
        "shirt-S": s.id,
        "shirt-M": m.id,
        "shirt-L": l_.id,
        "coat-M": coat.variants[0].id,
        "gone": gone.variants[0].id,
    }


def test_low_stock_lists_active_variants_at_or_under_their_threshold(client, admin_headers, stock):
    response = client.get(LOW, headers=admin_headers)
    assert response.status_code == 200
    results = response.json["results"]
    assert [row["id"] for row in results] == [stock["shirt-S"], stock["coat-M"]]  # emptiest first
    assert results[0]["product"] == {"id": results[0]["product"]["id"], "name": "Shirt", "slug": "shirt"}
    assert (results[0]["stock"], results[0]["threshold"], results[0]["low_stock"]) == (5, 5, True)
    assert (results[1]["stock"], results[1]["threshold"]) == (10, 12)


def test_low_stock_is_for_staff_and_paginated(client, customer_headers, admin_headers, stock):
    assert client.get(LOW).status_code == 401
    assert client.get(LOW, headers=customer_headers).status_code == 403
    page = client.get(LOW + "?page_size=1", headers=admin_headers).json
    assert page["count"] == 2 and len(page["results"]) == 1 and "page=2" in page["next"]


def test_flask_low_stock_prints_a_table(app, stock):
    result = app.test_cli_runner().invoke(args=["low-stock"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["SKU", "PRODUCT", "SIZE", "STOCK", "THRESHOLD"]
    assert lines[1].split()[1:] == ["Shirt", "S", "5", "5"]
    assert lines[2].split()[1:] == ["Coat", "M", "10", "12"]
    assert "2 variant(s) at or under their low-stock threshold." in result.output


def test_flask_low_stock_says_when_nothing_is_low(app):
    product_with_variants(stock=50)
    result = app.test_cli_runner().invoke(args=["low-stock"])
    assert result.exit_code == 0
    assert "No variant is at or under its low-stock threshold." in result.output


def test_movements_are_the_ledger_newest_first(client, admin, admin_headers, product):
    s, m, _ = product.variant_ids
    take_stock([StockLine(s, 3)], reason=MovementReason.SALE)
    return_stock([StockLine(s, 1)], reason=MovementReason.CANCELLATION)
    commit()
    client.patch(f"/api/store/products/linen-shirt/variants/{m}/", json={"stock": 2}, headers=admin_headers)
    response = client.get(MOVES, headers=admin_headers)
    assert response.status_code == 200
    rows = response.json["results"]
    assert [(r["variant"]["id"], r["change"], r["stock_after"], r["reason"]) for r in rows] == [
        (m, -8, 2, "adjustment"),
        (s, 1, 8, "cancellation"),
        (s, -3, 7, "sale"),
    ]
    sku = db.session.get(ProductVariant, m).sku
    assert rows[0]["variant"] == {"id": m, "sku": sku}
    assert rows[0]["by"] == {"id": admin.id, "email": "admin@example.com"}
    assert rows[1]["by"] is None and rows[1]["order"] is None
    assert rows[0]["created_at"].endswith("+00:00")


def test_movements_filter_by_variant_and_reason(client, admin_headers, product):
    s, m, _ = product.variant_ids
    take_stock([StockLine(s, 1), StockLine(m, 2)], reason=MovementReason.SALE)
    return_stock([StockLine(m, 2)], reason=MovementReason.EXPIRY)
    commit()
    by_variant = client.get(MOVES + f"?variant={m}", headers=admin_headers).json["results"]
    assert [(r["change"], r["reason"]) for r in by_variant] == [(2, "expiry"), (-2, "sale")]
    by_reason = client.get(MOVES + "?reason=sale", headers=admin_headers).json["results"]
    assert sorted(r["variant"]["id"] for r in by_reason) == [s, m]
    both = client.get(MOVES + f"?reason=sale&variant={s}", headers=admin_headers).json
    assert both["count"] == 1


@pytest.mark.parametrize("query", ["reason=theft", "variant=abc", "variant=0"])
def test_movements_refuse_bad_filters(client, admin_headers, query):
    response = client.get(MOVES + "?" + query, headers=admin_headers)
    assert response.status_code == 400
    assert response.json["errors"]["query"]


def test_movements_are_for_staff(client, customer_headers):
    anonymous, customer = client.get(MOVES), client.get(MOVES, headers=customer_headers)
    assert (anonymous.status_code, anonymous.json["code"]) == (401, 401)
    assert (customer.status_code, customer.json["code"], customer.json["status"]) == (403, 403, "Forbidden")
    assert "results" not in customer.json


def test_a_sale_takes_only_variants_on_sale_and_returns_each_as_it_stands(app, stock):
    from nexus.catalog.exceptions import OutOfStock

    # The inactive shirt-L (restocked) and the discontinued product's variant are refused like a short line,
    # with their stock; nothing is taken, and the ledger is untouched.
    db.session.get(ProductVariant, stock["shirt-L"]).stock = 4
    db.session.get(ProductVariant, stock["gone"]).stock = 4
    commit()
    lines = [StockLine(stock["shirt-S"], 1), StockLine(stock["shirt-L"], 1), StockLine(stock["gone"], 1)]
    with pytest.raises(OutOfStock) as refused:
        take_stock(lines, reason=MovementReason.SALE, only_on_sale=True)
    db.session.rollback()
    assert refused.value.details["lines"] == [
        {"variant_id": stock["shirt-L"], "requested": 1, "available": 4},
        {"variant_id": stock["gone"], "requested": 1, "available": 4},
    ]
    # Without only_on_sale (an adjustment, say) the same variants are taken.
    assert [c.stock_after for c in take_stock(lines, reason=MovementReason.ADJUSTMENT)] == [4, 3, 3]
    db.session.rollback()

    (change,) = take_stock([StockLine(stock["shirt-M"], 2)], reason=MovementReason.SALE, only_on_sale=True)
    variant = db.session.get(ProductVariant, stock["shirt-M"])
    assert (change.stock_after, change.price, change.sku, change.size) == (4, variant.price, variant.sku, "M")
    assert (change.product_id, change.product_name, change.product_slug) == (variant.product_id, "Shirt", "shirt")
