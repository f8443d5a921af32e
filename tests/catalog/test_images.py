"""Product images: uploads checked by decoding, limits, the main image, thumbnails and file removal."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from nexus.catalog.models import Product, ProductImage
from nexus.common import media
from nexus.extensions import db
from tests.catalog.conftest import image_bytes, png_header_only, reread, upload
from tests.helpers import wait_for

URL = "/api/store/products/linen-shirt/images/"


def _images(product_id: int) -> list[ProductImage]:
    db.session.remove()
    return list(db.session.scalars(select(ProductImage).where(ProductImage.product_id == product_id).order_by("id")))


@pytest.mark.parametrize("image_format, extension", [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("GIF", "gif")])
def test_upload_each_allowed_format(client, admin_headers, product, image_format, extension):
    data = image_bytes(image_format)
    # The client's file name and type are ignored: the stored name is generated from what Pillow decoded.
    response = upload(client, URL, admin_headers, data, filename="../../evil.exe", alt_text="Front view")
    assert response.status_code == 201, response.json
    body = response.json
    assert body["image"].startswith(f"/media/products/{product.id}/") and body["image"].endswith(f".{extension}")
    assert "evil" not in body["image"]
    assert (body["alt_text"], body["is_main"]) == ("Front view", True)
    with client.get(body["image"]) as served:
        assert served.status_code == 200
        assert served.data == data


def test_thumbnail_is_made_in_the_background(client, admin_headers, product):
    image_id = upload(client, URL, admin_headers, image_bytes("JPEG", size=(1200, 900))).json["id"]
    thumbnail = wait_for(lambda: db.session.get(ProductImage, image_id).thumbnail)
    assert thumbnail and media.exists(thumbnail)
    from PIL import Image

    with Image.open(media.media_root() / thumbnail) as made:
        assert made.size == (400, 300)
    listed = client.get("/api/store/products/linen-shirt/").json["images"]
    assert listed[0]["thumbnail"] == media.media_url(thumbnail)


def test_thumbnail_task_is_idempotent_and_ignores_deleted_images(app, product):
    from nexus.catalog.services import make_thumbnail

    image = ProductImage(product_id=product.id, image=f"products/{product.id}/x.png")
    db.session.add(image)
    db.session.commit()
    media.store(image.image, image_bytes("PNG", size=(800, 800)))
    first = make_thumbnail(image_id=image.id)
    assert first == make_thumbnail(image_id=image.id)
    assert media.exists(first)
    assert make_thumbnail(image_id=999999) is None


def test_first_image_is_main_and_a_new_main_takes_over(client, admin_headers, product):
    first = upload(client, URL, admin_headers, image_bytes()).json
    second = upload(client, URL, admin_headers, image_bytes()).json
    assert (first["is_main"], second["is_main"]) == (True, False)
    third = upload(client, URL, admin_headers, image_bytes(), is_main="true").json
    assert third["is_main"] is True
    assert [image.is_main for image in _images(product.id)] == [False, False, True]
    detail = client.get("/api/store/products/linen-shirt/").json
    assert detail["main_image"] == third["image"]
    assert [image["id"] for image in detail["images"]] == [first["id"], second["id"], third["id"]]


def test_a_file_that_is_not_an_image_is_refused_whatever_its_name(client, admin_headers, product):
    for data, name in [(b"just some text", "photo.jpg"), (b"\xff\xd8\xff\xe0 truncated jpeg", "photo.jpg")]:
        response = client.post(
            URL,
            data={"image": (__import__("io").BytesIO(data), name, "image/jpeg")},
            headers=admin_headers,
            content_type="multipart/form-data",
        )
        assert response.status_code == 400
        assert response.json["errors"]["form"]["image"] == ["Not a valid image: upload a JPEG, PNG, WebP or GIF file."]
    assert _images(product.id) == []


def test_other_image_formats_are_refused(client, admin_headers, product):
    response = upload(client, URL, admin_headers, image_bytes("BMP"), filename="x.png")
    assert response.status_code == 400
    assert _images(product.id) == []


def test_a_truncated_image_is_refused(client, admin_headers, product):
    data = image_bytes("PNG", size=(300, 300), colour="red")
    response = upload(client, URL, admin_headers, data[: len(data) // 2])
    assert response.status_code == 400
    assert response.json["errors"]["form"]["image"] == ["Not a valid image: upload a JPEG, PNG, WebP or GIF file."]
    assert _images(product.id) == []


def test_oversize_upload_is_413(app, client, admin_headers, product, monkeypatch):
    data = image_bytes("PNG", size=(200, 200))
    monkeypatch.setitem(app.config, "MAX_IMAGE_BYTES", len(data) - 1)
    response = upload(client, URL, admin_headers, data)
    assert response.status_code == 413
    assert response.json["code"] == 413
    assert _images(product.id) == []
    monkeypatch.setitem(app.config, "MAX_IMAGE_BYTES", len(data))
    assert upload(client, URL, admin_headers, data).status_code == 201


def test_a_body_over_max_content_length_is_413(app, client, admin_headers, product, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1000)
    response = upload(client, URL, admin_headers, b"x" * 5000)
    assert response.status_code == 413
    assert response.json["code"] == 413


@pytest.mark.parametrize("width, height", [(10_000, 10_000), (30_000, 30_000), (7_000, 7_000)])
def test_decompression_bombs_are_refused_before_decoding(client, admin_headers, product, width, height):
    # 100 and 900 megapixels trip Pillow's own guard (a warning, then an error); 49 megapixels trips
    # MAX_IMAGE_PIXELS (40 million). Each file is a few dozen bytes.
    response = upload(client, URL, admin_headers, png_header_only(width, height))
    assert response.status_code == 400
    assert response.json["errors"]["form"]["image"] == ["The image has more than 40000000 pixels."]
    assert _images(product.id) == []


def test_pixel_limit_follows_the_setting(app, client, admin_headers, product, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_IMAGE_PIXELS", 99 * 100)
    refused = upload(client, URL, admin_headers, image_bytes(size=(100, 100)))
    assert refused.status_code == 400
    assert refused.json["errors"]["form"]["image"] == ["The image has more than 9900 pixels."]
    assert upload(client, URL, admin_headers, image_bytes(size=(99, 100))).status_code == 201
    assert len(_images(product.id)) == 1


@pytest.mark.parametrize(
    "data, field",
    [
        ({}, "image"),
        ({"image": "not a file"}, "image"),
        ({"image": "x", "colour": "red"}, "colour"),
        ({"image": "x", "is_main": "perhaps"}, "is_main"),
    ],
)
def test_upload_body_is_validated(client, admin_headers, product, data, field):
    response = client.post(URL, data=data, headers=admin_headers, content_type="multipart/form-data")
    assert response.status_code == 400
    assert field in response.json["errors"]["form"]


def test_upload_needs_staff_and_a_known_product(client, admin_headers, customer_headers, product):
    assert upload(client, URL, {}, image_bytes()).status_code == 401
    assert upload(client, URL, customer_headers, b"junk").status_code == 403
    assert upload(client, "/api/store/products/nothing/images/", admin_headers, image_bytes()).status_code == 404
    assert _images(product.id) == []


def test_delete_an_image_removes_its_files_and_promotes_the_next(client, admin_headers, product):
    first = upload(client, URL, admin_headers, image_bytes()).json
    second = upload(client, URL, admin_headers, image_bytes()).json
    stored = _images(product.id)[0]
    thumbnail = wait_for(lambda: db.session.get(ProductImage, first["id"]).thumbnail)
    assert media.exists(stored.image) and media.exists(thumbnail)

    assert client.delete(f"{URL}{first['id']}/", headers=admin_headers).status_code == 204
    assert not media.exists(stored.image)
    assert not media.exists(thumbnail)
    assert [(image.id, image.is_main) for image in _images(product.id)] == [(second["id"], True)]
    assert client.get(first["image"]).status_code == 404
    assert client.delete(f"{URL}{first['id']}/", headers=admin_headers).status_code == 404


def test_delete_needs_staff_and_the_right_product(client, admin_headers, customer_headers, product):
    from tests.factories import product_with_variants

    image_id = upload(client, URL, admin_headers, image_bytes()).json["id"]
    product_with_variants(slug="other")
    assert client.delete(f"/api/store/products/other/images/{image_id}/", headers=admin_headers).status_code == 404
    assert client.delete(f"{URL}{image_id}/", headers=customer_headers).status_code == 403
    assert client.delete(f"{URL}{image_id}/").status_code == 401
    assert len(_images(product.id)) == 1


def test_deleting_a_product_removes_its_image_files(client, admin_headers, product):
    upload(client, URL, admin_headers, image_bytes())
    path = _images(product.id)[0].image
    assert client.delete("/api/store/products/linen-shirt/", headers=admin_headers).status_code == 204
    assert reread(Product, product.id) is None
    assert not media.exists(path)


def test_files_shared_by_other_images_are_kept(client, admin_headers, product):
    from tests.factories import ProductImageFactory, product_with_variants

    upload(client, URL, admin_headers, image_bytes())
    path = _images(product.id)[0].image
    ProductImageFactory(product=product_with_variants(slug="twin"), image=path)
    assert client.delete("/api/store/products/linen-shirt/", headers=admin_headers).status_code == 204
    assert media.exists(path)


def test_upload_is_documented_as_multipart(client):
    operation = client.get("/openapi.json").json["paths"]["/api/store/products/{slug}/images/"]["post"]
    assert list(operation["requestBody"]["content"]) == ["multipart/form-data"]
    assert {"400", "401", "403", "404", "413"} <= set(operation["responses"])
