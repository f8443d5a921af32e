"""POST /api/store/orders/: the cart becomes an order in one transaction, or nothing changes."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from nexus.cart.models import CartItem
from nexus.catalog.models import MovementReason, Product, ProductStatus, ProductVariant, StockMovement
from nexus.extensions import db
from nexus.orders.models import Order, OrderItem, OrderStatusHistory
from tests.conftest import SERVICES
from tests.factories import ProductFactory, VariantFactory, product_with_variants
from tests.helpers import sent_emails
from tests.orders.conftest import ADDRESS, ORDERS, checkout, emails_about, fill_cart, fresh_order, ledger_sum, stock_of


def _cart_size(cart_id: int) -> int:
    db.session.remove()
    return db.session.scalar(select(func.count()).select_from(CartItem).where(CartItem.cart_id == cart_id))


def test_checkout_turns_the_cart_into_an_order(client, customer, customer_headers):
    shirt = VariantFactory(price=Decimal("19.90"), stock=10, size="S", product__name="Linen Shirt")
    jeans = VariantFactory(price=Decimal("30.05"), stock=3, size="L", product__name="Slim Jeans")
    cart_id = fill_cart(customer, (shirt, 2), (jeans, 1))

    response = checkout(client, customer_headers, notes="Leave at the door")

    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "pending"
    assert body["payment_status"] == "unpaid"
    assert body["subtotal"] == "69.85"
    assert body["shipping_cost"] == "5.00"
    assert body["total"] == "74.85"
    assert body["currency"] == "USD"
    assert body["notes"] == "Leave at the door"
    assert body["shipping_address"] == {**ADDRESS, "line2": "", "phone": ""}
    assert body["number"] == f"NX-{body['created_at'][:4]}-{body['id']:06d}"
    assert body["allowed_transitions"] == ["cancelled"]
    assert "user" not in body
    assert [(i["product_name"], i["variant_sku"], i["size"], i["unit_price"], i["quantity"], i["line_total"])
            for i in body["items"]] == [
        ("Linen Shirt", shirt.sku, "S", "19.90", 2, "39.80"),
        ("Slim Jeans", jeans.sku, "L", "30.05", 1, "30.05"),
    ]  # fmt: skip
    assert body["items"][0]["product"] == {"id": shirt.product_id, "name": "Linen Shirt", "slug": shirt.product.slug}
    assert [(h["from_status"], h["status"], h["by"]) for h in body["history"]] == [(None, "pending", customer.id)]

    assert stock_of(shirt.id) == 8 and stock_of(jeans.id) == 2
    assert _cart_size(cart_id) == 0
    order = fresh_order(body["id"])
    assert order.user_id == customer.id and order.total == Decimal("74.85")
    movements = db.session.scalars(select(StockMovement).where(StockMovement.order_id == order.id)).all()
    assert sorted((m.variant_id, m.change, m.stock_after, m.reason) for m in movements) == sorted(
        [(shirt.id, -2, 8, MovementReason.SALE), (jeans.id, -1, 2, MovementReason.SALE)]
    )
    assert all(m.by_id == customer.id for m in movements)
    assert ledger_sum(shirt.id) == -2  # the factory's initial stock was not a movement
    (mail,) = sent_emails(to=customer.email)
    assert body["number"] in mail["subject"] and "74.85" in mail["body"]


def test_two_sizes_of_one_product_are_two_lines_of_one_product(client, customer, customer_headers):
    tee = product_with_variants(sizes=("S", "M"), price="12.00", stock=5, name="Basic Tee")
    small, medium = tee.variants
    ids = (tee.id, tee.slug, small.id, medium.id)
    fill_cart(customer, (medium, 1), (small, 2))

    response = checkout(client, customer_headers)

    assert response.status_code == 201, response.json
    product = {"id": ids[0], "name": "Basic Tee", "slug": ids[1]}
    assert [(i["product"], i["size"], i["quantity"]) for i in response.json["items"]] == [
        (product, "S", 2),
        (product, "M", 1),
    ]
    assert (stock_of(ids[2]), stock_of(ids[3])) == (3, 4)


def test_prices_and_names_are_copies_that_never_change(client, customer, customer_headers, variant):
    fill_cart(customer, (variant, 1))
    order_id = checkout(client, customer_headers).json["id"]
    db.session.execute(update(ProductVariant).values(price=Decimal("99.00"), sku="RENAMED"))
    db.session.execute(update(Product).values(name="Renamed"))
    db.session.commit()

    item = client.get(f"{ORDERS}{order_id}/", headers=customer_headers).json["items"][0]
    assert (item["unit_price"], item["variant_sku"], item["product_name"]) == (
        "25.00",
        variant.sku,
        variant.product.name,
    )


@pytest.mark.parametrize(
    ("price", "quantity", "shipping", "total"),
    [("99.99", 1, "5.00", "104.99"), ("50.00", 2, "0.00", "100.00"), ("60.00", 2, "0.00", "120.00")],
)
def test_shipping_is_free_from_the_threshold(client, customer, customer_headers, price, quantity, shipping, total):
    fill_cart(customer, (VariantFactory(price=Decimal(price)), quantity))
    body = checkout(client, customer_headers).json
    assert (body["shipping_cost"], body["total"]) == (shipping, total)


def test_shipping_settings_are_configurable(app, client, customer, customer_headers, monkeypatch):
    monkeypatch.setitem(app.config, "SHIPPING_FLAT_RATE", Decimal("7.50"))
    monkeypatch.setitem(app.config, "FREE_SHIPPING_THRESHOLD", Decimal("500.00"))
    fill_cart(customer, (VariantFactory(price=Decimal("200.00")), 1))
    body = checkout(client, customer_headers).json
    assert (body["shipping_cost"], body["total"]) == ("7.50", "207.50")


def test_order_numbers_are_unique(client, customer, customer_headers, variant):
    numbers = set()
    for _ in range(3):
        fill_cart(customer, (variant, 1))
        numbers.add(checkout(client, customer_headers).json["number"])
    assert len(numbers) == 3
    assert db.session.scalar(select(func.count()).select_from(Order)) == 3


def test_empty_cart_is_400(client, customer, customer_headers):
    response = checkout(client, customer_headers)
    assert response.status_code == 400
    assert response.json["message"] == "Your cart is empty."
    fill_cart(customer)
    assert checkout(client, customer_headers).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_every_short_line_is_named_and_nothing_changes(client, customer, customer_headers):
    plenty = VariantFactory(stock=10, product__name="Plenty")
    short = VariantFactory(stock=1, product__name="Short One")
    sold_out = VariantFactory(stock=0, product__name="Sold Out")
    cart_id = fill_cart(customer, (plenty, 3), (short, 2), (sold_out, 1))
    plenty, short, sold_out = (db.session.get(ProductVariant, v.id) for v in (plenty, short, sold_out))
    ids = {"plenty": plenty.id, "short": (short.id, short.sku), "sold_out": (sold_out.id, sold_out.sku)}

    response = checkout(client, customer_headers)

    assert response.status_code == 409
    assert "Short One" in response.json["message"] and "Sold Out" in response.json["message"]
    lines = sorted(response.json["details"]["lines"], key=lambda line: line["variant_id"])
    assert [(line["variant_id"], line["sku"], line["requested"], line["available"]) for line in lines] == [
        (*ids["short"], 2, 1),
        (*ids["sold_out"], 1, 0),
    ]
    assert (stock_of(ids["plenty"]), stock_of(ids["short"][0]), stock_of(ids["sold_out"][0])) == (10, 1, 0)
    assert _cart_size(cart_id) == 3
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 0
    assert sent_emails(wait=False) == []


@pytest.mark.parametrize("what", ["variant", "product"])
def test_an_unavailable_line_is_409_naming_it(client, customer, customer_headers, variant, what):
    gone = VariantFactory(product__name="Withdrawn Hoodie")
    if what == "variant":
        gone.is_active = False
    else:
        gone.product.status = ProductStatus.INACTIVE
    db.session.commit()
    cart_id = fill_cart(customer, (variant, 1), (gone, 1))
    variant_id, gone_id = variant.id, gone.id

    response = checkout(client, customer_headers)

    assert response.status_code == 409
    assert "Withdrawn Hoodie" in response.json["message"]
    assert [line["variant_id"] for line in response.json["details"]["lines"]] == [gone_id]
    assert stock_of(variant_id) == 10 and _cart_size(cart_id) == 2


def test_an_unavailable_line_is_named_before_a_short_one_and_nothing_changes(client, customer, customer_headers):
    # Both lines are refused by their stock UPDATE; the order names what is no longer on sale first.
    short = VariantFactory(stock=1, product__name="Short One")
    gone = VariantFactory(stock=5, product__name="Withdrawn Hoodie")
    gone.is_active = False
    db.session.commit()
    short_id, gone_id, gone_sku, gone_size = short.id, gone.id, gone.sku, gone.size
    cart_id = fill_cart(customer, (short, 2), (gone, 1))

    response = checkout(client, customer_headers)

    assert response.status_code == 409
    assert response.json["details"] == {
        "lines": [{"variant_id": gone_id, "sku": gone_sku, "product": "Withdrawn Hoodie", "size": gone_size}]
    }
    assert (stock_of(short_id), stock_of(gone_id), _cart_size(cart_id)) == (1, 5, 2)
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 0


@pytest.mark.parametrize(
    ("address", "field"),
    [
        ({**ADDRESS, "country": "XX"}, "country"),
        ({**ADDRESS, "country": "Germany"}, "country"),
        ({k: v for k, v in ADDRESS.items() if k != "full_name"}, "full_name"),
        ({**ADDRESS, "line1": "   "}, "line1"),
        ({k: v for k, v in ADDRESS.items() if k != "postal_code"}, "postal_code"),
        ({**ADDRESS, "city": ""}, "city"),
        ({**ADDRESS, "phone": "call me"}, "phone"),
        ({**ADDRESS, "unknown": "x"}, "unknown"),
    ],
)
def test_a_bad_shipping_address_is_400(client, customer, customer_headers, variant, address, field):
    fill_cart(customer, (variant, 1))
    response = checkout(client, customer_headers, address=address)
    assert response.status_code == 400
    assert field in response.json["errors"]["json"]["shipping_address"]
    assert stock_of(variant.id) == 10


def test_optional_address_fields_and_lower_case_country(client, customer, customer_headers, variant):
    fill_cart(customer, (variant, 1))
    address = {**ADDRESS, "country": "fr", "line2": "Apt 4", "phone": "+33 1 23 45 67 89"}
    body = checkout(client, customer_headers, address=address).json
    assert body["shipping_address"] == {**address, "country": "FR"}


@pytest.mark.parametrize(
    "body",
    [{}, {"shipping_address": "Berlin"}, {"shipping_address": {**ADDRESS}, "total": "0.01"},
     {"shipping_address": {**ADDRESS}, "status": "delivered"}],
)  # fmt: skip
def test_missing_or_read_only_fields_are_400(client, customer, customer_headers, variant, body):
    fill_cart(customer, (variant, 1))
    assert client.post(ORDERS, json=body, headers=customer_headers).status_code == 400
    assert stock_of(variant.id) == 10


def test_checkout_needs_a_token(client):
    response = client.post(ORDERS, json={"shipping_address": ADDRESS})
    assert response.status_code == 401 and response.json["code"] == 401
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_a_sale_to_the_threshold_alerts_staff_once_per_crossing(client, admin, customer, customer_headers):
    # The threshold is LOW_STOCK_THRESHOLD (5): 7 → 5 crosses it; 5 → 4 does not cross again.
    variant = VariantFactory(stock=7, product__name="Rain Jacket")
    fill_cart(customer, (variant, 2))
    checkout(client, customer_headers)
    alerts = emails_about(admin.email, "Low stock")
    assert len(alerts) == 1 and variant.sku in alerts[0]["subject"] and "down to 5" in alerts[0]["body"]

    fill_cart(customer, (variant, 1))
    checkout(client, customer_headers)
    assert stock_of(variant.id) == 4
    assert len([mail for mail in sent_emails(to=admin.email) if "Low stock" in mail["subject"]]) == 1


def test_the_product_threshold_overrides_the_default(client, admin, customer, customer_headers):
    variant = VariantFactory(stock=12, product__low_stock_threshold=10)
    fill_cart(customer, (variant, 2))
    checkout(client, customer_headers)
    assert emails_about(admin.email, "Low stock")


def test_a_sale_above_the_threshold_alerts_nobody(client, admin, customer, customer_headers, variant):
    fill_cart(customer, (variant, 1))
    checkout(client, customer_headers)
    emails_about(customer.email, "received")  # the order's own mail went out
    assert [mail for mail in sent_emails(to=admin.email, wait=False) if "Low stock" in mail["subject"]] == []


def test_history_and_items_rows_are_written(client, customer, customer_headers, variant):
    fill_cart(customer, (variant, 3))
    order_id = checkout(client, customer_headers).json["id"]
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(OrderItem).where(OrderItem.order_id == order_id)) == 1
    history = db.session.scalars(select(OrderStatusHistory).where(OrderStatusHistory.order_id == order_id)).all()
    assert [(h.from_status, h.to_status) for h in history] == [(None, "pending")]


def test_products_of_orders_are_never_deleted(app, client, customer, customer_headers, variant):
    from nexus.catalog import hooks

    other = ProductFactory()
    fill_cart(customer, (variant, 1))
    checkout(client, customer_headers)
    assert hooks.product_was_ordered(variant.product_id) is True
    assert hooks.product_was_ordered(other.id) is False


def test_checkout_runs_a_fixed_number_of_statements_and_one_more_per_extra_line(client, customer, customer_headers):
    from tests.helpers import count_queries

    def statements(lines: int) -> list[str]:
        fill_cart(customer, *((VariantFactory(stock=50), 1) for _ in range(lines)))
        with count_queries() as queries:
            assert checkout(client, customer_headers).status_code == 201
        return queries

    one_line = statements(1)
    assert len(one_line) == len(statements(1))
    # Only the conditional stock UPDATE is per line (in variant id order); every other read and write is one
    # statement for the whole cart.
    assert len(statements(3)) == len(one_line) + 2
    # Nothing is read but the signed-in user: the lines come from removing them from the cart, and each variant's
    # price, SKU and product from its own stock UPDATE. (On the embedded default the order e-mail's task runs
    # inside the request after the commit, and reads the order.)
    placing = one_line[: 10 if SERVICES else 9]
    assert [" ".join(s.split()[:3]) for s in placing] == [
        "SELECT users.id, users.email,",
        "UPDATE carts SET",
        "DELETE FROM cart_items",
        "INSERT INTO orders",
        "INSERT INTO order_status_history",
        "UPDATE product_variants SET",
        "INSERT INTO stock_movements",
        "INSERT INTO order_items",
        "UPDATE orders SET",
    ] + (["INSERT INTO outbox_messages"] if SERVICES else [])
    assert not [
        s for s in one_line if s.startswith("SELECT") and ("FROM cart_items" in s or "FROM product_variants" in s)
    ]
