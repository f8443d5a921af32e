"""Every admin page renders for staff, and admin writes go through the services with the API's side effects."""

from __future__ import annotations

import pytest

from nexus.auth.models import User
from nexus.auth.passwords import check_password
from nexus.catalog.models import Category, MovementReason, Product, ProductVariant, Review, StockMovement
from nexus.extensions import db
from nexus.orders.models import Order, OrderStatus, OrderStatusHistory, Payment, PaymentMethod, PaymentStatus
from tests.admin.conftest import post_form
from tests.factories import (
    CategoryFactory,
    OrderFactory,
    OrderItemFactory,
    PaymentFactory,
    ReviewFactory,
    product_with_variants,
)


def _text(response) -> str:
    return response.get_data(as_text=True)


def _flashes(client) -> list[str]:
    with client.session_transaction() as session:
        return [message for _category, message in session.get("_flashes", [])]


# -- every page renders -----------------------------------------------------------------------------------


def test_each_view_renders(staff_client, customer):
    product = product_with_variants(name="Linen Shirt", stock=2)
    order = OrderFactory(user_id=customer.id)
    OrderItemFactory(order=order, variant=product.variants[0])
    PaymentFactory(order=order, method=PaymentMethod.BANK_TRANSFER)
    ReviewFactory(product=product, user=customer, rating=4, title="Comfy")
    pages = {
        "/admin/": ["Linen Shirt", order.number],  # low stock (2 <= 5) and today's orders
        "/admin/user/": [customer.email],
        f"/admin/user/edit/?id={customer.id}": ["First name"],
        f"/admin/user/details/?id={customer.id}": [customer.email],
        f"/admin/user/password/?id={customer.id}": ["New password"],
        "/admin/category/": [product.category.name],
        "/admin/category/new/": ["Parent"],
        f"/admin/category/edit/?id={product.category_id}": [product.category.slug],
        "/admin/product/": ["Linen Shirt", "6"],  # 3 variants × 2 in stock
        "/admin/product/new/": ["variants-0-sku"],
        f"/admin/product/edit/?id={product.id}": [product.variants[0].sku, "variants-3-sku"],
        "/admin/review/": ["Comfy"],
        "/admin/review/?flt0_0=4": ["Comfy"],
        "/admin/order/": [order.number],
        "/admin/order/?flt0_0=PENDING": [order.number],
        "/admin/order/?flt0_0=bogus&flt1_9=x": ["not a valid value"],
        "/admin/product/?flt0_0=oops": ["Linen Shirt"],
        f"/admin/order/details/?id={order.id}": [order.number, "Mark processing", "Cancel order", "1 Main Street"],
        "/admin/payment/": [order.number, "bank_transfer"],
        "/admin/stockmovement/": [],
        "/admin/user/?search=customer": [customer.email],
        "/admin/product/?search=linen": ["Linen Shirt"],
    }
    for url, expected in pages.items():
        response = staff_client.get(url)
        assert response.status_code == 200, url
        for text in expected:
            assert text in _text(response), (url, text)
    for response in (staff_client.get("/admin/user/"), staff_client.get(f"/admin/user/details/?id={customer.id}")):
        assert "password_hash" not in _text(response) and "argon2" not in _text(response)


# -- users -------------------------------------------------------------------------------------------------


def test_staff_edit_a_user_and_set_a_password(staff_client, customer, client, customer_headers):
    assert client.get("/api/auth/user/", headers=customer_headers).status_code == 200
    url = f"/admin/user/edit/?id={customer.id}"
    data = {"first_name": "Cordelia", "last_name": "C", "phone_number": "+49 30 1234", "is_staff": "y"}
    assert post_form(staff_client, url, data).status_code == 302
    user = db.session.get(User, customer.id)
    assert (user.first_name, user.is_staff, user.is_active) == ("Cordelia", True, False)
    # A change of access ends the tokens issued before it, as a password change does.
    assert client.get("/api/auth/user/", headers=customer_headers).status_code == 401

    url = f"/admin/user/password/?id={customer.id}"
    weak = post_form(staff_client, url, {"new_password": "password", "new_password2": "password"})
    assert weak.status_code == 200 and "too common" in _text(weak).lower()
    strong = post_form(staff_client, url, {"new_password": "Brand-New-Pass-77", "new_password2": "Brand-New-Pass-77"})
    assert strong.status_code == 302
    assert check_password(db.session.get(User, customer.id).password_hash, "Brand-New-Pass-77")


