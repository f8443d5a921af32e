"""Celery tasks of the catalog domain: thin, they take ids and call a service."""

from celery import shared_task
from sqlalchemy.exc import OperationalError

from nexus.catalog.services import images


@shared_task(name="catalog.make_thumbnail", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def make_thumbnail_task(image_id: int) -> None:
    """Make a product image's thumbnail (idempotent: an existing thumbnail is kept)."""
    images.make_thumbnail(image_id=image_id)


@shared_task(name="catalog.purge_list_counts")
def purge_list_counts_task() -> int:
    """Delete the cached list counts of past catalog generations (they are never read again)."""
    from nexus.catalog.services import counts

    return counts.purge()
