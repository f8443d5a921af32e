"""The products' list summaries (lowest price, in stock, sizes in stock, active price per size) stay exactly what
their variants say after every kind of write: admin variant and product writes, checkout, cancellation, expiry."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from nexus.catalog.models import SIZES, Product, ProductVariant
from nexus.catalog.services import refresh_product_summaries
from nexus.common.models import utcnow
from nexus.extensions import db
from nexus.orders.models import Order
from tests.factories import ProductFactory, VariantFactory, product_with_variants
from tests.helpers import count_queries
from tests.orders.conftest import checkout, fill_cart

PRODUCTS = "/api/store/products/"
ORDERS = "/api/store/orders/"


def truth() -> dict[int, dict]:
    """Every product's summaries computed in Python from its variant rows."""
    db.session.remove()
    expected = {
        product_id: {
            "min_price": None,
            "in_stock": False,
            "sizes_in_stock": 0,
            **{f"price_{s.lower()}": None for s in SIZES},
        }
        for product_id in db.session.scalars(select(Product.id))
    }
    for variant in db.session.scalars(select(ProductVariant)):
        if not variant.is_active:
            continue
        row = expected[variant.product_id]
        row[f"price_{variant.size.lower()}"] = variant.price
        row["min_price"] = variant.price if row["min_price"] is None else min(row["min_price"], variant.price)
        if variant.stock > 0:
            row["in_stock"] = True
            row["sizes_in_stock"] |= 1 << SIZES.index(variant.size)
    return expected


def stored() -> dict[int, dict]:
    db.session.remove()
    names = ("min_price", "in_stock", "sizes_in_stock", *(f"price_{s.lower()}" for s in SIZES))
    rows = db.session.execute(select(Product.id, *(getattr(Product, name) for name in names)))
    return {row.id: {name: getattr(row, name) for name in names} for row in rows}


def assert_exact() -> None:
    assert stored() == truth()


def shirt_summary() -> dict:
    return stored()[db.session.scalar(select(Product.id).where(Product.slug == "shirt"))]


@pytest.fixture
def shirt(app):
    """An active product with XS..L at 20, 22, 24, 26 and 5 of each in stock (ids by size)."""
    product = ProductFactory(slug="shirt", status="active")
    variants = {
        size: VariantFactory(product=product, size=size, price=Decimal(20 + 2 * rank), stock=5)
        for rank, size in enumerate(("XS", "S", "M", "L"))
    }
    refresh_product_summaries([product.id])
    db.session.commit()
    return {size: variant.id for size, variant in variants.items()}


def _variant_url(variant_id: int) -> str:
    return f"{PRODUCTS}shirt/variants/{variant_id}/"


def test_the_helpers_see_a_stale_summary(shirt):
    """The check below is not vacuous: a variant changed behind the summaries' back is caught."""
    assert_exact()
    db.session.execute(update(ProductVariant).where(ProductVariant.id == shirt["M"]).values(stock=0))
    db.session.commit()
    with pytest.raises(AssertionError):
        assert_exact()


def test_the_summaries_encode_sizes_and_prices(shirt):
    row = shirt_summary()
    assert row["sizes_in_stock"] == 0b001111
    assert (row["price_xs"], row["price_m"], row["price_xl"], row["min_price"]) == (20, 24, None, 20)


@pytest.mark.parametrize(
    "changes",
    [
        {"price": "9.50"},
        {"price": "99.00"},
        {"stock": 0},
        {"stock": 12},
        {"is_active": False},
        {"is_active": False, "stock": 0, "price": "1.00"},
    ],
)
def test_admin_variant_updates_keep_them_exact(client, admin_headers, shirt, changes):
    for size in ("XS", "M"):
        response = client.patch(_variant_url(shirt[size]), json=changes, headers=admin_headers)
        assert response.status_code == 200, response.json
        assert_exact()


def test_reactivating_a_variant_keeps_them_exact(client, admin_headers, shirt):
    client.patch(_variant_url(shirt["S"]), json={"is_active": False}, headers=admin_headers)
    assert client.patch(_variant_url(shirt["S"]), json={"is_active": True}, headers=admin_headers).status_code == 200
    assert_exact()


