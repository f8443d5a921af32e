"""The orders domain."""

from nexus.orders import models  # noqa: F401  (registers the tables)
from nexus.orders.routes import blp

__all__ = ["blp"]
