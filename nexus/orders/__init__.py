"""The orders domain."""

from nexus.orders.routes import blp

__all__ = ["blp"]
