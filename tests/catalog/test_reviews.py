"""Reviews: public reading by slug or id, one per customer, owner-or-staff writes, exact product ratings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from nexus.catalog.models import Product, ProductStatus, Review
from nexus.extensions import db
from tests.catalog.conftest import reread
from tests.conftest import bearer
from tests.factories import ReviewFactory, UserFactory, product_with_variants


def _url(product, review_id=None) -> str:
    base = f"/api/store/products/{product}/reviews/"
    return f"{base}{review_id}/" if review_id else base


def _summary(product_id: int) -> tuple[Decimal | None, int]:
    row = reread(Product, product_id)
    return row.average_rating, row.review_count


def test_review_a_product(client, customer, customer_headers, product):
    response = client.post(
        _url("linen-shirt"),
        json={"rating": 4, "title": "Lovely", "comment": "Cool in summer."},
        headers=customer_headers,
    )
    assert response.status_code == 201
    body = response.json
    assert body["product"] == "linen-shirt"
    assert body["user"] == {"id": customer.id, "first_name": "Cora"}
    assert (body["rating"], body["title"], body["comment"]) == (4, "Lovely", "Cool in summer.")
    assert body["verified_purchase"] is False
    assert _summary(product.id) == (Decimal("4.0"), 1)
    detail = client.get("/api/store/products/linen-shirt/").json
    assert (detail["average_rating"], detail["review_count"]) == (4.0, 1)


def test_verified_purchase_comes_from_the_orders_answer(app, client, customer, customer_headers, product, monkeypatch):
    asked = []
    hooks = app.extensions.setdefault("nexus_catalog_hooks", {})
    monkeypatch.setitem(
        hooks, "verified_purchase", lambda user_id, product_id: asked.append((user_id, product_id)) or 1
    )
    response = client.post(_url(product.id), json={"rating": 5, "comment": "Bought it."}, headers=customer_headers)
    assert response.status_code == 201
    assert response.json["verified_purchase"] is True
    assert asked == [(customer.id, product.id)]


def test_list_by_slug_or_numeric_id_newest_first(client, product, customer, other_customer):
    first = ReviewFactory(product=db.session.get(Product, product.id), user=customer, rating=5).id
    second = ReviewFactory(product=db.session.get(Product, product.id), user=other_customer, rating=3).id
    for key in ("linen-shirt", str(product.id)):
        response = client.get(_url(key))
        assert response.status_code == 200
        assert response.json["count"] == 2
        assert [review["id"] for review in response.json["results"]] == [second, first]
    assert client.get(_url("nothing")).status_code == 404
    assert client.get(_url("999999")).status_code == 404


def test_a_numeric_slug_wins_over_an_id(client, product, customer):
    other = product_with_variants(slug=str(product.id))
    ReviewFactory(product=db.session.get(Product, other.id), user=customer)
    reviews = client.get(_url(str(product.id))).json["results"]
    assert [review["product"] for review in reviews] == [str(product.id)]


def test_reviews_of_a_hidden_product_are_404_for_the_public(client, customer_headers, admin_headers):
    hidden = product_with_variants(slug="hidden", status=ProductStatus.DRAFT)
    assert client.get(_url("hidden")).status_code == 404
    assert client.post(_url("hidden"), json={"rating": 5, "comment": "x"}, headers=customer_headers).status_code == 404
    assert client.get(_url("hidden"), headers=admin_headers).status_code == 200
    assert _summary(hidden.id) == (None, 0)


def test_a_second_review_by_the_same_customer_is_409(client, customer_headers, product):
    assert (
        client.post(_url("linen-shirt"), json={"rating": 2, "comment": "Meh"}, headers=customer_headers).status_code
        == 201
    )
    again = client.post(_url(product.id), json={"rating": 5, "comment": "Changed my mind"}, headers=customer_headers)
    assert again.status_code == 409
    assert again.json["message"] == "You have already reviewed this product."
    assert _summary(product.id) == (Decimal("2.0"), 1)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"rating": 0, "comment": "x"}, "rating"),
        ({"rating": 6, "comment": "x"}, "rating"),
        ({"rating": "5", "comment": "x"}, "rating"),
        ({"rating": 4.5, "comment": "x"}, "rating"),
        ({"comment": "x"}, "rating"),
        ({"rating": 5}, "comment"),
        ({"rating": 5, "comment": "x", "verified_purchase": True}, "verified_purchase"),
        ({"rating": 5, "comment": "x", "title": "t" * 201}, "title"),
    ],
)
def test_bad_reviews_are_400(client, customer_headers, product, body, field):
    response = client.post(_url("linen-shirt"), json=body, headers=customer_headers)
    assert response.status_code == 400
    assert field in response.json["errors"]["json"]
    assert db.session.scalar(select(func.count(Review.id))) == 0


def test_reviewing_needs_a_sign_in(client, product):
    response = client.post(_url("linen-shirt"), json={"rating": 5, "comment": "x"})
    assert response.status_code == 401
    assert response.json["code"] == 401
    assert db.session.scalar(select(func.count(Review.id))) == 0


def test_the_author_edits_and_the_rating_follows(client, customer, customer_headers, other_customer, product):
    ReviewFactory(product=db.session.get(Product, product.id), user=other_customer, rating=5)
    review_id = client.post(_url("linen-shirt"), json={"rating": 2, "comment": "x"}, headers=customer_headers).json[
        "id"
    ]
    assert _summary(product.id) == (Decimal("3.5"), 2)
    response = client.patch(
        _url("linen-shirt", review_id), json={"rating": 4, "title": "Better"}, headers=customer_headers
    )
    assert response.status_code == 200
    assert (response.json["rating"], response.json["title"], response.json["comment"]) == (4, "Better", "x")
    assert _summary(product.id) == (Decimal("4.5"), 2)
    assert client.patch(_url("linen-shirt", review_id), json={"rating": 9}, headers=customer_headers).status_code == 400
    assert client.patch(_url("linen-shirt", review_id), json={"user": 1}, headers=customer_headers).status_code == 400


def test_the_author_deletes_and_the_rating_follows(client, customer_headers, product):
    review_id = client.post(_url("linen-shirt"), json={"rating": 3, "comment": "x"}, headers=customer_headers).json[
        "id"
    ]
    assert client.delete(_url(product.id, review_id), headers=customer_headers).status_code == 204
    assert reread(Review, review_id) is None
    assert _summary(product.id) == (None, 0)
    assert client.get("/api/store/products/linen-shirt/").json["average_rating"] is None


def test_other_customers_get_404_and_staff_may_edit_or_delete(client, customer, admin_headers, other_headers, product):
    review_id = ReviewFactory(product=db.session.get(Product, product.id), user=customer, rating=1).id
    assert client.patch(_url("linen-shirt", review_id), json={"rating": 5}, headers=other_headers).status_code == 404
    assert client.delete(_url("linen-shirt", review_id), headers=other_headers).status_code == 404
    assert client.patch(_url("linen-shirt", review_id), json={"rating": 5}).status_code == 401
    assert client.delete(_url("linen-shirt", review_id)).status_code == 401
    assert reread(Review, review_id).rating == 1

    assert (
        client.patch(_url("linen-shirt", review_id), json={"title": "[edited]"}, headers=admin_headers).status_code
        == 200
    )
    assert client.delete(_url("linen-shirt", review_id), headers=admin_headers).status_code == 204
    assert reread(Review, review_id) is None


def test_a_review_is_reached_through_its_own_product_only(client, customer, customer_headers, product):
    review_id = ReviewFactory(product=db.session.get(Product, product.id), user=customer).id
    product_with_variants(slug="other")
    assert client.patch(_url("other", review_id), json={"rating": 5}, headers=customer_headers).status_code == 404
    assert client.delete(_url("other", review_id), headers=customer_headers).status_code == 404


def test_ratings_are_rounded_half_up_to_one_decimal(client, product):
    for rating in (4, 4, 4, 3):  # 3.75
        client.post(_url("linen-shirt"), json={"rating": rating, "comment": "x"}, headers=bearer(UserFactory()))
    assert _summary(product.id) == (Decimal("3.8"), 4)
    for rating in (1, 1):  # 17 / 6 = 2.8333...
        client.post(_url("linen-shirt"), json={"rating": rating, "comment": "x"}, headers=bearer(UserFactory()))
    assert _summary(product.id) == (Decimal("2.8"), 6)
    assert client.get("/api/store/products/linen-shirt/").json["average_rating"] == 2.8
