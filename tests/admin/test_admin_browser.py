"""The admin site in a real browser (headless Debian Chromium via Playwright): staff run the shop from it.

Uses the fixtures of tests/browser/conftest.py (live server thread, browser, offline-only page); skipped when
Chromium or Playwright is missing, unless REQUIRE_BROWSER=1 turns that into a failure.
"""

from __future__ import annotations

import os

import pytest

from nexus.admin.security import REFUSED
from nexus.catalog.models import Product
from nexus.extensions import db
from nexus.orders.models import Order, OrderStatus, OrderStatusHistory
from tests.browser.conftest import _missing
from tests.factories import PASSWORD, OrderFactory, OrderItemFactory, UserFactory, product_with_variants

pytestmark = pytest.mark.skipif(
    bool(_missing()) and os.environ.get("REQUIRE_BROWSER") != "1", reason=_missing() or "browser available"
)


def _submit(page, selector: str) -> None:
    # Wait until the next page has loaded with its assets: leaving earlier would drop requests in flight.
    with page.expect_navigation(wait_until="load"):
        page.click(selector)


def _log_in(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/admin/login/")
    page.fill("#email", email)
    page.fill("#password", password)
    _submit(page, "button[type=submit]")


def test_a_customer_is_refused_at_the_login_page(page, external_requests):
    from playwright.sync_api import expect

    UserFactory(email="shopper@example.com", is_verified=True)
    _log_in(page, "shopper@example.com")
    expect(page.locator("#login-refused")).to_have_text(REFUSED)
    page.goto("/admin/product/")
    assert "/admin/login/" in page.url
    assert external_requests == []


def test_staff_create_a_product_and_ship_an_order(page, external_requests):
    from playwright.sync_api import expect

    staff = UserFactory(email="boss@example.com", is_staff=True, is_verified=True)
    customer = UserFactory(email="buyer@example.com", is_verified=True)
    stocked = product_with_variants(name="Denim Jacket", sizes=("M",), stock=3)
    order = OrderFactory(user_id=customer.id)
    OrderItemFactory(order=order, variant=stocked.variants[0])

    _log_in(page, staff.email)
    expect(page.locator("#low-stock")).to_contain_text("Denim Jacket")  # the dashboard
    expect(page.locator("#todays-orders")).to_contain_text(order.number)

    page.goto("/admin/category/new/")
    page.fill("#name", "Raincoats")
    _submit(page, "input[type=submit][value=Save]")
    expect(page.locator(".alert-success")).to_be_visible()

    page.goto("/admin/product/new/")
    page.fill("#name", "Storm Parka")
    page.select_option("#category_id", label="Raincoats")
    page.select_option("#status", "active")
    for index, (size, price, stock) in enumerate((("M", "129.00", "4"), ("L", "135.00", "2"))):
        page.select_option(f"#variants-{index}-size", size)
        page.fill(f"#variants-{index}-sku", f"PARKA-{size}")
        page.fill(f"#variants-{index}-price", price)
        page.fill(f"#variants-{index}-stock", stock)
    _submit(page, "input[type=submit][value=Save]")
    expect(page.locator(".alert-success")).to_be_visible()
    expect(page.locator("table.model-list")).to_contain_text("Storm Parka")

    listed = page.request.get("/api/store/products/?search=parka").json()
    assert [item["name"] for item in listed["results"]] == ["Storm Parka"]
    product = db.session.scalar(db.select(Product).where(Product.slug == "storm-parka"))
    assert sorted((v.sku, v.stock) for v in product.variants) == [("PARKA-L", 2), ("PARKA-M", 4)]

    shot = os.environ.get("NEXUS_ADMIN_SCREENSHOT")  # `make` does not write into docs/; a developer refreshes it
    if shot:
        page.set_viewport_size({"width": 1280, "height": 400})
        page.goto("/admin/product/")
        page.screenshot(path=shot, full_page=False)
        page.set_viewport_size({"width": 1280, "height": 1000})

    page.goto(f"/admin/order/details/?id={order.id}")
    for step in ("processing", "shipped"):
        _submit(page, f"button:has-text('Mark {step}')")
        expect(page.locator("#order-status")).to_have_text(step)
    db.session.remove()
    assert db.session.get(Order, order.id).status == OrderStatus.SHIPPED
    history = db.session.scalars(db.select(OrderStatusHistory).where(OrderStatusHistory.order_id == order.id))
    assert [(entry.to_status.value, entry.by_id) for entry in history] == [
        ("processing", staff.id),
        ("shipped", staff.id),
    ]
    assert external_requests == []
