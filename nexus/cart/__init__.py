"""The cart domain."""

from nexus.cart import models  # noqa: F401  (registers the tables)
from nexus.cart.routes import blp

__all__ = ["blp"]
