"""Product images: uploads proven by decoding, one main image per product, thumbnails made in the background."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import exists, or_, select, update
from werkzeug.datastructures import FileStorage

from nexus.catalog.exceptions import ImageNotFound, MainImageConflict
from nexus.catalog.models import ProductImage
from nexus.catalog.services.helpers import commit
from nexus.catalog.services.lookup import get_product_or_404
from nexus.common import media, outbox
from nexus.extensions import db

log = logging.getLogger(__name__)


def add_product_image(*, slug: str, upload: FileStorage, alt_text: str = "", is_main: bool = False) -> ProductImage:
    """Store an uploaded image for the product. A product's first image is its main image; a new main
    image takes over from the old one. The thumbnail is made in the background."""
    from nexus.catalog.tasks import make_thumbnail_task  # the tasks module imports the services

    product = get_product_or_404(slug=slug, relations=False)
    stored = media.save_image(media.check_image(upload), folder=f"products/{product.id}")
    try:
        has_main = db.session.scalar(
            select(exists().where(ProductImage.product_id == product.id, ProductImage.is_main.is_(True)))
        )
        if is_main and has_main:
            db.session.execute(
                update(ProductImage)
                .where(ProductImage.product_id == product.id, ProductImage.is_main.is_(True))
                .values(is_main=False)
            )
        image = ProductImage(product_id=product.id, image=stored, alt_text=alt_text, is_main=is_main or not has_main)
        db.session.add(image)
        db.session.flush()
        outbox.enqueue(make_thumbnail_task, image.id)
        commit("products", other=lambda _exc: MainImageConflict())
    except Exception:
        outbox.rollback()
        media.delete_media(stored)
        raise
    return image


def delete_product_image(*, slug: str, image_id: int) -> None:
    """Delete an image and its files; when it was the main image, the oldest remaining one takes over."""
    product = get_product_or_404(slug=slug, relations=False)
    image = db.session.scalar(
        select(ProductImage).where(ProductImage.id == image_id, ProductImage.product_id == product.id)
    )
    if image is None:
        raise ImageNotFound()
    db.session.delete(image)
    db.session.flush()
    if image.is_main:
        successor = db.session.scalar(
            select(ProductImage).where(ProductImage.product_id == product.id).order_by(ProductImage.id).limit(1)
        )
        if successor is not None:
            successor.is_main = True
    commit("products")
    remove_unreferenced_files([image.image])


def remove_unreferenced_files(paths: Iterable[str]) -> None:
    """Delete stored images (and their thumbnails) that no image row uses any more: demo products share
    placeholder files, which must outlive any one of them."""
    paths = sorted(set(paths))
    if not paths:
        return
    used = set(
        db.session.scalars(
            select(ProductImage.image).where(or_(ProductImage.image.in_(paths), ProductImage.thumbnail.in_(paths)))
        )
    )
    unused = [path for path in paths if path not in used]
    media.delete_media(*unused, *(media.thumbnail_name(path) for path in unused))


def make_thumbnail(*, image_id: int) -> str | None:
    """Make the image's thumbnail (safe to run twice); None when the image is gone."""
    image = db.session.get(ProductImage, image_id)
    if image is None:
        return None
    if image.thumbnail and media.exists(image.thumbnail):
        return image.thumbnail
    try:
        thumbnail = media.make_thumbnail(image.image)
    except FileNotFoundError:
        log.warning("image %s has no file %s: no thumbnail", image_id, image.image)
        return None
    done = db.session.execute(
        update(ProductImage).where(ProductImage.id == image_id).values(thumbnail=thumbnail)
    ).rowcount
    if not done:
        # Deleted while the thumbnail was being made: leave no orphan file behind.
        outbox.rollback()
        media.delete_media(thumbnail)
        return None
    commit("products")
    return thumbnail
