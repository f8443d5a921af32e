"""Wishlists over HTTP: /api/store/wishlists/ and /api/store/wishlists/{id}/."""

from __future__ import annotations

from datetime import datetime

import pytest

from nexus.catalog.models import ProductImage, ProductStatus
from nexus.extensions import db
from tests.cart.conftest import set_product_status, wishlist_of
from tests.factories import ProductFactory, WishlistItemFactory, product_with_variants
from tests.helpers import count_queries

WISHLIST = "/api/store/wishlists/"


def entry_url(entry_id: int) -> str:
    return f"{WISHLIST}{entry_id}/"


def test_adding_by_slug_answers_the_new_entry_with_201(client, customer_id, customer_headers, product):
    response = client.post(WISHLIST, json={"product": "linen-shirt"}, headers=customer_headers)
    assert response.status_code == 201
    [row] = wishlist_of(customer_id)
    assert row.product_id == product.id
    body = response.json
    assert datetime.fromisoformat(body.pop("created_at")).tzinfo is not None
    assert body == {
        "id": row.id,
        "product": {
            "id": product.id,
            "name": "Linen Shirt",
            "slug": "linen-shirt",
            "price": "25.00",
            "main_image": "/media/products/linen-shirt.jpg",
            "status": "active",
        },
    }


@pytest.mark.parametrize("ref", ["id", "id-as-text"])
def test_adding_by_id_works_too(client, customer_id, customer_headers, product, ref):
    value = product.id if ref == "id" else str(product.id)
    response = client.post(WISHLIST, json={"product": value}, headers=customer_headers)
    assert response.status_code == 201
    assert response.json["product"]["slug"] == "linen-shirt"
    assert [row.product_id for row in wishlist_of(customer_id)] == [product.id]


def test_a_slug_made_of_digits_names_that_product_first(client, customer_headers, product):
    numbered = product_with_variants(slug=str(product.id))
    response = client.post(WISHLIST, json={"product": str(product.id)}, headers=customer_headers)
    assert response.json["product"]["id"] == numbered.id
    response = client.post(WISHLIST, json={"product": product.id}, headers=customer_headers)
    assert response.json["product"]["id"] == product.id


def test_adding_again_answers_the_existing_entry_with_200(client, customer_id, customer_headers, product):
    first = client.post(WISHLIST, json={"product": "linen-shirt"}, headers=customer_headers)
    again = client.post(WISHLIST, json={"product": product.id}, headers=customer_headers)
    assert again.status_code == 200
    assert again.json == first.json
    assert len(wishlist_of(customer_id)) == 1


@pytest.mark.parametrize("status", [ProductStatus.DRAFT, ProductStatus.INACTIVE])
def test_products_hidden_from_the_public_are_404(client, customer_id, customer_headers, product, status):
    set_product_status(product.id, status)
    response = client.post(WISHLIST, json={"product": "linen-shirt"}, headers=customer_headers)
    assert response.status_code == 404
    assert response.json["message"] == "Product not found."
    assert wishlist_of(customer_id) == []


def test_a_discontinued_product_is_409(client, customer_id, customer_headers, product):
    set_product_status(product.id, ProductStatus.DISCONTINUED)
    response = client.post(WISHLIST, json={"product": "linen-shirt"}, headers=customer_headers)
    assert response.status_code == 409
    assert "linen-shirt" in response.json["message"] and "discontinued" in response.json["message"]
    assert wishlist_of(customer_id) == []


@pytest.mark.parametrize("ref", ["no-such-shirt", 424242, "424242", 2**40, "9" * 200])
def test_unknown_products_are_404(client, customer_headers, customer_id, ref):
    response = client.post(WISHLIST, json={"product": ref}, headers=customer_headers)
    assert response.status_code == 404
    assert response.json["code"] == 404 and response.json["message"] == "Product not found."
    assert wishlist_of(customer_id) == []


@pytest.mark.parametrize("body", [{}, {"product": None}, {"product": ""}, {"product": True}, {"product": 1.5},
                                  {"product": ["linen-shirt"]}, {"product": "x" * 221}])  # fmt: skip
def test_bad_product_values_are_400(client, customer_headers, product, body):
    response = client.post(WISHLIST, json=body, headers=customer_headers)
    assert response.status_code == 400
    assert list(response.json["errors"]["json"]) == ["product"]


