"""Categories: the public tree, staff writes, slugs, cycles, deletion rules and images."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from nexus.catalog.models import Category
from nexus.common import media
from nexus.extensions import db
from tests.catalog.conftest import image_bytes, reread, upload
from tests.factories import CategoryFactory, ProductFactory

URL = "/api/store/categories/"


def _slugs(response) -> list[str]:
    return [category["slug"] for category in response.json["results"]]


def test_list_is_public_and_sorted_by_name(client, tree):
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json["count"] == 4
    assert _slugs(response) == ["clothing", "shoes", "tees", "tops"]
    tops = next(c for c in response.json["results"] if c["slug"] == "tops")
    assert tops["parent"] == "clothing"
    assert tops["children"] == [{"id": tree.tees, "name": "Tees", "slug": "tees"}]
    assert tops["image"] is None


def test_list_filters_by_parent_top_level_and_search(client, tree):
    assert _slugs(client.get(URL + "?parent=clothing")) == ["tops"]
    assert _slugs(client.get(URL + "?parent=")) == ["clothing", "shoes"]
    assert _slugs(client.get(URL + "?search=HOE")) == ["shoes"]
    assert _slugs(client.get(URL + "?search=%25")) == []  # LIKE wildcards are matched literally


def test_unknown_parent_filter_is_a_400(client, tree):
    response = client.get(URL + "?parent=nope")
    assert response.status_code == 400
    assert "parent" in response.json["errors"]["query"]


def test_inactive_categories_are_for_staff_only(client, tree, admin_headers):
    CategoryFactory(name="Archive", slug="archive", is_active=False, parent_id=tree.clothing)
    assert "archive" not in _slugs(client.get(URL))
    assert client.get(URL + "archive/").status_code == 404
    clothing = client.get(URL + "clothing/").json
    assert [child["slug"] for child in clothing["children"]] == ["tops"]

    assert "archive" in _slugs(client.get(URL, headers=admin_headers))
    assert client.get(URL + "archive/", headers=admin_headers).status_code == 200
    clothing = client.get(URL + "clothing/", headers=admin_headers).json
    assert [child["slug"] for child in clothing["children"]] == ["archive", "tops"]


def test_detail_has_children_and_missing_is_404(client, tree):
    response = client.get(URL + "clothing/")
    assert response.status_code == 200
    assert response.json["parent"] is None
    assert response.json["children"] == [{"id": tree.tops, "name": "Tops", "slug": "tops"}]
    missing = client.get(URL + "nothing/")
    assert missing.status_code == 404
    assert missing.json["message"] == "Category not found."


def test_create_makes_the_slug_from_the_name(client, admin_headers, tree):
    response = client.post(
        URL,
        json={"name": "Summer Dresses & Skirts", "parent": "clothing", "description": "Light."},
        headers=admin_headers,
    )
    assert response.status_code == 201
    assert response.json["slug"] == "summer-dresses-skirts"
    assert response.json["parent"] == "clothing"
    row = db.session.scalar(select(Category).where(Category.slug == "summer-dresses-skirts"))
    assert row.parent_id == tree.clothing and row.description == "Light." and row.is_active


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "Tops"}, "slug"),  # the slug made from the name is taken
        ({"name": "Anything", "slug": "tops"}, "slug"),
        ({"name": "Bad", "slug": "Not A Slug"}, "slug"),
        ({"name": "!!!"}, "slug"),
        ({"name": "Orphan", "parent": "nope"}, "parent"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "Extra", "id": 99}, "id"),
        ({}, "name"),
    ],
)
def test_create_refuses_bad_bodies(client, admin_headers, tree, body, field):
    response = client.post(URL, json=body, headers=admin_headers)
    assert response.status_code == 400
    assert field in response.json["errors"]["json"]
    assert db.session.scalar(select(func.count(Category.id))) == 4


def test_writes_need_staff_before_the_body_is_read(client, customer_headers, tree):
    assert client.post(URL, json={"name": "New"}).status_code == 401
    forbidden = client.post(URL, json={"bogus": True}, headers=customer_headers)
    assert forbidden.status_code == 403
    assert forbidden.json["code"] == 403
    assert client.patch(URL + "tops/", json={"name": "X"}, headers=customer_headers).status_code == 403
    assert client.delete(URL + "tops/", headers=customer_headers).status_code == 403
    assert client.delete(URL + "tops/").status_code == 401


def test_put_needs_a_name_and_patch_changes_fields(client, admin_headers, tree):
    assert client.put(URL + "tops/", json={"description": "x"}, headers=admin_headers).status_code == 400
    response = client.put(URL + "tops/", json={"name": "Upper Wear", "slug": "upper-wear"}, headers=admin_headers)
    assert response.status_code == 200
    assert response.json["slug"] == "upper-wear" and response.json["parent"] == "clothing"
    response = client.patch(URL + "upper-wear/", json={"is_active": False, "parent": None}, headers=admin_headers)
    assert response.status_code == 200
    row = reread(Category, tree.tops)
    assert (row.name, row.slug, row.is_active, row.parent_id) == ("Upper Wear", "upper-wear", False, None)


def test_patch_to_a_taken_slug_is_a_400(client, admin_headers, tree):
    response = client.patch(URL + "tops/", json={"slug": "shoes"}, headers=admin_headers)
    assert response.status_code == 400
    assert response.json["errors"]["json"]["slug"] == ["A category with this slug already exists."]


@pytest.mark.parametrize("new_parent", ["tops", "tees"])
def test_a_category_cannot_become_its_own_ancestor(client, admin_headers, tree, new_parent):
    response = client.patch(URL + "tops/", json={"parent": new_parent}, headers=admin_headers)
    assert response.status_code == 400
    assert "parent" in response.json["errors"]["json"]
    assert reread(Category, tree.tops).parent_id == tree.clothing


def test_moving_under_another_branch_is_fine(client, admin_headers, tree):
    response = client.patch(URL + "tees/", json={"parent": "shoes"}, headers=admin_headers)
    assert response.status_code == 200
    assert response.json["parent"] == "shoes"


def test_delete_refuses_categories_in_use(client, admin_headers, tree):
    ProductFactory(category=db.session.get(Category, tree.tees))
    in_use = client.delete(URL + "tees/", headers=admin_headers)
    assert in_use.status_code == 409
    assert "products" in in_use.json["message"]
    with_children = client.delete(URL + "clothing/", headers=admin_headers)
    assert with_children.status_code == 409
    assert "subcategories" in with_children.json["message"]
    assert reread(Category, tree.tees) is not None


def test_delete_an_empty_category(client, admin_headers, tree):
    assert client.delete(URL + "shoes/", headers=admin_headers).status_code == 204
    assert reread(Category, tree.shoes) is None
    assert client.get(URL + "shoes/").status_code == 404
    assert client.delete(URL + "shoes/", headers=admin_headers).status_code == 404


def test_category_image_upload_replaces_the_old_file(client, admin_headers, tree):
    first = upload(client, URL + "shoes/image/", admin_headers, image_bytes("JPEG"), filename="a.jpg")
    assert first.status_code == 200
    url = first.json["image"]
    assert url.startswith("/media/categories/") and url.endswith(".jpg")
    with client.get(url) as served:
        assert served.status_code == 200
        assert served.headers["X-Content-Type-Options"] == "nosniff"
    old_path = reread(Category, tree.shoes).image

    second = upload(client, URL + "shoes/image/", admin_headers, image_bytes("PNG"))
    assert second.status_code == 200
    assert second.json["image"].endswith(".png")
    assert not media.exists(old_path)
    assert media.exists(reread(Category, tree.shoes).image)


def test_category_image_must_be_an_image_and_uploaded_by_staff(client, admin_headers, customer_headers, tree):
    fake = upload(client, URL + "shoes/image/", admin_headers, b"GIF89a but not really", filename="x.gif")
    assert fake.status_code == 400
    assert "image" in fake.json["errors"]["form"]
    assert upload(client, URL + "shoes/image/", customer_headers, image_bytes()).status_code == 403
    assert upload(client, URL + "shoes/image/", {}, image_bytes()).status_code == 401
    assert upload(client, URL + "nothing/image/", admin_headers, image_bytes()).status_code == 404
    assert reread(Category, tree.shoes).image is None


def test_deleting_a_category_removes_its_image(client, admin_headers, tree):
    upload(client, URL + "shoes/image/", admin_headers, image_bytes())
    path = reread(Category, tree.shoes).image
    assert media.exists(path)
    assert client.delete(URL + "shoes/", headers=admin_headers).status_code == 204
    assert not media.exists(path)
