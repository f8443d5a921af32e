"""The orders domain."""

from nexus.orders import models  # noqa: F401  (registers the tables)
from nexus.orders.routes import blp

__all__ = ["blp"]


def register_hooks(app) -> None:
    """Give the catalog the answers only orders has (was a product ever ordered, did a reviewer buy it)."""
    from nexus.catalog import hooks
    from nexus.orders.services import has_delivered_purchase, product_was_ordered

    hooks.register(app, product_was_ordered=product_was_ordered, verified_purchase=has_delivered_purchase)