def test_a_bad_phone_number_is_refused_like_in_the_api(staff_client, customer):
    url = f"/admin/user/edit/?id={customer.id}"
    response = post_form(staff_client, url, {"first_name": "X", "phone_number": "call me maybe", "is_active": "y"})
    assert response.status_code == 200
    assert "phone_number: Enter a valid phone number" in _text(response)
    assert db.session.get(User, customer.id).phone_number == ""


# -- categories --------------------------------------------------------------------------------------------


def test_category_create_edit_and_delete_follow_the_api_rules(staff_client):
    assert post_form(staff_client, "/admin/category/new/", {"name": "Men Shirts", "is_active": "y"}).status_code == 302
    shirts = db.session.scalar(db.select(Category).where(Category.slug == "men-shirts"))
    assert shirts is not None
    child = CategoryFactory(name="Linen", parent_id=shirts.id)

    # Moving a category under its own child is refused with the service's message.
    url = f"/admin/category/edit/?id={shirts.id}"
    response = post_form(staff_client, url, {"name": "Men Shirts", "parent_id": str(child.id), "is_active": "y"})
    assert response.status_code == 200 and "subcategories" in _text(response)
    assert db.session.get(Category, shirts.id).parent_id is None

    # A duplicate slug is a field error.
    response = post_form(staff_client, "/admin/category/new/", {"name": "Other", "slug": "men-shirts"})
    assert "already exists" in _text(response)

    # A category with products cannot go.
    product_with_variants(category=child)
    response = post_form(staff_client, "/admin/category/delete/", {"id": str(child.id)}, form_page="/admin/category/")
    assert response.status_code == 302
    assert db.session.get(Category, child.id) is not None
    assert any("still has products" in message for message in _flashes(staff_client))


def test_category_image_upload_is_checked_by_decoding(staff_client, png_bytes):
    import io

    category = CategoryFactory(name="Hats")
    url = f"/admin/category/edit/?id={category.id}"
    data = {"name": "Hats", "is_active": "y", "upload": (io.BytesIO(b"not an image"), "hat.png")}
    response = post_form(staff_client, url, data, content_type="multipart/form-data")
    assert response.status_code == 200 and db.session.get(Category, category.id).image is None
    data["upload"] = (io.BytesIO(png_bytes), "hat.png")
    assert post_form(staff_client, url, data, content_type="multipart/form-data").status_code == 302
    assert db.session.get(Category, category.id).image.startswith("categories/")


# -- products: same side effects as the API ---------------------------------------------------------------


def _product_form(product: Product, **overrides) -> dict:
    data = {"name": product.name, "category_id": str(product.category_id), "status": "active"}
    for index, variant in enumerate(sorted(product.variants, key=lambda v: v.id)):
        data |= {
            f"variants-{index}-id": str(variant.id),
            f"variants-{index}-sku": variant.sku,
            f"variants-{index}-price": str(variant.price),
            f"variants-{index}-stock": str(variant.stock),
            f"variants-{index}-is_active": "y",
        }
    return data | overrides


def test_create_product_with_variants_is_visible_in_the_api_at_once(staff_client, client, admin):
    category = CategoryFactory(name="Tops")
    assert client.get("/api/store/products/").get_json()["count"] == 0  # now cached
    data = {
        "name": "Wool Sweater",
        "category_id": str(category.id),
        "status": "active",
        "variants-0-size": "M",
        "variants-0-sku": "wool-m",
        "variants-0-price": "49.90",
        "variants-0-stock": "7",
        "variants-0-is_active": "y",
        "variants-1-size": "L",
        "variants-1-sku": "WOOL-L",
        "variants-1-price": "52.00",
        "variants-1-stock": "0",
        "variants-1-is_active": "y",
    }
    assert post_form(staff_client, "/admin/product/new/", data).status_code == 302
    body = client.get("/api/store/products/").get_json()
    assert [item["name"] for item in body["results"]] == ["Wool Sweater"]
    product = db.session.scalar(db.select(Product).where(Product.slug == "wool-sweater"))
    assert sorted(v.sku for v in product.variants) == ["WOOL-L", "WOOL-M"]
    movements = db.session.scalars(db.select(StockMovement)).all()
    assert [(m.reason, m.change, m.by_id) for m in movements] == [(MovementReason.RESTOCK, 7, admin.id)]