def test_unknown_fields_are_refused(client, customer_headers, product):
    response = client.post(WISHLIST, json={"product": "linen-shirt", "user_id": 2}, headers=customer_headers)
    assert response.status_code == 400
    assert response.json["errors"]["json"] == {"user_id": ["Unknown field."]}


def test_the_list_holds_the_users_entries_newest_first_and_pages(client, customer_id, other_id, customer_headers):
    entries = [WishlistItemFactory(user_id=customer_id).id for _ in range(3)]
    WishlistItemFactory(user_id=other_id)
    response = client.get(f"{WISHLIST}?page_size=2", headers=customer_headers)
    assert response.status_code == 200
    assert response.json["count"] == 3
    assert [entry["id"] for entry in response.json["results"]] == entries[::-1][:2]
    assert "page=2" in response.json["next"]
    last = client.get(response.json["next"], headers=customer_headers).json
    assert [entry["id"] for entry in last["results"]] == entries[:1]
    assert client.get(f"{WISHLIST}?page=3&page_size=2", headers=customer_headers).status_code == 404


def test_entries_of_products_that_left_sale_stay_listed_with_their_status(client, customer_headers, product):
    client.post(WISHLIST, json={"product": "linen-shirt"}, headers=customer_headers)
    set_product_status(product.id, ProductStatus.INACTIVE)
    [entry] = client.get(WISHLIST, headers=customer_headers).json["results"]
    assert (entry["product"]["slug"], entry["product"]["status"]) == ("linen-shirt", "inactive")
    again = client.post(WISHLIST, json={"product": "linen-shirt"}, headers=customer_headers)
    assert (again.status_code, again.json["id"]) == (200, entry["id"])


def test_a_product_without_variants_or_images_shows_null_price_and_image(client, customer_id, customer_headers):
    WishlistItemFactory(user_id=customer_id, product=ProductFactory(slug="bare"))
    [entry] = client.get(WISHLIST, headers=customer_headers).json["results"]
    assert entry["product"]["slug"] == "bare"
    assert (entry["product"]["price"], entry["product"]["main_image"]) == (None, None)


def test_the_list_runs_the_same_statements_for_1_and_20_entries(client, customer_id, customer_headers):
    def add_entry():
        product = ProductFactory()
        db.session.add(ProductImage(product_id=product.id, image=f"p/{product.slug}.jpg", is_main=True))
        WishlistItemFactory(user_id=customer_id, product=product)

    add_entry()
    client.get(WISHLIST, headers=customer_headers)
    with count_queries() as one_entry:
        assert len(client.get(f"{WISHLIST}?page_size=50", headers=customer_headers).json["results"]) == 1
    for _ in range(19):
        add_entry()
    with count_queries() as twenty_entries:
        results = client.get(f"{WISHLIST}?page_size=50", headers=customer_headers).json["results"]
    assert len(results) == 20
    assert all(entry["product"]["main_image"].startswith("/media/p/") for entry in results)
    assert len(twenty_entries) == len(one_entry)


def test_delete_removes_the_entry(client, customer_id, customer_headers, product):
    entry = client.post(WISHLIST, json={"product": "linen-shirt"}, headers=customer_headers).json
    response = client.delete(entry_url(entry["id"]), headers=customer_headers)
    assert response.status_code == 204
    assert wishlist_of(customer_id) == []
    assert client.delete(entry_url(entry["id"]), headers=customer_headers).status_code == 404


def test_another_users_entry_is_404_and_kept(client, customer_headers, other_id):
    entry_id = WishlistItemFactory(user_id=other_id).id
    response = client.delete(entry_url(entry_id), headers=customer_headers)
    assert response.status_code == 404
    assert response.json["message"] == "Wishlist entry not found."
    assert [row.id for row in wishlist_of(other_id)] == [entry_id]


@pytest.mark.parametrize("entry_id", [0, 424242, 10**30])
def test_unknown_entries_are_404(client, customer_headers, entry_id):
    response = client.delete(entry_url(entry_id), headers=customer_headers)
    assert response.status_code == 404
    assert response.json["code"] == 404 and response.json["message"]