def test_creating_and_deleting_variants_keeps_them_exact(client, admin_headers, shirt):
    body = {"sku": "shirt-xxl", "size": "XXL", "price": "30.00", "stock": 2}
    assert client.post(f"{PRODUCTS}shirt/variants/", json=body, headers=admin_headers).status_code == 201
    assert_exact()
    for size in ("XS", "S", "M", "L"):
        assert client.delete(_variant_url(shirt[size]), headers=admin_headers).status_code == 204
        assert_exact()
    assert shirt_summary()["sizes_in_stock"] == 1 << 5


def test_creating_a_product_with_variants_keeps_them_exact(client, admin_headers, tree):
    body = {
        "name": "Coat",
        "category": "tees",
        "status": "active",
        "variants": [
            {"sku": "coat-s", "size": "S", "price": "80.00", "stock": 0},
            {"sku": "coat-xl", "size": "XL", "price": "90.00", "stock": 4},
            {"sku": "coat-m", "size": "M", "price": "85.00", "stock": 1, "is_active": False},
        ],
    }
    assert client.post(PRODUCTS, json=body, headers=admin_headers).status_code == 201
    assert_exact()


def test_checkout_cancellation_and_expiry_keep_them_exact(client, customer, customer_headers, admin_headers, shirt):
    other = product_with_variants(slug="other", sizes=("S", "M"), stock=1)
    variants = {v.id: v for v in db.session.scalars(select(ProductVariant))}
    # Sells out M of the shirt and S of the other product, leaves XS in stock.
    fill_cart(customer, (variants[shirt["M"]], 5), (variants[shirt["XS"]], 1), (variants[other.variants[0].id], 1))
    first = checkout(client, customer_headers)
    assert first.status_code == 201, first.json
    assert_exact()

    assert client.post(f"{ORDERS}{first.json['id']}/cancel/", headers=customer_headers).status_code == 200
    assert_exact()

    fill_cart(customer, (db.session.get(ProductVariant, shirt["L"]), 5))
    second = checkout(client, customer_headers)
    assert second.status_code == 201, second.json
    assert_exact()
    db.session.execute(
        update(Order).where(Order.id == second.json["id"]).values(created_at=utcnow() - timedelta(days=1))
    )
    db.session.commit()
    from nexus.orders.services import cancel_expired_orders

    assert cancel_expired_orders() == 1
    assert_exact()


def _product_writes(statements: list[str]) -> list[str]:
    """The summaries' refresh: the products' lock (FOR UPDATE on PostgreSQL) and the UPDATE of the products."""
    prefixes = ("UPDATE PRODUCTS", "SELECT PRODUCTS.ID FROM PRODUCTS WHERE PRODUCTS.ID IN")
    return [s for s in statements if " ".join(s.split()).upper().startswith(prefixes)]


def test_a_sale_refreshes_the_summary_only_when_a_size_sells_out(client, customer, customer_headers, shirt):
    """Stock is in the summaries only as in stock or not: a sale that leaves a size in stock neither locks nor
    writes the product row (what concurrent buyers of one product would queue on); selling the last unit does,
    and a cancellation bringing it back does again. The summaries are exact at every step."""
    xs = db.session.get(ProductVariant, shirt["XS"])
    fill_cart(customer, (xs, 4))
    with count_queries() as statements:
        first = checkout(client, customer_headers)
    assert first.status_code == 201, first.json
    assert _product_writes(statements) == []
    assert_exact()

    fill_cart(customer, (db.session.get(ProductVariant, shirt["XS"]), 1))
    with count_queries() as statements:
        second = checkout(client, customer_headers)
    assert second.status_code == 201, second.json
    assert len(_product_writes(statements)) == 2  # the lock, then the UPDATE of the summary
    assert_exact()
    assert shirt_summary()["sizes_in_stock"] == 0b1110

    with count_queries() as statements:
        assert client.post(f"{ORDERS}{first.json['id']}/cancel/", headers=customer_headers).status_code == 200
    assert len(_product_writes(statements)) == 2
    assert_exact()
    assert shirt_summary()["sizes_in_stock"] == 0b1111


def test_admin_stock_adjustment_to_zero_and_back_keeps_them_exact(client, admin_headers, shirt):
    for stock in (0, 3, 0):
        assert client.patch(_variant_url(shirt["L"]), json={"stock": stock}, headers=admin_headers).status_code == 200
        assert_exact()