def test_invalid_variant_input_changes_nothing(staff_client):
    category = CategoryFactory()
    data = {"name": "Bad", "category_id": str(category.id), "variants-0-size": "M", "variants-0-sku": "B-M"}
    data |= {"variants-0-price": "-3", "variants-0-stock": "1"}
    response = post_form(staff_client, "/admin/product/new/", data)
    assert response.status_code == 200 and "variants.0.price" in _text(response)
    assert db.session.scalar(db.select(db.func.count(Product.id))) == 0


def test_stock_change_is_an_adjustment_and_invalidates_the_cache(staff_client, client, admin):
    product = product_with_variants(name="Chinos", sizes=("M",), stock=10)
    variant = product.variants[0]
    assert client.get(f"/api/store/products/{product.slug}/").get_json()["variants"][0]["stock"] == 10  # cached
    url = f"/admin/product/edit/?id={product.id}"
    data = _product_form(product, **{"variants-0-stock": "4", "variants-0-price": "30.00"})
    assert post_form(staff_client, url, data).status_code == 302

    movement = db.session.scalar(db.select(StockMovement).where(StockMovement.variant_id == variant.id))
    assert (movement.reason, movement.change, movement.stock_after, movement.by_id) == (
        MovementReason.ADJUSTMENT,
        -6,
        4,
        admin.id,
    )
    shown = client.get(f"/api/store/products/{product.slug}/").get_json()["variants"][0]
    assert (shown["stock"], shown["price"]) == (4, "30.00")
    ledger = staff_client.get("/admin/stockmovement/?flt0_0=adjustment")
    assert variant.sku in _text(ledger) and "adjustment" in _text(ledger)


def test_product_edit_adds_and_deletes_variants_through_the_services(staff_client):
    product = product_with_variants(name="Tee", sizes=("S", "M"), stock=3)
    small = min(product.variants, key=lambda v: v.id)
    data = _product_form(product, **{"variants-0-remove": "y"})
    data |= {"variants-2-size": "XL", "variants-2-sku": "TEE-XL", "variants-2-price": "21.00", "variants-2-stock": "5"}
    assert post_form(staff_client, f"/admin/product/edit/?id={product.id}", data).status_code == 302
    sizes = db.session.scalars(db.select(ProductVariant.size).where(ProductVariant.product_id == product.id))
    assert sorted(sizes) == ["M", "XL"]
    assert db.session.get(ProductVariant, small.id) is None


def test_product_image_upload(staff_client, png_bytes):
    import io

    product = product_with_variants(name="Cap", sizes=("M",))
    data = _product_form(product, upload=(io.BytesIO(png_bytes), "cap.png"), upload_alt_text="A cap")
    url = f"/admin/product/edit/?id={product.id}"
    assert post_form(staff_client, url, data, content_type="multipart/form-data").status_code == 302
    product = db.session.get(Product, product.id)
    assert [(image.alt_text, image.is_main) for image in product.images] == [("A cap", True)]


def test_a_product_that_was_ordered_is_discontinued_not_deleted(staff_client, customer):
    product = product_with_variants(name="Sold Once", sizes=("M",))
    OrderItemFactory(order=OrderFactory(user_id=customer.id), variant=product.variants[0])
    response = post_form(staff_client, "/admin/product/delete/", {"id": str(product.id)}, form_page="/admin/product/")
    assert response.status_code == 302
    assert db.session.get(Product, product.id).status.value == "discontinued"


# -- reviews, orders, payments ----------------------------------------------------------------------------


def test_review_delete_refreshes_the_rating(staff_client, customer):
    product = product_with_variants()
    review = ReviewFactory(product=product, user=customer, rating=2)
    response = post_form(staff_client, "/admin/review/delete/", {"id": str(review.id)}, form_page="/admin/review/")
    assert response.status_code == 302
    assert db.session.get(Review, review.id) is None
    assert db.session.get(Product, product.id).review_count == 0


def test_order_buttons_walk_the_workflow_with_history_by_staff(staff_client, customer, admin):
    order = OrderFactory(user_id=customer.id)
    page = f"/admin/order/details/?id={order.id}"
    for status in ("processing", "shipped"):
        data = {"id": order.id, "status": status}
        response = post_form(staff_client, "/admin/order/transition/", data, form_page=page)
        assert response.status_code == 302
    assert db.session.get(Order, order.id).status == OrderStatus.SHIPPED
    history = db.session.scalars(db.select(OrderStatusHistory).where(OrderStatusHistory.order_id == order.id)).all()
    assert [(h.to_status.value, h.by_id) for h in history] == [("processing", admin.id), ("shipped", admin.id)]
    shown = staff_client.get(page)
    assert "Mark delivered" in _text(shown) and "Cancel order" not in _text(shown)


@pytest.mark.parametrize("status", ["delivered", "pending", "bogus"])
def test_a_step_that_is_not_allowed_changes_nothing(staff_client, customer, status):
    order = OrderFactory(user_id=customer.id)
    page = f"/admin/order/details/?id={order.id}"
    response = post_form(staff_client, "/admin/order/transition/", {"id": order.id, "status": status}, form_page=page)
    assert response.status_code == 302
    assert db.session.get(Order, order.id).status == OrderStatus.PENDING
    expected = "Unknown status." if status == "bogus" else f"An order that is pending cannot become {status}."
    assert _flashes(staff_client) == [expected]


def test_cancel_puts_the_stock_back(staff_client, customer, client, customer_headers):
    product = product_with_variants(sizes=("M",), stock=5)
    variant = product.variants[0]
    client.post("/api/store/cart-items/", json={"variant_id": variant.id, "quantity": 2}, headers=customer_headers)
    address = {"full_name": "Cora", "line1": "1 Main St", "city": "Berlin", "postal_code": "10115", "country": "DE"}
    placed = client.post("/api/store/orders/", json={"shipping_address": address}, headers=customer_headers)
    assert placed.status_code == 201, placed.get_json()
    order_id = placed.get_json()["id"]
    assert db.session.get(ProductVariant, variant.id).stock == 3
    page = f"/admin/order/details/?id={order_id}"
    response = post_form(
        staff_client, "/admin/order/transition/", {"id": order_id, "status": "cancelled"}, form_page=page
    )
    assert response.status_code == 302
    assert db.session.get(Order, order_id).status == OrderStatus.CANCELLED
    assert db.session.get(ProductVariant, variant.id).stock == 5


def test_confirm_bank_transfer_action(staff_client, customer):
    order = OrderFactory(user_id=customer.id)
    transfer = PaymentFactory(order=order, method=PaymentMethod.BANK_TRANSFER)
    card = PaymentFactory(order=OrderFactory(user_id=customer.id), method=PaymentMethod.CARD)
    data = {"action": "confirm", "rowid": [str(transfer.id), str(card.id)]}
    assert post_form(staff_client, "/admin/payment/action/", data, form_page="/admin/payment/").status_code == 302
    assert db.session.get(Payment, transfer.id).status == PaymentStatus.COMPLETED
    assert db.session.get(Payment, card.id).status == PaymentStatus.PENDING
    assert db.session.get(Order, order.id).status == OrderStatus.PROCESSING


def test_read_only_views_refuse_writes(staff_client, customer):
    payment = PaymentFactory(order=OrderFactory(user_id=customer.id))
    response = post_form(staff_client, "/admin/payment/delete/", {"id": str(payment.id)}, form_page="/admin/payment/")
    assert response.status_code == 302
    assert db.session.get(Payment, payment.id) is not None
    assert staff_client.get("/admin/order/new/").status_code == 302
    assert staff_client.get("/admin/stockmovement/new/").status_code == 302
